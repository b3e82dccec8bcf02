"""Seconds per DeepHAM policy step (after compilation) and the compile time, default KS config.

python benchmarks/policy_step.py [--n_agents=50] [--steps=20] [--config.policy.fast_game=False]

The last line printed is JSON: {"seconds_per_step": ..., "compile_seconds": ..., ...}.
"""

import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
from absl import logging
from ml_collections import config_flags

from benchmarks import common

_CONFIG = config_flags.DEFINE_config_file(
    'config', os.path.join(os.path.dirname(__file__), '..', 'configs', 'ks_game.py'),
    'Config to measure (default: configs/ks_game.py).')
_N_AGENTS = flags.DEFINE_integer('n_agents', None, 'Override economy.n_agents.')
_STEPS = flags.DEFINE_integer('steps', 20, 'Timed steps after the first (compiling) one.')


def main(argv):
  del argv
  config = _CONFIG.value
  if _N_AGENTS.value:
    config.economy.n_agents = _N_AGENTS.value
  result = common.policy_step(config, _STEPS.value)
  logging.info('policy step: %.3f s (min %.3f), compile %.1f s', result['seconds_per_step'],
               result['min_seconds'], result['compile_seconds'])
  common.emit(dict(benchmark='policy_step', **result))


if __name__ == '__main__':
  app.run(main)
