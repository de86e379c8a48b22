"""What a tracker shows of a run beyond mmengine's scalars: its tags, and
the test metrics (mmengine's ``LoggerHook`` writes those to the log and
JSON only)."""
import json
import numbers
from typing import Dict, Optional

from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class TrackingHook(Hook):
    """Tag the run in every tracker and log its test metrics to them.

    Args:
        name (str): The run's name (its work dir's).
        group (str): The run's group: its row of the results table.
        tags (dict): ``{tag: value}``: backbone, affective set, mode,
            target, seed, sweep and grid point.
    """
    priority = 'VERY_LOW'

    def __init__(self, name: str, group: str, tags: Dict[str, str]):
        self.name, self.group, self.tags = name, group, dict(tags)

    def before_run(self, runner) -> None:
        """Write the tags as text where a tracker has no run tags of its
        own (TensorBoard: the ``emoreg/tags`` text, JSON)."""
        text = json.dumps(dict(name=self.name, group=self.group,
                               tags=self.tags), sort_keys=True)
        for backend in runner.visualizer._vis_backends.values():
            if type(backend).__name__ == 'TensorboardVisBackend':
                backend.experiment.add_text('emoreg/tags', text)

    def after_test_epoch(self, runner,
                         metrics: Optional[Dict[str, float]] = None) -> None:
        """Log each numeric test metric as ``test/<metric>``."""
        scalars = {f'test/{k}': float(v) for k, v in (metrics or {}).items()
                   if isinstance(v, numbers.Real)}
        if scalars:
            runner.visualizer.add_scalars(scalars, step=runner.iter)
