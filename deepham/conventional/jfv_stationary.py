"""Stationary equilibrium without aggregate shocks (the "DSS") of Fernández-Villaverde, Hurtado and
Nuño (2023, Econometrica), solved by the finite-difference method of Achdou, Han, Lasry, Lions and
Moll (2022, ReStud; ADLLM below).

Households hold bonds a >= 0; labour productivity z_j, j in {1, 2}, switches z1 -> z2 at rate
lambda1 and z2 -> z1 at rate lambda2, with z2 = 1 + (lambda2 / lambda1)(1 - z1) so that E z = 1.
With u(c) = c^(1-gamma) / (1-gamma) (log c when gamma = 1) and savings s = r a + w z_j - c,
the value V(a, z_j) solves the HJB equation
    rho V_j = max_c u(c) + V_j'(a) s + lambda_j (V_-j - V_j),   c = V_j'(a)^(-1/gamma),
with the state constraint s(0, z_j) >= 0, and the stationary density g solves the KFE
    0 = -d/da [s_j(a) g_j(a)] - lambda_j g_j(a) + lambda_-j g_-j(a).

Firm and expert: Y = K^alpha L^(1-alpha), L = E z = 1, w = (1-alpha) K^alpha. The expert holds
K = B + N, financed by the households' bonds B = E a, on which it pays r = alpha K^(alpha-1) -
delta - sigma^2 K / N. With sigma = 0 its net worth follows
    dN/dt = (alpha K^(alpha-1) - delta - rho_hat) N,
so a stationary N > 0 requires alpha K^(alpha-1) - delta = rho_hat: K, r = rho_hat and w follow
from parameters alone, B from the households' stationary distribution at that r, and N = K - B.
No fixed point in prices is needed; rho_hat < rho keeps household wealth bounded.

Discretisation (ADLLM, Sec. 3 and online appendix) on a uniform grid a_i = i da, i < n_a, up to
a_max. V_j' is the forward difference where the savings it implies are positive, the backward
difference where they are negative, and u'(r a + w z_j) (zero savings) otherwise; at a = 0 the
backward derivative is u'(w z_j) (the state constraint) and at a_max the forward one is
u'(r a_max + w z_j) (no drift out of the grid). This gives a sparse generator A (rate s+ / da up,
s- / da down, lambda_j to the other z), and the implicit step
    (1/Delta + rho - A(V)) V_new = u(c(V)) + V / Delta
is iterated to its fixed point. A is the generator of a continuous-time Markov chain on the grid,
so the stationary probabilities m of the grid points solve A^T m = 0 (one equation replaced by a
normalisation); the density is g = m / da (half cells at the two ends).

Accuracy. The DeepHAM reference (JFVParam in its src/param.py: B_dss = 1.8718155468494229,
N_dss = 1.8214550560258203) is this scheme on the grid of Fernández-Villaverde et al.'s code,
501 points on [0, 20] (da = 0.04), the default here: it is reproduced to 7e-6 relative, and to
5e-13 with hjb_tol = 1e-6, the original's stopping rule, which ends the HJB iteration before its
fixed point. The reference is not the limit of fine grids. r = rho_hat lies only 3e-4 below rho,
so high-z households save slowly (s_2 ~ 0.011) and the tail of g decays at the rate
lambda2 / s_2 - lambda1 / |s_1| ~ 4.6 - 3.6, a small difference of large terms that the
first-order errors of the upwind scheme move a lot: on the original grid the HJB error alone
(s_2 7% too low) would take B to 1.78 and the KFE's numerical diffusion alone to 2.13. B rises
with the grid as B(da) ~ 2.01376 - 4 da; the limit is B = 2.01376, N = 1.67951 (the reference is
7.0% below in B, 8.5% above in N). `grid_limit` estimates it by Richardson extrapolation from two
nested grids. Grids denser near a = 0 converge more slowly per point here (the error comes from
the bulk of the distribution, a in [0.5, 8], not from the constraint) and can make the iteration
with Delta = 1000 oscillate, hence the uniform grid. a_max = 20 does not bind: at the same da,
B moves by 5e-9 when a_max is cut to 15 and by 6e-14 when it is raised to 30.
"""

import dataclasses
import os
import time
from typing import NamedTuple

from absl import logging
import numpy as np
from scipy import sparse
from scipy.sparse import linalg as sparse_linalg
import tensorflow as tf

from deepham import errors
from deepham.conventional import grids as grids_lib

# The DeepHAM reference point (frankhan91/DeepHAM, src/param.py, JFVParam.k_dss and N_dss).
DEEPHAM_B = 1.8718155468494229
DEEPHAM_N = 1.8214550560258203


@dataclasses.dataclass(frozen=True)
class JFVParams:
  """Economy (the paper's calibration) and grid (the original's: 501 uniform points on [0, 20])."""
  gamma: float = 2.0  # relative risk aversion
  rho: float = 0.05  # households' discount rate
  rho_hat: float = 0.04971  # the expert's discount rate; = r in the stationary equilibrium
  alpha: float = 0.35  # capital share
  delta: float = 0.1  # depreciation rate
  z1: float = 0.72  # low labour productivity (z2 follows from E z = 1)
  lambda1: float = 0.986  # switching intensity z1 -> z2
  lambda2: float = 0.052  # switching intensity z2 -> z1
  sigma: float = 0.0  # capital-quality volatility: 0 here (no aggregate shocks)
  n_a: int = 501  # asset grid points
  a_max: float = 20.0  # top of the asset grid
  hjb_step: float = 1000.0  # Delta of the implicit HJB iteration
  hjb_tol: float = 1e-10  # stop when max |V_new - V| falls below this
  max_iter: int = 200  # HJB iterations at most

  def __post_init__(self):
    f = 'jfv.'
    positive = ('gamma', 'rho', 'lambda1', 'lambda2', 'a_max', 'hjb_step', 'hjb_tol')
    for name in positive:
      if not getattr(self, name) > 0:
        raise errors.ConfigError(f'{f}{name} must be positive; got {getattr(self, name)}.')
    if not 0 < self.rho_hat < self.rho:
      raise errors.ConfigError(f'{f}rho_hat must lie in (0, rho) = (0, {self.rho}) for a '
                               f'stationary distribution (r = rho_hat); got {self.rho_hat}.')
    if not 0 < self.alpha < 1:
      raise errors.ConfigError(f'{f}alpha must lie in (0, 1); got {self.alpha}.')
    if not 0 <= self.delta < 1:
      raise errors.ConfigError(f'{f}delta must lie in [0, 1); got {self.delta}.')
    if not 0 < self.z1 < 1:
      raise errors.ConfigError(f'{f}z1 must lie in (0, 1) (z2 > 1 follows from E z = 1); got '
                               f'{self.z1}.')
    if self.sigma != 0:
      raise errors.ConfigError(f'{f}sigma must be 0 in the stationary (DSS) solver; got '
                               f'{self.sigma}.')
    for name, low in (('n_a', 20), ('max_iter', 1)):
      value = getattr(self, name)
      if int(value) != value or value < low:
        raise errors.ConfigError(f'{f}{name} must be an integer >= {low}; got {value}.')

  @property
  def z(self) -> np.ndarray:
    """[z1, z2]: labour productivity in the two states."""
    return np.array([self.z1, 1 + self.lambda2 / self.lambda1 * (1 - self.z1)])

  @property
  def switch(self) -> np.ndarray:
    """[lambda1, lambda2]: intensity of leaving each state."""
    return np.array([self.lambda1, self.lambda2])

  def prices(self) -> tuple[float, float, float]:
    """(K, r, w) with a stationary expert: alpha K^(alpha-1) - delta = rho_hat, r = rho_hat."""
    K = ((self.rho_hat + self.delta) / self.alpha) ** (1 / (self.alpha - 1))
    r = self.alpha * K ** (self.alpha - 1) - self.delta
    w = (1 - self.alpha) * K ** self.alpha
    return float(K), float(r), float(w)

  def grid(self) -> np.ndarray:
    """Asset grid [n_a], uniform on [0, a_max]."""
    return np.linspace(0, self.a_max, int(self.n_a))


class HouseholdSolution(NamedTuple):
  """The household problem at prices (r, w); arrays [n_a, 2] are indexed [a, z]."""
  a: np.ndarray  # [n_a] asset grid
  V: np.ndarray  # value
  c: np.ndarray  # consumption
  s: np.ndarray  # savings r a + w z - c
  A: sparse.csr_matrix  # [2 n_a, 2 n_a] generator; index j * n_a + i is (a_i, z_j)
  hjb_residual: float  # max |rho V - u(c) - A V| at the solution
  iterations: int
  converged: bool


class StationaryEquilibrium(NamedTuple):
  """The stationary equilibrium; arrays [n_a, 2] are indexed [a, z]."""
  r: float
  w: float
  K: float  # capital = B + N
  B: float  # household bonds, E a
  N: float  # the expert's net worth
  a: np.ndarray  # [n_a] asset grid
  da: np.ndarray  # [n_a] cell widths: sum(g * da[:, None]) = 1
  g: np.ndarray  # density
  mass: np.ndarray  # probabilities of the grid points, g * da
  V: np.ndarray
  c: np.ndarray
  s: np.ndarray
  hjb_residual: float
  iterations: int
  converged: bool
  seconds: float


def utility(c: np.ndarray, gamma: float) -> np.ndarray:
  """CRRA utility u(c); log c when gamma = 1."""
  return np.log(c) if gamma == 1 else c ** (1 - gamma) / (1 - gamma)


def cell_widths(a: np.ndarray) -> np.ndarray:
  """Width of the cell around each grid point (boundaries at midpoints; half cells at the ends)."""
  edges = np.concatenate([a[:1], 0.5 * (a[1:] + a[:-1]), a[-1:]])
  return np.diff(edges)


def _generator(s_up: np.ndarray, s_down: np.ndarray, a: np.ndarray,
               switch: np.ndarray) -> sparse.csr_matrix:
  """Sparse generator [2n, 2n]: drift up at rate s_up / da_forward, down at s_down / da_backward
  (both >= 0, [n, 2]), and switches of z at rate switch[j]."""
  n = a.size
  h = np.diff(a)
  up = s_up[:-1] / h[:, None]  # [n-1, 2] rate from a_i to a_{i+1}
  down = s_down[1:] / h[:, None]  # [n-1, 2] rate from a_{i+1} to a_i
  blocks = []
  for j in range(2):
    out = np.concatenate([up[:, j], [0.0]]) + np.concatenate([[0.0], down[:, j]])
    blocks.append(sparse.diags([-out - switch[j], down[:, j], up[:, j]], [0, -1, 1]))
  eye = sparse.identity(n)
  cross = sparse.bmat([[None, switch[0] * eye], [switch[1] * eye, None]])
  return (sparse.block_diag(blocks) + cross).tocsr()


def _stack(x: np.ndarray) -> np.ndarray:
  return x.ravel(order='F')  # [n, 2] -> [2n], the z1 block first


def solve_household(r: float, w: float, params: JFVParams) -> HouseholdSolution:
  """Solves the HJB equation at prices (r, w) by the implicit upwind scheme (ADLLM, Sec. 3)."""
  p = params
  a = p.grid()
  n, h = a.size, np.diff(a)
  income = r * a[:, None] + w * p.z[None, :]  # [n, 2] consumption at zero savings
  if np.any(income <= 0):
    raise ValueError(f'income r a + w z must be positive on the grid; got r = {r}, w = {w}.')
  du = lambda c: c ** (-p.gamma)  # u'(c)
  V = utility(income, p.gamma) / p.rho  # consume income forever
  converged = False
  for it in range(1, p.max_iter + 1):
    dV_f, dV_b = np.empty_like(V), np.empty_like(V)
    dV_f[:-1] = dV_b[1:] = np.diff(V, axis=0) / h[:, None]
    if not np.all(dV_f[:-1] > 0):
      raise FloatingPointError(f'HJB iteration {it}: V stopped increasing in a; try a smaller '
                               f'hjb_step than {p.hjb_step:g}.')
    dV_f[-1] = du(income[-1])  # no drift above a_max
    dV_b[0] = du(income[0])  # state constraint: savings >= 0 at a = 0
    s_f = income - dV_f ** (-1 / p.gamma)
    s_b = income - dV_b ** (-1 / p.gamma)
    # Upwind: forward difference where savings are positive, backward where they are negative,
    # zero savings in between (c = income). V is concave, so s_f <= s_b and the cases are disjoint.
    up = s_f > 0
    down = (s_b < 0) & ~up
    c = np.where(up, income - s_f, np.where(down, income - s_b, income))
    u = utility(c, p.gamma)
    A = _generator(np.where(up, s_f, 0.0), np.where(down, -s_b, 0.0), a, p.switch)
    M = sparse.identity(2 * n, format='csc') * (1 / p.hjb_step + p.rho) - A.tocsc()
    V_new = sparse_linalg.spsolve(M, _stack(u) + _stack(V) / p.hjb_step).reshape(2, n).T
    change = np.max(np.abs(V_new - V))
    V = V_new
    if change < p.hjb_tol:
      converged = True
      break
  if not converged:
    logging.warning('HJB: no convergence in %d iterations (last change %.2e).', p.max_iter, change)
  # Residual of the discretised HJB at the last policy (c, A): zero at the fixed point.
  residual = p.rho * _stack(V) - _stack(u) - A @ _stack(V)
  return HouseholdSolution(a, V, c, income - c, A, float(np.max(np.abs(residual))), it, converged)


def stationary_distribution(household: HouseholdSolution) -> np.ndarray:
  """Density g [n_a, 2] of the KFE: the null vector of A^T, sum(g * cell_widths(a)) = 1.

  The probabilities m of the grid points solve A^T m = 0. The equation of (a = 0, z1), a state
  with positive mass when r < rho (low-z households run down their bonds and stay at the limit
  for a while), is replaced by m = 1 there; the solution is then normalised.
  """
  n = household.a.size
  keep = sparse.diags(np.concatenate([[0.0], np.ones(2 * n - 1)]))  # drops the first equation
  AT = keep @ household.A.T.tocsr() + sparse.csr_matrix(([1.0], ([0], [0])), shape=(2 * n, 2 * n))
  rhs = np.zeros(2 * n)
  rhs[0] = 1.0
  m = sparse_linalg.spsolve(AT.tocsc(), rhs)
  if not np.all(np.isfinite(m)) or m.min() < -1e-10 * m.max():
    raise FloatingPointError('the KFE has no non-negative solution: is r < rho?')
  m = np.maximum(m, 0).reshape(2, n).T
  return m / m.sum() / cell_widths(household.a)[:, None]


def solve_stationary(params: JFVParams = JFVParams()) -> StationaryEquilibrium:
  """The stationary equilibrium: prices from the expert, B from the households, N = K - B."""
  start = time.time()
  K, r, w = params.prices()
  hh = solve_household(r, w, params)
  g = stationary_distribution(hh)
  da = cell_widths(hh.a)
  mass = g * da[:, None]
  B = float(np.sum(hh.a[:, None] * mass))
  result = StationaryEquilibrium(r, w, K, B, K - B, hh.a, da, g, mass, hh.V, hh.c, hh.s,
                                 hh.hjb_residual, hh.iterations, hh.converged,
                                 time.time() - start)
  logging.info('JFV stationary equilibrium (n_a = %d, a_max = %g): r = %.5f, K = %.6f, B = %.6f, '
               'N = %.6f; HJB residual %.1e after %d iterations, mass in the top 1%% of the grid '
               '%.1e', params.n_a, params.a_max, r, K, B, K - B, hh.hjb_residual, hh.iterations,
               mass[hh.a > 0.99 * params.a_max].sum())
  return result


class GridLimit(NamedTuple):
  """B and N in the limit of a fine grid, by Richardson extrapolation of a first-order scheme."""
  B: float  # 2 B_fine - B_coarse
  N: float  # K - B
  B_coarse: float  # on params' grid
  B_fine: float  # on the grid with every interval halved (2 n_a - 1 points)


def grid_limit(params: JFVParams) -> GridLimit:
  """Richardson extrapolation: B(h) = B + C h + O(h^2) for the upwind scheme, so 2 B(h/2) - B(h)
  removes the first-order error: from n_a = 4001 (8001) on [0, 20] it is within 1.1e-4 (2.5e-5)
  relative of the limit B = 2.01376."""
  coarse = solve_stationary(params)
  fine = solve_stationary(dataclasses.replace(params, n_a=2 * params.n_a - 1))
  B = 2 * fine.B - coarse.B
  return GridLimit(B, coarse.K - B, coarse.B, fine.B)


class StoredEquilibrium:
  """A stationary equilibrium as `python run.py --config=configs/jfv_benchmark.py` stores it
  without aggregate shocks (jfv_solution.npz: the grid, density, value and consumption, and the
  prices)."""

  def __init__(self, equilibrium: StationaryEquilibrium):
    self.equilibrium = equilibrium

  def summary(self) -> dict:
    e = self.equilibrium
    return dict(mean_B=e.B, mean_N=e.N, K=e.K, r=e.r, w=e.w, hjb_residual=e.hjb_residual,
                converged=e.converged, grid_points=int(len(e.a)), seconds=e.seconds)

  def save(self, path: str) -> None:
    e = self.equilibrium
    tmp = path + '.tmp.npz'
    np.savez_compressed(tmp, stationary=True, a=e.a, g=e.g, V=e.V, c=e.c,
                        prices=np.array([e.r, e.w, e.K, e.B, e.N]))
    os.replace(tmp, path)

  @classmethod
  def load(cls, path: str) -> 'StoredEquilibrium':
    with np.load(path, allow_pickle=False) as f:
      r, w, K, B, N = (float(v) for v in f['prices'])
      a, g, V, c = f['a'], f['g'], f['V'], f['c']
    da = cell_widths(a)
    return cls(StationaryEquilibrium(r, w, K, B, N, a, da, g, g * da[:, None], V, c,
                                     r * a[:, None] + w - c, 0.0, 0, True, 0.0))


# Grid of the benchmark below: four times the original's density, B within 1% of the grid
# limit (the module docstring: B(da) ~ 2.01376 - 4 da).
BENCHMARK_GRID_POINTS = 4001


class Benchmark:
  """The stationary equilibrium's policy and value used in the N-household FVHN economy without
  aggregate shocks (deepham/economies/fvhn.py, sigma = 0): the conventional method beside
  DeepHAM there. Each household consumes c(a, z) of the continuum's stationary HJB solution for
  the step (C = c dt, at most its cash on hand) at the prices of its own N-household economy;
  its value is the continuum's V(a, z), which ignores the cross-section. Solved on construction
  (a fraction of a second) from the economy's parameters. With the aggregate shock (sigma > 0)
  the benchmark is the KS-type method's (conventional/fvhn_ks.py)."""
  key = 'stationary'  # summary.json key
  name = 'Stationary HJB (continuum)'
  aggregate_forecast = None  # its agents expect constant prices

  def __init__(self, economy):
    p = economy.params
    self.economy = economy
    self.params = JFVParams(gamma=p.gamma, rho=p.rho, rho_hat=p.rho_hat, alpha=p.alpha,
                            delta=p.delta, z1=p.z1, lambda1=p.lambda1, lambda2=p.lambda2,
                            n_a=BENCHMARK_GRID_POINTS)
    self.solution = solve_stationary(self.params)
    self.grid = grids_lib.PowerGrid(self.params.n_a, 0.0, self.params.a_max)
    if not self.solution.converged:
      raise errors.ConfigError('the stationary benchmark did not converge.')

  def _table(self, values: np.ndarray, state):
    """Linear interpolation in a of values [n_a, 2] at every agent of `state` (linear beyond
    the grid), the column of each agent's productivity."""
    return self.grid.lookup_tf(values.T, state.x[..., 0], state.e)

  def policy(self, state, aggregates):
    from deepham.economies import base  # pylint: disable=g-import-not-at-top
    cash = self.economy.cash(state, aggregates)
    spend = self._table(self.solution.c, state) * self.economy.params.dt
    return tf.clip_by_value(spend / cash, base.MIN_SHARE, 1.0)[..., None]

  def raw(self, dist):
    return dist[..., :0]  # the stationary value ignores the cross-section

  def evaluate(self, own, mean_raw):
    del mean_raw
    return self._table(self.solution.V, own)

  def conditional_policy(self, own, reference):
    return self.policy(own, self.economy.aggregates(reference))
