"""DeepHAM on the N-household Krusell-Smith economy, as a competitive equilibrium (fictitious play).

python run.py --config=configs/ks_game.py                    # N = 50, one generalized moment
python run.py --config=configs/ks_game.py --config.mode=planner   # constrained efficiency
python run.py --config=configs/ks_game.py:fm1                # variants: see VARIANTS below

The defaults (configs/base.py) are those of Han, Yang & E for KS.
"""

import ml_collections

from configs import base
from configs import common

# Variants selected with --config=configs/ks_game.py:NAME[,NAME...]
VARIANTS = {
    'fm1': dict(network=dict(n_fixed_moments=1, n_generalized_moments=0)),  # first moment only
    'gm2': dict(network=dict(n_fixed_moments=0, n_generalized_moments=2)),  # two generalized moments
    'n10': dict(economy=dict(n_agents=10)),
    'n100': dict(economy=dict(n_agents=100)),
    'planner': dict(mode='planner'),
    # A fifth of the Adam steps, the same time iteration: half the time, a narrower wealth
    # distribution than the default's (docs/results.md).
    'fast': dict(policy=dict(rounds=2, steps_per_round=1000)),
    # A few seconds on a CPU: for tests and smoke runs; far too small for accuracy.
    'tiny': dict(
        economy=dict(n_agents=8),
        init=dict(n_paths=16, t_burn=200, imitation_steps=50),
        value=dict(n_nets=2, horizon=120, window=60, every=20, epochs=3, batch_size=16,
                   final_every=0, final_epochs=0),
        policy=dict(t_unroll=10, batch_size=16, rounds=2, steps_per_round=6, pool_periods=40,
                    pool_last=20, pool_every=4, time_iterations=2, time_iteration_steps=5,
                    time_iteration_states=32, time_iteration_probes=4),
        run=dict(log_every=3, checkpoint_every=3, validation_periods=20, final_periods=30),
        validation=dict(n_paths=4, periods=60, burn=10, n_states=5, n_grid=9, n_golden=10),
    ),
}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = base.get_config()  # every field, with the defaults of Han, Yang & E for KS
  config.economy = common.ks_economy(n_agents=50)
  # The poorest households: the networks see log(1 + k) beside k, and after the Adam rounds
  # time iteration takes the game's policy to its Euler equation at every state, the
  # constraint and the tails included; the rich tail converges slowest, hence many cheap
  # damped iterations (docs/results.md). Idle for a planner and under price impact.
  config.network.floor_features = True
  config.value.floor_features = True
  config.policy.update(dict(time_iterations=240, time_iteration_steps=250,
                            time_iteration_damping=0.5))
  # The burn-in under the constant-share rule keeps every household between about 20 and 43, and
  # a first value fitted there alone extrapolates to a U shape in own wealth, which rewards the
  # first round's policy for ending its unroll poor. So the initial rule is imitated over
  # per-path wealth scales (log-std 0.5) and a fifth of the agents start each value-data
  # simulation at states over [0, 2 x the largest wealth] (docs/results.md).
  config.init.imitation_spread = 0.5
  config.value.explore_share = 0.2
  return common.apply_variants(config, arg, VARIANTS)
