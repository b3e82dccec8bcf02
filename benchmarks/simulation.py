"""Milliseconds per simulated period (all paths and agents) of the DeepHAM simulation, and
seconds per value-network epoch, on the default KS config.

python benchmarks/simulation.py [--n_agents=50] [--periods=1000]   (last line: JSON)
"""

import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags

from benchmarks import common
from benchmarks import ks_flags

_PERIODS = flags.DEFINE_integer('periods', 1000, 'Periods timed.')
_EPOCHS = flags.DEFINE_integer('epochs', 5, 'Value epochs timed (0: skip).')


def main(argv):
  del argv
  config = ks_flags.config()
  common.emit(common.simulation(config, _PERIODS.value, _EPOCHS.value))


if __name__ == '__main__':
  app.run(main)
