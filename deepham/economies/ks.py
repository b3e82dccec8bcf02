"""Krusell and Smith (1998, JPE) with N households.

Calibration of the JEDC 2010 comparison project (den Haan, Judd & Juillard 2010; Maliar, Maliar &
Valli 2010), as used by Han, Yang & E (DeepHAM). Notation:

  k      individual capital          K = mean(k)   aggregate capital (the N households' mean)
  eps    employment (0 or 1)         z             aggregate state (0 bad, 1 good), Z = z_values[z]
  u(z)   unemployment rate           L(z) = l_bar (1 - u(z))   aggregate labor
  tau(z) = mu u(z) / (l_bar (1 - u(z)))   labor tax that finances the unemployment benefit mu w

Prices are marginal products:  R = 1 - delta + Z alpha (K/L)^(alpha-1),  w = Z (1-alpha) (K/L)^alpha.
Budget:  k' + c = R k + (1 - tau) w l_bar eps + mu w (1 - eps),  k' >= 0,  c > 0.

The equations below take NumPy arrays or TensorFlow tensors alike, so the conventional solver and
the differentiable simulation share one implementation of the economics.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from deepham import errors
from deepham.economies import base
from deepham.economies import markov
from deepham.economies import params

# Joint transition over (z, eps), ordered (bad, u), (bad, e), (good, u), (good, e).
KS_TRANSITION = (
    (0.525, 0.35, 0.03125, 0.09375),
    (0.038889, 0.836111, 0.002083, 0.122917),
    (0.09375, 0.03125, 0.291667, 0.583333),
    (0.009115, 0.115885, 0.024306, 0.850694),
)


@dataclasses.dataclass(frozen=True)
class KSParams(params.Params):
  """Parameters of the Krusell-Smith economy; every field is checked on construction."""
  n_agents: int = 50
  beta: float = 0.99
  alpha: float = 0.36
  delta: float = 0.025
  z_values: tuple = (0.99, 1.01)
  unemployment: tuple = (0.10, 0.04)
  l_bar: float = 1.0 / 0.9
  mu: float = 0.15
  transition: tuple = KS_TRANSITION
  # Not calibration: H of the policy's output map c = min(cash, sigmoid(o) (cash + H))
  # (base.ConsumptionSavings); 0 makes the network set the share of cash on hand directly.
  human_wealth: float = 4.0

  def __post_init__(self):
    params.check_agents_and_beta(self)
    params.require(self.human_wealth >= 0, 'human_wealth', 'be non-negative', self.human_wealth)
    params.require(0 < self.alpha < 1, 'alpha', 'lie in (0, 1)', self.alpha)
    params.require(0 <= self.delta <= 1, 'delta', 'lie in [0, 1]', self.delta)
    params.require(len(self.z_values) == 2 and min(self.z_values) > 0, 'z_values',
                   'be two positive productivities (bad, good)', self.z_values)
    params.require(len(self.unemployment) == 2 and all(0 <= u < 1 for u in self.unemployment),
                   'unemployment', 'be two rates in [0, 1) (bad, good)', self.unemployment)
    if self.l_bar <= 0 or self.mu < 0:
      raise errors.ConfigError(f'economy.l_bar must be positive and mu non-negative; got '
                               f'l_bar={self.l_bar}, mu={self.mu}.')
    chain = markov.ExogenousChain.from_joint(self.transition, 2, 2, field='economy.transition')
    implied = chain.stationary_e_given_z()[:, 0]
    if np.max(np.abs(implied - np.asarray(self.unemployment))) > 1e-3:
      raise errors.ConfigError(
          f'economy.transition implies unemployment rates {np.round(implied, 5).tolist()}, but '
          f'economy.unemployment is {list(self.unemployment)}; they must agree.')

  @property
  def chain(self) -> markov.ExogenousChain:
    return markov.ExogenousChain.from_joint(self.transition, 2, 2)

  @property
  def L(self) -> np.ndarray:
    """Aggregate labor in each aggregate state: l_bar (1 - u(z))."""
    return self.l_bar * (1 - np.asarray(self.unemployment))

  @property
  def tau(self) -> np.ndarray:
    """Labor tax in each aggregate state: mu u / (l_bar (1 - u))."""
    u = np.asarray(self.unemployment)
    return self.mu * u / (self.l_bar * (1 - u))

  @property
  def k_ss(self) -> float:
    """Deterministic steady state with Z = 1 and K/L at its steady-state value with L = 1."""
    return ((1 / self.beta - (1 - self.delta)) / self.alpha) ** (1 / (self.alpha - 1))


class KrusellSmith(base.ConsumptionSavings):
  """The N-household Krusell-Smith economy. The action is the consumption share of wealth."""
  action_name = 'consumption share'
  state_names = ('k',)
  aggregate_names = ('K',)

  def __init__(self, params: KSParams):
    self.params = params
    self.n_agents = params.n_agents
    self.beta = params.beta
    self.chain = params.chain
    self.action_bounds = (base.MIN_SHARE, 1.0)
    self.human_wealth = params.human_wealth

  @property
  def published_table(self):
    """Han, Yang & E's Table 2 (mean Bellman errors), computed for N = 50."""
    return 'han_yang_e_2025_table2' if self.n_agents == 50 else None

  # --- economics (NumPy or TF) -------------------------------------------------------------------
  def production(self, K, z, L=None):
    """Y = Z K^alpha L^(1-alpha); L defaults to aggregate labor l_bar (1 - u(z))."""
    p = self.params
    Z = base.take(p.z_values, z, K)
    L = base.take(p.L, z, K) if L is None else L
    return Z * K ** p.alpha * L ** (1 - p.alpha)

  def prices(self, K, z):
    """Gross return R = 1 - delta + MPK and wage w = MPL."""
    p = self.params
    Z, L = base.take(p.z_values, z, K), base.take(p.L, z, K)
    R = 1 - p.delta + Z * p.alpha * (K / L) ** (p.alpha - 1)
    w = Z * (1 - p.alpha) * (K / L) ** p.alpha
    return R, w

  def labor_income(self, eps, w, z):
    """After-tax labor income of the employed, benefit mu w of the unemployed."""
    p = self.params
    tau = base.take(p.tau, z, w)
    return (1 - tau) * w * p.l_bar * eps + p.mu * w * (1 - eps)

  def wealth(self, k, eps, K, z):
    """Cash on hand R k + labor income; K and z broadcast against k and eps."""
    R, w = self.prices(K, z)
    return R * k + self.labor_income(eps, w, z)

  # --- the Economy interface (TF) ----------------------------------------------------------------
  def initial_state(self, n_paths, rng):
    z, e = self.chain.draw_initial(n_paths, self.n_agents, rng)
    k = np.full((n_paths, self.n_agents, 1), self.params.k_ss)
    return base.State(x=k, e=e, z=z)

  def aggregates(self, state):
    return tf.reduce_mean(state.x, axis=1)  # [B, 1]: K

  def transition(self, state, action, aggregates, shocks):
    cash = self.cash(state, aggregates)
    c = action[..., 0] * cash
    return (cash - c)[..., None], tf.math.log(c)

  def cash(self, state, aggregates):
    return self.wealth(state.x[..., 0], tf.cast(state.e, state.x.dtype), aggregates,
                       state.z[:, None])

  def gross_return(self, aggregates, z):
    return self.prices(aggregates, z[:, None])[0]

  def marginal_utility(self, c):
    return 1 / c

  def inverse_marginal_utility(self, m):
    return 1 / m

  def quantities(self, state, action, aggregates):
    """K and C, output Y, the net return r = R - 1 and the wage w."""
    out = super().quantities(state, action, aggregates)
    K, z = aggregates[:, 0], state.z
    R, w = self.prices(K, z)
    out.update(Y=self.production(K, z), r=R - 1, w=w)
    return out

  def steady_state_share(self) -> float:
    """Consumption share that keeps K at k_ss in the deterministic economy (Z = 1, L = 1)."""
    p = self.params
    k = p.k_ss
    w = (1 - p.alpha) * k ** p.alpha
    return (k * (1 / p.beta - 1) + w) / (k / p.beta + w)

  def initial_action(self, state, aggregates):
    share = self.steady_state_share()
    return tf.fill(tf.concat([tf.shape(state.e), [1]], 0), tf.constant(share, state.x.dtype))

  def agent_features(self, state):
    return tf.concat([state.x, tf.cast(state.e, state.x.dtype)[..., None]], axis=-1)

  def exogenous_features(self, state):
    return base.take(self.params.z_values, state.z, state.x)[:, None]

  def distribution_inputs(self, state):
    return state.x
