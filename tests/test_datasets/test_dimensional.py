import numpy as np
import pytest
from mmpretrain.registry import DATASETS

import emoreg_mm  # noqa: F401
from affective_fixtures import make_emotion6, rewrite_file
from dimensional_fixtures import (make_findingemo, make_gaped, make_oasis,
                                  make_ratings)

VA_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(8, 8)),
    dict(type='PackInputs', algorithm_keys=('gt_va', )),
]


def build(kind, root, **kwargs):
    return DATASETS.build(dict(type=kind, data_root=root, **kwargs))


def by_id(ds):
    return {ds.get_data_info(i)['img_id']: ds.get_data_info(i)
            for i in range(len(ds))}


def gt(ds):
    return {k: d['gt_va'].tolist() for k, d in by_id(ds).items()}


def test_oasis_published_layout(tmp_path):
    ds = build('OASIS', make_oasis(str(tmp_path / 'OASIS_database_2016')))
    assert ds.metainfo['dimensions'] == ('valence', 'arousal')
    assert ds.metainfo['classes'] == ('valence', 'arousal')
    assert ds.metainfo['scales'] == {'valence': (1, 7), 'arousal': (1, 7)}
    got = gt(ds)
    # 2 * (x - 1) / 6 - 1: 4.686 -> 0.228667, 2.446 -> -0.518; 6.5 -> 5/6
    assert set(got) == {'Acorns 1.jpg', 'Alcohol 2.jpg', 'Beach 3.jpg',
                        'Dog 5.jpg'}
    np.testing.assert_allclose(got['Acorns 1.jpg'], [0.228667, -0.518],
                               atol=1e-6)
    assert got['Alcohol 2.jpg'] == [-1.0, 1.0]
    np.testing.assert_allclose(got['Beach 3.jpg'], [0.833333, 0.0],
                               atol=1e-6)
    info = by_id(ds)['Dog 5.jpg']
    assert info['gt_va'].dtype == np.float32
    assert (info['valence'], info['arousal']) == (4.0, 1.0)


def test_pack_inputs_carries_gt_va(tmp_path):
    ds = build('OASIS', make_oasis(str(tmp_path / 'o')),
               pipeline=VA_PIPELINE)
    idx = [ds.get_data_info(i)['img_id'] for i in range(len(ds))
           ].index('Alcohol 2.jpg')
    out = ds[idx]
    assert out['inputs'].shape == (3, 8, 8)
    np.testing.assert_array_equal(out['data_samples'].gt_va, [-1.0, 1.0])
    assert 'gt_label' not in out['data_samples']


def test_gaped_published_layout(tmp_path):
    ds = build('GAPED', make_gaped(str(tmp_path / 'GAPED')))
    assert ds.metainfo['scales'] == {'valence': (0, 100),
                                     'arousal': (0, 100)}
    got = gt(ds)
    # 2 * x / 100 - 1: 30.5 -> -0.39, 60.25 -> 0.205
    np.testing.assert_allclose(got['A/A001.bmp'], [-0.39, 0.205], atol=1e-6)
    assert got['A/A002.bmp'] == [-1.0, 1.0]
    np.testing.assert_allclose(got['N/N001.bmp'], [0.0, -0.6], atol=1e-6)
    np.testing.assert_allclose(got['P/P001.bmp'], [0.8, -0.09], atol=1e-6)
    assert by_id(ds)['P/P001.bmp']['category'] == 'P'
    only = build('GAPED', str(tmp_path / 'GAPED'), categories=('N', ))
    assert len(only) == 1


def test_emotion6_va_reuses_ground_truth(tmp_path):
    ds = build('Emotion6VA', make_emotion6(str(tmp_path / 'Emotion6')))
    assert len(ds) == 9  # no tie policy: every row is a sample
    got = gt(ds)
    # 2 * (x - 1) / 8 - 1: valence 3.1 -> -0.475, arousal 6.2 -> 0.3
    np.testing.assert_allclose(got['anger/1.jpg'], [-0.475, 0.3], atol=1e-6)
    np.testing.assert_allclose(got['joy/2.jpg'], [0.0, -0.75], atol=1e-6)
    assert ds.metainfo['scales']['arousal'] == (1, 9)
    assert len(by_id(ds)['anger/1.jpg']['probs']) == 7


def test_findingemo_annotation_file(tmp_path):
    import os
    root = make_findingemo(str(tmp_path / 'fe'))
    ds = build('FindingEmo', root)
    assert ds.metainfo['scales'] == {'valence': (-3, 3), 'arousal': (0, 6)}
    # valence (x + 3) / 3 - 1, arousal x / 3 - 1
    assert gt(ds) == {
        'Run_2/Loving toddlers sports/kids.jpg': [0.0, pytest.approx(-1 / 3)],
        'Run_2/Frustrated forty-something office/team.jpg': [-1.0, 1.0],
        'Run_1/Violent youth festival/1042373588.jpg': [1.0, -1.0]}
    os.remove(f'{root}/Run_1/Violent youth festival/1042373588.jpg')
    ds = build('FindingEmo', root, skip_missing=True)
    assert ds.skipped == {
        'missing': ['Run_1/Violent youth festival/1042373588.jpg']}
    rewrite_file(f'{root}/annotations_single.ann', ',-3,6,', ',-4,6,')
    with pytest.raises(ValueError, match=r"annotations_single.ann, line 3, "
                       r"column 'valence': '-4' is outside the scale"):
        build('FindingEmo', root)


def test_own_ratings_per_dimension_scale(tmp_path):
    root = make_ratings(str(tmp_path), [('a.png', '1', '5', '3'),
                                        ('b.png', '9', '-2', '1.5')],
                        header=('file', 'V', 'A', 'D'))
    ds = build('AffectiveRatings', root, ann_file='ratings.csv',
               image_column='file', data_prefix='imgs',
               columns={'valence': 'V', 'arousal': 'A', 'dominance': 'D'},
               scale={'valence': (1, 9), 'arousal': (-2, 8),
                      'dominance': (0, 3)},
               pipeline=VA_PIPELINE)
    assert ds.metainfo['dimensions'] == ('valence', 'arousal', 'dominance')
    # valence (1, 9): 1 -> -1, 9 -> 1; arousal (-2, 8): 5 -> 0.4, -2 -> -1;
    # dominance (0, 3): 3 -> 1, 1.5 -> 0
    assert gt(ds) == {'a.png': [-1.0, pytest.approx(0.4), 1.0],
                      'b.png': [1.0, -1.0, 0.0]}
    assert ds[0]['data_samples'].gt_va.shape == (3, )


@pytest.mark.parametrize('cell, expected', [
    ('', 'line 3, column \'A\': the rating is missing'),
    ('high', "line 3, column 'A': 'high' is not a rating in [1, 9]"),
    ('9.5', "line 3, column 'A': '9.5' is outside the scale"),
    ('nan', "line 3, column 'A': 'nan' is outside the scale"),
])
def test_bad_rating_names_file_and_line(tmp_path, cell, expected):
    root = make_ratings(str(tmp_path), [('a.png', '2', '3'),
                                        ('b.png', '4', cell)])
    with pytest.raises(ValueError) as e:
        build('AffectiveRatings', root, ann_file='ratings.csv',
              image_column='file', columns={'valence': 'V', 'arousal': 'A'},
              data_prefix='imgs')
    assert 'ratings.csv' in str(e.value)
    assert expected in str(e.value)


def test_bad_rows_in_the_real_layouts(tmp_path):
    root = make_oasis(str(tmp_path / 'o'))
    rewrite_file(f'{root}/OASIS.csv', ',6.5,', ',7.5,')
    with pytest.raises(ValueError, match=r"OASIS.csv, line 4, column "
                       r"'Valence_mean': '7.5' is outside the scale; "
                       r'expected a rating in \[1, 7\]'):
        build('OASIS', root)
    root = make_gaped(str(tmp_path / 'g'))
    rewrite_file(f'{root}/N_with SD.txt', '\t20\t', '\tx\t')
    with pytest.raises(ValueError, match=r"N_with SD.txt, line 2, arousal: "
                       "'x' is not a rating in"):
        build('GAPED', root)
    rewrite_file(f'{root}/N_with SD.txt', 'x', '')
    rewrite_file(f'{root}/N_with SD.txt', '(12.3)', '')
    with pytest.raises(ValueError, match=r'N_with SD.txt, line 2: 3 cells'):
        build('GAPED', root)


def test_header_without_the_columns(tmp_path):
    root = make_oasis(str(tmp_path / 'o'))
    rewrite_file(f'{root}/OASIS.csv', 'Arousal_mean', 'Arousal_M')
    with pytest.raises(ValueError, match=r"OASIS.csv, line 1: no column\(s\) "
                       r"\['Arousal_mean'\]"):
        build('OASIS', root)


def test_missing_images_counted_and_named(tmp_path):
    root = make_ratings(str(tmp_path), [('a.png', '2', '3'),
                                        ('missing1.png', '4', '5'),
                                        ('missing2.png', '4', '5')])
    cfg = dict(ann_file='ratings.csv', image_column='file',
               columns={'valence': 'V', 'arousal': 'A'}, data_prefix='imgs')
    with pytest.raises(FileNotFoundError,
                       match=r'^2 image\(s\) named by .*ratings.csv are '
                       r'missing under .*imgs: missing1.png, missing2.png\. '
                       'Set skip_missing=True'):
        build('AffectiveRatings', root, **cfg)
    ds = build('AffectiveRatings', root, skip_missing=True, **cfg)
    assert len(ds) == 1
    assert ds.skipped == {'missing': ['missing1.png', 'missing2.png']}


def test_gaped_missing_bmp_named(tmp_path):
    import os
    root = make_gaped(str(tmp_path / 'GAPED'))
    os.remove(f'{root}/A/A002.bmp')
    with pytest.raises(FileNotFoundError, match=r'1 image\(s\).*A/A002.bmp'):
        build('GAPED', root)
    assert build('GAPED', root, skip_missing=True).skipped == {
        'missing': ['A/A002.bmp']}


def test_duplicate_and_arguments(tmp_path):
    root = make_ratings(str(tmp_path), [('a.png', '2', '3'),
                                        ('a.png', '4', '5')])
    with pytest.raises(ValueError, match=r'ratings.csv, line 3: duplicate '
                       r"image 'a.png' \(first at .*line 2\)"):
        build('AffectiveRatings', root, ann_file='ratings.csv',
              image_column='file', columns={'valence': 'V', 'arousal': 'A'})
    with pytest.raises(ValueError, match='low < high'):
        build('AffectiveRatings', root, ann_file='ratings.csv', scale=(5, 1))
    with pytest.raises(ValueError, match=r"no \(low, high\) for dimension"):
        build('AffectiveRatings', root, ann_file='ratings.csv',
              scale={'valence': (1, 9)})


def test_splits_partition_and_span_valence(tmp_path):
    rows = [(f'{i}.png', str(1 + i % 9), '5') for i in range(40)]
    root = make_ratings(str(tmp_path), rows, size=4)
    cfg = dict(ann_file='ratings.csv', image_column='file',
               columns={'valence': 'V', 'arousal': 'A'}, data_prefix='imgs')
    sides = {s: set(by_id(build('AffectiveRatings', root, split=s, **cfg)))
             for s in ('train', 'val', 'test')}
    assert [len(sides[s]) for s in ('train', 'val', 'test')] == [32, 4, 4]
    assert set.union(*sides.values()) == {r[0] for r in rows}
    again = build('AffectiveRatings', root, split='test', **cfg)
    assert set(by_id(again)) == sides['test']
    train = build('AffectiveRatings', root, split='train', **cfg)
    vals = sorted(d['valence'] for d in by_id(train).values())
    assert vals[0] == 1 and vals[-1] == 9


def test_splits_follow_valence_in_any_column_order(tmp_path):
    rows = [(f'{i}.png', str(1 + i % 9), str(1 + i * 8 / 39))
            for i in range(40)]
    root = make_ratings(str(tmp_path), rows, size=4)
    cfg = dict(ann_file='ratings.csv', image_column='file',
               data_prefix='imgs', split='test')
    tests = [set(by_id(build('AffectiveRatings', root, columns=columns,
                             **cfg)))
             for columns in ({'valence': 'V', 'arousal': 'A'},
                             {'arousal': 'A', 'valence': 'V'})]
    assert tests[0] == tests[1]
    by_arousal = set(by_id(build('AffectiveRatings', root, columns={
        'arousal': 'A'}, **cfg)))  # no valence: the first dimension
    assert by_arousal != tests[0]


def test_shuffled_control_permutes_the_ratings(tmp_path, mm_log):
    """shuffle_labels moves each image's ratings (gt_va and the raw
    values, together) to another image of the split: the multiset of
    ratings is kept, the image-rating pairs change and the seed decides
    the permutation."""
    rows = [(f'{i}.png', str(1 + i % 9), str(1 + (i * 7) % 9))
            for i in range(40)]
    root = make_ratings(str(tmp_path), rows, size=4)
    cfg = dict(ann_file='ratings.csv', image_column='file',
               columns={'valence': 'V', 'arousal': 'A'}, data_prefix='imgs',
               split='train')
    true = by_id(build('AffectiveRatings', root, **cfg))
    shuffled = by_id(build('AffectiveRatings', root, shuffle_labels=True,
                           **cfg))
    assert set(shuffled) == set(true)
    for info in shuffled.values():  # gt_va moved with its raw ratings
        np.testing.assert_allclose(
            info['gt_va'], [(info['valence'] - 5) / 4,
                            (info['arousal'] - 5) / 4], atol=1e-6)
    pairs = sorted(tuple(d['gt_va'].tolist()) for d in shuffled.values())
    assert pairs == sorted(tuple(d['gt_va'].tolist()) for d in true.values())
    changed = sum(not np.array_equal(shuffled[k]['gt_va'], true[k]['gt_va'])
                  for k in true)
    assert changed > len(true) // 2
    assert f'the ratings of 32 images permuted, {changed} (' in mm_log.getvalue()
    again = gt(build('AffectiveRatings', root, shuffle_labels=True, **cfg))
    other = gt(build('AffectiveRatings', root, shuffle_labels=True,
                     shuffle_seed=1, **cfg))
    assert again == {k: d['gt_va'].tolist() for k, d in shuffled.items()}
    assert other != again


def test_gt_va_feeds_the_regression_head_and_metric(tmp_path):
    """The contract with AffectRegressionHead / AffectRegressionMetric:
    packed gt_va as the target, metainfo dimensions / scales."""
    import torch
    from mmengine.dataset import pseudo_collate
    from mmpretrain.registry import METRICS, MODELS
    ds = build('GAPED', make_gaped(str(tmp_path / 'GAPED')),
               pipeline=VA_PIPELINE)
    batch = pseudo_collate([ds[i] for i in range(len(ds))])
    head = MODELS.build(dict(type='AffectRegressionHead', in_channels=4))
    feats = (torch.zeros(len(ds), 4), )
    target = torch.stack([torch.as_tensor(s.gt_va)
                          for s in batch['data_samples']])
    # zero features give tanh(bias); with bias 0 the loss is mean(gt^2)
    torch.nn.init.zeros_(head.fc.bias)
    loss = head.loss(feats, batch['data_samples'])['loss']
    assert loss.item() == pytest.approx(target.pow(2).mean().item())
    metric = METRICS.build(dict(type='AffectRegressionMetric'))
    metric.dataset_meta = ds.metainfo
    samples = head.predict(feats, batch['data_samples'])
    for s in samples:
        s.set_field(torch.as_tensor(s.gt_va), 'pred_va')  # perfect
    metric.process(None, [s.to_dict() for s in samples])
    scores = metric.evaluate(len(ds))
    assert scores['valence/pearson'] == pytest.approx(1.0)
    assert scores['arousal/rmse'] == pytest.approx(0.0, abs=1e-6)
