from .emotional_wrapper import (EmotionalBackboneWrapper, EmotionalFeatures,
                                PooledEncoder)

__all__ = ['EmotionalBackboneWrapper', 'EmotionalFeatures', 'PooledEncoder']
