"""Seconds for the conventional Krusell-Smith solve of the default calibration.

python benchmarks/ks_solve.py     (last line: JSON)
"""

import os
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from benchmarks import common  # pylint: disable=g-import-not-at-top
from deepham.conventional import krusell_smith
from deepham.economies import ks

if __name__ == '__main__':
  start = time.time()
  sol = krusell_smith.solve(ks.KSParams(), krusell_smith.KSMethodParams())
  common.emit(dict(benchmark='ks_conventional_solve', seconds=time.time() - start,
                   iterations=sol.stats['iterations'], mean_K=sol.stats['mean_K'],
                   r2=sol.stats['r2']))
