"""The results of many runs: the paired tables, their statistics, the report.

Torch-free (numpy, scipy and matplotlib, each imported where it is used):
reading results needs no model. The pieces, each one idea:

- :mod:`.runs`: reading a run dir without executing anything in it
  (:func:`read_config`, :func:`read_run`, :func:`read_runs`);
- :mod:`.stats`: paired t intervals, the detectable difference, the seeds
  a comparison needs, McNemar's exact test;
- :mod:`.pairing`: cells of runs, their ``baseline`` / ``const`` partners,
  which configs may be paired, the paired statistics of a cell;
- :mod:`.format`: how numbers, paired cells, markdown and CSV print;
- :mod:`.accuracy`, :mod:`.branches`, :mod:`.robustness`: the tables;
- :mod:`.report`: :func:`build_report`, every table of the runs in one
  markdown file with its CSVs and forest plot (what
  ``tools/analysis_tools/results_table.py`` writes).

``docs/results.md`` shows the Python use.
"""
from .pairing import compare, config_differences
from .report import NoRunsError, build_report
from .runs import (MAX_FILE, PREDICTIONS, STAGE1_LEFT_OUT, TAGS,
                   UnsafeConfigError, find_config, read_config, read_run,
                   read_runs)
from .stats import (detectable_difference, mcnemar_exact, paired_ci,
                    seeds_needed, verdict)

__all__ = [
    'MAX_FILE', 'PREDICTIONS', 'STAGE1_LEFT_OUT', 'TAGS', 'NoRunsError',
    'UnsafeConfigError', 'build_report', 'compare', 'config_differences',
    'detectable_difference', 'find_config', 'mcnemar_exact', 'paired_ci',
    'read_config', 'read_run', 'read_runs', 'seeds_needed', 'verdict'
]
