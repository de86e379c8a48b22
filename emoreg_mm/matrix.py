"""The experiment matrix, stated once: backbones, affective sets, regulation
modes, targets, seeds and the sweep's presets.

Read by :mod:`emoreg_mm.leaf_configs` (the leaf configs,
``tools/misc/gen_configs.py``), :mod:`emoreg_mm.metafiles` (the model
index, ``tools/misc/gen_metafiles.py``), :mod:`emoreg_mm.experiments`
(the sweep's and the demo's choices and plan), :mod:`emoreg_mm.benchmark`
and :mod:`emoreg_mm.evaluation.corruptions` (names they accept) and
:mod:`emoreg_mm.results` (row order). Adding an affective set is
one entry in :data:`AFFECTIVE_SETS` plus its ``_base_`` pieces
(``configs/_base_/datasets/<name>.py`` and ``configs/_base_/affective/
<name>.py``); ``python tools/misc/gen_configs.py`` and
``gen_metafiles.py`` then write its leaves and index entries, and the sweep
offers it.

An affective set's ``affect_space`` says what stage 1 learns of it and
stage 2 reads as the affective state: emotion categories
(``'categorical'``) or valence / arousal ratings (``'dimensional'``,
docs/method.md, "A dimensional affective state"). Which modes regulate
which space is :data:`AFFECT_SPACE_MODES`; the leaves and the sweep pair a
set only with the modes of its space.

Every affective set X has its controls (:data:`CONTROLS`, docs/method.md,
"Controls"), named as X's affective segment with a suffix:
``X-shuffled`` (stage 1 on X's images with the labels permuted) and
``X-untrained`` (a frozen E of random weights, no stage 1). Their leaves
ship for every mode but ``baseline``; :func:`split_control` reads a label
back into ``(X, control)``.

The config-name format is stated here too, once: :func:`stage1_name`,
:func:`stage2_name` and :func:`parse_name`; every reader of names calls
them. Standard library only: importable without torch.
"""
import posixpath
from typing import (Dict, Iterable, List, NamedTuple, Optional,
                    Tuple)


class Backbone(NamedTuple):
    """A backbone of the matrix (``configs/_base_/models/<name>.py``)."""
    title: str  #: in the leaves' comments
    display: str  #: in the model index
    data_suffix: str  #: stage-1 dataset piece: ``datasets/<set><suffix>.py``
    schedule: str  #: stage-2 schedule piece: ``schedules/<schedule>.py``
    target_suffix: str  #: stage-2 target piece: ``datasets/<t><suffix>.py``
    from_scratch: bool = False  #: no ImageNet weights (stage-1 schedule)
    affective: Optional[Tuple[str, ...]] = None  #: sets it ships for; all
    in_paper: bool = True  #: in the paper's table (the sweep's default)
    #: a fixed stage-1 schedule piece (``schedules/<name>.py``); None: the
    #: schedule is sized to the affective set (BiT-HyperRule, or the
    #: from-scratch rule when ``from_scratch``)
    stage1_schedule: Optional[str] = None


class AffectiveSet(NamedTuple):
    """An affective set (``configs/_base_/{datasets,affective}/<name>.py``)."""
    title: str  #: display name
    dataset: str  #: the registered dataset class
    folder: str  #: its folder under ``data/`` (docs/datasets.md)
    train_size: int  #: training images of its split (sizes stage 1)
    #: its emotion classes in label order, or (dimensional) its rated
    #: dimensions in the order of the datasets' ``gt_va``
    vocabulary: Tuple[str, ...]
    in_paper: bool = True  #: in the paper's table (the sweep's default)
    #: ``'categorical'`` (emotion labels) or ``'dimensional'`` (ratings)
    affect_space: str = 'categorical'


#: The 8 emotions of Mikels et al. in the canonical order.
MIKELS = ('amusement', 'awe', 'contentment', 'excitement', 'anger',
          'disgust', 'fear', 'sadness')
#: The dimensions of the valence / arousal sets, in ``gt_va`` order.
VA = ('valence', 'arousal')

BACKBONES: Dict[str, Backbone] = {
    'resnet50': Backbone('ResNet-50 at 224 px', 'ResNet-50', '',
                         'bit_finetune_cifar', ''),
    'vit-b16': Backbone('ViT-B/16 at 224 px', 'ViT-B/16', '',
                        'vit_finetune_cifar', ''),
    'resnet18-cifar': Backbone(
        'CIFAR ResNet-18 at 32 px (cheap variant)', 'ResNet-18 (CIFAR)',
        '_32px', 'resnet_cifar', '_32px', from_scratch=True,
        affective=('emoset', ), in_paper=False),
}

# Training sizes: the 'train' side of each set's split as its dataset piece
# configures it. Approximate counts suffice: the stage-1 rule changes only
# at powers of two and at 20k / 500k images.
AFFECTIVE_SETS: Dict[str, AffectiveSet] = {
    'emoset': AffectiveSet('EmoSet', 'EmoSet', 'EmoSet-118K', 94_500,
                           MIKELS),  # official train split
    'abstract': AffectiveSet('Abstract', 'Abstract', 'testImages_abstract',
                             180, MIKELS),  # 80 % of ~280, ties dropped
    'emod': AffectiveSet('EMOd', 'EMOd', 'EMOd', 815,
                         tuple(f'emod_{i}' for i in range(9))),  # 80 % of 1019
    # 80 % of EMOd's sources x the generated images per source; four
    # assumed: any size from 1,024 to 20k gets the same steps and batch.
    'diffused-emod': AffectiveSet('Diffused-EMOd', 'DiffusedEMOd',
                                  'Diffused-EMOd', 3_260,
                                  tuple(f'emod_{i}' for i in range(9))),
    'fi': AffectiveSet('FI', 'FI', 'emotion_dataset', 18_600, MIKELS,
                       in_paper=False),  # 80 % of ~23.3k
    'artphoto': AffectiveSet('ArtPhoto', 'ArtPhoto', 'testImages_artphoto',
                             645, MIKELS, in_paper=False),  # 80 % of 806
    'emotion6': AffectiveSet(
        'Emotion6', 'Emotion6', 'Emotion6', 1_516,
        ('anger', 'disgust', 'fear', 'joy', 'sadness', 'surprise',
         'neutral'), in_paper=False),  # 80 % of 1980 less 85 tied
    # Rated on valence and arousal (emoreg_mm.datasets.dimensional): 80 %
    # of the rated images (FindingEmo: of the annotated ones; fewer where
    # their URLs no longer resolve).
    'oasis': AffectiveSet('OASIS', 'OASIS', 'OASIS_database_2016', 720, VA,
                          in_paper=False, affect_space='dimensional'),
    'gaped': AffectiveSet('GAPED', 'GAPED', 'GAPED', 584, VA,
                          in_paper=False, affect_space='dimensional'),
    'emotion6-va': AffectiveSet(
        'Emotion6 (valence, arousal)', 'Emotion6VA', 'Emotion6', 1_584, VA,
        in_paper=False, affect_space='dimensional'),
    'findingemo': AffectiveSet('FindingEmo', 'FindingEmo', 'FindingEmo',
                               20_695, VA, in_paper=False,
                               affect_space='dimensional'),
}
DEFAULT_AFFECTIVE = 'emoset'  #: left out of stage-2 leaf names


class Control(NamedTuple):
    """A control of every affective set X, labelled ``X-<name>``."""
    title: str  #: in the leaves' comments and the model index
    stage1: bool  #: it has a stage-1 run of its own
    #: its title on a dimensional set, where it differs
    dimensional_title: Optional[str] = None


#: The controls (``configs/_base_/controls/<name>.py``), in the sweep's
#: ``--controls`` order.
CONTROLS: Dict[str, Control] = {
    # X's images and stage-1 recipe, the emotion labels permuted
    'shuffled': Control('labels shuffled', stage1=True,
                        dimensional_title='ratings shuffled'),
    # E of random weights with X's number of emotions, I as N: no stage 1
    'untrained': Control('untrained encoder', stage1=False),
}


def control_name(affective: str, control: str) -> str:
    """The affective label of a set's control: ``abstract-shuffled``."""
    return f'{affective}-{control}'


def split_control(label: str) -> Tuple[str, Optional[str]]:
    """``(set, control)`` of an affective label: ``('abstract', 'shuffled')``
    for ``abstract-shuffled``, ``('abstract', None)`` for ``abstract``."""
    for control in CONTROLS:
        if label.endswith('-' + control):
            return label[:-len(control) - 1], control
    return label, None


def affective_labels(sets: Iterable[str], controls: Iterable[str] = (),
                     stage: int = 2) -> List[str]:
    """Each of ``sets`` followed by its ``controls`` (of ``stage``: stage 1
    only for the controls that pre-train)."""
    controls = [c for c in controls if stage == 2 or CONTROLS[c].stage1]
    return [label for a in sets
            for label in [a] + [control_name(a, c) for c in controls]]


def affective_title(label: str,
                    specs: Optional[Dict[str, 'AffectiveSet']] = None) -> str:
    """The display name of an affective label: ``Abstract`` or
    ``Abstract, labels shuffled (control)``."""
    base, control = split_control(label)
    spec = (AFFECTIVE_SETS if specs is None else specs)[base]
    if not control:
        return spec.title
    what = CONTROLS[control]
    if spec.affect_space == 'dimensional' and what.dimensional_title:
        return f'{spec.title}, {what.dimensional_title} (control)'
    return f'{spec.title}, {what.title} (control)'

#: The regulation modes (emoreg_mm.models.regulators.REGULATION_MODES maps
#: each to its regulator class); ``baseline`` has no emotional encoder.
MODES = ('baseline', 'e-infl', 'const', 'ereg', 'learn-ereg',
         'rand-learn-ereg')
#: The modes of a dimensional affective state (emoreg_mm.models.
#: dimensional_regulators.DIMENSIONAL_MODES maps each to its regulator).
DIMENSIONAL_MODES = ('arousal-reg', 'learn-va-reg')
#: Every mode, in the tables' order: the matrix's, then the dimensional
#: state's.
ALL_MODES = MODES + DIMENSIONAL_MODES
#: The modes that regulate each affect space (stated here only): the E-Reg
#: family reads a distribution over emotion categories, the dimensional
#: modes a (valence, arousal) point; baseline, e-infl and const read no
#: affect and take either.
AFFECT_SPACE_MODES: Dict[str, Tuple[str, ...]] = {
    'categorical': MODES,
    'dimensional': ('baseline', 'e-infl', 'const') + DIMENSIONAL_MODES,
}


def affect_space(label: str,
                 specs: Optional[Dict[str, 'AffectiveSet']] = None
                 ) -> Optional[str]:
    """The affect space of an affective label (a set or its control);
    None for a set ``specs`` (default: :data:`AFFECTIVE_SETS`) lacks."""
    spec = (AFFECTIVE_SETS if specs is None else specs).get(
        split_control(label)[0])
    return spec.affect_space if spec else None


def spaces_of(mode: str) -> List[str]:
    """The affect spaces ``mode`` regulates (:data:`AFFECT_SPACE_MODES`; a
    mode no space lists counts as a categorical one)."""
    return [s for s, modes in AFFECT_SPACE_MODES.items() if mode in modes
            ] or ['categorical']


def regulates(mode: str, space: Optional[str]) -> bool:
    """Whether ``mode`` regulates the affect ``space`` (:func:`spaces_of`;
    a space of None, a set the matrix lacks, takes every mode)."""
    return space is None or space in spaces_of(mode)


TARGETS = {'cifar10': 'CIFAR-10', 'cifar100': 'CIFAR-100'}
#: Images in each target's training files (before a held-out validation
#: split): the sweep's GPU-hours where the data is not on the machine.
TARGET_TRAIN_IMAGES = {'cifar10': 50_000, 'cifar100': 50_000}
SEEDS = (0, 1, 2)  #: stage-2 seeds of a results table
#: The targets with a corrupted test set (:mod:`emoreg_mm.datasets.cifar_c`)
#: and its registered dataset class: what the corruption evaluation reads.
CORRUPTED_TARGETS = {'cifar10': 'CIFAR10C', 'cifar100': 'CIFAR100C'}


class ShiftedSet(NamedTuple):
    """A test set of a target collected anew, as its authors distribute it
    (:mod:`emoreg_mm.datasets.cifar_shift`, docs/shift.md)."""
    title: str  #: in the Shift table and the summary
    target: str  #: the target whose models it tests (a key of TARGETS)
    type: str  #: its registered dataset class
    options: Dict[str, str]  #: that class's arguments besides data_root
    images: int  #: images in the distributed files


#: The natural distribution shifts the shift evaluation knows, by the name
#: ``--shift NAME=DIR`` takes (``tools/analysis_tools/eval_shift.py``, the
#: sweep) and ``WORK_DIR/shift/<name>.npz`` carries.
SHIFTED_SETS = {
    'cifar10.1-v6': ShiftedSet('CIFAR-10.1 v6', 'cifar10', 'CIFAR10_1',
                               dict(version='v6'), 2000),
    'cifar10.1-v4': ShiftedSet('CIFAR-10.1 v4', 'cifar10', 'CIFAR10_1',
                               dict(version='v4'), 2021),
    'cifar10.2': ShiftedSet('CIFAR-10.2 (test)', 'cifar10', 'CIFAR10_2',
                            dict(split='test'), 2000),
}


#: The demo's own names (``configs/demo/_base_``): a tiny backbone, the
#: synthetic stimuli of :mod:`emoreg_mm.demo.data` and the digits target.
DEMO_BACKBONES: Dict[str, Backbone] = {
    'tiny-resnet': Backbone(
        'Tiny CIFAR ResNet-18 at 32 px', 'Tiny CIFAR ResNet-18 (demo)',
        '_32px', 'demo_stage2', '_32px', from_scratch=True, in_paper=False,
        stage1_schedule='demo_stage1'),
}
DEMO_AFFECTIVE_SETS: Dict[str, AffectiveSet] = {
    # 400 stimuli (make_stimuli's 50 per emotion), 80 % for training
    'synth-abstract': AffectiveSet(
        'Synthetic stimuli, Abstract layout (demo)', 'Abstract',
        'testImages_abstract', 320, MIKELS, in_paper=False),
}
DEMO_TARGETS = {'digits': 'scikit-learn digits (demo)'}


class Layout(NamedTuple):
    """Where a preset's leaves find their ``_base_`` pieces (folders
    relative to the leaf's folder), and what they set beyond them."""
    models: str = '../_base_/models'
    datasets: str = '../_base_/datasets'
    affective: str = '../_base_/affective'
    regulation: str = '../_base_/regulation'
    schedules: str = '../_base_/schedules'
    runtime: str = '../_base_/default_runtime.py'
    controls: str = '../_base_/controls'
    #: the leaves set ``work_dir = '<work_dir>/<name>'``; None: they set
    #: none (the tools' default, ``work_dirs/<name>``)
    work_dir: Optional[str] = None
    #: stage-2 models take the schedule's ``model_train_cfg`` (batch
    #: augmentation such as Mixup)
    model_train_cfg: bool = True


class Preset(NamedTuple):
    """A config tree the sweep plans over, and the names in it."""
    config_root: str  #: relative to the checkout
    stage1: str  #: stage-1 leaf, from ``config_root``
    stage2: str  #: stage-2 leaf; ``{affective_part}`` is '' for the default
    default_affective: str
    backbones: Tuple[str, ...]  #: what ``--backbones`` accepts
    default_backbones: Tuple[str, ...]
    affective: Tuple[str, ...]  #: what ``--affective`` accepts
    default_affective_sets: Tuple[str, ...]
    targets: Tuple[str, ...]
    seeds: Tuple[int, ...]
    modes: Tuple[str, ...] = MODES
    #: the controls it ships leaves for and the sweep's ``--controls`` takes
    controls: Tuple[str, ...] = tuple(CONTROLS)
    #: display names of names not in the tables above (the model index)
    titles: Dict[str, str] = {}
    #: what its names are (the leaves' pieces, comments and index entries)
    backbone_specs: Dict[str, Backbone] = BACKBONES
    affective_specs: Dict[str, AffectiveSet] = AFFECTIVE_SETS
    target_titles: Dict[str, str] = TARGETS
    layout: Layout = Layout()


PRESETS: Dict[str, Preset] = {
    'paper': Preset(
        config_root='configs',
        stage1='emoreg_pretrain/{backbone}_{affective}.py',
        stage2='emoreg/{backbone}_{mode}{affective_part}_{target}.py',
        default_affective=DEFAULT_AFFECTIVE,
        backbones=tuple(BACKBONES),
        default_backbones=tuple(b for b, v in BACKBONES.items()
                                if v.in_paper),
        affective=tuple(AFFECTIVE_SETS),
        default_affective_sets=tuple(a for a, v in AFFECTIVE_SETS.items()
                                     if v.in_paper),
        targets=tuple(TARGETS),
        seeds=SEEDS,
        modes=ALL_MODES),
    'demo': Preset(
        config_root='configs/demo',
        stage1='{backbone}_{affective}.py',
        stage2='{backbone}_{mode}{affective_part}_{target}.py',
        default_affective='synth-abstract',
        backbones=tuple(DEMO_BACKBONES),
        default_backbones=tuple(DEMO_BACKBONES),
        affective=tuple(DEMO_AFFECTIVE_SETS),
        default_affective_sets=tuple(DEMO_AFFECTIVE_SETS),
        targets=tuple(DEMO_TARGETS),
        seeds=(0, 1),
        titles=dict({k: v.display for k, v in DEMO_BACKBONES.items()},
                    **{k: v.title for k, v in DEMO_AFFECTIVE_SETS.items()},
                    **DEMO_TARGETS),
        backbone_specs=DEMO_BACKBONES,
        affective_specs=DEMO_AFFECTIVE_SETS,
        target_titles=DEMO_TARGETS,
        layout=Layout(models='./_base_/models', datasets='./_base_/datasets',
                      affective='./_base_/affective',
                      schedules='./_base_/schedules',
                      runtime='./_base_/demo_runtime.py',
                      work_dir='work_dirs/demo', model_train_cfg=False)),
}


def shipped_sets(backbone: str,
                 preset: Optional[Preset] = None) -> Tuple[str, ...]:
    """The affective sets whose leaves ship for ``backbone`` in ``preset``
    (default: the paper's)."""
    preset = preset or PRESETS['paper']
    return preset.backbone_specs[backbone].affective or preset.affective


# ------------------------------------------------------------ config names
class LeafName(NamedTuple):
    """What a leaf config's name says (:func:`parse_name`)."""
    stage: int  #: 1 (emotional pre-training) or 2 (the target task)
    backbone: str
    #: the affective label, a set or its control (``abstract-shuffled``);
    #: None for a ``baseline`` leaf
    affective: Optional[str]
    mode: Optional[str]  #: None for stage 1
    target: Optional[str]  #: None for stage 1


def stage1_name(backbone: str, affective: str) -> str:
    """A stage-1 leaf's name: ``{backbone}_{affective}`` (an affective
    label: a set, or its control with a stage 1)."""
    return f'{backbone}_{affective}'


def stage2_name(backbone: str,
                mode: str,
                target: str,
                affective: Optional[str] = None,
                default_affective: str = DEFAULT_AFFECTIVE) -> str:
    """A stage-2 leaf's name: ``{backbone}_{mode}[_{affective}]_{target}``.

    Args:
        backbone (str): The backbone's name.
        mode (str): The regulation mode; ``baseline`` has no affective set.
        target (str): The target's name.
        affective (str, optional): The affective label (a set, or a
            set's control: ``emoset-shuffled``); left out of the name when
            it is ``default_affective`` or None.
        default_affective (str): The set a name leaves out. Defaults to
            :data:`DEFAULT_AFFECTIVE`.
    """
    part = '' if mode == 'baseline' or affective in (
        None, default_affective) else f'_{affective}'
    return f'{backbone}_{mode}{part}_{target}'


def parse_name(name: str,
               backbones: Iterable[str] = BACKBONES,
               affective_sets: Iterable[str] = AFFECTIVE_SETS,
               modes: Iterable[str] = MODES,
               targets: Iterable[str] = TARGETS,
               default_affective: str = DEFAULT_AFFECTIVE,
               controls: Iterable[str] = tuple(CONTROLS)
               ) -> Optional[LeafName]:
    """The :class:`LeafName` of a leaf config's name (no folder, no
    ``.py``), or None when the name is not one of the matrix's.

    The defaults are the shipped matrix; a preset's or a user's tree passes
    its own names (:data:`PRESETS`). Names hold no ``_`` inside a part. An
    affective segment is a set or its control (``abstract-shuffled``; in
    a stage-1 name only a control that pre-trains).
    """
    parts = name.split('_')
    backbones, affective_sets = set(backbones), set(affective_sets)

    def label(part: str, stage: int) -> bool:
        base, control = split_control(part)
        return base in affective_sets and (control is None or (
            control in set(controls) and
            (stage == 2 or CONTROLS[control].stage1)))

    if parts[0] not in backbones:
        return None
    if len(parts) == 2 and label(parts[1], 1):
        return LeafName(1, parts[0], parts[1], None, None)
    if len(parts) not in (3, 4) or parts[1] not in set(modes) or \
            parts[-1] not in set(targets):
        return None
    if len(parts) == 3:
        affective = None if parts[1] == 'baseline' else default_affective
    elif parts[1] != 'baseline' and label(parts[2], 2) and \
            parts[2] != default_affective:
        affective = parts[2]
    else:
        return None
    return LeafName(2, parts[0], affective, parts[1], parts[-1])


def preset_names(preset: 'Preset') -> dict:
    """The keyword arguments of :func:`parse_name` for ``preset``."""
    return dict(backbones=preset.backbones, affective_sets=preset.affective,
                modes=preset.modes, targets=preset.targets,
                default_affective=preset.default_affective,
                controls=preset.controls)


def leaf_name(leaf: LeafName,
              default_affective: str = DEFAULT_AFFECTIVE) -> str:
    """The name of ``leaf``: :func:`stage1_name` or :func:`stage2_name`."""
    if leaf.stage == 1:
        return stage1_name(leaf.backbone, leaf.affective)
    return stage2_name(leaf.backbone, leaf.mode, leaf.target, leaf.affective,
                       default_affective)


def shipped_leaves(preset: Preset) -> List[LeafName]:
    """Every leaf config ``preset`` ships: per backbone, a stage-1 leaf per
    affective set it ships for and per control of it that pre-trains; per
    target, its baseline and each other mode on each of those sets that it
    regulates (:func:`regulates`) and on each of their controls."""
    leaves = []
    for backbone in preset.backbones:
        sets = shipped_sets(backbone, preset)
        leaves += [LeafName(1, backbone, a, None, None) for a in
                   affective_labels(sets, preset.controls, stage=1)]
        labels = affective_labels(sets, preset.controls)
        for target in preset.targets:
            leaves += [LeafName(2, backbone, None, 'baseline', target)] * (
                'baseline' in preset.modes)
            leaves += [LeafName(2, backbone, a, mode, target)
                       for mode in preset.modes if mode != 'baseline'
                       for a in labels if regulates(
                           mode, affect_space(a, preset.affective_specs))]
    return leaves


def config_file(preset: Preset, leaf: LeafName) -> str:
    """The file of ``leaf`` in ``preset``'s tree, relative to the checkout
    (``configs/emoreg/resnet50_ereg_cifar10.py``)."""
    folder = posixpath.dirname(preset.stage1 if leaf.stage == 1 else
                               preset.stage2)
    return posixpath.join(preset.config_root, folder,
                          leaf_name(leaf, preset.default_affective) + '.py')


def piece_file(preset: Preset, kind: str, stem: str) -> str:
    """A ``_base_`` piece of ``preset``'s stage-2 leaves (``kind`` a field
    of its :class:`Layout`: ``models``, ``datasets``, ...), relative to the
    checkout (``configs/_base_/models/resnet50_emoreg.py``)."""
    return posixpath.normpath(posixpath.join(
        preset.config_root, posixpath.dirname(preset.stage2),
        getattr(preset.layout, kind), f'{stem}.py'))


def grid_point(cfg) -> Dict[str, str]:
    """The grid point of a run's config (a sweep's ``--grid``): ``{key:
    value}`` for each dotted key ``emoreg_grid`` lists, its value read from
    the config (``'?'`` where the config lacks it); ``{}`` for a run
    outside a grid."""
    point = {}
    for key in cfg.get('emoreg_grid') or ():
        node = cfg
        for part in str(key).split('.'):
            node = node.get(part, '?') if hasattr(node, 'get') else '?'
        point[str(key)] = str(node)
    return point


def grid_label(point: Dict[str, str]) -> str:
    """A grid point as a table shows it: ``lr=0.01`` (the last part of each
    key; the whole key where two last parts are alike)."""
    short = [k.rsplit('.', 1)[-1] for k in point]
    if len(set(short)) < len(short):
        short = list(point)
    return ' '.join(f'{k}={v}' for k, v in zip(short, point.values()))

