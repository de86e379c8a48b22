"""The regulation in mmpretrain's inferencer output.

mmpretrain's :class:`~mmpretrain.apis.ImageClassificationInferencer` (also
what :func:`mmpretrain.inference_model` uses for classification models)
returns one dict per image with ``pred_scores``, ``pred_label``,
``pred_score`` and ``pred_class``, built from the prediction's scores only.
mmpretrain has no registry of inferencers to add one for these models, so
importing :mod:`emoreg_mm` (which a config's ``custom_imports`` does) extends
that dict: a prediction of a ``RegulationHead`` adds

- ``rho`` (float): the regulation weight;
- ``affect_score`` (ndarray of K floats): the affective state;
- ``affect_label`` (int) and ``affect_class`` (str): its top emotion;
- ``affect_names`` (list of str), for a dimensional state: what each of the
  K values of ``affect_score`` is (``['valence', 'arousal']``, or the
  dimensions stage 1 recorded), as ``model.head.emotion_classes`` names them;
- ``pred_score_n`` and ``pred_score_i`` (lists of C floats): each built
  branch's own class probabilities, softmax(z_N) and softmax(z_I) (with
  both, ``pred_scores = (1 - rho) pred_score_n + rho pred_score_i``).

Each is added when the prediction carries it (a head with only N has no
``pred_score_i``, one without E no affect; a categorical state has a top
emotion, a dimensional one its dimension names).

Built from a config file (or ``Config``) and a checkpoint file, a
regulated model's emotion vocabulary is resolved as tools/test.py resolves
it (:func:`~emoreg_mm.engine.runner.set_emotion_classes`: the config's
own, else the checkpoint's ``meta['emotion_classes']``, else stage 1's), so
a leaf config and a stage-2 checkpoint of a user's own K emotions build the
head of K without the stage-1 checkpoint.

Predictions of other models give the same dicts as before::

    >>> from mmpretrain import ImageClassificationInferencer
    >>> inferencer = ImageClassificationInferencer(CONFIG, pretrained=CKPT)
    >>> inferencer('image.png')[0]['rho']
"""
import copy
import os.path as osp
from typing import Dict, List, Optional

#: The prediction fields added to the inferencer's dicts.
REGULATION_FIELDS = ('rho', 'affect_score', 'affect_label', 'affect_class',
                     'pred_score_n', 'pred_score_i')


def regulation_fields(data_sample) -> Dict:
    """``REGULATION_FIELDS`` of a prediction as plain Python / numpy
    values (those it has; empty for a model without a ``RegulationHead``):
    ``affect_score`` an ndarray, the branch scores lists of floats."""
    out = {}
    for name in REGULATION_FIELDS:
        if name not in data_sample:
            continue
        value = data_sample.get(name)
        if name == 'affect_score':
            value = value.detach().cpu().numpy()
        elif name in ('rho', 'affect_label'):
            value = value.detach().cpu().reshape(-1)[0].item()
        elif name in ('pred_score_n', 'pred_score_i'):
            value = value.detach().cpu().reshape(-1).tolist()
        out[name] = value
    return out


def affect_names(model) -> Optional[List[str]]:
    """The dimension names of ``model``'s dimensional affective state (its
    head's ``emotion_classes``); None for a categorical state or a model
    without a ``RegulationHead``."""
    head = getattr(model, 'head', None)
    if getattr(head, 'affect_space', None) != 'dimensional':
        return None
    return list(head.emotion_classes)


def with_emotion_classes(model, pretrained):
    """``model`` (a config file or ``Config``) as a ``Config`` whose
    regulated head names the emotion vocabulary ``pretrained`` (a
    checkpoint file) or its stage 1 recorded; anything else as it is."""
    from mmengine.config import Config

    from ..engine.runner import set_emotion_classes
    if not isinstance(pretrained, str) or not (
            isinstance(model, Config) or
            (isinstance(model, str) and osp.isfile(model))):
        return model
    cfg = copy.deepcopy(model) if isinstance(model, Config) else \
        Config.fromfile(model)
    return cfg if set_emotion_classes(cfg, pretrained) else model


def apply() -> None:
    """Extend ``ImageClassificationInferencer`` (once): its model is built
    with the emotion vocabulary of :func:`with_emotion_classes`, and
    ``postprocess`` adds the regulation's fields."""
    from mmpretrain.apis import ImageClassificationInferencer
    postprocess = ImageClassificationInferencer.postprocess
    if getattr(postprocess, '_emoreg_regulation', False):
        return
    init = ImageClassificationInferencer.__init__

    def init_with_emotion_classes(self, model, pretrained=True, *args,
                                  **kwargs):
        init(self, with_emotion_classes(model, pretrained), pretrained,
             *args, **kwargs)

    init_with_emotion_classes.__doc__ = init.__doc__
    ImageClassificationInferencer.__init__ = init_with_emotion_classes

    def postprocess_with_regulation(self, preds, visualization,
                                    return_datasamples=False):
        results = postprocess(self, preds, visualization,
                              return_datasamples)
        if not return_datasamples:
            names = affect_names(getattr(self, 'model', None))
            for result, data_sample in zip(results, preds):
                result.update(regulation_fields(data_sample))
                if names is not None and 'affect_score' in result:
                    result['affect_names'] = list(names)
        return results

    postprocess_with_regulation._emoreg_regulation = True
    postprocess_with_regulation.__doc__ = postprocess.__doc__
    ImageClassificationInferencer.postprocess = postprocess_with_regulation


apply()
