"""submitit, imported without closing the log files that are open.

On import, submitit configures its logger with ``logging.config.
dictConfig``, which closes every handler the process already has: a
training run's log file (mmengine's ``MMLogger``) then has no stream, and
the next line written to it fails (``'NoneType' object has no attribute
'write'``). :func:`import_submitit` imports it with that configuration
off (``SUBMITIT_LOG_LEVEL=NOCONFIG``) and gives its logger the same
output submitit would have set up (stderr, the level of
``SUBMITIT_LOG_LEVEL``, INFO by default), touching no other handler.
"""
import logging
import os
import sys

LOG_VARNAME = 'SUBMITIT_LOG_LEVEL'


def import_submitit():
    """The ``submitit`` module, imported as the module docstring says."""
    if 'submitit' in sys.modules:
        return sys.modules['submitit']
    given = os.environ.get(LOG_VARNAME)
    level = (given or 'INFO').upper()
    os.environ[LOG_VARNAME] = 'NOCONFIG'
    try:
        import submitit
    finally:  # as it was: the jobs' processes read it too
        if given is None:
            del os.environ[LOG_VARNAME]
        else:
            os.environ[LOG_VARNAME] = given
    logger = logging.getLogger('submitit')
    if level != 'NOCONFIG' and not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(
            '%(name)s %(levelname)s (%(asctime)s) - %(message)s'))
        logger.addHandler(handler)
        logger.setLevel(int(level) if level.isdigit() else level)
    return submitit
