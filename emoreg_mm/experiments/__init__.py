"""Sweeps: every run of a results table, planned, checked, run on Slurm or
here, and followed (``tools/sweep.py`` and ``tools/run_demo.py`` are thin
command lines over this package; docs/sweep.md).

- :mod:`.plan`: :class:`Sweep` (a selection of a preset's matrix) and its
  :class:`Run` list; the selection recorded in the work root.
- :mod:`.checks`: what is checked before anything runs (:func:`check`,
  :func:`dry_run`) and the GPU-hours.
- :mod:`.status`: each run's state from its run dir and one ``squeue``.
- :mod:`.job`: :class:`SweepJob`, one run (train -> test -> corruption
  evaluation) as a callable.
- :mod:`.launch`: Slurm through submitit, or forked children here.

Planning, checking and reading the status need no torch.

Example:
    >>> from emoreg_mm.experiments import Sweep, states
    >>> sweep = Sweep(preset='demo', modes=['baseline', 'ereg'])
    >>> runs = sweep.runs()
    >>> [r.name for r in runs][:2]
    ['tiny-resnet_synth-abstract', 'tiny-resnet_baseline_digits_s0']
"""
from .checks import check, dry_run, parse_throughput
from .job import SweepJob
from .launch import (Interrupted, run_local, submit_slurm, to_submit,
                     write_results)
from .plan import PlanError, Run, Sweep, read_plan
from .status import states, status_table

__all__ = [
    'Sweep', 'Run', 'PlanError', 'read_plan', 'check', 'dry_run',
    'parse_throughput', 'states', 'status_table', 'SweepJob', 'to_submit',
    'submit_slurm', 'run_local', 'write_results', 'Interrupted'
]
