"""How the plugin registers, each in a fresh interpreter (what is imported
before the test's code runs is what is tested): ``import emoreg_mm`` needs no
torch; a shipped config builds its components through its
``default_scope``; ``custom_imports=dict(imports=['emoreg_mm'])`` still
registers them."""
import os.path as osp
import subprocess
import sys
import textwrap

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: Run first: ``import torch`` (and all that needs it) fails.
BLOCK_TORCH = 'import sys\nsys.modules["torch"] = None\n'


def python(code: str, cwd: str = REPO) -> str:
    out = subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                         cwd=cwd, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_the_torch_free_modules_import_without_torch():
    out = python(BLOCK_TORCH + textwrap.dedent('''
        import emoreg_mm, emoreg_mm.matrix, emoreg_mm.fileio, emoreg_mm.cli
        import emoreg_mm.processes, emoreg_mm.config_names
        import emoreg_mm.evaluation, emoreg_mm.evaluation.analysis
        import emoreg_mm.evaluation.robustness
        print(sorted(m for m in ('mmengine', 'mmpretrain', 'numpy')
                     if m in sys.modules))
        try:
            import emoreg_mm.models
        except ImportError as err:
            print('models need torch:', err.name)
    '''))
    assert out.splitlines() == ["['numpy']", 'models need torch: torch']


def test_a_shipped_config_registers_through_its_scope():
    """No import of the plugin: the Runner's way, ``default_scope`` then a
    build from mmengine's root registry (as the Runner builds)."""
    out = python('''
        import sys
        from mmengine.config import Config
        from mmengine.registry import HOOKS, MODELS, init_default_scope
        cfg = Config.fromfile(
            'configs/emoreg/resnet18-cifar_learn-ereg_cifar10.py')
        assert 'emoreg_mm.models' not in sys.modules
        init_default_scope(cfg.default_scope)
        head = MODELS.build(dict(cfg.model.head, emotion_classes=['a', 'b']))
        hooks = [HOOKS.build(h) for h in cfg.custom_hooks[:1]]
        print(cfg.default_scope, type(head).__name__,
              type(head.regulator).__name__, type(hooks[0]).__name__,
              'emoreg_mm.compat' in sys.modules)
    ''')
    assert out.split() == ['emoreg_mm', 'RegulationHead',
                           'LearnERegRegulator', 'RegulationMonitorHook',
                           'True']


def test_custom_imports_of_the_package_still_register(tmp_path):
    (tmp_path / 'own.py').write_text(
        "custom_imports = dict(imports=['emoreg_mm'])\n"
        "default_scope = 'mmpretrain'\n"
        "dataset = dict(type='AffectiveImageFolder', data_root='x')\n")
    out = python('''
        from mmengine.config import Config
        from mmpretrain.registry import DATASETS, HOOKS
        cfg = Config.fromfile('own.py')  # imports emoreg_mm
        print(DATASETS.get(cfg.dataset.type).__name__,
              HOOKS.get('RegulationMonitorHook').__name__)
    ''', cwd=str(tmp_path))
    assert out.split() == ['AffectiveImageFolder', 'RegulationMonitorHook']


def test_the_tools_print_no_warning_of_the_stack(tmp_path):
    """What a tool imports (the components, mmpretrain, mmcv-lite) and an
    ``mmpretrain::`` base (mmengine's pkg_resources) warn nothing a user
    must act on: stderr stays empty."""
    child = tmp_path / 'child.py'
    child.write_text("_base_ = 'mmpretrain::resnet/resnet18_8xb16_cifar10.py'\n")
    out = subprocess.run(
        [sys.executable, '-W', 'default', '-c', textwrap.dedent(f'''
            from mmengine.config import Config
            from emoreg_mm.utils import register_all_modules
            register_all_modules()
            import mmpretrain.models
            print(Config.fromfile({str(child)!r}).model.type)
        ''')], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ['ImageClassifier']
    assert out.stderr == ''
