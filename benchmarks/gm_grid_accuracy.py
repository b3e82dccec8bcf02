"""Bellman and Euler errors of one trained run, with the generalized-moment basis evaluated on
its grid (network.gm_grid, the speed setting) and exactly (gm_grid = 0): the grid's effect on
accuracy, the networks held fixed.

python benchmarks/gm_grid_accuracy.py --workdir=DIR   (a finished KS run; last line: JSON)
"""

import os
import sys
import tempfile

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags

import deepham
from benchmarks import common
from deepham import validation

_WORKDIR = flags.DEFINE_string('workdir', None, 'A finished DeepHAM run.', required=True)


def main(argv):
  del argv
  result = dict(benchmark='gm_grid_accuracy', workdir=_WORKDIR.value)
  for label in ('grid', 'exact'):
    # A fresh load for each setting, so that no function traced during the first validation can
    # carry its grid setting into the second.
    view = deepham.load(_WORKDIR.value).view
    if label == 'grid':
      result['gm_grid'] = view.config.network.gm_grid
    else:
      for net in [view.policy.net] + list(view.value.nets):
        net.moments.grid_points = 0
    out = validation.run(view, tempfile.mkdtemp(prefix=f'gm_{label}_'))
    errors = out['bellman_error']['deepham']
    result[f'{label}_optimality_mean'] = errors['optimality_mean']
    result[f'{label}_euler_error_log10_mean'] = errors['euler_error_log10_mean']
  common.emit(result)


if __name__ == '__main__':
  app.run(main)
