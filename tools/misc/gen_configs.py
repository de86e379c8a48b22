"""Write the leaf configs of the experiment matrix from the ``_base_`` pieces.

Usage: ``python tools/misc/gen_configs.py [--check]``

Every leaf is a few lines: the ``_base_`` pieces of its backbone, affective
set, regulation mode, target and schedule, and (stage 2) the wiring that
hands the mode's regulator and the stage-1 checkpoint to the model (the
emotion vocabulary comes from the stage-1 checkpoint's record). The matrix itself (backbones, affective sets,
modes, targets) is ``emoreg_mm/matrix.py``; ``--check`` fails when a leaf on
disk differs from what this script writes (the test suite runs it), so the
leaves never drift apart.

Stage 1 (``configs/emoreg_pretrain/{backbone}_{affective}.py``) writes its
checkpoints to ``work_dirs/{backbone}_{affective}``; stage 2
(``configs/emoreg/{backbone}_{mode}[_{affective}]_{target}.py``, the
affective segment left out for the default, EmoSet) reads the latest one
from there.
"""
import argparse
import os
import os.path as osp
import sys

ROOT = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))), 'configs')

sys.path.insert(0, osp.join(osp.dirname(ROOT), 'tools', 'analysis_tools'))
from results_table import plugin_module  # noqa: E402

# The matrix: emoreg_mm/matrix.py (one definition for every tool).
matrix = plugin_module('matrix')

# Stage 1: the header every stage-1 leaf has, then its schedule's lines.
STAGE1_HEAD = """\
# Stage 1: {title} learns the emotions of {affective_title}.
# Its checkpoints (work_dirs/{name}) feed every stage-2 config on
# {affective_title} with this backbone.
_base_ = [
    '../_base_/models/{backbone}.py',
    '../_base_/datasets/{affective}{data_suffix}.py',
    '../_base_/schedules/{schedule}.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=_base_.data_preprocessor.num_classes))
"""
# Fine-tuned backbones: schedules/affective_pretrain.py (BiT-HyperRule).
STAGE1 = STAGE1_HEAD.replace('{schedule}', 'affective_pretrain') + """\
# Schedule sized to about {size} training images (the rule of
# schedules/affective_pretrain.py): {steps} steps at total batch {batch}
# (8 GPUs x {per_gpu}), lr {lr}; {epochs} epochs of {per_epoch} steps.
train_dataloader = dict(batch_size={per_gpu})
optim_wrapper = dict(optimizer=dict(lr={lr}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0,
         end={warmup}, convert_to_iter_based=True),
    dict(type='MultiStepLR', by_epoch=True, milestones={milestones},
         gamma=0.1),
]
train_cfg = dict(max_epochs={epochs})
auto_scale_lr = dict(base_batch_size={batch})
"""
# Backbones from scratch: schedules/affective_scratch.py.
STAGE1_SCRATCH = STAGE1_HEAD.replace('{schedule}', 'affective_scratch') + \
    """\
# From scratch, about {size} training images (schedules/affective_scratch.py):
# total batch {batch} (8 GPUs x {per_gpu}), lr {lr}; 200 epochs of {per_epoch} steps.
train_dataloader = dict(batch_size={per_gpu})
optim_wrapper = dict(optimizer=dict(lr={lr}))
auto_scale_lr = dict(base_batch_size={batch})
"""

BASELINE = """\
# Baseline: plain {title} classifier on {target_title} (no emotional
# encoder), the reference every regulation mode is compared with.
_base_ = [
    '../_base_/models/{backbone}.py',
    '../_base_/regulation/baseline.py',
    '../_base_/datasets/{target}{target_suffix}.py',
    '../_base_/schedules/{schedule}.py',
    '../_base_/default_runtime.py',
]
model = dict(
    train_cfg=_base_.model_train_cfg,
    head=dict(num_classes=_base_.data_preprocessor.num_classes))
"""

STAGE2 = """\
# {title}, regulation mode {mode}, on {target_title}; emotional encoder
# pre-trained on {affective_title} (stage 1: {stage1_config}).
_base_ = [
    '../_base_/models/{backbone}_emoreg.py',
    '../_base_/regulation/{mode}.py',
    '../_base_/affective/{affective}.py',
    '../_base_/datasets/{target}{target_suffix}.py',
    '../_base_/schedules/{schedule}.py',
    '../_base_/default_runtime.py',
]
model = dict(
    train_cfg=_base_.model_train_cfg,
    backbone=dict(
        emotional_checkpoint='work_dirs/{stage1}',
        emotional_checkpoint_config='{stage1_config}'),
    head=dict(
        num_classes=_base_.data_preprocessor.num_classes,
        regulator=_base_.regulator))
"""


def stage1_name(backbone: str, affective: str) -> str:
    return f'{backbone}_{affective}'


def stage1_schedule(size: int, gpus: int = 8) -> dict:
    """BiT-HyperRule's schedule for ``size`` training images, in epochs.

    Steps: 500 below 20k images, 10k below 500k, else 20k (warm-up over the
    first 100 / 500 / 500, lr x0.1 at 40 / 60 / 80 % (small) or 30 / 60 /
    90 %); total batch the largest power of two <= min(256, size / 4); lr
    0.003 x batch / 512. Steps are converted to whole epochs.
    """
    if size < 4 * gpus:
        raise ValueError(f'{size} training images are too few for a total '
                         f'batch of at least {gpus} (one per GPU).')
    supports = ([100, 200, 300, 400, 500] if size < 20_000 else
                [500, 3000, 6000, 9000, 10_000] if size < 500_000 else
                [500, 6000, 12_000, 18_000, 20_000])
    batch = 1 << (min(256, size // 4).bit_length() - 1)
    batch = max(batch, gpus)
    per_epoch = -(-size // batch)
    epochs = -(-supports[-1] // per_epoch)
    points = [max(1, round(s / per_epoch)) for s in supports[:4]]
    for i in range(1, 4):  # strictly increasing, before the end
        points[i] = max(points[i], points[i - 1] + 1)
    if points[-1] >= epochs:
        epochs = points[-1] + 1
    return dict(size=f'{size:,}', steps=f'{supports[-1]:,}', batch=batch,
                per_gpu=batch // gpus, lr=round(0.003 * batch / 512, 8),
                per_epoch=per_epoch, epochs=epochs, warmup=points[0],
                milestones=points[1:])


def stage1_scratch_schedule(size: int, gpus: int = 8) -> dict:
    """schedules/affective_scratch.py scaled to ``size`` training images:
    total batch the largest power of two <= min(128, size / 4), lr 0.1 x
    batch / 128, 200 epochs."""
    if size < 4 * gpus:
        raise ValueError(f'{size} training images are too few for a total '
                         f'batch of at least {gpus} (one per GPU).')
    batch = max(gpus, 1 << (min(128, size // 4).bit_length() - 1))
    return dict(size=f'{size:,}', batch=batch, per_gpu=batch // gpus,
                lr=round(0.1 * batch / 128, 8),
                per_epoch=-(-size // batch))


def leaves() -> dict:
    """Map each leaf's path (relative to configs/) to its text."""
    out = {}
    for backbone, spec in matrix.BACKBONES.items():
        affective_sets = matrix.shipped_sets(backbone)
        for affective in affective_sets:
            name = stage1_name(backbone, affective)
            aff = matrix.AFFECTIVE_SETS[affective]
            out[f'emoreg_pretrain/{name}.py'] = (
                STAGE1_SCRATCH if spec.from_scratch else STAGE1).format(
                    title=spec.title, affective_title=aff.title, name=name,
                    backbone=backbone, affective=affective,
                    data_suffix=spec.data_suffix,
                    **(stage1_scratch_schedule if spec.from_scratch else
                       stage1_schedule)(aff.train_size))
        for target, target_title in matrix.TARGETS.items():
            fields = dict(title=spec.title, backbone=backbone, target=target,
                          target_title=target_title, schedule=spec.schedule,
                          target_suffix=spec.target_suffix)
            out[f'emoreg/{backbone}_baseline_{target}.py'] = \
                BASELINE.format(**fields)
            for mode in matrix.MODES[1:]:
                for affective in affective_sets:
                    stage1 = stage1_name(backbone, affective)
                    segment = '' if affective == matrix.DEFAULT_AFFECTIVE \
                        else f'_{affective}'
                    out[f'emoreg/{backbone}_{mode}{segment}_{target}.py'] = \
                        STAGE2.format(
                            mode=mode, affective=affective,
                            affective_title=matrix.AFFECTIVE_SETS[
                                affective].title,
                            stage1=stage1,
                            stage1_config=f'configs/emoreg_pretrain/'
                            f'{stage1}.py',
                            **fields)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--check', action='store_true',
                        help='only report leaves that differ or are missing')
    args = parser.parse_args()
    expected = leaves()
    stale = []
    for rel, text in sorted(expected.items()):
        path = osp.join(ROOT, rel)
        current = open(path).read() if osp.isfile(path) else None
        if current == text:
            continue
        stale.append(rel)
        if not args.check:
            os.makedirs(osp.dirname(path), exist_ok=True)
            with open(path, 'w') as f:
                f.write(text)
    extra = sorted(
        f'{d}/{f}' for d in ('emoreg_pretrain', 'emoreg')
        if osp.isdir(osp.join(ROOT, d))
        for f in os.listdir(osp.join(ROOT, d))
        if f.endswith('.py') and f'{d}/{f}' not in expected)
    if args.check:
        if stale or extra:
            sys.exit('Leaf configs out of date (run python tools/misc/'
                     f'gen_configs.py): differ or missing: {stale}; not in '
                     f'the matrix: {extra}')
        print(f'{len(expected)} leaf configs up to date.')
    else:
        print(f'Wrote {len(stale)} of {len(expected)} leaf configs.' +
              (f' Not in the matrix (left as they are): {extra}'
               if extra else ''))


if __name__ == '__main__':
    main()
