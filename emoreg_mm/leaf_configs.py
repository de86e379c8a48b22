"""The leaf configs of the experiment matrix, written from its ``_base_``
pieces (``tools/misc/gen_configs.py``).

Every leaf is a few lines: the ``_base_`` pieces of its backbone, affective
set, regulation mode, target and schedule, and (stage 2) the wiring that
hands the mode's regulator and the stage-1 checkpoint to the model (the
emotion vocabulary comes from the stage-1 checkpoint's record). What the
leaves are is :mod:`emoreg_mm.matrix`: each preset's names
(:func:`~emoreg_mm.matrix.shipped_leaves`), their files
(:func:`~emoreg_mm.matrix.config_file`) and where their pieces are
(:class:`~emoreg_mm.matrix.Layout`). :func:`sync` writes them, or with
``check=True`` reports those that differ, so the leaves never drift apart.

A stage-1 leaf (``{backbone}_{affective}``) writes its checkpoints to
``work_dirs/{backbone}_{affective}`` (the demo's: ``work_dirs/demo/...``);
a stage-2 leaf (``{backbone}_{mode}[_{affective}]_{target}``, the
affective segment left out for the preset's default set) reads the latest
one from there.

The controls of a set X (docs/method.md, "Controls") are X's leaves with
one difference each, stated in a ``_base_/controls`` piece and set as
``emoreg_affective = 'X-<control>'``: ``X-shuffled``'s stage 1 is X's (the
same pieces and schedule) with ``controls/shuffled.py``'s dataset options
on its training split, and its stage-2 leaves read that stage 1;
``X-untrained``'s stage-2 leaves have no stage 1 (``controls/untrained.py``:
a random E) and name X's emotions in the head.

A set rated on valence and arousal (``affect_space='dimensional'`` in the
matrix) has the same leaves with its space's words and a few lines more
(:data:`SPACE_FIELDS`): its stage 1 regresses the ratings
(``affective/valence_arousal.py``'s head and best checkpoint), its stage-2
heads read them as the state (``affect_space``). Standard library only:
importable without torch.
"""
import os
import os.path as osp
import posixpath
from typing import Dict, List, NamedTuple

from . import matrix

STAGE1_HEAD = """\
{comment}_base_ = [
    '{models}/{backbone}.py',
    '{datasets}/{affective}{data_suffix}.py',
    '{schedules}/{schedule}.py',
    '{runtime}',
{control_piece}]
{work_dir}{stage1_head}{label_line}"""
STAGE1_CLASSIFIER = """\
model = dict(head=dict(num_classes=_base_.data_preprocessor.num_classes))
"""
STAGE1_REGRESSION = """\
# The ratings regressed (affective/valence_arousal.py) from this backbone's
# pooled feature; the best checkpoint by the mean of Pearson's r.
model = dict(
    head=dict(_base_.regression_head, _delete_=True,
              in_channels=_base_.model.head.in_channels))
default_hooks = dict(checkpoint=_base_.regression_checkpoint)
"""
STAGE1_COMMENT = """\
# Stage 1: {title} learns {learned} of {affective_title}.
# Its checkpoints ({checkpoint}) feed every stage-2 config on
# {affective_title} with this backbone.
"""
STAGE1_SHUFFLED = """\
# Stage 1, shuffled control of {affective_title}: {stage1_x} with
# {labels} of its training split permuted (controls/shuffled.py);
# the same images, pieces and schedule. Its checkpoints feed the stage-2
# configs on {label}: {checkpoint}.
"""
# Fine-tuned backbones: schedules/affective_pretrain.py (BiT-HyperRule).
STAGE1_SIZED = """\
# Schedule sized to about {size} training images (the rule of
# schedules/affective_pretrain.py): {steps} steps at total batch {batch}
# (8 GPUs x {per_gpu}), lr {lr}; {epochs} epochs of {per_epoch} steps.
train_dataloader = dict(batch_size={per_gpu}{loader})
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
STAGE1_SCRATCH = """\
# From scratch, about {size} training images (schedules/affective_scratch.py):
# total batch {batch} (8 GPUs x {per_gpu}), lr {lr}; 200 epochs of {per_epoch} steps.
train_dataloader = dict(batch_size={per_gpu}{loader})
optim_wrapper = dict(optimizer=dict(lr={lr}))
auto_scale_lr = dict(base_batch_size={batch})
"""

BASELINE = """\
# Baseline: plain {title} classifier on {target_title} (no emotional
# encoder), the reference every regulation mode is compared with.
_base_ = [
    '{models}/{backbone}.py',
    '{regulation}/baseline.py',
    '{datasets}/{target}{target_suffix}.py',
    '{schedules}/{schedule}.py',
    '{runtime}',
]
{work_dir}model = dict(
{train_cfg}    head=dict(num_classes=_base_.data_preprocessor.num_classes))
"""

STAGE2 = """\
{comment}_base_ = [
    '{models}/{backbone}_emoreg.py',
    '{regulation}/{mode}.py',
    '{affective_piece}/{affective}.py',
    '{datasets}/{target}{target_suffix}.py',
    '{schedules}/{schedule}.py',
    '{runtime}',
]
{work_dir}model = dict(
{train_cfg}    backbone=dict(
        emotional_checkpoint='{checkpoint}',
        emotional_checkpoint_config='{stage1_config}'),
    head=dict(
        num_classes=_base_.data_preprocessor.num_classes,
        regulator=_base_.regulator{head_space}))
{label_line}"""
STAGE2_COMMENT = """\
# {title}, regulation mode {mode}, on {target_title}; emotional encoder
# pre-trained on {affective_title} (stage 1: {stage1_config}).
"""
STAGE2_SHUFFLED = """\
# {title}, regulation mode {mode}, on {target_title}; shuffled
# control of {affective_title}: E and I pre-trained on its images with the
# {permuted} permuted (stage 1: {stage1_config}).
"""
# X-untrained: no stage 1; the head names X's emotions (the number of g_E's
# outputs) from X's affective piece.
STAGE2_UNTRAINED = """\
# {title}, regulation mode {mode}, on {target_title}; untrained
# control of {affective_title} (controls/untrained.py): no stage 1; E
# (where the mode builds it) of random weights with its {num_emotions}
# {unit}, frozen; I initialised as N.
_base_ = [
    '{models}/{backbone}_emoreg.py',
    '{regulation}/{mode}.py',
    '{affective_piece}/{affective}.py',
    '{datasets}/{target}{target_suffix}.py',
    '{schedules}/{schedule}.py',
    '{runtime}',
    '{controls}/untrained.py',
]
{work_dir}model = dict(
{train_cfg}    backbone=_base_.untrained_encoders,
    head=dict(
        num_classes=_base_.data_preprocessor.num_classes,
        regulator=_base_.regulator,
        emotion_classes=_base_.emotion_classes{head_space}))
{label_line}"""

#: What a leaf says and sets by its set's affect space.
SPACE_FIELDS = {
    'categorical': dict(
        learned='the emotions', labels='the emotion labels',
        permuted='labels', unit='emotions', head_space='',
        stage1_head=STAGE1_CLASSIFIER),
    'dimensional': dict(
        learned='the valence / arousal ratings', labels='the ratings',
        permuted='ratings', unit='dimensions',
        head_space=',\n        affect_space=_base_.affect_space',
        stage1_head=STAGE1_REGRESSION),
}


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


def _stage1_text(preset: matrix.Preset, leaf: matrix.LeafName,
                 fields: dict) -> str:
    """A stage-1 leaf: its pieces, then (unless its backbone names a fixed
    schedule) the schedule sized to its affective set; a shuffled control
    has its set's schedule, with the control's options on the training
    dataset."""
    spec = preset.backbone_specs[leaf.backbone]
    shuffled = fields['control'] == 'shuffled'
    stage1_x = matrix.leaf_name(leaf._replace(
        affective=fields['affective'])) + '.py'
    fields = dict(fields, comment=(STAGE1_SHUFFLED if shuffled else
                                   STAGE1_COMMENT).format(
                                       stage1_x=stage1_x, **fields),
                  control_piece=f"    '{fields['controls']}/shuffled.py',\n"
                  if shuffled else '')
    loader = ', dataset=_base_.shuffled_train_dataset' if shuffled else ''
    if spec.stage1_schedule:
        return STAGE1_HEAD.format(schedule=spec.stage1_schedule, **fields) + (
            f'train_dataloader = dict({loader[2:]})\n' if loader else '')
    size = preset.affective_specs[fields['affective']].train_size
    if spec.from_scratch:
        return STAGE1_HEAD.format(schedule='affective_scratch', **fields) + \
            STAGE1_SCRATCH.format(loader=loader,
                                  **stage1_scratch_schedule(size))
    return STAGE1_HEAD.format(schedule='affective_pretrain', **fields) + \
        STAGE1_SIZED.format(loader=loader, **stage1_schedule(size))


def leaf_text(preset: matrix.Preset, leaf: matrix.LeafName) -> str:
    """The text of ``leaf``'s config file in ``preset``'s tree."""
    layout, spec = preset.layout, preset.backbone_specs[leaf.backbone]
    name = matrix.leaf_name(leaf, preset.default_affective)
    work_root = layout.work_dir or 'work_dirs'
    fields = dict(
        models=layout.models, datasets=layout.datasets,
        affective_piece=layout.affective, regulation=layout.regulation,
        schedules=layout.schedules, runtime=layout.runtime,
        controls=layout.controls, title=spec.title, backbone=leaf.backbone,
        data_suffix=spec.data_suffix, target_suffix=spec.target_suffix,
        work_dir=f"work_dir = '{layout.work_dir}/{name}'\n"
        if layout.work_dir else '',
        train_cfg='    train_cfg=_base_.model_train_cfg,\n'
        if layout.model_train_cfg else '')
    if leaf.affective is not None:
        base, control = matrix.split_control(leaf.affective)
        fields.update(
            SPACE_FIELDS[preset.affective_specs[base].affect_space],
            affective=base, control=control, label=leaf.affective,
            affective_title=preset.affective_specs[base].title,
            num_emotions=len(preset.affective_specs[base].vocabulary),
            label_line=f"emoreg_affective = '{leaf.affective}'\n"
            if control else '')
    if leaf.stage == 1:
        return _stage1_text(preset, leaf,
                            dict(fields, checkpoint=f'{work_root}/{name}'))
    fields.update(mode=leaf.mode, target=leaf.target,
                  target_title=preset.target_titles[leaf.target],
                  schedule=spec.schedule)
    if leaf.mode == 'baseline':
        return BASELINE.format(**fields)
    if fields['control'] == 'untrained':
        return STAGE2_UNTRAINED.format(**fields)
    stage1 = matrix.LeafName(1, leaf.backbone, leaf.affective, None, None)
    fields.update(checkpoint=f'{work_root}/{matrix.leaf_name(stage1)}',
                  stage1_config=matrix.config_file(preset, stage1))
    comment = STAGE2_SHUFFLED if fields['control'] else STAGE2_COMMENT
    return STAGE2.format(comment=comment.format(**fields), **fields)


def leaves(presets=None) -> Dict[str, str]:
    """``{path relative to the checkout: text}`` of every leaf of
    ``presets`` (default: all of :data:`emoreg_mm.matrix.PRESETS`)."""
    presets = matrix.PRESETS.values() if presets is None else presets
    return {matrix.config_file(p, leaf): leaf_text(p, leaf)
            for p in presets for leaf in matrix.shipped_leaves(p)}


def leaf_folders(presets=None) -> List[str]:
    """The folders the leaves of ``presets`` are in (relative paths)."""
    presets = matrix.PRESETS.values() if presets is None else presets
    return sorted({posixpath.normpath(posixpath.join(
        p.config_root, posixpath.dirname(template)))
        for p in presets for template in (p.stage1, p.stage2)})


class SyncResult(NamedTuple):
    """What :func:`sync` found (paths relative to the checkout)."""
    expected: int  #: leaves of the matrix
    stale: List[str]  #: differ from the matrix or are missing
    extra: List[str]  #: leaf-like files in the leaves' folders, not in it


def sync(root: str, check: bool = False) -> SyncResult:
    """Write the leaves of every preset under the checkout ``root``.

    Args:
        root (str): The checkout (``configs/`` is in it).
        check (bool): Write nothing, only report. Defaults to False.

    Returns:
        SyncResult: the stale leaves (written unless ``check``) and the
        files of the leaves' folders that no preset names (left as they
        are).
    """
    expected = leaves()
    stale = []
    for rel, text in sorted(expected.items()):
        path = osp.join(root, rel)
        if osp.isfile(path):
            with open(path, encoding='utf-8') as f:
                if f.read() == text:
                    continue
        stale.append(rel)
        if not check:
            os.makedirs(osp.dirname(path), exist_ok=True)
            with open(path, 'w', encoding='utf-8') as f:
                f.write(text)
    extra = sorted(
        f'{folder}/{f}' for folder in leaf_folders()
        if osp.isdir(osp.join(root, folder))
        for f in os.listdir(osp.join(root, folder))
        if f.endswith('.py') and not f.startswith(('_', '.'))
        and f'{folder}/{f}' not in expected)
    return SyncResult(len(expected), stale, extra)
