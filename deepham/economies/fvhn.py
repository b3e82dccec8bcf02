"""Financial frictions and the wealth distribution (Fernández-Villaverde, Hurtado & Nuño, 2023,
Econometrica; "FVHN"), in the discrete-time form DeepHAM solves, with N households.

Time runs in steps of dt years. Households hold bonds a >= 0 and have labour productivity z_e,
e in {0: z1, 1: z2}, switching low -> high with probability lambda1 dt and high -> low with
lambda2 dt each step (z2 = 1 + (lambda2 / lambda1)(1 - z1), so E z = 1). A representative expert
holds the capital K = B + N, financed by the households' bonds B = mean a and its net worth N,
and bears the capital-quality risk sigma dW. Prices:

    w = (1 - alpha) K^alpha,   r = alpha K^(alpha - 1) - delta - sigma^2 K / N,
    a' = (1 + r dt) a + w z_e dt - c dt,                      c >= 0, a' >= 0,
    N' = N + (alpha K^(alpha - 1) - delta - rho_hat + sigma^2 (B / N)(K / N)) N dt
           + K sigma sqrt(dt) omega,                           omega ~ N(0, 1),

and utility dt u(c), u(c) = c^(1 - gamma) / (1 - gamma), discounted by beta = exp(-rho dt).
Without aggregate shocks (aggregate_shocks=False, or sigma = 0: the "DSS") N moves only with B; deepham.conventional.
jfv_stationary solves the continuum's stationary equilibrium.

Representation. N is an aggregate endogenous state: it rides in every household's state vector,
x = (a, N) with `n_common_states = 1` (base.Economy), so that a household's state carries it
wherever the solver takes it. The transition sets N' from the aggregates (B, N) and omega,
never from a household's own column. The action is the share of cash on hand (1 + r dt) a +
w z_e dt consumed this step (base.ConsumptionSavings), C = c dt in units of bonds.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from deepham.economies import base
from deepham.economies import markov
from deepham.economies import params

# Reference points of the DeepHAM code (frankhan91/DeepHAM, src/param.py, JFVParam): (B, N)
# without aggregate shocks (its finite-difference DSS) and with them (its stochastic steady
# state). The economy starts its households at them.
DSS_B, DSS_N = 1.8718155468494229, 1.8214550560258203
SSS_B, SSS_N = 1.9903560465449313, 1.6837810785365737
# N is kept above this share of its starting value: a bound the ergodic set never approaches,
# which keeps prices finite when an early policy drives B, and with it the expert's leverage,
# far out.
N_FLOOR_SHARE = 1e-3


@dataclasses.dataclass(frozen=True)
class FVHNParams(params.Params):
  """The calibration of Fernández-Villaverde, Hurtado & Nuño as in the DeepHAM code."""
  n_agents: int = 50
  dt: float = 0.2  # years per step
  rho: float = 0.05  # households' discount rate
  rho_hat: float = 0.04971  # the expert's discount rate
  gamma: float = 2.0  # relative risk aversion
  alpha: float = 0.35
  delta: float = 0.1
  z1: float = 0.72  # low labour productivity
  lambda1: float = 0.986  # switching intensity low -> high
  lambda2: float = 0.052  # switching intensity high -> low
  aggregate_shocks: bool = True  # False: no capital-quality shock (the DSS), as sigma = 0
  sigma: float = 0.014  # capital-quality volatility with aggregate shocks
  n_quadrature: int = 5  # Gauss-Hermite nodes of omega in Bellman and Euler errors
  a_spread: float = 1.0  # initial bonds: B0 times an exponential draw (1) or B0 exactly (0)
  # Not calibration: H of the policy's output map c dt = min(cash, sigmoid(o) (cash + H))
  # (base.ConsumptionSavings), in bonds.
  human_wealth: float = 1.0

  def __post_init__(self):
    params.check_agents_and_beta(self)
    params.require(self.dt > 0, 'dt', 'be positive', self.dt)
    params.require(self.rho > 0 and self.rho_hat > 0, 'rho and rho_hat', 'be positive',
                   (self.rho, self.rho_hat))
    params.require(self.gamma > 0, 'gamma', 'be positive', self.gamma)
    params.require(0 < self.alpha < 1, 'alpha', 'lie in (0, 1)', self.alpha)
    params.require(0 <= self.delta <= 1, 'delta', 'lie in [0, 1]', self.delta)
    params.require(0 < self.z1 < 1, 'z1', 'lie in (0, 1)', self.z1)
    for field in ('lambda1', 'lambda2'):
      v = getattr(self, field)
      params.require(v > 0 and v * self.dt < 1, field, f'be positive with {field} * dt < 1 '
                     f'(dt = {self.dt})', v)
    params.require(isinstance(self.aggregate_shocks, bool), 'aggregate_shocks',
                   'be True or False', self.aggregate_shocks)
    params.require(self.sigma >= 0, 'sigma', 'be non-negative', self.sigma)
    params.require(isinstance(self.n_quadrature, int) and self.n_quadrature >= 1,
                   'n_quadrature', 'be a positive integer', self.n_quadrature)
    params.require(self.a_spread in (0, 1), 'a_spread', 'be 0 or 1', self.a_spread)
    params.require(self.human_wealth >= 0, 'human_wealth', 'be non-negative',
                   self.human_wealth)

  @property
  def beta(self) -> float:
    return float(np.exp(-self.rho * self.dt))

  @property
  def z_values(self) -> tuple[float, float]:
    return (self.z1, 1 + self.lambda2 / self.lambda1 * (1 - self.z1))

  @property
  def volatility(self) -> float:
    """The capital-quality volatility in effect: sigma with aggregate shocks, else 0."""
    return float(self.sigma) if self.aggregate_shocks else 0.0

  @property
  def start(self) -> tuple[float, float]:
    """(B, N) the households start from: the DeepHAM code's reference point."""
    return (SSS_B, SSS_N) if self.volatility > 0 else (DSS_B, DSS_N)


class FVHN(base.ConsumptionSavings):
  """N households and one expert; the action is the share of cash on hand consumed."""
  action_name = 'consumption share'
  state_names = ('a', 'N')
  aggregate_names = ('B', 'N')
  n_x = 2
  n_common_states = 1
  state_floor = (0.0, 0.0)

  def __init__(self, params: FVHNParams):
    self.params = params
    self.n_agents, self.beta = params.n_agents, params.beta
    stay_low, stay_high = 1 - params.lambda1 * params.dt, 1 - params.lambda2 * params.dt
    self.chain = markov.ExogenousChain.independent(
        np.ones((1, 1)), np.array([[[stay_low, 1 - stay_low], [1 - stay_high, stay_high]]]))
    self.sigma = params.volatility
    self.n_aggregate_noise = 1 if self.sigma > 0 else 0
    self.action_bounds = (base.MIN_SHARE, 1.0)
    self.human_wealth = params.human_wealth
    self.n_floor = N_FLOOR_SHARE * params.start[1]
    self.bellman_error_unit = params.dt  # per unit of time, as the DeepHAM code reports them

  @property
  def published_table(self):
    """Han, Yang & E's Table 4 (mean Bellman errors per unit of time), for N = 50 with the
    aggregate shock."""
    return 'han_yang_e_2025_table4' if self.n_agents == 50 and self.sigma > 0 else None

  def headline(self, statistics: dict) -> dict:
    """summary.json's mean_B and mean_N (the validation paths' means)."""
    return {k: statistics[k] for k in ('mean_B', 'mean_N') if k in statistics}

  # --- economics (NumPy or TF) -------------------------------------------------------------------
  def prices(self, B, N):
    """(r, w) for bonds B and net worth N: the expert pays the marginal product of capital net
    of depreciation, less its risk premium sigma^2 K / N."""
    p = self.params
    K = B + N
    r = p.alpha * K ** (p.alpha - 1) - p.delta - self.sigma ** 2 * K / N
    return r, (1 - p.alpha) * K ** p.alpha

  def next_net_worth(self, B, N, omega):
    """N' for bonds B, net worth N and the capital-quality innovation omega (any shape)."""
    p = self.params
    K = B + N
    drift = (p.alpha * K ** (p.alpha - 1) - p.delta - p.rho_hat
             + self.sigma ** 2 * (B / N) * (K / N)) * N * p.dt
    return N + drift + K * self.sigma * np.sqrt(p.dt) * omega

  def utility(self, c):
    """Flow utility u(c) of consumption per unit of time (NumPy or TF)."""
    g = self.params.gamma
    if g == 1:
      return tf.math.log(c) if tf.is_tensor(c) else np.log(c)
    return c ** (1 - g) / (1 - g)

  # --- the Economy interface (TF) ----------------------------------------------------------------
  def initial_state(self, n_paths, rng):
    p = self.params
    B0, N0 = p.start
    z, e = self.chain.draw_initial(n_paths, self.n_agents, rng)
    a = np.full((n_paths, self.n_agents), B0)
    if p.a_spread:
      a = B0 * rng.exponential(1.0, (n_paths, self.n_agents))
    x = np.stack([a, np.full_like(a, N0)], axis=-1)
    return base.State(x=x, e=e, z=z)

  def aggregates(self, state):
    """[B, 2]: bonds B = mean a and the expert's net worth N (every household's common state)."""
    return tf.reduce_mean(state.x, axis=1)

  def cash(self, state, aggregates):
    r, w = self.prices(aggregates[:, :1], aggregates[:, 1:])
    z = base.take(self.params.z_values, state.e, state.x)
    return (1 + r * self.params.dt) * state.x[..., 0] + w * z * self.params.dt

  def gross_return(self, aggregates, z):
    del z
    return 1 + self.prices(aggregates[:, :1], aggregates[:, 1:])[0] * self.params.dt

  def marginal_utility(self, c):
    """Of consumption C = c dt in bonds, whose utility is dt u(C / dt): u'(C / dt)."""
    return (c / self.params.dt) ** (-self.params.gamma)

  def inverse_marginal_utility(self, m):
    return self.params.dt * m ** (-1 / self.params.gamma)

  def transition(self, state, action, aggregates, shocks):
    p = self.params
    cash = self.cash(state, aggregates)
    spend = action[..., 0] * cash
    omega = (shocks.aggregate_noise[:, :1] if self.n_aggregate_noise
             else tf.zeros_like(aggregates[:, :1]))
    n_next = tf.maximum(self.next_net_worth(aggregates[:, :1], aggregates[:, 1:], omega),
                        self.n_floor)
    a_next = cash - spend
    x_next = tf.stack([a_next, tf.broadcast_to(n_next, tf.shape(a_next))], axis=-1)
    return x_next, p.dt * self.utility(spend / p.dt)

  def initial_action(self, state, aggregates):
    """Consume the income r a + w z: bonds stay where they are."""
    cash = self.cash(state, aggregates)
    share = (cash - state.x[..., 0]) / cash
    return tf.clip_by_value(share, base.MIN_SHARE, 1.0)[..., None]

  def agent_features(self, state):
    return tf.stack([state.x[..., 0], tf.cast(state.e, state.x.dtype)], axis=-1)

  def exogenous_features(self, state):
    """The expert's net worth N, an aggregate state like an aggregate shock's."""
    return state.x[:, 0, 1:]

  def distribution_inputs(self, state):
    return state.x[..., :1]

  def aggregate_quadrature(self, n=None):
    """Gauss-Hermite nodes [Q, 1] and weights [Q] for omega ~ N(0, 1)."""
    t, w = np.polynomial.hermite.hermgauss(n or self.params.n_quadrature)
    return (np.sqrt(2.0) * t)[:, None], w / np.sqrt(np.pi)

  def quantities(self, state, action, aggregates):
    """B and N, consumption C (per unit of time), capital K, the prices r and w, and the
    expert's leverage K / N."""
    out = super().quantities(state, action, aggregates)
    B, N = aggregates[:, 0], aggregates[:, 1]
    r, w = self.prices(B, N)
    out.update(C=out['C'] / self.params.dt, K=B + N, r=r, w=w, leverage=(B + N) / N)
    return out
