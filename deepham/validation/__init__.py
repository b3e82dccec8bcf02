"""Validation of a trained solution beside the conventional method's, on the same states.

  methods.py     the methods compared (DeepHAM, the conventional benchmark), one interface
  bellman.py     Bellman errors (value units) by exact expectations and a bracketed maximum
  euler.py       Euler errors (log10, by wealth, on common states) and Euler residuals
  statistics.py  aggregates, welfare, inequality and the wealth distribution of simulated paths
  report.py      `run`: simulates every method, measures it, writes the workdir's files

`validation.run(view, workdir)` is what a solve calls, on the run's RunView (deepham/solution.py);
the measures are public for tests, benchmarks and studies.
"""

from deepham.validation.bellman import bellman_errors
from deepham.validation.bellman import error_table_row
from deepham.validation.euler import common_states_report
from deepham.validation.euler import common_states_summary
from deepham.validation.euler import euler_by_wealth
from deepham.validation.euler import euler_errors_of
from deepham.validation.euler import euler_residuals
from deepham.validation.euler import probe_euler_errors
from deepham.validation.euler import WEALTH_BINS
from deepham.validation.euler import wealth_edges
from deepham.validation.methods import Method
from deepham.validation.methods import methods_for
from deepham.validation.report import run
from deepham.validation.report import run_euler
from deepham.validation.statistics import gini
from deepham.validation.statistics import path_statistics
