"""mmpretrain's ImageClassificationInferencer gives rho, the affective
state and the branch scores in its result dicts; the README's example runs
as written."""
import json
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmpretrain.apis import ImageClassificationInferencer
from mmpretrain.structures import DataSample

import affective_fixtures as fx
from emoreg_mm.apis import regulation_fields
from emoreg_mm.datasets.vocabulary import EMOTIONS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
LEAF = 'resnet18-cifar_learn-ereg_cifar10'
CIFAR10 = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog',
           'horse', 'ship', 'truck']

# Printed to stderr after the snippet (its own line stays last on stdout).
BRANCHES = """
import json, sys
print('BRANCHES', json.dumps([result['pred_score_n'], result['pred_score_i'],
      result['pred_scores'].tolist(), result['rho']]), file=sys.stderr)
"""

# The leaf with a tiny backbone (``_base_`` by path: the snippet imports
# nothing before the config, which then imports emoreg_mm itself).
PROJECT_CFG = f'''
_base_ = [{osp.join(REPO, 'configs', 'emoreg', LEAF + '.py')!r}]
tiny = dict(base_channels=4, stem_channels=4)
model = dict(backbone=dict(backbone=tiny, in_channels=32),
             head=dict(in_channels=32))
'''


def readme_snippet():
    """docs/results.md's python block that uses the inferencer, verbatim."""
    with open(osp.join(REPO, 'docs', 'results.md')) as f:
        blocks = re.findall(r'```python\n(.*?)```', f.read(), re.S)
    snippet, = [b for b in blocks if 'ImageClassificationInferencer' in b]
    return snippet


def test_regulation_fields():
    sample = DataSample().set_pred_score(torch.tensor([0.2, 0.8]))
    assert regulation_fields(sample) == {}  # a plain classifier's
    sample.set_field(torch.tensor(0.25), 'rho')
    sample.set_field(torch.tensor([0.1, 0.9]), 'affect_score')
    sample.set_field(torch.tensor([1]), 'affect_label')
    sample.set_field('awe', 'affect_class')
    out = regulation_fields(sample)
    assert out['rho'] == 0.25 and isinstance(out['rho'], float)
    assert out['affect_label'] == 1 and out['affect_class'] == 'awe'
    assert out['affect_score'].tolist() == [
        torch.tensor(0.1).item(), torch.tensor(0.9).item()]
    assert 'pred_score_n' not in out and 'pred_score_i' not in out
    sample.set_field(torch.tensor([0.3, 0.7]), 'pred_score_n')
    out = regulation_fields(sample)
    assert out['pred_score_n'] == [torch.tensor(0.3).item(),
                                   torch.tensor(0.7).item()]
    assert type(out['pred_score_n'][0]) is float
    assert 'pred_score_i' not in out  # a head with N only


def test_postprocess_adds_the_branch_scores_only_when_present():
    """The patched postprocess on predictions as the heads leave them: a
    plain classifier's dict has upstream's keys, a regulated one also the
    fields, the branch scores as lists of floats."""
    plain = DataSample().set_pred_score(torch.tensor([0.2, 0.8]))
    regulated = DataSample().set_pred_score(torch.tensor([0.35, 0.65]))
    regulated.set_field(torch.tensor(0.25), 'rho')
    regulated.set_field(torch.tensor([0.4, 0.6]), 'pred_score_n')
    regulated.set_field(torch.tensor([0.2, 0.8]), 'pred_score_i')
    fake = type('Inferencer', (), dict(classes=('cat', 'dog')))()
    out = ImageClassificationInferencer.postprocess(
        fake, [plain, regulated], None)
    assert sorted(out[0]) == ['pred_class', 'pred_label', 'pred_score',
                              'pred_scores']
    assert sorted(set(out[1]) - set(out[0])) == ['pred_score_i',
                                                 'pred_score_n', 'rho']
    assert out[1]['pred_score_n'] == pytest.approx([0.4, 0.6])
    assert out[1]['pred_score_i'] == pytest.approx([0.2, 0.8])
    assert all(type(v) is float for v in out[1]['pred_score_i'])


def test_postprocess_names_the_dimensions_of_a_dimensional_state():
    """A head regressing (valence, arousal): its dicts name what the values
    of ``affect_score`` are; a categorical head's dicts have no names."""
    from emoreg_mm.models import RegulationHead
    sample = DataSample().set_pred_score(torch.tensor([0.35, 0.65]))
    sample.set_field(torch.tensor(0.25), 'rho')
    sample.set_field(torch.tensor([0.5, -0.5]), 'affect_score')

    def postprocess(head):
        model = torch.nn.Module()
        model.head = head
        fake = type('Inferencer', (), dict(classes=('cat', 'dog'),
                                           model=model))()
        return ImageClassificationInferencer.postprocess(
            fake, [sample], None)[0]

    out = postprocess(RegulationHead(
        num_classes=2, in_channels=4, regulator=dict(type='ArousalRegulator'),
        emotion_classes=('pleasure', 'arousal'), affect_space='dimensional'))
    assert out['affect_names'] == ['pleasure', 'arousal']
    assert out['affect_score'].tolist() == [0.5, -0.5]
    assert 'affect_names' not in postprocess(RegulationHead(
        num_classes=2, in_channels=4, emotion_classes=('awe', 'fear')))


def test_readme_inferencer_example(tmp_path):
    snippet = readme_snippet()
    config, = re.findall(r"'(configs/[^']+\.py)'", snippet)
    ckpt, = re.findall(r"pretrained='([^']+)'", snippet)
    image, = re.findall(r"inferencer\('([^']+)'\)", snippet)
    assert config == f'configs/emoreg/{LEAF}.py'
    # The project: its config, a checkpoint of that model, an image.
    os.makedirs(tmp_path / osp.dirname(config))
    (tmp_path / config).write_text(PROJECT_CFG)
    from mmpretrain.registry import MODELS

    import emoreg_mm  # noqa: F401
    cfg = Config.fromfile(str(tmp_path / config))
    model = MODELS.build(cfg.model)
    os.makedirs(tmp_path / osp.dirname(ckpt))
    torch.save({'state_dict': model.state_dict(),
                'meta': dict(dataset_meta=dict(classes=CIFAR10))},
               str(tmp_path / ckpt))
    fx.write_image(str(tmp_path / image), 32)

    out = subprocess.run(
        [sys.executable, '-c', snippet + BRANCHES], cwd=str(tmp_path),
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert out.returncode == 0, out.stderr[-3000:]
    # The printed line follows the inferencer's progress bar.
    printed = re.search(rf"({'|'.join(CIFAR10)}) (\S+) (\S+)\s*$",
                        out.stdout)
    assert printed, out.stdout[-2000:]
    pred_class, rho, affect_class = printed.groups()
    assert 0 <= float(rho) <= 1
    assert affect_class in EMOTIONS
    # Each branch's probabilities, fused by rho into pred_scores.
    line, = [k for k in out.stderr.splitlines() if k.startswith('BRANCHES ')]
    p_n, p_i, fused, rho = json.loads(line[len('BRANCHES '):])
    assert len(p_n) == len(p_i) == len(CIFAR10)
    assert sum(p_n) == pytest.approx(1, abs=1e-5)
    assert sum(p_i) == pytest.approx(1, abs=1e-5)
    assert fused == pytest.approx(
        [(1 - rho) * n + rho * i for n, i in zip(p_n, p_i)], abs=1e-5)
