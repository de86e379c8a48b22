from .regulation_head import (DEFAULT_EMOTION_CLASSES, RegulationHead,
                              fuse_log_probs)

__all__ = ['DEFAULT_EMOTION_CLASSES', 'RegulationHead', 'fuse_log_probs']
