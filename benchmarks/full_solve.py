"""The whole default DeepHAM solve (training and validation) of a config, timed.

python benchmarks/full_solve.py [--config=configs/ks_game.py] [--workdir=DIR]
Prints the run's headline figures as JSON: seconds, mean K, Bellman errors of both methods,
the distribution's statistics (Ginis, percentiles, share at the constraint) and the Euler errors
by wealth and on common states (consumption-savings economies); for
the investment economy (--config=configs/investment_lq.py [--config.policy.objective=euler])
the test Euler MSE, the policy error against the exact policy (nu = 1) and the polish.
"""

import os
import sys
import tempfile
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
from ml_collections import config_flags

from benchmarks import common
from deepham import main as deepham_main

_CONFIG = config_flags.DEFINE_config_file(
    'config', os.path.join(os.path.dirname(__file__), '..', 'configs', 'ks_game.py'),
    'Config to solve.')
_WORKDIR = flags.DEFINE_string('workdir', None, 'Workdir (default: a temporary directory).')


def main(argv):
  del argv
  workdir = _WORKDIR.value or tempfile.mkdtemp(prefix='deepham_full_')
  start = time.time()
  summary = deepham_main.run(_CONFIG.value, workdir, 'solve')
  keep = ('mode', 'n_agents', 'mean_K', 'std_K', 'final_validation_utility', 'policy_steps',
          'bellman_error', 'euler_error_log10_mean', 'objective', 'nu', 'euler_mse_test',
          'euler_mse_test_exact_policy', 'policy_abs_error', 'policy_rel_error',
          'polish_iterations', 'time_iterations', 'statistics', 'euler_by_wealth',
          'euler_common_states')
  common.emit(dict(benchmark='full_solve', wall_seconds=time.time() - start,
                   workdir=workdir, **{k: summary[k] for k in keep if k in summary}))


if __name__ == '__main__':
  app.run(main)
