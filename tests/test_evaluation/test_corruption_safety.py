"""eval_corruptions.py never mixes checkpoints, work dirs or datasets: each
cell records its checkpoint, cells of another are evaluated again, the
work dir is locked, planted paths and folders of the other CIFAR are
refused, sizes come from the files, damaged records are named."""
import hashlib
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest
from mmpretrain.datasets import CIFAR10

from affective_fixtures import make_cifar
from cifar_c_fixtures import make_cifar_c, make_tiny_cifar_run
from emoreg_mm.engine.runner.work_dir_lock import WorkDirLock
from emoreg_mm.evaluation.robustness import predictions_path
from launch_utils import run_cli

TOOL = 'analysis_tools/eval_corruptions.py'
CELLS = [(c, s) for c in ('gaussian_noise', 'contrast') for s in range(1, 6)]


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """A CIFAR-10 of 4 test images, its CIFAR-10-C, a config and two
    checkpoints whose predictions differ (A untrained, B trained on the
    corrupted images)."""
    tmp = tmp_path_factory.mktemp('corruptions')
    patch = pytest.MonkeyPatch()
    patch.setattr(CIFAR10, '_check_integrity', lambda self: True)
    cifar = make_cifar(str(tmp / 'cifar10'), 10, per_file=4)
    labels = CIFAR10(cifar, split='test').get_gt_labels()
    root = make_cifar_c(str(tmp / 'CIFAR-10-C'), labels=labels)
    config, a = make_tiny_cifar_run(str(tmp / 'a'), cifar)
    _, b = make_tiny_cifar_run(str(tmp / 'b'), cifar,
                               np.load(osp.join(root, 'contrast.npy')),
                               np.tile(labels, 5), steps=30)
    yield dict(cifar=cifar, root=root, config=config, a=a, b=b)
    patch.undo()


def evaluate(setup, checkpoint, work_dir, *extra, root=None, n=4):
    size = ['--images-per-severity', str(n)] if n else []
    return run_cli(TOOL, setup['config'], checkpoint, '--corruption-root',
                   root or setup['root'], '--work-dir', str(work_dir),
                   '--corruptions', 'gaussian_noise', 'contrast', *size,
                   *extra)


def summary_of(work_dir):
    return json.load(open(osp.join(work_dir, 'corruptions', 'summary.json')))


def sha256(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


def cell_meta(path):
    with np.load(path) as npz:
        return json.loads(str(npz['meta']))


@pytest.fixture(scope='module')
def b_dir(setup, tmp_path_factory):
    """B evaluated alone in a work dir of its own."""
    work_dir = tmp_path_factory.mktemp('b_alone')
    code, out = evaluate(setup, setup['b'], work_dir)
    assert code == 0, out[-3000:]
    return work_dir


@pytest.fixture(scope='module')
def b_alone(b_dir):
    """B's summary, evaluated alone."""
    return summary_of(b_dir)


def test_a_checkpoint_replaced_under_its_name_is_evaluated_again(
        setup, b_alone, tmp_path):
    checkpoint = str(tmp_path / 'epoch_1.pth')
    shutil.copy(setup['a'], checkpoint)
    assert evaluate(setup, checkpoint, tmp_path / 'wd')[0] == 0
    a_alone = summary_of(tmp_path / 'wd')['accuracy']
    assert a_alone != b_alone['accuracy']  # the two can be told apart
    shutil.copy(setup['b'], checkpoint)  # new weights, same path
    code, out = evaluate(setup, checkpoint, tmp_path / 'wd')
    assert code == 0, out[-3000:]
    assert '10 evaluated, 0 already done (10 of another checkpoint ' \
        'evaluated again)' in out
    summary = summary_of(tmp_path / 'wd')
    assert summary['accuracy'] == b_alone['accuracy']
    assert summary['checkpoint_sha256'] == sha256(setup['b'])
    code, out = evaluate(setup, checkpoint, tmp_path / 'wd')
    assert code == 0 and '0 evaluated, 10 already done' in out


def test_cells_of_a_killed_evaluation_of_another_checkpoint(setup, b_alone,
                                                            tmp_path):
    """A evaluated, killed before its summary; then B into the same work
    dir: B evaluates every cell again, and its summary is B's alone."""
    work_dir = tmp_path / 'wd'
    assert evaluate(setup, setup['a'], work_dir)[0] == 0
    os.remove(work_dir / 'corruptions' / 'summary.json')
    code, out = evaluate(setup, setup['b'], work_dir)
    assert code == 0, out[-3000:]
    assert '(10 of another checkpoint evaluated again)' in out
    assert summary_of(work_dir)['accuracy'] == b_alone['accuracy']
    sha = sha256(setup['b'])
    for c, s in CELLS:
        meta = cell_meta(predictions_path(str(work_dir), c, s))
        assert meta['checkpoint']['sha256'] == sha
        assert (meta['corruption'], meta['severity']) == (c, s)


def test_a_work_dir_held_by_another_process_is_refused(setup, tmp_path):
    """Another process holds the work dir (an evaluation or a training
    run): the evaluation fails at once naming it, writing nothing."""
    work_dir = str(tmp_path / 'wd')
    held_r, held_w = os.pipe()
    end_r, end_w = os.pipe()
    holder = os.fork()
    if holder == 0:  # another process: takes the lock, waits to be ended
        try:
            WorkDirLock(work_dir).acquire()
            os.write(held_w, b'H')
            os.read(end_r, 1)
        finally:
            os.write(held_w, b'F')  # never leave the test waiting
            os._exit(0)
    try:
        assert os.read(held_r, 1) == b'H'
        code, out = evaluate(setup, setup['a'], work_dir)
    finally:
        os.write(end_w, b'E')
        os.waitpid(holder, 0)
    assert code == 1 and f'in use by another run: PID {holder}' in out
    assert not osp.exists(osp.join(work_dir, 'corruptions'))


@pytest.mark.parametrize('plant', ['folder at a cell', 'link at a cell',
                                   'linked corruption folder',
                                   'link at the summary'])
def test_planted_paths_are_refused_not_followed(setup, b_dir, tmp_path,
                                                plant):
    other = b_dir  # another run's folder, which the links point into
    work_dir = tmp_path / 'wd'
    folder = work_dir / 'corruptions'
    folder.mkdir(parents=True)
    if plant == 'folder at a cell':
        planted = folder / 'contrast' / 's1.npz'
        planted.mkdir(parents=True)
    elif plant == 'link at a cell':
        planted = folder / 'contrast' / 's1.npz'
        planted.parent.mkdir()
        planted.symlink_to(other / 'corruptions' / 'contrast' / 's1.npz')
    elif plant == 'linked corruption folder':
        planted = folder / 'contrast'
        planted.symlink_to(other / 'corruptions' / 'contrast')
    else:
        planted = folder / 'summary.json'
        planted.symlink_to(other / 'corruptions' / 'summary.json')
    before = {p: p.read_bytes() for p in other.rglob('*') if p.is_file()}
    code, out = evaluate(setup, setup['a'], work_dir)
    assert code == 1 and 'Traceback' not in out
    assert f'{planted}: a ' in out and 'neither read nor followed' in out
    assert {p: p.read_bytes() for p in other.rglob('*')
            if p.is_file()} == before


def test_a_folder_of_the_other_cifar_is_refused(setup, tmp_path):
    """A re-creation of CIFAR-10 (its record) and an official-like
    CIFAR-10-C of 100 images (labels 0..9 only) read as CIFAR-100-C."""
    recreation = make_cifar_c(str(tmp_path / 'recreation'))
    with open(osp.join(recreation, 'build.json'), 'w') as f:
        json.dump(dict(source='cifar10', num_images=4, corruptions=dict(
            gaussian_noise=[1, 2, 3, 4, 5], contrast=[1, 2, 3, 4, 5])), f)
    code, out = evaluate(setup, setup['a'], tmp_path / 'wd', '--dataset',
                         'cifar100', root=recreation)
    assert code == 1 and 'a re-creation of cifar10 (source), read as ' \
        'CIFAR100-C' in out
    official = make_cifar_c(str(tmp_path / 'official'), per_severity=100)
    code, out = evaluate(setup, setup['a'], tmp_path / 'wd', '--dataset',
                         'cifar100', root=official, n=100)
    assert code == 1 and 'all 100 labels are of classes 0..9, as in ' \
        'CIFAR-10-C, read as CIFAR-100-C' in out
    assert not (tmp_path / 'wd' / 'corruptions').exists()


def test_sizes_come_from_the_files_before_anything_is_allocated(setup,
                                                                tmp_path):
    """A sparse labels.npy whose header claims 10^9 labels (8 GB that hold
    nothing), a record claiming 2 x 10^8 images, --images-per-severity 0
    or another count than the files': each refused, naming it."""
    sparse = make_cifar_c(str(tmp_path / 'sparse'))
    labels = osp.join(sparse, 'labels.npy')
    with open(labels, 'wb') as f:
        np.lib.format.write_array_header_1_0(f, dict(
            descr='<i8', fortran_order=False, shape=(10**9, )))
        f.truncate(f.tell() + 8 * 10**9)
    code, out = evaluate(setup, setup['a'], tmp_path / 'wd', root=sparse,
                         n=None)
    assert code == 1 and f'{labels}: array of shape (1000000000,); ' \
        'expected the labels of 5 severities x 1 to 10000 images' in out
    claimed = make_cifar_c(str(tmp_path / 'claimed'))
    with open(osp.join(claimed, 'build.json'), 'w') as f:
        json.dump(dict(num_images=2 * 10**8, corruptions={}), f)
    code, out = evaluate(setup, setup['a'], tmp_path / 'wd', root=claimed,
                         n=None)
    assert code == 1 and 'expected num_images from 1 to 10000' in out
    code, out = evaluate(setup, setup['a'], tmp_path / 'wd',
                         '--images-per-severity', '0', n=None)
    assert code == 2 and '0: expected a positive integer' in out
    code, out = evaluate(setup, setup['a'], tmp_path / 'wd', n=3)
    assert code == 1 and 'holds 4 images per severity' in out


def test_damaged_records_are_named(setup, tmp_path):
    damaged = make_cifar_c(str(tmp_path / 'damaged'))
    with open(osp.join(damaged, 'build.json'), 'w') as f:
        f.write('{"num_images": 4, ')
    code, out = evaluate(setup, setup['a'], tmp_path / 'wd', root=damaged)
    assert code == 1 and 'Traceback' not in out
    assert f"{osp.join(damaged, 'build.json')}: not JSON" in out
    summary = tmp_path / 'wd' / 'corruptions' / 'summary.json'
    summary.parent.mkdir(parents=True)
    summary.write_text('[1')
    code, out = evaluate(setup, setup['a'], tmp_path / 'wd')
    assert code == 1 and 'Traceback' not in out
    assert f'{summary}: not JSON' in out and '--overwrite' in out
    assert evaluate(setup, setup['a'], tmp_path / 'wd', '--overwrite')[0] \
        == 0
