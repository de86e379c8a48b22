from .predictions import (PredictionsFileError, load_predictions,
                          samples_to_arrays, save_predictions)

__all__ = [
    'PredictionsFileError', 'load_predictions', 'samples_to_arrays',
    'save_predictions'
]
