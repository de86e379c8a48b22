"""The diffusion model of a Diffused-EMOd build: found (a local folder, the
Hugging Face cache, or the hub), identified by a revision, and loaded as a
diffusers image-to-image pipeline from safetensors files only.

Needs the ``diffusion`` extra (diffusers, transformers), imported when
called.
"""
import hashlib
import os
import os.path as osp
from typing import Optional, Tuple

from . import BuildError

DEFAULT_MODEL = 'stable-diffusion-v1-5/stable-diffusion-v1-5'
EXTRA_HINT = ('The Diffused-EMOd builder needs diffusers and transformers: '
              'pip install -e ".[diffusion]" (or pip install -r '
              'requirements/diffusion.txt).')


def import_diffusers():
    """diffusers (and transformers, which it needs for the text encoder).

    Raises:
        BuildError: Saying how to install the extra.
    """
    try:
        import diffusers  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as e:
        raise BuildError(f'{EXTRA_HINT} ({e})') from None
    return diffusers


def folder_digest(folder: str) -> str:
    """``sha256:`` of a local model folder's file names and contents."""
    h = hashlib.sha256()
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
        for name in sorted(files):
            path = osp.join(root, name)
            h.update(osp.relpath(path, folder).encode() + b'\0')
            with open(path, 'rb') as f:
                for chunk in iter(lambda: f.read(1 << 20), b''):
                    h.update(chunk)
    return 'sha256:' + h.hexdigest()


def resolve_model(model: str, revision: Optional[str], variant: Optional[str],
                  cache_dir: Optional[str]) -> Tuple[str, str]:
    """``(local_folder, revision)`` of ``model``: a local folder (revision:
    a digest of its files) or a hub id, loaded from the cache or downloaded
    (revision: the commit). A hub id neither cached nor reachable fails at
    once, naming the id and the cache."""
    from diffusers import DiffusionPipeline
    from huggingface_hub import constants
    if osp.isdir(model):
        if not osp.isfile(osp.join(model, 'model_index.json')):
            raise BuildError(f'--model {model}: the folder has no '
                             'model_index.json (not a diffusers pipeline '
                             'saved with save_pretrained).')
        return model, revision or folder_digest(model)
    if model.startswith(('.', '/', '~')) or osp.exists(model):
        raise BuildError(f'--model {model}: no such folder (and not a hub '
                         f'id such as {DEFAULT_MODEL}).')
    kwargs = dict(revision=revision, variant=variant, cache_dir=cache_dir,
                  use_safetensors=True)
    cache = cache_dir or constants.HF_HUB_CACHE
    try:
        folder = DiffusionPipeline.download(model, local_files_only=True,
                                            **kwargs)
    except Exception as cached_error:  # not (completely) in the cache
        from ...compat.offline import PROBE_TIMEOUT, url_reachable
        why = ('HF_HUB_OFFLINE is set' if constants.HF_HUB_OFFLINE else
               f'the hub {constants.ENDPOINT} is unreachable within '
               f'{PROBE_TIMEOUT:.0f} s' if not url_reachable(
                   constants.ENDPOINT) else None)
        if why:
            raise BuildError(
                f'The diffusion model {model!r}'
                f'{f" (revision {revision})" if revision else ""} is not in '
                f'the Hugging Face cache {cache} and {why}. Download it on '
                'a machine with internet into that cache (or set '
                'HF_HUB_CACHE), or pass a local folder with --model. '
                f'({type(cached_error).__name__})') from None
        print(f'[build] downloading {model} into {cache}', flush=True)
        folder = DiffusionPipeline.download(model, **kwargs)
    return str(folder), osp.basename(osp.normpath(str(folder)))


def load_pipeline(folder: str, device: str, dtype, variant: Optional[str],
                  no_safety_checker: bool):
    """The image-to-image pipeline saved in ``folder``, on ``device``:
    safetensors weights only (pickled weights could run code), no remote
    code."""
    from diffusers import AutoPipelineForImage2Image
    try:  # diffusers renamed torch_dtype to dtype
        from diffusers.utils.deprecation_utils import _resolve_dtype  # noqa
        kwargs = dict(dtype=dtype)
    except ImportError:
        kwargs = dict(torch_dtype=dtype)
    kwargs.update(variant=variant, use_safetensors=True,
                  trust_remote_code=False)
    if no_safety_checker:
        kwargs['safety_checker'] = None
    try:
        pipe = AutoPipelineForImage2Image.from_pretrained(folder, **kwargs)
    except Exception as e:
        raise BuildError(f'Cannot load an image-to-image pipeline from '
                         f'{folder}: {type(e).__name__}: {e}') from e
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def native_size(pipe) -> int:
    """The pipeline's default image side (its UNet's sample size in
    pixels)."""
    try:
        return pipe.unet.config.sample_size * pipe.vae_scale_factor
    except AttributeError:
        raise BuildError(f'{type(pipe).__name__} has no UNet sample size to '
                         'take the resolution from; pass --size.') from None
