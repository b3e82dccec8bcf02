"""Davila, Hong, Krusell & Rios-Rull (2012) with N households, solved by DeepHAM.

The four runs of the paper's Table 5 differ by two fields:
  python run.py --config=configs/davila.py                                    # market
  python run.py --config=configs/davila.py --config.mode=planner               # constrained opt.
  python run.py --config=configs/davila.py --config.economy.aggregate_shocks=True [--config.mode=planner]

Solver settings of the paper: N = 50, unroll 50, 800-period simulations, 20 rounds of 400 steps.
"""

import ml_collections

from configs import base
from configs import common
from configs import ks_game
from deepham.economies import davila

# Variants selected with --config=configs/davila.py:NAME: the KS config's tiny settings.
VARIANTS = {'tiny': ks_game.VARIANTS['tiny']}


def davila_economy(n_agents: int = 50) -> ml_collections.ConfigDict:
  p = davila.DavilaParams()
  return ml_collections.ConfigDict(dict(
      name='davila', n_agents=n_agents, beta=p.beta, sigma=p.sigma, alpha=p.alpha,
      delta=p.delta, e_values=p.e_values, transition=p.transition,
      aggregate_shocks=False,  # True: Z in z_values, earnings risk depends on the aggregate state
      z_values=p.z_values, z_persistence=p.z_persistence, transition_good=p.transition_good,
      transition_bad=p.transition_bad, a0_max=p.a0_max))


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = base.get_config()
  config.economy = davila_economy()
  config.network.update(dict(n_fixed_moments=0, n_generalized_moments=1))
  # Every run starts from the market's stationary (Aiyagari) policy; see docs/davila.md for why
  # the planner's start matters.
  config.init.update(dict(policy='benchmark', benchmark='data/davila/aiyagari_solution.npz',
                          t_burn=2000, n_paths=384))
  config.value.update(dict(horizon=800, window=600, every=50, epochs=100, final_every=0,
                           final_epochs=0))  # beta^600 = 6e-32
  # The value settings of the runs in docs/davila.md: the policy's widths and plain targets,
  # without the KS config's control variate, tail and decaying rate.
  config.value.update(dict(width=(), control_variate=False, tail=False, learning_rate_end=1e-4))
  # The learning rate decays tenfold over all steps: with a constant one the market's K ends
  # farther from what the Aiyagari policy gives than sampling error allows (docs/davila.md).
  config.policy.update(dict(t_unroll=50, rounds=20, steps_per_round=400, pool_periods=200,
                            pool_last=100, pool_every=2, learning_rate_end=4e-5))
  config.run.update(dict(log_every=400, checkpoint_every=400, validation_periods=200,
                         final_periods=800))
  config.validation.update(dict(periods=800, burn=100))
  return common.apply_variants(config, arg, VARIANTS)
