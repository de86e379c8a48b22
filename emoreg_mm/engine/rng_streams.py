"""Random streams of their own, for draws that must be alike in every mode.

Batch augmentations (MixUp, CutMix) and the dropout / drop path of a model
draw from the global generators (torch's, numpy's). In a regulated model the
other encoders draw from them too, interleaved with N, so at one seed two
modes would mix other batches and drop other units of N. An
:class:`RngStream` is a private copy of torch's CPU generator, the current
CUDA device's, and numpy's global generator, seeded from the run's seed and
the stream's name; while it is entered, every draw comes from it and the
global generators are left where they were.
"""
import zlib
from typing import Any, Callable, Optional

import numpy as np
import torch


def _cuda() -> bool:
    return torch.cuda.is_available() and torch.cuda.is_initialized()


def _plain_numpy(np_state: tuple) -> list:
    """numpy's generator state as plain values."""
    name, keys, pos, has_gauss, gauss = np_state
    return [name, keys.tolist(), int(pos), int(has_gauss), float(gauss)]


def capture(plain: bool = True) -> dict:
    """The states of torch's CPU generator, the current CUDA device's and
    numpy's global generator. ``plain``: numpy's as a list of plain values
    (checkpoint-safe); else as numpy gives it (no conversion: for swaps)."""
    np_state = np.random.get_state()
    state = dict(torch=torch.get_rng_state(),
                 numpy=_plain_numpy(np_state) if plain else np_state)
    if _cuda():
        state['cuda'] = torch.cuda.get_rng_state()
    return state


def restore(state: dict) -> None:
    """Set the generators to a :func:`capture`'d state (either form)."""
    torch.set_rng_state(state['torch'].cpu())
    np_state = state['numpy']
    if isinstance(np_state, list):
        name, keys, *rest = np_state
        np_state = (name, np.asarray(keys, dtype=np.uint32), *rest)
    np.random.set_state(np_state)
    if 'cuda' in state and _cuda():
        torch.cuda.set_rng_state(state['cuda'].cpu())


def stream_seed(seed: int, name: str) -> int:
    """The seed of stream ``name`` in a run seeded with ``seed``."""
    return (int(seed) * 1_000_003 + zlib.crc32(name.encode())) % 2**32


class RngStream:
    """Generators of one stream (see the module docstring).

    Args:
        seed (int): The run's seed.
        name (str): The stream's name; streams of one run differ by name.
        state (dict, optional): A state saved from a stream of this name
            (:attr:`state`), e.g. from a checkpoint when resuming.
    """

    def __init__(self, seed: int, name: str, state: Optional[dict] = None):
        self.name = name
        if state is None:
            outer = capture(plain=False)
            devices = [torch.cuda.current_device()] if _cuda() else []
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(stream_seed(seed, name))
                np.random.seed(stream_seed(seed, name))
                state = capture()
            restore(outer)
        self._state = state
        self._outer = None

    @property
    def state(self) -> dict:
        """The stream's state, checkpoint-safe."""
        if not isinstance(self._state['numpy'], list):
            self._state = dict(self._state,
                               numpy=_plain_numpy(self._state['numpy']))
        return self._state

    def __enter__(self) -> 'RngStream':
        self._outer = capture(plain=False)
        restore(self._state)
        return self

    def __exit__(self, *exc) -> None:
        self._state = capture(plain=False)  # converted only when saved
        restore(self._outer)
        self._outer = None


class InStream:
    """``fn`` called inside ``stream`` (e.g. a data preprocessor's batch
    augmentations)."""

    def __init__(self, fn: Callable, stream: RngStream):
        self.fn, self.stream = fn, stream

    def __call__(self, *args, **kwargs) -> Any:
        with self.stream:
            return self.fn(*args, **kwargs)


def run_module_in_stream(module: torch.nn.Module, stream: RngStream) -> list:
    """Run every forward of ``module`` inside ``stream``; returns the hook
    handles (``handle.remove()`` undoes it)."""

    # Not traced by torch.compile: the generator states are swapped
    # eagerly at the graph breaks around the module, so a compiled module
    # takes its random seeds from the stream too.
    @torch.compiler.disable
    def enter(mod, args):
        stream.__enter__()

    @torch.compiler.disable
    def leave(mod, args, output):
        stream.__exit__()

    return [module.register_forward_pre_hook(enter),
            module.register_forward_hook(leave)]


def is_stochastic(module: torch.nn.Module) -> bool:
    """Whether ``module`` holds a dropout or drop-path layer that drops
    anything (``p`` / ``drop_prob`` above 0)."""
    for sub in module.modules():
        if isinstance(sub, torch.nn.modules.dropout._DropoutNd) and sub.p:
            return True
        if getattr(sub, 'drop_prob', 0) and 'drop' in type(
                sub).__name__.lower():
            return True
    return False
