"""Affective datasets, read as their authors distribute them.

Importing this package registers the classes in mmpretrain's ``DATASETS``
and makes mmpretrain's CIFAR classes fail fast with a clear message when
their files are missing on an offline machine.
"""
from .. import compat  # noqa: F401  (before any component is used)
from . import cifar_offline
from .abstract import Abstract
from .affective_folder import AffectiveImageFolder
from .artphoto import ARTPHOTO_CLASSES, ArtPhoto
from .base_affective import BaseAffectiveDataset
from .cifar_c import CIFAR10C, CIFAR100C, CIFARCorruptedError
from .cifar_shift import CIFAR10_1, CIFAR10_2, CIFARShiftError
from .cifar_split import HeldOutCIFAR10, HeldOutCIFAR100
from .dimensional import (GAPED, GAPED_CATEGORIES, OASIS, AffectiveRatings,
                          BaseDimensionalDataset, Emotion6VA, FindingEmo,
                          normalise_ratings)
from .emod import EMOD_PLACEHOLDER_CLASSES, DiffusedEMOd, EMOd
from .emoset import EmoSet
from .emotion6 import EMOTION6_CLASSES, Emotion6
from .fi import FI, FI_CLASSES
from .splits import split_indices
from .vocabulary import (BINARY_CLASSES, EMOTIONS, build_label_map,
                         canonical_emotion)

cifar_offline.apply()

__all__ = [
    'EMOTIONS', 'BINARY_CLASSES', 'EMOD_PLACEHOLDER_CLASSES',
    'EMOTION6_CLASSES', 'ARTPHOTO_CLASSES', 'FI_CLASSES',
    'BaseAffectiveDataset', 'EmoSet', 'Abstract', 'EMOd', 'DiffusedEMOd',
    'FI', 'ArtPhoto', 'Emotion6', 'AffectiveImageFolder', 'build_label_map',
    'canonical_emotion', 'split_indices', 'HeldOutCIFAR10',
    'HeldOutCIFAR100', 'CIFAR10C', 'CIFAR100C', 'CIFARCorruptedError',
    'CIFAR10_1', 'CIFAR10_2', 'CIFARShiftError', 'BaseDimensionalDataset',
    'AffectiveRatings', 'OASIS', 'GAPED', 'GAPED_CATEGORIES', 'Emotion6VA',
    'FindingEmo', 'normalise_ratings'
]
