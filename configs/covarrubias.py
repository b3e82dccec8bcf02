"""Households x capital goods (Covarrubias; deepham/economies/covarrubias.py): the market
formulation as a competitive equilibrium, the planner formulation as constrained efficiency.

python run.py --config=configs/covarrubias.py                       # market, N^h = 4, N^c = 1
python run.py --config=configs/covarrubias.py:planner               # planner formulation
python run.py --config=configs/covarrubias.py:planner,hc2           # N^h = N^c = 2
python run.py --config=configs/covarrubias.py:risk                  # idiosyncratic TFP risk

Variants (after the colon, combined with commas): 'planner' (mode=planner with pooled
production), 'risk' (idiosyncratic TFP risk), 'norebate' (the firms' profits are lost),
'partial' (half the households do not see the generalized moments; N^h = 4),
'h1', 'h4', 'h5', 'h100' (households, one good), 'hc1', 'hc2', 'hc10' (N^h = N^c), 'tiny'
(tests). `--config.mode=planner --config.policy.objective=utility` is the planner of the
market economy (firms and rebate), a different exercise from the 'planner' variant; with the
default Euler objective the problem solved is the formulation's first-order conditions and
`mode` only labels the run.
"""

import ml_collections

from configs import base
from configs import common

VARIANTS = {
    'planner': dict(mode='planner', economy=dict(formulation='planner')),
    # The residual's expectation over next period's TFP is a draw of the whole cross-section:
    # the product of two draws' residuals is unbiased where the square of one is not. The
    # networks then see the households' TFP in the cross-section too, which the value's control
    # variate does not allow for.
    'risk': dict(economy=dict(tfp_risk=True), policy=dict(euler_loss='product'),
                 value=dict(control_variate=False)),
    'norebate': dict(economy=dict(rebate=False)),
    # Incomplete information (the seed's exercise 3): households 2 and 3 of the four see their
    # own capital and TFP and the aggregate stocks, not the generalized moments. The Euler
    # objective conditions on the whole state, so DeepHAM's utility objective, with every
    # household an optimising agent (both types learn).
    'partial': dict(network=dict(observation_mask=(1, 1, 0, 0)),
                    policy=dict(objective='utility', game_agents=0)),
    **{f'h{n}': dict(economy=dict(n_households=n, n_goods=1)) for n in (1, 4, 5, 100)},
    **{f'hc{n}': dict(economy=dict(n_households=n, n_goods=n)) for n in (1, 2, 10)},
    'tiny': dict(
        economy=dict(n_households=3, n_goods=2),
        init=dict(n_paths=8, imitation_steps=20),
        value=dict(n_nets=1, horizon=60, window=30, every=10, epochs=2, batch_size=8),
        policy=dict(t_unroll=10, batch_size=16, rounds=2, steps_per_round=4, pool_periods=20,
                    pool_last=16, pool_every=2),
        run=dict(log_every=4, checkpoint_every=4, validation_periods=10, final_periods=20),
        validation=dict(n_paths=4, periods=20, euler_draws=2)),
}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = base.get_config()
  config.mode = 'game'  # households take the capital goods' prices as given
  config.economy = ml_collections.ConfigDict(dict(
      name='covarrubias',
      n_households=4,  # N^h
      n_goods=1,  # N^c
      beta=0.95, alpha=0.33, delta=0.1, phi=1.0,  # annual; phi sets the goods' units
      formulation='market',  # 'market' (firms, prices) | 'planner' (pooled production)
      rebate=True,  # market: the firms' profits return to the households in equal shares
      tfp_risk=False,  # False: Z = 1, the deterministic economy of the closed-form steady state
      tfp_values=(0.9, 1.1), tfp_stay=0.9,  # idiosyncratic TFP chain (tfp_risk)
      aggregate_tfp_values=(1.0,), aggregate_tfp_stay=0.9,  # common TFP (one value: none)
      k_spread=0.5,  # starting capital uniform in K_ss (1 -/+ k_spread)
      initial_shares=(),  # the initial rule's spending shares per good; (): 0.3 split equally
  ))
  config.network.update(dict(width=(64, 64), n_fixed_moments=1, n_generalized_moments=1,
                             gm_width=(12, 12)))
  # Training simulations start afresh from the spread starting capital, so that the policy
  # learns the transition to the steady state and not only the steady state.
  config.init.update(dict(restart=True, n_paths=64, t_burn=0, imitation_steps=500,
                          imitation_batch=64, imitation_learning_rate=1e-3))
  config.value.update(dict(n_nets=2, horizon=300, window=200, every=10, epochs=100,
                           batch_size=32, learning_rate=1e-3, learning_rate_end=1e-4,
                           adam_beta1=0.9, adam_beta2=0.999, final_every=0, final_epochs=0))
  # The Euler objective (Kahou et al.) on the economy's own first-order conditions: the
  # utility objective reaches the same steady state and welfare but leaves larger Euler
  # residuals in the first periods from a spread start (docs/covarrubias.md);
  # --config.policy.objective=utility for DeepHAM's.
  config.policy.update(dict(objective='euler', t_unroll=60, batch_size=128, learning_rate=1e-3,
                            learning_rate_end=1e-5, adam_beta1=0.9, adam_beta2=0.999,
                            rounds=3, steps_per_round=2000, pool_periods=64, pool_last=64,
                            pool_every=1))
  config.run.update(dict(log_every=250, checkpoint_every=500, validation_periods=100,
                         final_periods=200))
  config.validation.update(dict(
      n_paths=64,  # test paths from the spread starting capital ...
      periods=200,  # ... long enough to settle at the steady state (deterministic economy)
      euler_draws=16,  # draws of next period's TFP states (tfp_risk) in the expectation
      quadrature=1,  # no continuous aggregate shock
      burn=0, n_states=0, n_grid=0, n_golden=0, original_procedure=False))
  return common.apply_variants(config, arg, VARIANTS)
