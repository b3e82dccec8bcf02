"""Davila, Hong, Krusell & Rios-Rull (2012, Econometrica) with N households, with and without
aggregate shocks (Han, Yang & E 2025, section 5 and appendix B.3).

Notation:
  a       assets (capital), a >= 0          K = mean(a)    aggregate capital
  e       labor efficiency in e_values     L(z)           aggregate labor in prices
  z       aggregate state, Z = z_values[z] (no aggregate shocks: one state, Z = 1)
  r = Z alpha (K/L)^(alpha-1) - delta,   w = Z (1-alpha) (K/L)^alpha   (marginal products)
  budget  a' + c = (1 + r) a + w e,      u(c) = c^(1-sigma) / (1 - sigma)

Choices (documented in docs/davila.md, checked by tests):
  - Without aggregate shocks e follows `transition`; with them, the move of e from t to t+1 uses
    the matrix of the aggregate state the economy moves into, z_{t+1} (`transition_good`,
    `transition_bad`); z follows a symmetric chain with persistence `z_persistence`.
  - L(z) in prices is the labor of the stationary distribution of z's matrix: 5.574 without
    shocks, 7.525 (good) and 3.623 (bad) with them, the figures the paper states and the
    original code uses. Realised labor in an N-agent economy fluctuates around these.
  - Z = 0.95 / 1.05 as in the paper (the original authors' parameter file has 0.98 / 1.02).
"""

import dataclasses

import numpy as np
import tensorflow as tf

from deepham import errors
from deepham.economies import base
from deepham.economies import markov
from deepham.economies import params

DAVILA_TRANSITION = ((0.992, 0.008, 0.0), (0.009, 0.980, 0.011), (0.0, 0.083, 0.917))
TRANSITION_GOOD = ((0.98, 0.02, 0.0), (0.009, 0.980, 0.011), (0.0, 0.083, 0.917))
TRANSITION_BAD = ((0.6512248557478917, 0.34877514425210826, 0.0), (0.978, 0.011, 0.011),
                  (0.0, 0.083, 0.917))


@dataclasses.dataclass(frozen=True)
class DavilaParams(params.Params):
  n_agents: int = 50
  beta: float = 0.887
  sigma: float = 2.0  # relative risk aversion
  alpha: float = 0.36
  delta: float = 0.08
  e_values: tuple = (1.0, 5.29, 46.55)
  transition: tuple = DAVILA_TRANSITION
  aggregate_shocks: bool = False
  z_values: tuple = (0.95, 1.05)  # (bad, good), used with aggregate_shocks
  z_persistence: float = 0.875
  transition_good: tuple = TRANSITION_GOOD
  transition_bad: tuple = TRANSITION_BAD
  a0_max: float = 60.0  # initial assets uniform in [0, a0_max]

  def __post_init__(self):
    f = 'economy.'
    params.check_agents_and_beta(self)
    params.require(self.sigma > 0, 'sigma', 'be positive', self.sigma)
    if not 0 < self.alpha < 1 or not 0 <= self.delta <= 1:
      raise errors.ConfigError(f'{f}alpha must lie in (0, 1) and delta in [0, 1].')
    params.require(min(self.e_values) > 0, 'e_values', 'be positive', self.e_values)
    n = len(self.e_values)
    for name in ('transition', 'transition_good', 'transition_bad'):
      m = markov.check_stochastic(getattr(self, name), f + name)
      if m.shape != (n, n):
        raise errors.ConfigError(f'{f}{name} must be {n}x{n} (one row per e_values entry).')
    if not 0 <= self.z_persistence <= 1 or len(self.z_values) != 2 or min(self.z_values) <= 0:
      raise errors.ConfigError(f'{f}z_values must be two positive levels and z_persistence in '
                               '[0, 1].')

  @property
  def chain(self) -> markov.ExogenousChain:
    if not self.aggregate_shocks:
      return markov.ExogenousChain.independent(np.ones((1, 1)), np.asarray(self.transition)[None])
    p = self.z_persistence
    P_z = np.array([[p, 1 - p], [1 - p, p]])
    by_next = np.stack([np.asarray(self.transition_bad), np.asarray(self.transition_good)])
    P_e = np.broadcast_to(by_next[None], (2, 2) + by_next.shape[1:]).copy()  # [z, z', e, e']
    return markov.ExogenousChain(P_z=P_z, P_e=P_e)

  @property
  def Z(self) -> np.ndarray:
    return np.asarray(self.z_values) if self.aggregate_shocks else np.ones(1)

  @property
  def L(self) -> np.ndarray:
    """Aggregate labor in prices: stationary labor of each aggregate state's matrix."""
    e = np.asarray(self.e_values)
    if not self.aggregate_shocks:
      return np.array([markov.stationary(np.asarray(self.transition)) @ e])
    return np.array([markov.stationary(np.asarray(m)) @ e
                     for m in (self.transition_bad, self.transition_good)])


class Davila(base.ConsumptionSavings):
  """N households, CRRA utility, borrowing limit 0; action = consumption share of cash."""
  action_name = 'consumption share'
  aggregate_names = ('K',)
  state_names = ('k',)

  def __init__(self, params: DavilaParams):
    self.params = params
    self.n_agents, self.beta = params.n_agents, params.beta
    self.chain = params.chain
    self.action_bounds = (base.MIN_SHARE, 1.0)

  # --- economics (NumPy or TF) -------------------------------------------------------------------
  def production(self, K, z, L=None):
    p = self.params
    L = base.take(p.L, z, K) if L is None else L
    return base.take(p.Z, z, K) * K ** p.alpha * L ** (1 - p.alpha)

  def prices(self, K, z):
    """Net return r and wage w: marginal products."""
    p = self.params
    Z, L = base.take(p.Z, z, K), base.take(p.L, z, K)
    r = Z * p.alpha * (K / L) ** (p.alpha - 1) - p.delta
    w = Z * (1 - p.alpha) * (K / L) ** p.alpha
    return r, w

  def quantities(self, state, action, aggregates):
    """K and C, output Y, the interest rate r and the wage w."""
    out = super().quantities(state, action, aggregates)
    K, z = aggregates[:, 0], state.z
    r, w = self.prices(K, z)
    out.update(Y=self.production(K, z), r=r, w=w)
    return out

  def utility(self, c):
    s = self.params.sigma
    return tf.math.log(c) if s == 1 else c ** (1 - s) / (1 - s)

  # --- ConsumptionSavings ------------------------------------------------------------------------
  def cash(self, state, aggregates):
    r, w = self.prices(aggregates, state.z[:, None])
    e = base.take(self.params.e_values, state.e, state.x)
    return (1 + r) * state.x[..., 0] + w * e

  def gross_return(self, aggregates, z):
    return 1 + self.prices(aggregates, z[:, None])[0]

  def marginal_utility(self, c):
    return c ** (-self.params.sigma)

  def inverse_marginal_utility(self, m):
    return m ** (-1 / self.params.sigma)

  # --- the Economy interface ---------------------------------------------------------------------
  def initial_state(self, n_paths, rng):
    z, e = self.chain.draw_initial(n_paths, self.n_agents, rng)
    a = rng.uniform(0, self.params.a0_max, (n_paths, self.n_agents, 1))
    return base.State(x=a, e=e, z=z)

  def aggregates(self, state):
    return tf.reduce_mean(state.x, axis=1)

  def transition(self, state, action, aggregates, shocks):
    cash = self.cash(state, aggregates)
    c = action[..., 0] * cash
    return (cash - c)[..., None], self.utility(c)

  def steady_state_share(self) -> float:
    """Consumption share of cash that holds K at the complete-markets steady state
    (beta (1 + r) = 1) when everyone follows it; a stable rule for the first burn-in."""
    p = self.params
    r = 1 / p.beta - 1
    L = float(np.mean(p.L))
    K = L * (p.alpha / (r + p.delta)) ** (1 / (1 - p.alpha))
    w = (1 - p.alpha) * (K / L) ** p.alpha
    return (r * K + w * L) / ((1 + r) * K + w * L)

  def initial_action(self, state, aggregates):
    share = self.steady_state_share()
    return tf.fill(tf.concat([tf.shape(state.e), [1]], 0), tf.constant(share, state.x.dtype))

  def agent_features(self, state):
    e = base.take(self.params.e_values, state.e, state.x)
    return tf.concat([state.x, e[..., None]], axis=-1)

  def exogenous_features(self, state):
    if not self.params.aggregate_shocks:
      return super().exogenous_features(state)
    return base.take(self.params.Z, state.z, state.x)[:, None]

  def headline(self, stats: dict) -> dict:
    """The figures of the paper's Table 5, from validation statistics."""
    return dict(aggregate_shocks=bool(self.params.aggregate_shocks), K=stats['mean_K'],
                r=stats['mean_return'], r_pct=100 * stats['mean_return'],
                wealth_gini=stats['wealth_gini'], consumption_gini=stats['consumption_gini'])

  def labor_share(self, state, aggregates):
    """Each household's labor income over its factor income, w e / (w e + (r + delta) a).

    Gross of depreciation, so that the share lies in (0, 1] also where r < 0 (the constrained
    optimum); net of it, w e + r a can vanish and the ratio explode."""
    r, w = self.prices(aggregates, state.z[:, None])
    e = base.take(self.params.e_values, state.e, state.x)
    return w * e / (w * e + (r + self.params.delta) * state.x[..., 0])
