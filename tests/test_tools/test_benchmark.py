"""tools/analysis_tools/benchmark.py, docs/performance.md's command as
written, in this process (the tool's output, not its speed: ratios on a
shared CPU are not asserted beyond what cannot vary)."""
import re
import shlex

import pytest
import torch

from launch_utils import load_tool

DOCS_BENCHMARK = ('python tools/analysis_tools/benchmark.py resnet18-cifar '
                  '--batch-size 8 --reps 2 --warmup 1 --variants ereg '
                  'learn-ereg:cache')


@pytest.mark.readme(DOCS_BENCHMARK)
def test_docs_benchmark_command(capsys):
    argv = shlex.split(DOCS_BENCHMARK)
    assert argv[:2] == ['python', 'tools/analysis_tools/benchmark.py']
    threads = torch.get_num_threads()
    try:
        load_tool('analysis_tools/benchmark.py').main(argv[2:])
    finally:
        torch.set_num_threads(threads)  # the tool sets --threads (2)
    out = capsys.readouterr().out
    assert ('backbone=resnet18-cifar device=cpu threads=2 batch=8 img=32 '
            'amp=none channels_last=False compile=False reps=2 iters=1') \
        in out
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.split('|')]
        if len(cells) == 5 and cells[0] in ('plain', 'ereg',
                                            'learn-ereg:cache'):
            rows[cells[0]] = cells[1:]
    assert list(rows) == ['plain', 'ereg', 'learn-ereg:cache'], out
    ratio = re.compile(r'^[\d.]+ +(\d+\.\d\d)x \[(\d+\.\d\d)-(\d+\.\d\d)\]$')
    for name, (train, infer, mem_train, mem_infer) in rows.items():
        for cell in (train, infer):
            median, low, high = map(float, ratio.match(cell).groups())
            assert low <= median <= high, (name, cell)
            if name == 'plain':
                assert (median, low, high) == (1., 1., 1.)
        if name == 'plain':
            assert mem_train.endswith(' 1.00x'), mem_train
    # three encoders hold more than one: memory is counted, not timed
    for name in ('ereg', 'learn-ereg:cache'):
        assert float(rows[name][2].split()[-1].rstrip('x')) > 1.2, rows[name]


def test_backbones_are_the_matrix_names(capsys):
    """Every backbone of the matrix (the demo's too) is benchmarked from
    its stage-2 model piece; other names and variants are refused, naming
    the valid ones."""
    from emoreg_mm import benchmark, matrix
    names = benchmark.matrix_backbones()
    assert set(names) == {b for p in matrix.PRESETS.values()
                          for b in p.backbones}
    tiny = benchmark.backbone_spec('tiny-resnet', 32)
    assert (tiny['backbone']['type'], tiny['backbone']['base_channels'],
            tiny['in_channels']) == ('ResNet_CIFAR', 8, 64)
    vit = benchmark.backbone_spec('vit-b16', 48)
    assert (vit['backbone']['img_size'], vit['in_channels']) == (48, 768)
    assert 'init_cfg' not in benchmark.backbone_spec('resnet50',
                                                     32)['backbone']
    with pytest.raises(ValueError, match='resnet50, vit-b16'):
        benchmark.backbone_spec('deit-nano', 32)
    with pytest.raises(ValueError, match="'ereg:fast'.*rand-learn-ereg"):
        benchmark.regulated_cfg(tiny, 'ereg:fast', 'x.pth', False)
    tool = load_tool('analysis_tools/benchmark.py')
    assert tool.main(['deit-nano']) == 2
    assert 'benchmark.py: error: deit-nano' in capsys.readouterr().err
    assert tool.parse_args(['x']).variants[:len(matrix.MODES)] == \
        list(matrix.MODES)
