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


SMOKE = 'python tools/analysis_tools/benchmark.py --smoke --json smoke.json'


@pytest.mark.readme(SMOKE)
def test_smoke_mode_writes_the_figures(tmp_path, capsys, monkeypatch):
    """``--smoke``: the whole tool on the CPU in seconds, JSON out. FLOPs
    are counted, not timed: a regulated training step costs 3 forwards and
    2 backwards against 1 and 1 (7 / 3 of the plain model's), 2 / 1 with
    the affect cache."""
    import json
    monkeypatch.chdir(tmp_path)
    out = str(tmp_path / 'smoke.json')
    argv = shlex.split(SMOKE)
    threads = torch.get_num_threads()
    try:
        assert load_tool('analysis_tools/benchmark.py').main(argv[2:]) == 0
    finally:
        torch.set_num_threads(threads)
    text = capsys.readouterr().out
    assert 'input path (configs/_base_/datasets/cifar10.py' in text
    result = json.load(open(out))
    assert result['backbone'] == 'tiny-resnet'
    assert result['device'] == 'cpu' and result['bf16_peak_tflops'] is None
    models = {m['model']: m for m in result['models']}
    assert list(models) == ['plain', 'baseline', 'learn-ereg',
                            'learn-ereg:cache']
    plain = models['plain']['gflops_per_image']
    assert models['baseline']['gflops_per_image'] == pytest.approx(plain)
    assert 2.2 < models['learn-ereg']['gflops_per_image'] / plain < 2.4
    assert 1.9 < models['learn-ereg:cache']['gflops_per_image'] / plain \
        < 2.1
    for row in models.values():
        assert row['images_per_s'] > 0 and row['mfu'] is None
        assert row['dtypes']['loss'] == 'torch.float32'
    assert models['learn-ereg']['dtypes']['rho'] == 'torch.float32'
    path = result['input_path']
    # the workers ship 32-px images: the device upsamples them
    assert path['shape'] == [3, 32, 32] and path['bytes_per_image'] == \
        3 * 32 * 32
    assert path['images_per_s_per_worker'] > 0


def test_peak_by_device_name(monkeypatch):
    from emoreg_mm import throughput
    assert throughput.peak_tflops('cpu') == ('cpu', None)
    for name, peak in (('NVIDIA H200', 989.4), ('NVIDIA H100 PCIe', 756.5),
                       ('NVIDIA H100 80GB HBM3', 989.4),
                       ('NVIDIA A100-SXM4-80GB', 312.0),
                       ('Tesla V100-SXM2-32GB', None)):
        monkeypatch.setattr(torch.cuda, 'get_device_name', lambda: name)
        assert throughput.peak_tflops('cuda') == (name, peak)
    assert throughput.peak_tflops('cuda', 400.) == (name, 400.)
