"""The Lucas-Prescott N-firm investment economy (Kahou et al.), solved by DeepHAM or by Euler
residual minimisation; with nu = 1 the exact LQ policy is the benchmark.

python run.py --config=configs/investment_lq.py                                # DeepHAM, nu = 1
python run.py --config=configs/investment_lq.py --config.policy.objective=euler   # Kahou et al.
python run.py --config=configs/investment_lq.py --config.economy.nu=1.5          # nonlinear demand
python run.py --config=configs/investment_lq.py:moments                         # phi = (x, ..., x^4)

Variants (after the colon): 'identity' (phi = x), 'moments' (x, x^2, x^3, x^4), 'learned'
(generalized moments), 'n1024', 'tiny' (tests).
"""

import ml_collections

from configs import base
from configs import common

VARIANTS = {
    'identity': dict(network=dict(n_fixed_moments=1, n_generalized_moments=0)),
    'moments': dict(network=dict(n_fixed_moments=4, n_generalized_moments=0)),
    'learned': dict(network=dict(n_fixed_moments=0, n_generalized_moments=2)),
    # A polish on 512 of the pool's cross-sections: each costs N firms' residuals.
    'n1024': dict(economy=dict(n_agents=1024), policy=dict(polish_states=512)),
    'tiny': dict(economy=dict(n_agents=16), init=dict(n_paths=8),
                 value=dict(n_nets=1, horizon=40, window=20, every=4, epochs=2, batch_size=8),
                 policy=dict(t_unroll=8, batch_size=16, rounds=2, steps_per_round=5,
                             pool_periods=8, pool_last=8, pool_every=2, polish_steps=5,
                             polish_rounds=2),
                 run=dict(log_every=5, checkpoint_every=5, validation_periods=10,
                          final_periods=10),
                 validation=dict(n_paths=4, periods=6, euler_draws=2, quadrature=3)),
}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = base.get_config()
  config.dtype = 'float64'  # policy errors of 1e-4 relative: float64 keeps rounding far below
  config.mode = 'game'  # firms are price takers
  config.economy = ml_collections.ConfigDict(dict(
      name='investment', n_agents=128, beta=0.95, gamma=90.0, delta=0.05, sigma=0.005,
      eta=0.001, nu=1.0, alpha_0=1.0, alpha_1=1.0, x0_mean=0.9, x0_std=0.05, n_quadrature=7))
  config.network.update(dict(width=(64, 64), activation='tanh', n_fixed_moments=1,
                             n_generalized_moments=0, gm_width=(16, 16)))
  # The payoff is linear in a firm's own capital and its law of motion additive in it, so the
  # value is linear in own capital and the Euler equation makes investment a function of the
  # cross-section alone, for every nu: the policy network does not see own capital, which is
  # more accurate and evaluates the network once per cross-section instead of once per firm
  # (figures in docs/results.md). True: u(x, X) as in Kahou et al.
  config.network.policy_own_state = False
  config.init.update(dict(restart=True, n_paths=64, t_burn=0, imitation_steps=1000,
                          imitation_batch=32, imitation_learning_rate=1e-3))
  # The starting cross-sections are narrow (mean X within +-0.005 of 0.9), and the equilibrium
  # path moves X to about 0.68. With nu != 1 the first policy is taught u = delta x on
  # cross-sections scaled by a per-path lognormal factor (std 0.3), so that its first
  # simulations keep X >= 0, which prices need; with nu = 1 it is not needed and costs
  # accuracy. 1000 imitation steps: fewer leave nu = 1.5 short of its test MSE target.
  # Figures in docs/results.md.
  # -1: the economy's choice (deepham/economies/investment.py); a number >= 0 sets the std.
  config.init.imitation_spread = -1.0
  config.value.update(dict(n_nets=3, horizon=264, window=200, every=8, epochs=100,
                           batch_size=64, learning_rate=1e-3, adam_beta1=0.9,
                           adam_beta2=0.999, final_every=0, final_epochs=0,
                           learning_rate_end=1e-3, width=(), tail=False,
                           control_variate=False))  # continuous shocks: no exact expectation
  config.policy.update(dict(objective='utility', t_unroll=150, batch_size=64,
                            learning_rate=3e-4, learning_rate_end=1e-6, adam_beta1=0.9,
                            adam_beta2=0.999, rounds=3, steps_per_round=2000,
                            pool_periods=64, pool_last=64, pool_every=1))
  # Euler objective only: 'square' squares a one-draw residual (Kahou et al.; biased by the
  # draw's variance), 'product' multiplies two independent draws' residuals (unbiased, but
  # noisier at these settings; docs/results.md).
  config.policy.euler_loss = 'square'
  # After the Adam rounds, L-BFGS on a fixed sample of states (a fresh pool: 64 paths x 64
  # periods) with fixed shocks, which takes the policy close to the exact one at nu = 1
  # (docs/results.md). Euler objective: the antithetic Euler loss. Utility objective:
  # `polish_rounds` best responses, each to the economy the policy before it makes. 0: no polish.
  config.policy.polish_steps = 200  # L-BFGS iterations at most (per best response)
  config.policy.polish_states = 0  # cross-sections of the pool used (0: all)
  config.policy.polish_rounds = 3  # best responses (utility objective; Euler: one polish)
  config.run.update(dict(log_every=250, checkpoint_every=500, validation_periods=64,
                         final_periods=64))
  config.validation.update(dict(
      n_paths=256,  # test trajectories from X0 ...
      periods=64,  # ... of this length (Kahou et al.)
      euler_draws=64,  # expectation: idiosyncratic draws (their number sets the MSE's floor) ...
      quadrature=9,  # ... times Gauss-Hermite nodes of the aggregate shock
      burn=0, n_states=0, n_grid=0, n_golden=0, original_procedure=False))
  return common.apply_variants(config, arg, VARIANTS)
