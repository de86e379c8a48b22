"""The mmengine and mmpretrain versions the patches were written for.

The compat patches replace or wrap private functions of mmengine and mmpretrain
(docs/advanced.md, "What importing `emoreg_mm` changes"); they were written
against, and are tested with, the versions in :data:`TESTED`. Importing
``emoreg_mm`` next to another version warns, naming both, since a patch may
then miss its target or change something that moved; with the environment
variable ``EMOREG_MM_STRICT_VERSIONS=1`` it refuses instead.
"""
import os
import re
import warnings
from typing import Dict, List, Optional, Tuple

#: package -> (lowest, highest) version tested, inclusive.
TESTED: Dict[str, Tuple[str, str]] = {
    'mmengine': ('0.10.7', '0.10.7'),
    'mmpretrain': ('1.2.0', '1.2.0'),
}
STRICT_ENV = 'EMOREG_MM_STRICT_VERSIONS'


class UntestedVersionError(ImportError):
    """mmengine or mmpretrain outside :data:`TESTED`, in strict mode."""


def _key(version: str) -> tuple:
    """A comparable form of ``'0.10.7'`` (a suffix such as ``rc1`` or
    ``+local`` is dropped; missing parts count as 0)."""
    parts = []
    for part in version.split('+')[0].split('.')[:3]:
        digits = re.match(r'\d*', part).group()
        parts.append(int(digits or 0))
        if digits != part:  # a pre-release suffix ends the number
            break
    return tuple(parts + [0] * (3 - len(parts)))


def untested(installed: Optional[Dict[str, str]] = None) -> List[str]:
    """A sentence per package whose version is outside :data:`TESTED`."""
    if installed is None:
        import mmengine
        import mmpretrain
        installed = dict(mmengine=mmengine.__version__,
                         mmpretrain=mmpretrain.__version__)
    out = []
    for name, (low, high) in TESTED.items():
        version = installed.get(name)
        if version is None or _key(low) <= _key(version) <= _key(high):
            continue
        span = low if low == high else f'{low} to {high}'
        out.append(f'{name} {version} is installed; emoreg_mm\'s patches of '
                   f'{name} were written and tested for {span}')
    return out


def check(installed: Optional[Dict[str, str]] = None) -> List[str]:
    """Warn about (or, with ``EMOREG_MM_STRICT_VERSIONS=1``, refuse)
    versions outside :data:`TESTED`; returns the sentences."""
    problems = untested(installed)
    if not problems:
        return problems
    message = ('; '.join(problems) + '. A patch may miss what it replaces: '
               'install the tested versions (requirements/runtime.txt), or '
               'run the test suite against these.')
    if os.environ.get(STRICT_ENV, '') not in ('', '0'):
        raise UntestedVersionError(f'{message} ({STRICT_ENV} is set.)')
    warnings.warn(f'{message} Set {STRICT_ENV}=1 to refuse instead.',
                  stacklevel=3)
    return problems
