"""The Krusell-Smith (1998) algorithm, as Maliar, Maliar & Valli (2010, JEDC) implement it.

Households perceive a log-linear law of motion (ALM) for aggregate capital,
    ln K' = a(z) + b(z) ln K,
and solve their problem on a grid in (k, K) for each (z, eps) by the endogenous grid method (EGM).
A simulation of the economy under that policy gives a new ALM by least squares in each aggregate
state; the ALM is damped and the loop repeats until its coefficients stop moving.

The simulation is either non-stochastic (a histogram over a fine k grid, Young 2010: a continuum
of households, no sampling noise) or stochastic (a panel of many households run through deepham's
N-agent simulation, the same code the DeepHAM solver uses). The value function V(k, K, z, eps)
is the fixed point of policy evaluation under the final ALM (a sparse linear system).

Accuracy is reported as the ALM's R^2 per aggregate state and den Haan's (2010) statistic: the
gap between the K path implied by the ALM alone and the simulated K path over a long simulation.
"""

import dataclasses
import time

from absl import logging
import numpy as np
from scipy import sparse
from scipy.sparse import linalg as sparse_linalg

from deepham import errors
from deepham.conventional import grids as grids_lib
from deepham.conventional.ks_solution import KSSolution
from deepham.economies import ks


@dataclasses.dataclass(frozen=True)
class KSMethodParams:
  """Settings of the conventional solver; checked on construction."""
  n_k: int = 200  # individual capital grid points
  k_max: float = 500.0
  k_power: float = 3.0  # grid density near k = 0 (1 = uniform)
  n_K: int = 11  # aggregate capital grid points
  K_min: float = 30.0
  K_max: float = 50.0
  simulation: str = 'histogram'  # 'histogram' (continuum) | 'panel' (stochastic households)
  n_households: int = 10_000  # panel simulation only
  n_fine: int = 2000  # histogram grid points
  t_sim: int = 1100  # periods simulated for each ALM regression
  t_discard: int = 100  # initial periods left out of the regression
  damping: float = 0.3  # weight of the new ALM estimate in each update
  tol_alm: float = 1e-7  # stop when ALM coefficients move less than this
  max_iter: int = 200
  tol_egm: float = 1e-10  # relative change in consumption that ends the household solve
  t_den_haan: int = 10_000  # periods of the accuracy simulation (a fresh shock path)
  seed: int = 0

  def __post_init__(self):
    f = 'ks_method.'
    for name in ('n_k', 'n_K', 'n_fine', 'n_households', 't_sim', 'max_iter', 't_den_haan'):
      if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 2:
        raise errors.ConfigError(f'{f}{name} must be an integer >= 2; got {getattr(self, name)}.')
    if not 0 <= self.t_discard < self.t_sim - 10:
      raise errors.ConfigError(f'{f}t_discard must lie in [0, t_sim - 10); got {self.t_discard}.')
    if not 0 < self.K_min < self.K_max:
      raise errors.ConfigError(f'{f}K_min and K_max must satisfy 0 < K_min < K_max; got '
                               f'{self.K_min}, {self.K_max}.')
    if self.k_max <= 0 or self.k_power < 1:
      raise errors.ConfigError(f'{f}k_max must be positive and k_power >= 1; got {self.k_max}, '
                               f'{self.k_power}.')
    if not 0 < self.damping <= 1:
      raise errors.ConfigError(f'{f}damping must lie in (0, 1]; got {self.damping}.')
    if self.simulation not in ('histogram', 'panel'):
      raise errors.ConfigError(f"{f}simulation must be 'histogram' or 'panel'; got "
                               f"'{self.simulation}'.")
    if self.tol_alm <= 0 or self.tol_egm <= 0:
      raise errors.ConfigError(f'{f}tol_alm and tol_egm must be positive.')

  @classmethod
  def from_config(cls, cfg) -> 'KSMethodParams':
    return cls(**dict(cfg))


def _markov_path(P: np.ndarray, z0: int, t: int, rng: np.random.Generator) -> np.ndarray:
  """Aggregate path of length t + 1 by inverse-CDF draws (the convention of markov.next_z)."""
  cdf = np.cumsum(P, axis=1)[:, :-1]
  u = rng.random(t)
  z = np.empty(t + 1, dtype=np.int32)
  z[0] = z0
  for s in range(t):
    z[s + 1] = np.sum(u[s] > cdf[z[s]])
  return z


class _Household:
  """The household problem on the (k, K) grid for given ALM coefficients (EGM, log utility)."""

  def __init__(self, econ: ks.KrusellSmith, k_grid: grids_lib.PowerGrid,
               K_grid: grids_lib.PowerGrid):
    p = econ.params
    self.econ, self.beta = econ, p.beta
    self.kg, self.Kg = k_grid, K_grid
    self.k, self.K = k_grid.points, K_grid.points
    z = np.arange(2)
    eps = np.arange(2.0)
    self.R, w = econ.prices(self.K[None, :], z[:, None])  # [z, j]
    self.income = econ.labor_income(eps[None, :, None], w[:, None, :], z[:, None, None])  # [z,e,j]
    self.P = econ.chain.joint().reshape(2, 2, 2, 2)  # [z, e, z', e']

  def next_K(self, alm: np.ndarray) -> np.ndarray:
    """K' on the K grid under the ALM: [z, j]."""
    return np.exp(alm[:, :1] + alm[:, 1:] * np.log(self.K)[None, :])

  def cash(self) -> np.ndarray:
    """Cash on hand on the grid: [z, e, j, i]."""
    return self.R[:, None, :, None] * self.k + self.income[..., None]

  def egm_step(self, c: np.ndarray, alm: np.ndarray) -> np.ndarray:
    """One EGM update of consumption c [z, e, j, i] on the grid."""
    Kp = self.next_K(alm)
    jK, wK = self.Kg.locate(Kp)  # [z, j]
    Rp, _ = self.econ.prices(Kp[:, :, None], np.arange(2)[None, None, :])  # [z, j, z']
    # Next-period consumption at end-of-period capital k'_m = k grid point m: [z', e', z, j, m].
    c_next = ((1 - wK)[None, None, :, :, None] * c[:, :, jK, :] +
              wK[None, None, :, :, None] * c[:, :, jK + 1, :])
    emu = np.einsum('xeyf,xjy,yfxjm->xejm', self.P, Rp, 1 / c_next)  # [z, e, j, m]
    c_endo = 1 / (self.beta * emu)
    cash_endo = c_endo + self.k  # cash on hand that makes k'_m optimal
    k_endo = (cash_endo - self.income[..., None]) / self.R[:, None, :, None]
    return grids_lib.egm_on_grid(self.k, k_endo, c_endo, self.cash())

  def solve(self, alm: np.ndarray, c: np.ndarray, tol: float, max_iter: int = 20_000):
    for it in range(max_iter):
      c_new = self.egm_step(c, alm)
      if np.max(np.abs(c_new - c) / c) < tol:
        return c_new, it + 1
      c = c_new
    logging.warning('EGM stopped after %d iterations without reaching tol_egm.', max_iter)
    return c, max_iter

  def evaluate(self, c: np.ndarray, alm: np.ndarray) -> np.ndarray:
    """V(k, eps, K, z) of policy c under the ALM: solves V = log c + beta E V' exactly.

    V' is interpolated bilinearly in (k', K'); the linear system has 16 entries per row.
    """
    shape = c.shape  # [z, e, j, i]
    n = c.size
    kp = self.cash() - c
    ik, wk = self.kg.locate(kp)
    wk = np.clip(wk, 0, 1)  # no extrapolation beyond the grid in the transition matrix
    jK, wK = self.Kg.locate(self.next_K(alm))
    wK = np.clip(wK, 0, 1)
    z, e, j, i = np.meshgrid(*[np.arange(s) for s in shape], indexing='ij')
    rows, cols, vals = [], [], []
    row = np.ravel_multi_index((z, e, j, i), shape)
    for zp in range(2):
      for ep in range(2):
        prob = self.P[z, e, zp, ep]
        for dj, wj in ((0, 1 - wK[z, j]), (1, wK[z, j])):
          for di, wi in ((0, 1 - wk), (1, wk)):
            col = np.ravel_multi_index((np.full_like(z, zp), np.full_like(z, ep),
                                        jK[z, j] + dj, ik + di), shape)
            rows.append(row.ravel())
            cols.append(col.ravel())
            vals.append((prob * wj * wi).ravel())
    M = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n, n))
    A = sparse.identity(n, format='csr') - self.beta * M
    return sparse_linalg.spsolve(A.tocsc(), np.log(c).ravel()).reshape(shape)


class _Histogram:
  """Non-stochastic simulation of a continuum of households (Young 2010)."""

  def __init__(self, econ: ks.KrusellSmith, k_grid: grids_lib.PowerGrid,
               K_grid: grids_lib.PowerGrid, n_fine: int):
    self.econ, self.kg, self.Kg = econ, k_grid, K_grid
    self.fine = grids_lib.PowerGrid(n_fine, 0.0, k_grid.x_max, 2.0)
    self.kf = self.fine.points

  def initial(self, z0: int, k0: float) -> np.ndarray:
    """All mass at k0 (split between neighbours), employment shares u(z0)."""
    dist = np.zeros((2, self.kf.size))
    i, w = self.fine.locate(np.array([k0]))
    share = self.econ.chain.stationary_e_given_z()[z0]
    for e in range(2):
      dist[e, i[0]] += share[e] * (1 - w[0])
      dist[e, i[0] + 1] += share[e] * w[0]
    return dist

  def run(self, savings: np.ndarray, z_path: np.ndarray, dist: np.ndarray):
    """K_t for t = 0..T (T = len(z_path) - 1) and the final distribution."""
    P_e = self.econ.chain.P_e
    K = np.empty(len(z_path))
    for t in range(len(z_path)):
      K[t] = np.sum(dist * self.kf)
      if t == len(z_path) - 1:
        break
      z, zn = z_path[t], z_path[t + 1]
      j, w = self.Kg.locate(np.array(K[t]))
      pol = (1 - w) * savings[z, :, j, :] + w * savings[z, :, j + 1, :]  # [e, i]
      new = np.stack([grids_lib.lottery(self.fine, np.interp(self.kf, self.kg.points, pol[e]),
                                        dist[e]) for e in range(2)])
      dist = P_e[z, zn].T @ new  # employment moves given (z, z')
    return K, dist


def regress_alm(K: np.ndarray, z: np.ndarray, t_discard: int):
  """OLS of ln K_{t+1} on ln K_t in each aggregate state: coefficients [2, 2] and R^2 [2]."""
  x, y, s = np.log(K[t_discard:-1]), np.log(K[t_discard + 1:]), z[t_discard:len(K) - 1]
  coef, r2 = np.zeros((2, 2)), np.zeros(2)
  for state in range(2):
    xs, ys = x[s == state], y[s == state]
    if xs.size < 3:
      raise RuntimeError(f'aggregate state {state} occurs {xs.size} times in the simulation; '
                         'increase ks_method.t_sim.')
    X = np.stack([np.ones_like(xs), xs], axis=1)
    beta, *_ = np.linalg.lstsq(X, ys, rcond=None)
    resid = ys - X @ beta
    coef[state], r2[state] = beta, 1 - resid.var() / ys.var()
  return coef, r2


def den_haan(K: np.ndarray, z: np.ndarray, alm: np.ndarray, t_discard: int):
  """Max and mean % gap between the ALM-alone K path and the simulated path (den Haan 2010)."""
  K = K[t_discard:]
  z = z[t_discard:t_discard + len(K)]
  lnK_hat = np.empty(len(K))
  lnK_hat[0] = np.log(K[0])
  for t in range(len(K) - 1):
    lnK_hat[t + 1] = alm[z[t], 0] + alm[z[t], 1] * lnK_hat[t]
  gap = 100 * np.abs(lnK_hat - np.log(K))
  return float(gap.max()), float(gap.mean())


def _simulate(method: KSMethodParams, econ, savings, k_grid, K_grid, z_path, seed: int,
              k0: float):
  """(K path, z path) of length len(z_path) under `savings`, by the chosen simulation method.

  The histogram follows `z_path`; the panel draws its own aggregate path from `seed`.
  """
  if method.simulation == 'histogram':
    hist = _Histogram(econ, k_grid, K_grid, method.n_fine)
    K, _ = hist.run(savings, z_path, hist.initial(z_path[0], k0))
    return K, z_path
  from deepham.conventional import ks_panel  # TF simulation, imported only when asked for
  return ks_panel.simulate(econ, savings, k_grid, K_grid, len(z_path) - 1,
                           method.n_households, seed, k0)


def solve(econ_params: ks.KSParams, method: KSMethodParams) -> KSSolution:
  """Runs the Krusell-Smith algorithm to convergence; returns the solution with its accuracy."""
  start = time.time()
  econ = ks.KrusellSmith(econ_params)
  k_grid = grids_lib.PowerGrid(method.n_k, 0.0, method.k_max, method.k_power)
  K_grid = grids_lib.PowerGrid(method.n_K, method.K_min, method.K_max, 1.0)
  hh = _Household(econ, k_grid, K_grid)
  rng = np.random.default_rng(method.seed)
  z_path = _markov_path(econ.chain.P_z, 0, method.t_sim, rng)

  alm = np.array([[0.0, 1.0], [0.0, 1.0]])
  cash = hh.cash()
  c = np.minimum(cash, (hh.R[:, None, :, None] - 1) * np.maximum(hh.k, 1.0) +
                 hh.income[..., None])  # consume interest and income: a positive first guess
  for it in range(1, method.max_iter + 1):
    c, n_egm = hh.solve(alm, c, method.tol_egm)
    savings = cash - c
    K, z = _simulate(method, econ, savings, k_grid, K_grid, z_path, method.seed,
                     econ_params.k_ss)
    alm_new, r2 = regress_alm(K, z, method.t_discard)
    diff = float(np.max(np.abs(alm_new - alm)))
    logging.info('KS iteration %3d: ALM bad %.6f %.6f, good %.6f %.6f, R2 %.7f %.7f, '
                 'change %.2e (EGM %d its)', it, *alm_new[0], *alm_new[1], *r2, diff, n_egm)
    if diff < method.tol_alm:
      alm = alm_new
      break
    alm = method.damping * alm_new + (1 - method.damping) * alm
  else:
    logging.warning('ALM did not converge in %d iterations (last change %.2e).',
                    method.max_iter, diff)
  c, _ = hh.solve(alm, c, method.tol_egm)
  savings = cash - c
  value = hh.evaluate(c, alm)

  # Accuracy on a fresh, long shock path.
  z_long = _markov_path(econ.chain.P_z, 0, method.t_den_haan, np.random.default_rng(
      method.seed + 1))
  K_long, z_long = _simulate(method, econ, savings, k_grid, K_grid, z_long, method.seed + 1,
                             float(np.mean(K[method.t_discard:])))
  dh_max, dh_mean = den_haan(K_long, z_long, alm, method.t_discard)
  K_stat = K_long[method.t_discard:]
  stats = dict(
      alm={'bad': alm[0].tolist(), 'good': alm[1].tolist()},
      r2={'bad': float(r2[0]), 'good': float(r2[1])},
      mean_K=float(K_stat.mean()), std_K=float(K_stat.std()),
      den_haan_max_pct=dh_max, den_haan_mean_pct=dh_mean,
      iterations=it, converged=bool(diff < method.tol_alm),
      simulation=method.simulation, seconds=time.time() - start)
  logging.info('KS solution: mean K %.4f, std K %.4f, R2 %s, den Haan max %.4f%% mean %.4f%%',
               stats['mean_K'], stats['std_K'], stats['r2'], dh_max, dh_mean)
  return KSSolution(k_grid=k_grid, K_grid=K_grid, alm=alm, savings=savings, consumption=c,
                    value=value, economy=dataclasses.asdict(econ_params), stats=stats)
