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
- ``pred_score_n`` and ``pred_score_i`` (lists of C floats): each built
  branch's own class probabilities, softmax(z_N) and softmax(z_I) (with
  both, ``pred_scores = (1 - rho) pred_score_n + rho pred_score_i``).

Each is added when the prediction carries it (a head with only N has no
``pred_score_i``, one without E no affect).

Predictions of other models give the same dicts as before::

    >>> from mmpretrain import ImageClassificationInferencer
    >>> inferencer = ImageClassificationInferencer(CONFIG, pretrained=CKPT)
    >>> inferencer('image.png')[0]['rho']
"""
from typing import Dict

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


def apply() -> None:
    """Extend ``ImageClassificationInferencer.postprocess`` (once)."""
    from mmpretrain.apis import ImageClassificationInferencer
    postprocess = ImageClassificationInferencer.postprocess
    if getattr(postprocess, '_emoreg_regulation', False):
        return

    def postprocess_with_regulation(self, preds, visualization,
                                    return_datasamples=False):
        results = postprocess(self, preds, visualization,
                              return_datasamples)
        if not return_datasamples:
            for result, data_sample in zip(results, preds):
                result.update(regulation_fields(data_sample))
        return results

    postprocess_with_regulation._emoreg_regulation = True
    postprocess_with_regulation.__doc__ = postprocess.__doc__
    ImageClassificationInferencer.postprocess = postprocess_with_regulation


apply()
