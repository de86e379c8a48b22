from .. import compat  # noqa: F401  (before any component is used)
from .inferencer import REGULATION_FIELDS, regulation_fields

__all__ = ['REGULATION_FIELDS', 'regulation_fields']
