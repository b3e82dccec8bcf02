"""Brock-Mirman (closed form: saving rate alpha*beta) solved by DeepHAM: a check of the solver.

python run.py --config=configs/brock_mirman.py   (about a minute on a CPU)
"""

import ml_collections

from configs import base
from configs import common


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = base.get_config()
  config.mode = 'planner'  # agents do not interact: planner and game coincide
  config.dtype = 'float64'
  config.economy = ml_collections.ConfigDict(dict(
      name='brock_mirman', n_agents=4, beta=0.9, alpha=0.36, z_values=(0.95, 1.05),
      z_transition=((0.9, 0.1), (0.1, 0.9)), k_spread=0.5))
  config.network.update(dict(n_fixed_moments=0, n_generalized_moments=0))
  config.init.update(dict(n_paths=64, t_burn=100, imitation_steps=200))
  config.value.update(dict(n_nets=2, horizon=400, window=200, every=20, epochs=100,
                           batch_size=32, learning_rate=1e-3, adam_beta1=0.9, adam_beta2=0.999,
                           final_every=0, final_epochs=0))
  config.policy.update(dict(t_unroll=30, batch_size=128, learning_rate=1e-3,
                            learning_rate_end=1e-4, rounds=3, steps_per_round=400,
                            pool_periods=60, pool_last=40, pool_every=2))
  config.run.update(dict(log_every=100, checkpoint_every=300, validation_periods=100,
                         final_periods=200))
  config.validation.update(dict(n_paths=16, periods=200, burn=50, n_states=20))
  return common.apply_variants(config, arg, {})
