"""Emotional Regulation models, registered in mmpretrain's ``MODELS``."""
from .. import compat  # noqa: F401  (before any component is used)
from . import dimensional_regulators, regulators  # noqa: F401  (modes)
from .affect_cache import AffectCache, fill_affect_cache, sample_key
from .backbones import *  # noqa: F401,F403
from .classifiers import RegulatedImageClassifier
from .data_preprocessor import UpsampleClsDataPreprocessor
from .heads import *  # noqa: F401,F403
from .regulators import (ALL_BRANCHES, REGULATION_MODES, BaseRegulator,
                         build_regulator)
from .tta import RegulatedAverageTTA

__all__ = [
    'ALL_BRANCHES', 'REGULATION_MODES', 'BaseRegulator', 'build_regulator',
    'EmotionalBackboneWrapper', 'EmotionalFeatures', 'PooledEncoder',
    'RegulationHead', 'DEFAULT_EMOTION_CLASSES', 'fuse_log_probs',
    'AffectCache', 'fill_affect_cache', 'sample_key',
    'RegulatedImageClassifier', 'RegulatedAverageTTA',
    'UpsampleClsDataPreprocessor'
]
