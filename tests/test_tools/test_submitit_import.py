"""Importing submitit (the sweep's Slurm backend) leaves the log files
already open writable: a training run's log would otherwise lose its
stream in the middle of a process."""
import subprocess
import sys

CHECK = """
import logging, os, sys, tempfile
os.environ.pop('SUBMITIT_LOG_LEVEL', None)
handler = logging.FileHandler(tempfile.mktemp())
logging.getLogger('a_run').addHandler(handler)
{how}
print(handler.stream is not None,
      logging.getLogger('submitit').getEffectiveLevel(),
      'SUBMITIT_LOG_LEVEL' in os.environ)
"""


def run(how):
    out = subprocess.run([sys.executable, '-c', CHECK.format(how=how)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_import_submitit_keeps_open_handlers():
    # submitit itself closes every handler of the process
    assert run('import submitit')[0] == 'False'
    assert run('from emoreg_mm.experiments.submitit_compat import '
               'import_submitit; import_submitit()') == ['True', '20',
                                                         'False']
