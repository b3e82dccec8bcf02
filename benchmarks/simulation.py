"""Milliseconds per simulated period (all paths and agents) of the DeepHAM simulation, and
seconds per value-network epoch, on the default KS config.

python benchmarks/simulation.py [--n_agents=50] [--periods=1000]   (last line: JSON)
"""

import os
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
from ml_collections import config_flags

from benchmarks import common
from deepham import train
from deepham.solver import value as value_lib

_CONFIG = config_flags.DEFINE_config_file(
    'config', os.path.join(os.path.dirname(__file__), '..', 'configs', 'ks_game.py'),
    'Config to measure.')
_N_AGENTS = flags.DEFINE_integer('n_agents', None, 'Override economy.n_agents.')
_PERIODS = flags.DEFINE_integer('periods', 1000, 'Periods timed.')
_EPOCHS = flags.DEFINE_integer('epochs', 5, 'Value epochs timed (0: skip).')


def measure(config, periods: int, epochs: int) -> dict:
  config.init.t_burn = 200
  solver = train.Solver(config)
  solver.burn_in()
  state = train._read(solver.distribution)  # pylint: disable=protected-access
  chunk = solver.simulator.chunk
  solver.simulator.advance(state, solver.seed(9, 0), chunk)  # compile
  start = time.time()
  solver.simulator.advance(state, solver.seed(9, 1), periods).state.x.numpy()
  ms = 1000 * (time.time() - start) / periods
  result = dict(benchmark='simulation', ms_per_period=ms, n_paths=config.init.n_paths,
                n_agents=config.economy.n_agents, periods=periods, dtype=config.dtype)
  if epochs:
    vc = config.value
    data, _ = value_lib.simulate_values(solver.simulator, state, solver.seed(9, 2), 0,
                                        vc.horizon, vc.window, vc.every)
    solver.fitter.fit(data, 1, seed=0)  # compile
    start = time.time()
    solver.fitter.fit(data, epochs, seed=1)
    per_epoch = (time.time() - start) / epochs
    result.update(value_seconds_per_epoch_all_nets=per_epoch,
                  value_seconds_per_epoch_per_net=per_epoch / vc.n_nets,
                  value_cross_sections=int(data.targets.shape[0]), value_batch=vc.batch_size)
  return result


def main(argv):
  del argv
  config = _CONFIG.value
  if _N_AGENTS.value:
    config.economy.n_agents = _N_AGENTS.value
  common.emit(measure(config, _PERIODS.value, _EPOCHS.value))


if __name__ == '__main__':
  app.run(main)
