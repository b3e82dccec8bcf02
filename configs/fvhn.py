"""DeepHAM on the financial-frictions economy of Fernández-Villaverde, Hurtado & Nuño (2023), as
the DeepHAM code discretises it (dt = 0.2 years; deepham/economies/fvhn.py), as a competitive
equilibrium (fictitious play).

python run.py --config=configs/fvhn.py            # with the capital-quality shock (sigma = 0.014)
python run.py --config=configs/fvhn.py:dss        # without aggregate shocks (sigma = 0)

The solver's settings are the KS defaults (configs/base.py): with dt = 0.2 the discount factor
per step, exp(-0.05 * 0.2) = 0.990, is KS's 0.99, so the same horizons (a 150-step unroll, an
800-step value window) cover the same share of lifetime utility.
"""

import dataclasses

import ml_collections

from configs import base
from configs import common
from deepham.economies import fvhn


def fvhn_economy(n_agents: int = 50) -> ml_collections.ConfigDict:
  """Every field of the economy (deepham/economies/fvhn.py: FVHNParams), with its default."""
  p = fvhn.FVHNParams()
  fields = {f.name: getattr(p, f.name) for f in dataclasses.fields(p)}
  return ml_collections.ConfigDict(dict(name='fvhn', **{**fields, 'n_agents': n_agents}))


VARIANTS = {
    # No aggregate shocks: N moves only with B; every shock is discrete, so the value's control
    # variate applies.
    'dss': dict(economy=dict(sigma=0.0), value=dict(control_variate=True)),
    'n10': dict(economy=dict(n_agents=10)),
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
  config.economy = fvhn_economy()
  # Households at the borrowing constraint are many here (low-productivity ones run their bonds
  # down): both networks also see log(1 + a).
  config.network.floor_features = True
  config.value.floor_features = True
  # The capital-quality shock is continuous: the value's control variate (exact over discrete
  # outcomes only) does not apply.
  config.value.control_variate = False
  # The conventional benchmark: with the shock the KS-type method's solution
  # (python -m deepham.conventional.fvhn_ks), without it the stationary HJB solution, solved
  # when the run is validated.
  config.init.benchmark = 'data/fvhn_ks/solution.npz'
  config = common.apply_variants(config, arg, VARIANTS)
  return config
