"""Stationary equilibrium of the Davila et al. (2012) market economy without aggregate shocks
(an Aiyagari economy): the conventional benchmark of the DeepHAM market run.

Given the interest rate r, the wage follows from the firm (w = (1-alpha)(K/L)^alpha with
K/L = (alpha / (r + delta))^(1/(1-alpha))); households solve their problem by the endogenous grid
method; the stationary distribution over (a, e) is the fixed point of a histogram on a fine asset
grid (Young 2010); capital supplied, the mean of a, is compared with capital demanded, and r is
found by bisection. The value function V(a, e) is the fixed point of policy evaluation.
"""

import dataclasses
import json
import os
import time

from absl import logging
import numpy as np
from scipy import sparse
from scipy.sparse import linalg as sparse_linalg
import tensorflow as tf

from deepham import errors
from deepham.conventional import grids as grids_lib
from deepham.economies import base
from deepham.economies import davila
from deepham.economies import markov


@dataclasses.dataclass(frozen=True)
class AiyagariMethodParams:
  n_a: int = 300  # asset grid of the household problem
  a_max: float = 3000.0
  a_power: float = 3.0
  n_fine: int = 3000  # asset grid of the distribution
  tol_egm: float = 1e-10
  tol_market: float = 1e-7  # |K supplied - K demanded| / K demanded at the solution
  max_bisect: int = 80

  def __post_init__(self):
    f = 'aiyagari.'
    for name in ('n_a', 'n_fine', 'max_bisect'):
      if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 5:
        raise errors.ConfigError(f'{f}{name} must be an integer >= 5; got {getattr(self, name)}.')
    if self.a_max <= 0 or self.a_power < 1 or self.tol_egm <= 0 or self.tol_market <= 0:
      raise errors.ConfigError(f'{f}a_max, tol_egm and tol_market must be positive and '
                               'a_power >= 1.')

  @classmethod
  def from_config(cls, cfg) -> 'AiyagariMethodParams':
    return cls(**dict(cfg))


@dataclasses.dataclass
class AiyagariSolution:
  a_grid: grids_lib.PowerGrid
  savings: np.ndarray  # [e, i] a'(a_i, e)
  consumption: np.ndarray  # [e, i]
  value: np.ndarray  # [e, i]
  economy: dict
  stats: dict

  def save(self, path: str) -> None:
    g = self.a_grid
    tmp = path + '.tmp.npz'
    np.savez_compressed(tmp, a_grid_spec=np.array([g.n, g.x_min, g.x_max, g.power]),
                        savings=self.savings, consumption=self.consumption, value=self.value,
                        meta=np.array(json.dumps(dict(economy=self.economy, stats=self.stats))))
    os.replace(tmp, path)

  @classmethod
  def load(cls, path: str) -> 'AiyagariSolution':
    if not os.path.exists(path):
      raise FileNotFoundError(f'no Aiyagari solution at {path}; create it with `python run.py '
                              '--config=configs/davila_aiyagari.py --workdir=DIR`.')
    try:
      with np.load(path, allow_pickle=False) as f:
        spec, meta = f['a_grid_spec'], json.loads(str(f['meta']))
        return cls(grids_lib.PowerGrid(int(spec[0]), *map(float, spec[1:])), f['savings'],
                   f['consumption'], f['value'], meta['economy'], meta['stats'])
    except (KeyError, ValueError, OSError) as exc:
      raise errors.WorkdirError(f'{path} is not a readable Aiyagari solution ({exc}).') from exc

  def summary(self) -> dict:
    return dict(self.stats)


class _Household:

  def __init__(self, econ: davila.Davila, grid: grids_lib.PowerGrid):
    p = econ.params
    self.econ, self.grid, self.a = econ, grid, grid.points
    self.e = np.asarray(p.e_values)
    self.P = np.asarray(p.transition)
    self.beta, self.sigma = p.beta, p.sigma

  def solve(self, r: float, w: float, c: np.ndarray, tol: float, max_iter=50_000):
    cash = (1 + r) * self.a[None, :] + w * self.e[:, None]
    for _ in range(max_iter):
      emu = (1 + r) * self.P @ c ** (-self.sigma)  # [e, m] at a' = grid point m
      c_endo = (self.beta * emu) ** (-1 / self.sigma)
      a_endo = (c_endo + self.a[None, :] - w * self.e[:, None]) / (1 + r)
      c_new = grids_lib.egm_on_grid(self.a, a_endo, c_endo, cash)
      if np.max(np.abs(c_new - c) / c) < tol:
        return c_new, cash
      c = c_new
    logging.warning('EGM did not reach tol_egm at r = %.6f', r)
    return c, cash

  def evaluate(self, c: np.ndarray, savings: np.ndarray) -> np.ndarray:
    """V(a, e) = u(c) + beta E V(a', e'), by a sparse linear solve."""
    n_e, n_a = c.shape
    i, w = self.grid.locate(np.clip(savings, 0, self.grid.x_max))
    w = np.clip(w, 0, 1)
    rows, cols, vals = [], [], []
    for e in range(n_e):
      for ep in range(n_e):
        if self.P[e, ep] == 0:
          continue
        for di, wi in ((0, 1 - w[e]), (1, w[e])):
          rows.append(e * n_a + np.arange(n_a))
          cols.append(ep * n_a + i[e] + di)
          vals.append(self.P[e, ep] * wi)
    M = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n_e * n_a, n_e * n_a))
    u = self.econ.utility(tf.constant(c)).numpy().ravel()
    A = sparse.identity(n_e * n_a, format='csc') - self.beta * M.tocsc()
    return sparse_linalg.spsolve(A, u).reshape(n_e, n_a)


def _stationary(hh: _Household, fine: grids_lib.PowerGrid, savings: np.ndarray,
                tol: float = 1e-13, max_iter: int = 100_000) -> np.ndarray:
  """Stationary distribution [e, fine point] under the savings policy (histogram iteration)."""
  kf = fine.points
  targets = [np.interp(kf, hh.a, savings[e]) for e in range(len(hh.e))]
  dist = np.outer(markov.stationary(hh.P), np.ones(fine.n) / fine.n)
  for _ in range(max_iter):
    moved = np.stack([grids_lib.lottery(fine, targets[e], dist[e]) for e in range(len(hh.e))])
    new = hh.P.T @ moved
    if np.max(np.abs(new - dist)) < tol:
      return new
    dist = new
  logging.warning('stationary distribution: no convergence')
  return dist


def _gini_of_distribution(values: np.ndarray, mass: np.ndarray) -> float:
  order = np.argsort(values)
  v, m = values[order], mass[order]
  cum_m = np.cumsum(m)
  cum_v = np.cumsum(v * m)
  total = cum_v[-1]
  # Gini = 1 - sum over points of m_i (S_{i-1} + S_i) / total (trapezoid under the Lorenz curve).
  prev = np.concatenate([[0.0], cum_v[:-1]])
  return float(1 - np.sum(m * (prev + cum_v)) / total) if cum_m[-1] > 0 else 0.0


def solve(econ_params: davila.DavilaParams, method: AiyagariMethodParams) -> AiyagariSolution:
  """Bisection on r until the capital market clears."""
  if econ_params.aggregate_shocks:
    raise errors.ConfigError('economy.aggregate_shocks must be False for the Aiyagari benchmark.')
  start = time.time()
  econ = davila.Davila(econ_params)
  p = econ_params
  L = float(p.L[0])
  grid = grids_lib.PowerGrid(method.n_a, 0.0, method.a_max, method.a_power)
  fine = grids_lib.PowerGrid(method.n_fine, 0.0, method.a_max, method.a_power)
  hh = _Household(econ, grid)

  def wage(r):
    return (1 - p.alpha) * (p.alpha / (r + p.delta)) ** (p.alpha / (1 - p.alpha))

  def demand(r):
    return L * (p.alpha / (r + p.delta)) ** (1 / (1 - p.alpha))

  c = 0.5 * ((1 + 0.02) * grid.points[None, :] + wage(0.02) * hh.e[:, None]) + 1e-3
  lo, hi = -p.delta + 1e-3, 1 / p.beta - 1 - 1e-4
  for it in range(method.max_bisect):
    r = 0.5 * (lo + hi)
    c, cash = hh.solve(r, wage(r), c, method.tol_egm)
    dist = _stationary(hh, fine, cash - c)
    supply = float(np.sum(dist * fine.points))
    excess = (supply - demand(r)) / demand(r)
    logging.info('Aiyagari bisection %2d: r = %.6f%%, K supplied %.4f, demanded %.4f', it,
                 100 * r, supply, demand(r))
    if abs(excess) < method.tol_market:
      break
    lo, hi = (lo, r) if excess > 0 else (r, hi)
  savings = cash - c
  value = hh.evaluate(c, savings)
  c_fine = np.stack([np.interp(fine.points, grid.points, c[e]) for e in range(len(hh.e))])
  stats = dict(K=supply, r=float(r), r_pct=100 * float(r), w=float(wage(r)),
               market_clearing_error=float(excess),
               wealth_gini=_gini_of_distribution(np.tile(fine.points, len(hh.e)), dist.ravel()),
               consumption_gini=_gini_of_distribution(c_fine.ravel(), dist.ravel()),
               mass_at_top=float(dist[:, -5:].sum()), seconds=time.time() - start)
  logging.info('Aiyagari equilibrium: K = %.4f, r = %.4f%%, wealth Gini %.4f, consumption Gini '
               '%.4f', stats['K'], stats['r_pct'], stats['wealth_gini'], stats['consumption_gini'])
  return AiyagariSolution(grid, savings, c, value, dataclasses.asdict(econ_params), stats)


class Benchmark:
  """An Aiyagari solution used in the N-agent Davila economy (prices from that economy's K)."""
  key = 'aiyagari'  # summary.json key
  name = 'Aiyagari (stationary)'
  aggregate_forecast = None  # its agents expect constant prices

  def __init__(self, solution: AiyagariSolution, economy: davila.Davila):
    self.solution, self.economy = solution, economy
    for key in ('beta', 'sigma', 'alpha', 'delta'):
      if not np.isclose(solution.economy[key], getattr(economy.params, key)):
        raise errors.ConfigError(f'the Aiyagari benchmark was solved with {key}='
                                 f'{solution.economy[key]}; economy.{key} differs.')

  def _table(self, name, state):
    return self.solution.a_grid.lookup_tf(getattr(self.solution, name), state.x[..., 0],
                                          state.e)  # tables [e, i]

  def policy(self, state, aggregates):
    cash = self.economy.cash(state, aggregates)
    saving = tf.clip_by_value(self._table('savings', state), 0.0, cash)
    return tf.clip_by_value(1 - saving / cash, base.MIN_SHARE, 1.0)[..., None]

  def raw(self, dist):
    return dist[..., :0]  # the stationary value ignores the cross-section

  def evaluate(self, own, mean_raw):
    return self._table('value', own)

  def conditional_policy(self, own, reference):
    return self.policy(own, self.economy.aggregates(reference))
