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

from benchmarks import common
from benchmarks import ks_flags

_STEPS = flags.DEFINE_integer('steps', 20, 'Timed steps after the first (compiling) one.')


def main(argv):
  del argv
  config = ks_flags.config()
  result = common.policy_step(config, _STEPS.value)
  logging.info('policy step: %.3f s (min %.3f), compile %.1f s', result['seconds_per_step'],
               result['min_seconds'], result['compile_seconds'])
  common.emit(dict(benchmark='policy_step', **result))


if __name__ == '__main__':
  app.run(main)
