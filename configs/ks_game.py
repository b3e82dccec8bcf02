"""DeepHAM on the N-household Krusell-Smith economy, as a competitive equilibrium (fictitious play).

python run.py --config=configs/ks_game.py                    # N = 50, one generalized moment
python run.py --config=configs/ks_game.py --config.mode=planner   # constrained efficiency
python run.py --config=configs/ks_game.py:fm1                # variants: see VARIANTS below

Defaults follow Han, Yang & E for KS: 2x24 tanh policy and value networks, 2x12 tanh basis
network, Adam (learning rate 4e-4, betas 0.99), batch 384, unroll 150, 5 rounds of 2000 steps.
"""

import ml_collections

from configs import common

# Variants selected with --config=configs/ks_game.py:NAME[,NAME...]
VARIANTS = {
    'fm1': dict(network=dict(n_fixed_moments=1, n_generalized_moments=0)),  # first moment only
    'gm2': dict(network=dict(n_fixed_moments=0, n_generalized_moments=2)),  # two generalized moments
    'n10': dict(economy=dict(n_agents=10)),
    'n100': dict(economy=dict(n_agents=100)),
    'planner': dict(mode='planner'),
    # A few seconds on a CPU: for tests and smoke runs; far too small for accuracy.
    'tiny': dict(
        economy=dict(n_agents=8),
        init=dict(n_paths=16, t_burn=200, imitation_steps=50),
        value=dict(n_nets=2, horizon=120, window=60, every=20, epochs=3, batch_size=16,
                   final_every=0, final_epochs=0),
        policy=dict(t_unroll=10, batch_size=16, rounds=2, steps_per_round=6, pool_periods=40,
                    pool_last=20, pool_every=4),
        run=dict(log_every=3, checkpoint_every=3, validation_periods=20, final_periods=30),
        validation=dict(n_paths=4, periods=60, burn=10, n_states=5, n_grid=9, n_golden=10),
    ),
}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.method = 'deepham'
  config.seed = 0
  config.dtype = 'float32'  # 'float32' | 'float64'
  config.mode = 'game'  # 'game' (competitive equilibrium) | 'planner' (constrained efficiency)
  config.economy = common.ks_economy(n_agents=50)

  config.network = ml_collections.ConfigDict(dict(
      width=(24, 24),  # hidden layers of the policy and value networks (a tuple)
      activation='tanh',
      n_fixed_moments=0,  # P: cross-sectional means of x, ..., x^P (0 to 4)
      n_generalized_moments=1,  # J: outputs of the learned basis Q, averaged over agents
      gm_width=(12, 12),  # hidden layers of the basis network Q
      gm_grid=2048,  # > 0: Q on this many grid points, interpolated (1-D inputs); 0: exact
      floor_features=False,  # also log(1 + x - floor) of own states as inputs (networks.py)
  ))
  config.init = ml_collections.ConfigDict(dict(
      policy='economy',  # 'economy' (its steady-state consumption share) | 'benchmark' (KS method)
      benchmark='data/ks_benchmark/ks_solution.npz',  # used when policy = 'benchmark'
      n_paths=384,  # independent paths of the simulated distribution
      restart=False,  # True: training simulations start afresh from the initial cross-section
      t_burn=6000,  # burn-in periods under the initial policy
      imitation_steps=3000,  # warm start: the policy network first fits the initial policy
      imitation_batch=256,
      imitation_learning_rate=1e-2,  # decays tenfold over the imitation steps
  ))
  config.value = ml_collections.ConfigDict(dict(
      n_nets=3,  # ensemble size
      # The value is what the Bellman errors score, so it gets its own, wider networks and
      # targets with less noise (docs/results.md): the martingale control variate (realised
      # lifetime utility minus the part the last fit's value prices: residual variance 0.01
      # instead of 6.5 in value units), the tail beyond the window, and a decaying rate.
      width=(64, 64),  # hidden layers of each value network; (): network.width
      control_variate=True,  # targets with the martingale correction of the last fit's value
      tail=True,  # targets include beta^window times the last fit's value at the window's end
      horizon=2000,  # periods simulated for each value data set
      window=800,  # periods of utility summed into each target (beta^800 = 3e-4)
      every=100,  # a target every `every` periods
      # The final fit (the value that validation scores) on five times the data: Bellman error
      # 0.0063 against 0.0090 for the same policy, for a few more minutes (docs/results.md).
      final_every=20,  # 0: as in the rounds
      final_epochs=200,  # 0: as in the rounds
      epochs=200,
      batch_size=128,  # cross-sections per batch (all their agents)
      learning_rate=1e-4,
      learning_rate_end=1e-5,  # exponential decay to this within each fit (equal: constant)
      adam_beta1=0.99,
      adam_beta2=0.99,
      valid_fraction=0.1,
      # This share of all agents starts each value-data simulation at a state drawn as for
      # policy.explore_share, so that the value is fitted in the tails too.
      explore_share=0.0,
  ))
  config.policy = ml_collections.ConfigDict(dict(
      objective='utility',  # utility over the unroll plus terminal value (DeepHAM)
      t_unroll=150,  # periods of the differentiable simulated path
      batch_size=384,  # initial cross-sections per step
      learning_rate=4e-4,
      learning_rate_end=4e-4,  # exponential decay to this over all steps (equal: constant)
      adam_beta1=0.99,
      adam_beta2=0.99,
      rounds=5,  # value refits; each followed by steps_per_round policy steps
      steps_per_round=2000,
      price_taking=True,  # game mode: the optimising agent ignores its 1/N effect on aggregates
      fast_game=True,  # game with price taking: two-pass gradient (same value, less work)
      # The optimising agent of this share of each batch starts at a state drawn over
      # [constraint, explore_reach x the largest simulated state] (solver/explore.py).
      explore_share=0.0,
      explore_reach=2.0,
      pool_periods=450,  # initial states: simulate this long from the distribution ...
      pool_last=200,  # ... and keep the last pool_last periods ...
      pool_every=4,  # ... every pool_every periods
  ))
  config.run = ml_collections.ConfigDict(dict(
      log_every=500,  # policy steps between metrics rows (and validation utility)
      checkpoint_every=500,
      validation_periods=500,  # horizon of the validation utility
      final_periods=1000,  # periods simulated for the summary statistics
      jit=True,  # XLA for simulations
      deterministic=True,  # same config and seed on one machine -> same numbers
  ))
  config.validation = ml_collections.ConfigDict(dict(
      n_paths=64,  # paths of the validation simulation (both methods, same shocks)
      periods=2000,
      burn=200,  # periods left out of statistics and Bellman states
      n_states=100,  # random periods whose states enter the Bellman errors (every agent)
      n_grid=33,  # maximisation over the action: grid that brackets the maximum ...
      n_golden=40,  # ... then golden-section iterations inside the bracket
      original_procedure=True,  # also rows by the published procedure (100 draws of z', 11 c)
      seed=1,
  ))
  return common.apply_variants(config, arg, VARIANTS)
