"""Every field the DeepHAM solver, validation and reports read, with its default.

Experiment configs (ks_game.py, davila.py, investment_lq.py, brock_mirman.py) start from this
one, set the economy and override what differs; `deepham/solver/config_checks.py: FIELDS` says
what each field may be. The defaults are those of Han, Yang & E for Krusell-Smith: 2x24 tanh
policy networks, a 2x12 tanh basis network, Adam (learning rate 4e-4, betas 0.99), batch 384,
unroll 150, five rounds of 2000 policy steps; docs/results.md has the measurements behind the
ones that differ (the value networks and targets).
"""

import ml_collections
from ml_collections import config_dict


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.method = 'deepham'
  config.seed = 0
  config.dtype = 'float32'  # 'float32' | 'float64'
  config.mode = 'game'  # 'game' (competitive equilibrium) | 'planner' (constrained efficiency)
  # The economy's name and its own parameters (deepham/economies/NAME.py: its parameter class
  # declares and checks them), set by each experiment config.
  config.economy = ml_collections.ConfigDict(dict(name=''))

  config.network = ml_collections.ConfigDict(dict(
      width=(24, 24),  # hidden layers of the policy (and, with value.width=(), value) networks
      activation='tanh',
      n_fixed_moments=0,  # P: cross-sectional means of x, ..., x^P (0 to 4)
      n_generalized_moments=1,  # J: outputs of the learned basis Q, averaged over agents
      gm_width=(12, 12),  # hidden layers of the basis network Q
      gm_grid=2048,  # > 0: Q on this many grid points, interpolated (1-D inputs); 0: exact
      policy_own_state=True,  # False: the policy sees the cross-section only, not own state
      # The policy network's own inputs also include log(1 + x - floor) (networks.py); the
      # value networks' with value.floor_features.
      floor_features=False,
      # Incomplete information: per agent position, 1 sees everything above, 0 its own state,
      # the exogenous state and the fixed moments (the aggregate stock) but not the generalized
      # moments (solver/policy.py); (): every agent sees everything.
      observation_mask=(),
  ))
  config.init = ml_collections.ConfigDict(dict(
      policy='economy',  # 'economy' (the economy's initial rule) | 'benchmark' (a solution file)
      benchmark='data/ks_benchmark/ks_solution.npz',  # the conventional solution validation uses
      n_paths=384,  # independent paths of the simulated distribution
      restart=False,  # True: training simulations start afresh from the initial cross-section
      t_burn=6000,  # burn-in periods under the initial policy
      imitation_steps=3000,  # warm start: the policy network first fits the initial policy
      imitation_batch=256,
      imitation_learning_rate=1e-2,  # decays tenfold over the imitation steps
      imitation_spread=0.0,  # std of a per-path log scale of the imitation states; -1: economy's
  ))
  config.value = ml_collections.ConfigDict(dict(
      n_nets=3,  # ensemble size
      width=(64, 64),  # hidden layers of each value network; (): network.width
      control_variate=True,  # targets with the martingale correction of the last fit's value
      tail=True,  # targets include beta^window times the last fit's value at the window's end
      # 'monte_carlo': targets are the window sums of utility | 'td_lambda': lambda-returns that
      # also bootstrap on the last fit's value every `every` periods inside the window (needs
      # tail; the first fit is Monte Carlo); td_lambda = 1 gives back 'monte_carlo'.
      method='monte_carlo',
      td_lambda=0.9,
      horizon=2000,  # periods simulated for each value data set
      window=800,  # periods of utility summed into each target (beta^800 = 3e-4)
      every=100,  # a target every `every` periods
      final_every=20,  # the final fit (the value validation scores): every; 0: as in the rounds
      final_epochs=200,  # the final fit's epochs; 0: as in the rounds
      epochs=200,
      batch_size=128,  # cross-sections per batch (all their agents)
      learning_rate=1e-4,
      learning_rate_end=1e-5,  # exponential decay to this within each fit; None: constant
      adam_beta1=0.99,
      adam_beta2=0.99,
      valid_fraction=0.1,
      # This share of all agents starts each value-data simulation at a state drawn as for
      # policy.explore_share, so that the value is fitted in the tails too.
      explore_share=0.0,
      floor_features=False,  # the value networks' inputs also include log(1 + x - floor)
  ))
  config.policy = ml_collections.ConfigDict(dict(
      objective='utility',  # 'utility': over the unroll plus terminal value | 'euler': residual
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
      # Game mode: agents per path whose utility the policy step maximises, each a price taker
      # (objectives.py); 0: all N. More of them sample more states, the rare ones (the
      # borrowing constraint) included, at the cost of a larger backward pass.
      game_agents=1,
      # Each optimising agent starts with this probability at a state drawn over
      # [floor, explore_reach x the largest simulated state] (solver/explore.py).
      explore_share=0.0,
      explore_reach=2.0,
      # Weight of a penalty beside the utility objective: the mean squared Euler error (with the
      # constraint) of euler_probes probe agents per cross-section, drawn over the same region
      # (solver/probes.py); 0: none. Consumption-savings games only.
      euler_weight=0.0,
      euler_probes=16,
      pool_periods=450,  # initial states: simulate this long from the distribution ...
      pool_last=200,  # ... and keep the last pool_last periods ...
      pool_every=4,  # ... every pool_every periods
      euler_loss='square',  # Euler objective: 'square' of one draw | 'product' of two draws
      polish_steps=0,  # L-BFGS iterations after the Adam rounds (per best response); 0: none
      polish_states=0,  # cross-sections of the pool the polish uses; 0: all
      polish_rounds=1,  # best responses of the utility objective's polish
      # Time iteration after the Adam rounds (solver/time_iteration.py): this many iterations
      # of the Euler equation's targets, each fitted by time_iteration_steps Adam steps on
      # minibatches of time_iteration_batch of time_iteration_states cross-sections simulated
      # under the current policy, with time_iteration_probes probe agents each (drawn as
      # explore_share draws, up to explore_reach); 0: none. Consumption-savings economies;
      # idle unless a price-taking game with the utility objective.
      time_iterations=0,
      time_iteration_steps=1000,
      time_iteration_batch=64,
      time_iteration_states=3840,
      time_iteration_probes=32,
      time_iteration_learning_rate=3e-4,
      # exponential decay from time_iteration_learning_rate to this over the iterations (each
      # fit at one rate); None: constant
      time_iteration_learning_rate_end=config_dict.placeholder(float),
      # Each iteration's targets go this share of the way from the current policy's action to
      # what the Euler equation implies (1: all the way; less damps oscillations of the fixed
      # point iteration).
      time_iteration_damping=1.0,
      # The damping of agents far above the floor (beyond half their cross-section's mean
      # distance from it; a linear ramp from time_iteration_damping below an eighth of it):
      # there the iteration contracts only at about beta per iteration, and damping slows it
      # further (benchmarks/coleman_rate.py); None: time_iteration_damping everywhere.
      time_iteration_damping_far=config_dict.placeholder(float),
  ))
  config.run = ml_collections.ConfigDict(dict(
      log_every=500,  # policy steps between metrics rows (and validation utility)
      checkpoint_every=500,
      validation_periods=500,  # horizon of the validation utility
      final_periods=1000,  # periods simulated for the summary statistics
      jit=True,  # XLA for simulations
      deterministic=True,  # same config and seed on one machine -> same numbers
      # 'default' (one device) | 'mirrored' (this machine's GPUs) | 'multi_worker' (hosts, from
      # TF_CONFIG or SLURM): the policy step's batch split among replicas (solver/distribute.py)
      strategy='default',
      logical_cpus=0,  # mirrored without GPUs: this many logical CPU devices (> 1; tests)
  ))
  config.validation = ml_collections.ConfigDict(dict(
      seed=1,
      n_paths=64,  # paths of the validation simulation (every method, the same shocks)
      periods=2000,
      burn=200,  # periods left out of statistics and Bellman states
      n_states=100,  # random periods whose states enter the Bellman errors (every agent)
      n_grid=33,  # maximisation over the action: a grid that brackets the maximum ...
      n_golden=40,  # ... then golden-section iterations inside the bracket
      original_procedure=True,  # also rows by the published procedure (100 draws of z', 11 c)
      euler_draws=64,  # Euler-residual economies: idiosyncratic draws of the expectation ...
      quadrature=9,  # ... times Gauss-Hermite nodes of each aggregate shock
  ))
  return config
