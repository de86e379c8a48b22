"""Convert a checkpoint you trust into the form the safe loader accepts.

Usage: ``python tools/misc/convert_checkpoint.py SRC DST``

Stock mmengine checkpoints pickle the message hub's HistoryBuffer objects
through ``builtins.getattr``, which torch's safe loader refuses. This command
rewrites such a file with plain data in their place. Even here ``getattr`` is
never granted: a stand-in resolves only HistoryBuffer's statistic methods,
numpy arrays and dtypes are rebuilt from checked raw bytes (a forged dtype
is refused, never handed to numpy), and any other unknown global is refused.
The output is written atomically. Run it only on files you trust.
"""
import argparse
import sys

from emoreg_mm.compat import (DamagedCheckpointError, UnsafeCheckpointError,
                              convert_trusted)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='checkpoint to convert (trusted)')
    parser.add_argument('dst', help='where to write the safe checkpoint')
    args = parser.parse_args(argv)
    try:
        needed = convert_trusted(args.src, args.dst)
    except (FileNotFoundError, DamagedCheckpointError,
            UnsafeCheckpointError) as err:
        sys.exit(f'convert_checkpoint: error: {err}')
    print(f'Converted {args.src} -> {args.dst}; replaced globals: '
          f'{", ".join(needed) or "none"}')


if __name__ == '__main__':
    main()
