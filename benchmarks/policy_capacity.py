"""How well the policy network can represent the conventional policy: the accuracy floor of an
architecture, before any training by DeepHAM's objective.

python benchmarks/policy_capacity.py [--config=configs/ks_game.py] [--steps=20000]
    [--explore_share=0.25] [--config.network.floor_features=True] [--config.network.width=64,64]

The policy network imitates the config's conventional benchmark (init.benchmark) on simulated
cross-sections in which a share of the agents is moved over [floor, reach x the largest state]
as training's exploration moves them (solver/explore.py), by the warm start's regression
(solver/imitation.py) for --steps steps. Then both are scored as validation scores them on
common states: Euler errors (log10) of probe agents from the constraint to twice the largest
state, by wealth bin. Where the imitating network is far from the benchmark, no training
objective can bring the learned policy closer with this architecture. The last line printed is
JSON.
"""

import os
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
from ml_collections import config_flags
import numpy as np
import tensorflow as tf

from benchmarks import common
from deepham import errors
from deepham import train
from deepham.economies import base
from deepham.solver import explore
from deepham.solver import imitation
from deepham.solver import run_state
from deepham.validation import euler as euler_lib
from deepham.validation import methods as methods_lib

_CONFIG = config_flags.DEFINE_config_file(
    'config', os.path.join(os.path.dirname(__file__), '..', 'configs', 'ks_game.py'),
    'Config whose network and benchmark to use.')
_STEPS = flags.DEFINE_integer('steps', 20000, 'Imitation steps.')
_EXPLORE = flags.DEFINE_float('explore_share', 0.25,
                              'Share of the agents moved to explored states for the imitation.')
_SECTIONS = flags.DEFINE_integer('cross_sections', 64, 'Cross-sections scored.')


def main(argv):
  del argv
  config = _CONFIG.value
  config.init.policy = 'benchmark'
  config.init.imitation_steps = 0  # the imitation below, on explored states
  config.init.t_burn = min(config.init.t_burn, 1500)
  start = time.time()
  solver = train.Solver(config)
  econ = solver.economy
  if econ.state_floor is None:
    raise errors.ConfigError(f'economy {config.economy.name!r} has no state floor to explore '
                             'from; this benchmark needs one.')
  solver.phases.burn_in()
  st = solver.state
  dist = run_state.read(st.distribution)
  sample = dist
  if _EXPLORE.value:
    sample = explore.explore_agents(dist, econ.state_floor, _EXPLORE.value,
                                    config.policy.explore_reach, tf.constant([3, 4]))
  mse = imitation.imitate(st.policy, solver.phases.initial_policy(), sample, _STEPS.value,
                          config.init.imitation_batch, config.init.imitation_learning_rate,
                          config.seed, st.variable_scope)
  methods = methods_lib.methods_for(solver.view())
  if len(methods) < 2:
    raise errors.ConfigError(f'no conventional benchmark at init.benchmark = '
                             f'{config.init.benchmark!r} to imitate.')
  scored = base.State(*[f[:_SECTIONS.value] for f in dist])
  edges = euler_lib.wealth_edges(float(np.mean(scored.x.numpy()[..., 0])))
  rows, _ = euler_lib.common_states_report(econ, methods, {methods[0].key: scored}, edges)
  result = dict(benchmark='policy_capacity', imitation_steps=_STEPS.value,
                imitation_mse=mse, explore_share=_EXPLORE.value,
                width=list(config.network.width),
                floor_features=bool(config.network.floor_features),
                seconds=time.time() - start)
  for m in methods:
    result[m.key] = euler_lib.common_states_summary(rows, m.label)
  common.emit(result)


if __name__ == '__main__':
  app.run(main)
