"""Time per policy step and per simulated period, and peak memory, as N grows.

python benchmarks/scaling.py [--n_agents=10,50,100,500,1000] [--steps=5] [--variant=tiny]
Each N runs in its own process (so peak memory is per N); one JSON line per N, on the default
KS config (or a variant of configs/ks_game.py) with economy.n_agents set to N.
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags

from benchmarks import child

_N = flags.DEFINE_list('n_agents', ['10', '50', '100', '500', '1000'], 'Numbers of agents.')
_STEPS = flags.DEFINE_integer('steps', 5, 'Timed policy steps per N.')
_PERIODS = flags.DEFINE_integer('periods', 300, 'Simulated periods timed per N.')
_VARIANT = flags.DEFINE_string('variant', None, 'Variant of configs/ks_game.py (e.g. tiny).')

_CHILD = '''
from configs import ks_game
from benchmarks import common
n = {n}
config = ks_game.get_config({variant!r})
config.economy.n_agents = n
cfg_sim = ks_game.get_config({variant!r})
cfg_sim.economy.n_agents = n
sim = common.simulation(cfg_sim, {periods}, 0)
step = common.policy_step(config, {steps})
print(json.dumps(dict(benchmark='scaling', n_agents=n,
                      seconds_per_step=step['seconds_per_step'],
                      compile_seconds=step['compile_seconds'],
                      ms_per_period=sim['ms_per_period'],
                      peak_memory_gb=common.peak_memory_gb(), batch_size=step['batch_size'],
                      t_unroll=step['t_unroll'], dtype=step['dtype'], **common.machine())))
'''


def main(argv):
  del argv
  for n in _N.value:
    result, stderr = child.run(_CHILD.format(n=int(n), steps=_STEPS.value,
                                             periods=_PERIODS.value, variant=_VARIANT.value))
    print(json.dumps(result or dict(benchmark='scaling', n_agents=int(n), error=stderr)),
          flush=True)


if __name__ == '__main__':
  app.run(main)
