"""DeepHAM on the financial-frictions economy of Fernández-Villaverde, Hurtado & Nuño (2023), as
the DeepHAM code discretises it (dt = 0.2 years; deepham/economies/fvhn.py), as a competitive
equilibrium (fictitious play).

python run.py --config=configs/jfv.py                                  # with aggregate shocks
python run.py --config=configs/jfv.py --config.economy.aggregate_shocks=False   # the DSS
python run.py --config=configs/jfv.py:n10                              # N = 10

The solver's settings are the DeepHAM code's for this economy (t_unroll 200, 8000 policy steps,
the value refitted every 1600) over the KS defaults of configs/base.py; with dt = 0.2 the
discount factor per step, exp(-0.05 * 0.2) = 0.990, is KS's 0.99, so the same value window
covers the same share of lifetime utility. The conventional benchmark (configs/jfv_benchmark.py):
with aggregate shocks the KS-type method's solution shipped in data/jfv_benchmark/, without
them the stationary HJB solution, solved when the run is validated.
"""

import dataclasses

import ml_collections

from configs import base
from configs import common
from deepham.economies import fvhn


def jfv_economy(n_agents: int = 50) -> ml_collections.ConfigDict:
  """Every field of the economy (deepham/economies/fvhn.py: FVHNParams), with its default."""
  p = fvhn.FVHNParams()
  fields = {f.name: getattr(p, f.name) for f in dataclasses.fields(p)}
  return ml_collections.ConfigDict(dict(name='fvhn', **{**fields, 'n_agents': n_agents}))


VARIANTS = {
    'n10': dict(economy=dict(n_agents=10)),
    # Without aggregate shocks every shock is discrete, so the value's control variate applies.
    'dss': dict(economy=dict(aggregate_shocks=False), value=dict(control_variate=True)),
    # A few seconds on a CPU: for tests and smoke runs; far too small for accuracy.
    'tiny': dict(
        economy=dict(n_agents=8, n_quadrature=3),
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
  config = base.get_config()
  config.economy = jfv_economy()
  config.policy.update(dict(t_unroll=200, rounds=5, steps_per_round=1600))
  # Households at the borrowing constraint are many here (low-productivity ones run their bonds
  # down): both networks also see log(1 + a).
  config.network.floor_features = True
  config.value.floor_features = True
  # The capital-quality shock is continuous: the value's control variate (exact over discrete
  # outcomes only) does not apply; without the shock it may (the :dss variant).
  config.value.control_variate = False
  config.init.benchmark = 'data/jfv_benchmark/jfv_solution.npz'
  return common.apply_variants(config, arg, VARIANTS)
