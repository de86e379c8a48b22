"""Which checkpoint ``--resume`` (auto) continues from.

mmengine resumes from the file that ``work_dir/last_checkpoint`` names,
and fails with ``FileNotFoundError`` when that file is gone or damaged.
:func:`find_resumable_checkpoint` checks it without unpickling (exists,
not empty, a zip archive whose members pass their CRC checks) and falls
back to the newest intact checkpoint in the work dir, reporting what it
skipped and why.
"""
import glob
import os.path as osp
from typing import List, Optional, Tuple

from emoreg_mm.compat.safe_load import check_intact


def named_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``work_dir/last_checkpoint`` names, or None."""
    path = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        name = f.read().strip()
    if name and not osp.exists(name) and osp.exists(
            osp.join(work_dir, osp.basename(name))):
        name = osp.join(work_dir, osp.basename(name))  # work dir was moved
    return name or None


def find_resumable_checkpoint(
        work_dir: str) -> Tuple[Optional[str], List[Tuple[str, str]]]:
    """The checkpoint to resume from and the ones skipped.

    Candidates: the file ``last_checkpoint`` names, then every other
    ``*.pth`` in ``work_dir`` except ``best_*`` (newest first by
    modification time). The first intact one is chosen.

    Args:
        work_dir (str): The run's work directory.

    Returns:
        tuple: (path or None, [(skipped path, why), ...]).
    """
    named = named_checkpoint(work_dir)
    others = sorted(
        (p for p in glob.glob(osp.join(work_dir, '*.pth'))
         if not osp.basename(p).startswith('best_')),
        key=osp.getmtime, reverse=True)
    candidates = ([named] if named else []) + [
        p for p in others
        if not named or osp.abspath(p) != osp.abspath(named)
    ]
    skipped = []
    for path in candidates:
        why = check_intact(path)
        if why is None:
            return path, skipped
        skipped.append((path, why))
    return None, skipped


def describe_resume(work_dir: str, chosen: Optional[str],
                    skipped: List[Tuple[str, str]]) -> Optional[str]:
    """The warning to log about :func:`find_resumable_checkpoint`'s
    result, or None when ``last_checkpoint`` named an intact file."""
    lines = [f'skipped {path}: {why}' for path, why in skipped]
    if chosen is None:
        return (f'--resume: no intact checkpoint in {work_dir}'
                + (f' ({"; ".join(lines)})' if lines else '') +
                '; starting from scratch.')
    if not skipped:
        return None
    return (f'--resume: {"; ".join(lines)}. Resuming from {chosen}, the '
            'newest intact checkpoint, instead.')
