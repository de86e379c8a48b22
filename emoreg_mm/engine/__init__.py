from .. import compat  # noqa: F401  (before any component is used)
from . import hooks, optimizers, runner  # noqa: F401
