"""The results of many runs: the paired tables, their statistics, the report.

Torch-free (numpy, scipy, statsmodels and matplotlib, each imported where
it is used):
reading results needs no model. The pieces, each one idea:

- :mod:`.runs`: reading a run dir without executing anything in it
  (:func:`read_config`, :func:`read_run`, :func:`read_runs`);
- :mod:`.stats`: paired t intervals, the detectable difference, the seeds
  a comparison needs, McNemar's exact test;
- :mod:`.pairing`: cells of runs, their ``baseline`` / ``const`` partners
  and the shuffled / untrained controls of their affective set, which
  configs may be paired, the paired statistics of a cell;
- :mod:`.family`: each table's comparisons as one family: adjusted
  verdicts (Holm or Benjamini-Hochberg), the primary comparison, the
  spread pooled for the detectable difference;
- :mod:`.format`: how numbers, paired cells, markdown and CSV print;
- :mod:`.accuracy`, :mod:`.branches` (with :mod:`.calibration`),
  :mod:`.robustness`, :mod:`.shift`: the tables;
- :mod:`.report`: :func:`build_report`, every table of the runs in one
  markdown file with its CSVs and forest plot (what
  ``tools/analysis_tools/results_table.py`` writes).

``docs/results.md`` shows the Python use.
"""
from .family import CORRECTIONS, Policy, PrimaryError, parse_primary
from .pairing import REFERENCES, compare, config_differences
from .report import NoRunsError, build_report
from .runs import (MAX_FILE, PREDICTIONS, STAGE1_LEFT_OUT, TAGS,
                   UnsafeConfigError, find_config, read_config, read_run,
                   read_runs)
from .stats import (RESOLUTION, detectable_difference, mcnemar_exact,
                    paired_ci, pooled_spread, seeds_needed, verdict)

__all__ = [
    'CORRECTIONS', 'MAX_FILE', 'PREDICTIONS', 'REFERENCES', 'RESOLUTION',
    'STAGE1_LEFT_OUT', 'TAGS', 'NoRunsError', 'Policy', 'PrimaryError',
    'UnsafeConfigError', 'build_report', 'compare', 'config_differences',
    'detectable_difference', 'find_config', 'mcnemar_exact', 'paired_ci',
    'parse_primary', 'pooled_spread', 'read_config', 'read_run',
    'read_runs', 'seeds_needed', 'verdict'
]
