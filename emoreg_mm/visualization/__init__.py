"""Plots of runs and predictions (matplotlib, no torch).

- :mod:`.analysis`: reliability diagrams, rho by branch, the forest plot of
  the paired differences.
- :mod:`.regulation`: rho and the affective state of one run.
"""
