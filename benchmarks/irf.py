"""Seconds of a default generalized impulse response: DeepHAM and the KS method, each from
--states cross-sections of its ergodic distribution, --horizon periods of paired paths.

python benchmarks/irf.py [--states=1000] [--horizon=40] [--n_agents=50] [--config=...]

The networks are the untrained ones after a short burn-in (the time does not depend on the
weights). The last line printed is JSON: draw and response seconds per method, and in all.
"""

import os
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags

from benchmarks import common
from benchmarks import ks_flags
from deepham import experiments
from deepham import train
from deepham.experiments import responses

_STATES = flags.DEFINE_integer('states', 1000, 'Cross-sections per method.')
_HORIZON = flags.DEFINE_integer('horizon', 40, 'Periods of each path.')


def main(argv):
  del argv
  config = ks_flags.config()
  config.init.t_burn = min(config.init.t_burn, 300)
  solver = train.Solver(config)
  solver.phases.burn_in()
  view = solver.view()
  econ = view.economy
  impulse = responses.parse_shock(econ, None)
  out = dict(benchmark='irf', n_agents=econ.n_agents, states=_STATES.value,
             horizon=_HORIZON.value, shock=impulse.name)
  start = time.time()
  for m in experiments.methods_of(view):
    t = time.time()
    states = responses.ergodic_states(econ, m.policy, view.distribution, _STATES.value, 0,
                                      impulse.condition, jit=config.run.jit)
    out[f'{m.key}_draw_seconds'] = time.time() - t
    t = time.time()
    responses.responses(econ, [m], {m.key: states}, impulse, _HORIZON.value)
    out[f'{m.key}_response_seconds'] = time.time() - t
  out['seconds'] = time.time() - start
  common.emit(out)


if __name__ == '__main__':
  app.run(main)
