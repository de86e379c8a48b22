#!/usr/bin/env bash
# Set up what emoreg_mm needs in ./.venv on a machine with only Python 3.11
# and pip.
#
#   bash tools/setup_env.sh         # to run it: torch, torchvision, mmengine,
#                                   # mmpretrain, the `mmcv` module, the
#                                   # package (editable) and the demo's
#                                   # scikit-learn (tools/run_demo.py)
#   bash tools/setup_env.sh tests   # and the test suite's: pytest, scipy,
#                                   # xdist and, in .venv/extras/diffusion,
#                                   # the Diffused-EMOd builder's extra
#
# Safe to run again: it only installs what is missing.
#
# The `mmcv` module comes from mmcv-lite unless the environment already has
# a full mmcv (compiled ops), which is never overwritten.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
VENV=${VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup_env] creating $VENV with $PYTHON"
    "$PYTHON" -m venv "$VENV"
fi
case "${1:-}" in
    "") extras="demo" ;;
    tests) extras="tests,demo" ;;
    *) echo "usage: bash tools/setup_env.sh [tests]" >&2; exit 2 ;;
esac
if "$VENV/bin/python" -m pip show mmcv >/dev/null 2>&1; then
    echo "[setup_env] full mmcv found: keeping it (mmcv-lite not installed)"
else
    extras="$extras,lite"
fi
# Already complete (every requirement of emoreg_mm[extras] met, this
# checkout installed editable at its version)? Then pip is not run: no
# rebuild, no network.
if "$VENV/bin/python" - "$extras" >/dev/null 2>&1 <<'EOF'
import os.path as osp, sys
from importlib import metadata
from packaging.requirements import Requirement
from setup import get_version, parse_requirements
for name in ['runtime'] + sys.argv[1].split(','):
    for line in parse_requirements(f'requirements/{name}.txt'):
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate():
            assert req.specifier.contains(metadata.version(req.name),
                                          prereleases=True), line
assert metadata.version('emoreg_mm') == get_version()
from importlib.util import find_spec
assert osp.realpath(osp.dirname(find_spec('emoreg_mm').origin)) == \
    osp.realpath('emoreg_mm')
EOF
then
    echo "[setup_env] $VENV already has emoreg_mm[$extras] and its requirements"
else
    # A first install takes about 7 GB where the venv lies (torch's CUDA
    # build with its libraries on x86_64); stop before pip, not halfway.
    need_gb=${EMOREG_SETUP_FREE_GB:-7}
    free_kb=$(df -Pk "$VENV" | awk 'NR == 2 {print $4}')
    if [ "$free_kb" -lt $((need_gb * 1024 * 1024)) ]; then
        echo "[setup_env] error: installing emoreg_mm[$extras] needs about" \
            "$need_gb GB free where $VENV lies; $((free_kb / 1024)) MB" \
            "are. Free some, or set VENV to a path on a larger disk" \
            "(EMOREG_SETUP_FREE_GB=N changes the check)." >&2
        exit 1
    fi
    echo "[setup_env] installing emoreg_mm[$extras] (first run: torch, a few GB)"
    "$VENV/bin/python" -m pip install --progress-bar off -q -e ".[$extras]"
fi
if [ "${1:-}" = tests ]; then
# The Diffused-EMOd builder's extra (diffusers, transformers), for its
# tests, in a folder of its own that tests/test_tools/
# test_build_diffused_emod.py puts at the end of its path: where
# transformers is importable, mmengine imports it in every process (0.7 s
# of CPU a start; the suite starts over a hundred).
EXTRA="$VENV/extras/diffusion"
if "$VENV/bin/python" - "$EXTRA" >/dev/null 2>&1 <<'EOF'
import sys
from importlib import metadata
from packaging.requirements import Requirement
from setup import parse_requirements
found = {d.metadata['Name'].lower(): d.version
         for d in metadata.distributions(path=[sys.argv[1]])}
for line in parse_requirements('requirements/diffusion.txt'):
    req = Requirement(line)
    assert req.specifier.contains(found[req.name.lower()],
                                  prereleases=True), line
EOF
then
    echo "[setup_env] $EXTRA already has the diffusion extra (its tests)"
else
    echo "[setup_env] installing the diffusion extra into $EXTRA (its tests)"
    "$VENV/bin/python" -m pip install --progress-bar off -q --upgrade \
        --target "$EXTRA" -r requirements/diffusion.txt
fi
fi
"$VENV/bin/python" -c "import emoreg_mm, mmcv, mmpretrain, torch; print(
    f'[setup_env] ready: emoreg_mm {emoreg_mm.__version__}, '
    f'torch {torch.__version__}, mmpretrain {mmpretrain.__version__}, '
    f'mmcv {mmcv.__version__}')"
