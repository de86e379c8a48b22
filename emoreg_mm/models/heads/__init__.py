from .affect_regression_head import AffectRegressionHead
from .regulation_head import (DEFAULT_EMOTION_CLASSES, RegulationHead,
                              fuse_log_probs)

__all__ = ['AffectRegressionHead', 'DEFAULT_EMOTION_CLASSES', 'RegulationHead', 'fuse_log_probs']
