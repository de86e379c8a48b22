"""The formatted config text, computed once per config content.

mmengine formats a config with yapf (``Config.pretty_text``) each time it
logs the config, dumps it to the work dir and writes it into a checkpoint's
``meta['cfg']``: at least three times per run, then once per saved
checkpoint. yapf's search over line breaks costs from a tenth of a second
for a shipped leaf to over a second for a config holding long paths, on the
main process, before every save. The text depends only on the config's
content, so yapf's answer is kept for each input text: a run formats its
config once, and every later log line, dump and checkpoint gets the same
characters as before.
"""
import functools

_MAX_TEXTS = 32  # distinct configs of one process; a few KB each


@functools.lru_cache(maxsize=_MAX_TEXTS)
def _format(format_code, text: str, style: tuple) -> tuple:
    return format_code(text, style_config=dict(style))


def _memoised(format_code):
    """``format_code`` (yapf's ``FormatCode``) answering repeated calls
    from a cache; any call it does not recognise goes through unchanged."""

    @functools.wraps(format_code)
    def format_once(unformatted_source, style_config=None, **kwargs):
        if kwargs or not isinstance(style_config, dict):
            return format_code(unformatted_source, style_config=style_config,
                               **kwargs)
        style = tuple(sorted(style_config.items()))
        try:
            hash(style)
        except TypeError:  # a style value that cannot be a key
            return format_code(unformatted_source, style_config=style_config)
        return _format(format_code, unformatted_source, style)

    format_once._emoreg_memoised = True
    return format_once


def apply() -> None:
    """Memoise the ``FormatCode`` that ``mmengine.config.config`` calls."""
    from mmengine.config import config as mm_config
    if getattr(mm_config.FormatCode, '_emoreg_memoised', False):
        return
    mm_config.FormatCode = _memoised(mm_config.FormatCode)
