"""mmengine's config text is formatted once per content (compat.config_text):
the same characters as stock formatting, yapf not run again for a config
it has seen, and a changed config never given a stale text."""
from mmengine.config import Config
from mmengine.config import config as mm_config

from emoreg_mm.compat import config_text

LONG = '/data/' + 'a-long-folder-name/' * 6 + 'EmoSet-118K'


def test_pretty_text_is_stock_and_formatted_once(tmp_path):
    assert mm_config.FormatCode._emoreg_memoised  # applied on import
    yapf = mm_config.FormatCode.__wrapped__
    cfg = Config(dict(model=dict(type='ImageClassifier', depth=18),
                      train_dataloader=dict(dataset=dict(data_root=LONG))))
    stock = mm_config.FormatCode
    try:  # stock mmengine: yapf itself
        mm_config.FormatCode = yapf
        expected = cfg.pretty_text
    finally:
        mm_config.FormatCode = stock

    config_text._format.cache_clear()
    calls = []
    counted = config_text._memoised(
        lambda *a, **k: calls.append(1) or yapf(*a, **k))
    mm_config.FormatCode = counted
    try:
        texts = [cfg.pretty_text for _ in range(4)]
        cfg.dump(str(tmp_path / 'dumped.py'))  # what the Runner writes
        assert texts == [expected] * 4
        assert (tmp_path / 'dumped.py').read_text() == expected
        assert len(calls) == 1

        cfg.train_cfg = dict(max_epochs=3)  # new content: formatted anew
        changed = cfg.pretty_text
        assert 'max_epochs=3' in changed and changed != expected
        assert len(calls) == 2
    finally:
        mm_config.FormatCode = stock
        config_text._format.cache_clear()
