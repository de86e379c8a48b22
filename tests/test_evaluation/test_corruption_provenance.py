"""What a CIFAR-C folder is: the distributed files by their published md5,
a re-creation by its build record, or unverified."""
import hashlib
import json
import os.path as osp
import re

import numpy as np
from cifar_c_fixtures import make_cifar_c

from emoreg_mm.datasets import cifar_c
from emoreg_mm.evaluation.robustness import ALL_CORRUPTIONS


def md5(path):
    with open(path, 'rb') as f:
        return hashlib.md5(f.read()).hexdigest()


def test_the_published_checksums_cover_every_file():
    for table in cifar_c.OFFICIAL_MD5.values():
        assert set(table) == {'labels', *ALL_CORRUPTIONS}
        assert all(re.fullmatch('[0-9a-f]{32}', v) for v in table.values())
    digests = [v for t in cifar_c.OFFICIAL_MD5.values() for v in t.values()]
    assert len(set(digests)) == 40


def test_kind_by_checksum_and_build_record(tmp_path, monkeypatch):
    root = make_cifar_c(str(tmp_path / 'CIFAR-10-C'))
    read = ('gaussian_noise', 'contrast')
    out = cifar_c.provenance(root, 'CIFAR10', read)
    assert (out['kind'], out['root']) == ('unknown', osp.abspath(root))
    assert out['checked'] == out['differ'] == ['labels', *read]
    # the same files with the published md5 of CIFAR-10-C: official
    published = {n: md5(osp.join(root, f'{n}.npy')) for n in
                 ('labels', *read)}
    monkeypatch.setitem(cifar_c.OFFICIAL_MD5, 'CIFAR10', published)
    out = cifar_c.provenance(root, 'CIFAR10', read)
    assert (out['kind'], out['differ']) == ('official', [])
    # read as CIFAR-100-C, or as an image-folder target's: not official
    assert cifar_c.provenance(root, 'CIFAR100', read)['kind'] == 'unknown'
    assert cifar_c.provenance(root, None, read)['kind'] == 'unknown'
    # one changed byte in one file
    images = np.load(osp.join(root, 'contrast.npy'))
    images[0, 0, 0, 0] ^= 1
    np.save(osp.join(root, 'contrast.npy'), images)
    out = cifar_c.provenance(root, 'CIFAR10', read)
    assert (out['kind'], out['differ']) == ('unknown', ['contrast'])
    # a build record: the parameters it records, nothing hashed
    record = dict(num_images=4, source='cifar10', corruptions={})
    for info, kind in ((dict(record, parameters='cifar'), 'recreated-cifar'),
                       (dict(record, library='imagecorruptions'),
                        'recreated-imagenet')):
        with open(osp.join(root, 'build.json'), 'w') as f:
            json.dump(info, f)
        out = cifar_c.provenance(root, 'CIFAR10', read)
        assert (out['kind'], out['checked']) == (kind, [])
