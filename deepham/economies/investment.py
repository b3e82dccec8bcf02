"""The Lucas-Prescott investment economy with N price-taking firms (Kahou, Fernandez-Villaverde,
Perla & Sood, "Exploiting Symmetry in High-Dimensional Dynamic Programming").

Firm i has capital x_i; X = (x_1, ..., x_N). Notation:

  p(X) = alpha_0 - alpha_1 (1/N) sum_i x_i^nu          inverse demand (nu = 1: linear; for
                                                       nu > 1 a negative x_i counts as 0)
  x'   = (1 - delta) x + u + sigma w + eta omega        w ~ N(0, 1) per firm, omega ~ N(0, 1) common
  payoff p(X) x - (gamma / 2) u^2, discounted by beta; the firm takes p as given.

Euler equation:  gamma u(x, X) = beta E[ p(X') + gamma (1 - delta) u(x', X') ].

With nu = 1 the equilibrium policy is linear in the mean, u = H0 + H1 mean(X), with H0 and H1
independent of N, sigma and eta (certainty equivalence: the shocks enter linearly and have mean
zero). With m = mean(X), E[m'] = (1 - delta + H1) m + H0, so matching the coefficients on m and
on 1 in the Euler equation gives

  gamma H1 = beta (gamma (1 - delta) H1 - alpha_1) (1 - delta + H1)      (quadratic in H1; the
                                                   stable root has |1 - delta + H1| < 1)
  gamma H0 = beta (alpha_0 - alpha_1 H0 + gamma (1 - delta) (1 + H1) H0)  (linear in H0).

`lq_policy` solves these for any calibration; tests check them against the discrete Riccati
equation of one firm's linear-regulator problem.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from deepham import errors
from deepham.economies import base
from deepham.economies import markov
from deepham.economies import params


@dataclasses.dataclass(frozen=True)
class InvestmentParams(params.Params):
  n_agents: int = 128
  beta: float = 0.95
  gamma: float = 90.0
  delta: float = 0.05
  sigma: float = 0.005
  eta: float = 0.001
  nu: float = 1.0
  alpha_0: float = 1.0
  alpha_1: float = 1.0
  x0_mean: float = 0.9  # initial capital |Normal(x0_mean, x0_std)|
  x0_std: float = 0.05
  n_quadrature: int = 7  # Gauss-Hermite nodes over the aggregate shock

  def __post_init__(self):
    params.check_agents_and_beta(self)
    params.require(self.gamma > 0, 'gamma', 'be positive', self.gamma)
    params.require(0 <= self.delta <= 1, 'delta', 'lie in [0, 1]', self.delta)
    if self.sigma < 0 or self.eta < 0:
      raise errors.ConfigError('economy.sigma and eta must be non-negative.')
    params.require(self.nu >= 1, 'nu', 'be at least 1', self.nu)
    if self.n_quadrature < 1:
      raise errors.ConfigError('economy.n_quadrature must be a positive integer.')


def lq_policy(p: InvestmentParams) -> tuple[float, float]:
  """(H0, H1) of the exact policy u = H0 + H1 mean(X) for nu = 1, by matching coefficients."""
  b, g, a1, keep = p.beta, p.gamma, p.alpha_1, 1 - p.delta
  # g H1 = b (g keep H1 - a1)(keep + H1)  <=>  b g H1^2 + (b g keep^2 - g - b a1) H1 - b a1 keep = 0
  roots = np.roots([b * g * keep, b * g * keep**2 - g - b * a1, -b * a1 * keep])
  stable = [r.real for r in roots if abs(r.imag) < 1e-12 and abs(keep + r.real) < 1]
  if len(stable) != 1:
    raise ValueError(f'expected one stable root for H1, found {roots}')
  H1 = stable[0]
  H0 = b * p.alpha_0 / (g + b * a1 - b * g * keep * (1 + H1))
  return float(H0), float(H1)


class LucasPrescott(base.Economy):
  """N price-taking firms with adjustment costs; the action is investment u (unbounded)."""
  action_name = 'investment u'
  aggregate_names = ('X', 'X_nu')  # mean(x) and mean(x^nu), which sets the price
  state_names = ('x',)
  n_agent_noise = 1
  n_aggregate_noise = 1

  def __init__(self, params: InvestmentParams):
    self.params = params
    self.n_agents, self.beta = params.n_agents, params.beta
    self.chain = markov.ExogenousChain.independent(np.ones((1, 1)), np.ones((1, 1, 1)))
    self.action_bounds = (-np.inf, np.inf)
    # Warm start (init.imitation_spread=-1): with nu != 1 prices need x >= 0, and a first policy
    # taught only on the narrow starting cross-sections drove X negative within 64 periods; it
    # is taught on cross-sections scaled by a per-path lognormal factor of this std instead.
    # With nu = 1 prices take any x, and the widened start cost accuracy (docs/results.md).
    self.imitation_spread = 0.0 if params.nu == 1 else 0.3

  # --- economics ---------------------------------------------------------------------------------
  def price(self, aggregates):
    """p = alpha_0 - alpha_1 mean(x^nu); aggregates [B, 2] = (mean x, mean x^nu)."""
    return self.params.alpha_0 - self.params.alpha_1 * aggregates[:, 1:2]

  def quantities(self, state, action, aggregates):
    """The aggregates X and X_nu, the price p and mean investment u."""
    out = super().quantities(state, action, aggregates)
    out.update(p=self.price(aggregates)[:, 0], u=tf.reduce_mean(action[..., 0], axis=1))
    return out

  def payoff(self, x, u, aggregates):
    return self.price(aggregates) * x - 0.5 * self.params.gamma * u ** 2

  def next_capital(self, x, u, shocks: base.Shocks):
    p = self.params
    return ((1 - p.delta) * x + u + p.sigma * shocks.agent_noise[..., 0]
            + p.eta * shocks.aggregate_noise[:, :1])

  # --- the Economy interface ---------------------------------------------------------------------
  def initial_state(self, n_paths, rng):
    p = self.params
    x = np.abs(rng.normal(p.x0_mean, p.x0_std, (n_paths, self.n_agents, 1)))
    zeros = np.zeros((n_paths, self.n_agents), np.int32)
    return base.State(x=x, e=zeros, z=zeros[:, 0])

  def aggregates(self, state):
    """(mean x, mean x^nu). For nu != 1, x^nu is taken as max(x, 0)^nu: capital below zero,
    outside the economy, supplies nothing; without it one firm driven below zero by an early,
    poor policy made every price NaN (the DeepHAM objective's 150-period unrolls at nu = 1.5)."""
    x = state.x[..., 0]
    supply = x if self.params.nu == 1 else tf.nn.relu(x) ** self.params.nu
    return tf.stack([tf.reduce_mean(x, axis=1), tf.reduce_mean(supply, axis=1)], axis=-1)

  def action_from_output(self, raw, state, aggregates):
    """u = delta x0_mean * raw: network outputs of order one are investments of the size that
    replaces depreciation at the initial capital."""
    del state, aggregates
    return self.params.delta * self.params.x0_mean * raw

  def transition(self, state, action, aggregates, shocks):
    x, u = state.x[..., 0], action[..., 0]
    return self.next_capital(x, u, shocks)[..., None], self.payoff(x, u, aggregates)

  def initial_action(self, state, aggregates):
    return self.params.delta * state.x  # replaces depreciation

  def agent_features(self, state):
    return state.x

  # --- Euler residuals ---------------------------------------------------------------------------
  def aggregate_quadrature(self, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes [Q, 1] and weights [Q] for omega ~ N(0, 1)."""
    t, w = np.polynomial.hermite.hermgauss(n or self.params.n_quadrature)
    return (np.sqrt(2.0) * t)[:, None], w / np.sqrt(np.pi)

  def euler_residual(self, state, action, outcomes) -> tf.Tensor:
    """gamma u - beta sum_q w_q [p(X'_q) + gamma (1 - delta) u(x'_q, X'_q)]: [B, N].

    outcomes: sequence of (weight, next_state, next_aggregates, next_action).
    """
    p = self.params
    rhs = 0.0
    for weight, _, aggs, act in outcomes:
      rhs += weight * (self.price(aggs) + p.gamma * (1 - p.delta) * act[..., 0])
    return p.gamma * action[..., 0] - p.beta * rhs

  def reference_policy(self):
    """The exact LQ policy where it is known (nu = 1)."""
    return self.exact_policy if self.params.nu == 1 else None

  def headline(self, statistics: dict) -> dict:
    del statistics
    return dict(nu=float(self.params.nu))

  def exact_policy(self, state) -> tf.Tensor:
    """u = H0 + H1 mean(X) [B, N, 1] (nu = 1 only)."""
    if self.params.nu != 1:
      raise ValueError('the exact policy is known for nu = 1 only')
    H0, H1 = lq_policy(self.params)
    return tf.broadcast_to(H0 + H1 * tf.reduce_mean(state.x, axis=1, keepdims=True),
                           tf.shape(state.x))
