from .inferencer import REGULATION_FIELDS, regulation_fields

__all__ = ['REGULATION_FIELDS', 'regulation_fields']
