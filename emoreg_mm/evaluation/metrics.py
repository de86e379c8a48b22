"""The metric that ``tools/test.py --out FILE.npz`` adds to the evaluator."""
from typing import Any, Sequence

from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from .. import compat  # noqa: F401
from .predictions import (PredictionsFileError, samples_to_arrays,
                          save_predictions)


class SavePredictions(BaseMetric):
    """Metric that saves the test predictions with :func:`save_predictions`.

    The ``.npz`` counterpart of mmengine's ``DumpResults``: predictions of
    every rank are gathered and rank 0 writes ``out_file_path``.

    Args:
        out_file_path (str): Output ``.npz`` file.
        collect_device (str): Device to gather results on, ``'cpu'`` or
            ``'gpu'``. Defaults to ``'cpu'``.
    """

    def __init__(self, out_file_path: str,
                 collect_device: str = 'cpu') -> None:
        super().__init__(collect_device=collect_device)
        if not out_file_path.endswith('.npz'):
            raise PredictionsFileError(
                f'{out_file_path}: SavePredictions writes .npz files')
        self.out_file_path = out_file_path

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Keep the arrays of each prediction, on the CPU."""
        self.results.extend(
            {k: v[0] for k, v in samples_to_arrays([s]).items()}
            for s in data_samples)

    def compute_metrics(self, results: list) -> dict:
        """Write the gathered predictions (rank 0)."""
        save_predictions(self.out_file_path, results)
        print_log(f'Predictions saved to {self.out_file_path}',
                  logger='current')
        return {}
