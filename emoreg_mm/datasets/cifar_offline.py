"""Make mmpretrain's CIFAR-10/100 fail fast and clearly when offline.

mmpretrain's ``CIFAR10`` / ``CIFAR100`` download the archive whenever a
file is missing or fails its md5 check; offline, ``urlopen`` (no timeout)
can hang and then dies with a bare ``URLError``. :func:`apply` (run on
import of :mod:`emoreg_mm.datasets`) wraps the download function that
``mmpretrain.datasets.cifar`` calls: it first probes the host (or the
configured proxy) with a short timeout and, when unreachable, raises a
:class:`CIFARFilesMissing` naming the expected layout, the files that are
missing or corrupt, and where to get them. With internet the original
download runs unchanged. ``download=False`` gets the same message.

:class:`CIFARFilesMissing` is both a ``FileNotFoundError`` and a
``RuntimeError`` (what mmpretrain raises for a missing CIFAR folder), and
with ``download=False`` its message starts with mmpretrain's own sentence
(``... you can specify `download=True` ...``), so code that catches either
type or matches upstream's words keeps working. Offline with
``download=True`` the error is a :class:`CIFARUnreachable`, also the
``urllib.error.URLError`` the stock download raises there.
"""
import functools
import os.path as osp
from typing import List

from mmpretrain.datasets import cifar as _cifar
from mmpretrain.datasets.utils import check_md5

from ..compat.offline import DownloadUnreachable, url_reachable

_LAYOUTS = {
    'cifar-10-batches-py': ('data_batch_1', 'data_batch_2', 'data_batch_3',
                            'data_batch_4', 'data_batch_5', 'test_batch',
                            'batches.meta'),
    'cifar-100-python': ('train', 'test', 'meta'),
}


class CIFARFilesMissing(FileNotFoundError, RuntimeError):
    """CIFAR files are missing or corrupt and cannot be downloaded.

    A ``RuntimeError`` as mmpretrain's own error for a missing folder, and a
    ``FileNotFoundError`` for what it is.
    """


class CIFARUnreachable(CIFARFilesMissing, DownloadUnreachable):
    """CIFAR files are missing and the download host is unreachable: also
    the ``urllib.error.URLError`` mmpretrain's download raises offline."""


def cifar_problems(root: str, dataset_cls) -> List[str]:
    """Which files of ``dataset_cls`` under ``root`` are missing / corrupt."""
    folder = osp.join(root, dataset_cls.base_folder)
    entries = dataset_cls.train_list + dataset_cls.test_list + [[
        dataset_cls.meta['filename'], dataset_cls.meta['md5']
    ]]
    problems = []
    for name, md5 in entries:
        path = osp.join(folder, name)
        if not osp.isfile(path):
            problems.append(f'{path} (missing)')
        elif md5 is not None and not check_md5(path, md5):
            problems.append(f'{path} (md5 mismatch: incomplete or corrupt)')
    return problems


def layout_message(root: str, url: str) -> str:
    """The error text: expected layout, problems found, where to get it."""
    cls = next(c for c in (_cifar.CIFAR100, _cifar.CIFAR10) if c.url == url)
    folder = cls.base_folder
    files = _LAYOUTS[folder]
    problems = cifar_problems(root, cls)
    listed = '\n  '.join(problems) or '(none found locally)'
    return (f'{cls.__name__} files are missing or incomplete under '
            f'{root!r} and {url} cannot be reached (offline?).\n'
            f'Expected layout:\n  <data_root>/{folder}/'
            f'{{{",".join(files)}}}\n'
            f'Problems:\n  {listed}\n'
            f'Get {cls.filename} from {url} on a machine with internet '
            f'(md5 {cls.tgz_md5}) and extract it into data_root '
            f'(tar -xzf {cls.filename} -C <data_root>), or run once with '
            'internet to download it automatically.')


def guard_download(download_fn):
    """Wrap mmpretrain's ``download_and_extract_archive``."""

    @functools.wraps(download_fn)
    def guarded(url, download_root, *args, **kwargs):
        if not url_reachable(url):
            raise CIFARUnreachable(layout_message(download_root, url), url)
        return download_fn(url, download_root, *args, **kwargs)

    guarded._emoreg_guarded = True
    return guarded


def guard_no_download(load_data_list):
    """Wrap ``CIFAR10.load_data_list`` so ``download=False`` names the
    layout too."""

    @functools.wraps(load_data_list)
    def guarded(self):
        if not self.download and not self._check_integrity():
            root = self.data_prefix['root']
            # mmpretrain's own sentence first: callers match its words
            raise CIFARFilesMissing(
                f'Cannot find {type(self).__name__} dataset in {root}, you '
                'can specify `download=True` to download automatically.\n' +
                layout_message(root, self.url).replace(
                    'cannot be reached (offline?)',
                    'is not used (download=False)'))
        return load_data_list(self)

    guarded._emoreg_guarded = True
    return guarded


def apply() -> None:
    """Install the guards once (idempotent)."""
    fn = _cifar.download_and_extract_archive
    if not getattr(fn, '_emoreg_guarded', False):
        _cifar.download_and_extract_archive = guard_download(fn)
    method = _cifar.CIFAR10.load_data_list
    if not getattr(method, '_emoreg_guarded', False):
        _cifar.CIFAR10.load_data_list = guard_no_download(method)
