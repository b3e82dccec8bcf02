"""A Krusell-Smith-type solution of the FVHN economy with aggregate shocks (deepham/economies/
fvhn.py, sigma > 0): the conventional method DeepHAM is compared with there.

The aggregate state is S = (B, N). The expert's net worth moves by its own law,
N' = N + mu_N(B, N) dt + K sigma sqrt(dt) omega, which households know; bonds B = mean a are
forecast by a perceived law of motion (PLM), log-linear in the aggregate state:

    log B' = b0 + b1 log B + b2 log N,

estimated by simulating the continuum economy under the households' policy and iterated to a
fixed point (damped), as Krusell and Smith do with the mean of capital.

Household problem, given the PLM: the endogenous grid method (EGM) on a grid of (z, B, N, a),
flow consumption c, C = c dt spent per step, the Euler equation

    u'(c) = beta E[(1 + r(S') dt) u'(c(a', z', S'))],

the expectation exact over z' and by Gauss-Hermite quadrature over omega, c' bilinear in
(B', N') at the grid points a' (EGM's grid is the grid of a'), and the borrowing constraint
where the endogenous grid starts above a = 0. Then the value V(a, z, S) of the policy (policy
evaluation on the same grid, trilinear interpolation, a sparse transition matrix).

Continuum simulation (for the PLM): the distribution on the a grid (Young's lottery between
the two grid points around each a'), B' its mean, N' from one path of omega draws.

Off the grid in (B, N) every table is clamped to the grid's edges (the simulation reports how
often the economy went there); in a it is interpolated linearly, extrapolated above a_max.

File format (`.npz`, `format_version` 1): `consumption` and `value` [z, B, N, a]; the grids'
specs [n, min, max, power]; `plm` (b0, b1, b2); `meta` JSON (the economy's parameters and the
solver's statistics).
"""

import dataclasses
import json
import os
import time

from absl import logging
import numpy as np
from scipy import sparse
import tensorflow as tf

from deepham import errors
from deepham.conventional import grids as grids_lib
from deepham.economies import base
from deepham.economies import fvhn
from deepham.economies import params as params_lib

FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Options(params_lib.Params):
  """Grids and stopping rules of the solver."""
  n_a: int = 100
  a_max: float = 40.0
  a_power: float = 2.0  # a grid dense near the constraint
  n_B: int = 9
  B_range: tuple = (0.8, 3.2)
  n_N: int = 25
  N_range: tuple = (0.8, 3.2)
  egm_tol: float = 1e-8  # max |c_new - c| of the household problem
  egm_max: int = 20_000
  value_tol: float = 1e-9
  periods: int = 6000  # continuum simulation for the PLM
  burn: int = 500
  damping: float = 0.2  # share of each new PLM estimate taken (0.5 cycles)
  plm_tol: float = 1e-5  # max change of the PLM's coefficients
  outer_max: int = 80
  seed: int = 0

  def __post_init__(self):
    def need(ok, field, rule):
      if not ok:
        raise errors.ConfigError(f'jfv_method.{field} must {rule}; got {getattr(self, field)}.')
    for field, low in (('n_a', 10), ('n_B', 2), ('n_N', 2), ('egm_max', 1), ('outer_max', 1)):
      value = getattr(self, field)
      need(int(value) == value and value >= low, field, f'be an integer >= {low}')
    for field in ('B_range', 'N_range'):
      lo_hi = getattr(self, field)
      need(len(lo_hi) == 2 and 0 < lo_hi[0] < lo_hi[1], field, 'be (low, high), 0 < low < high')
    need(self.a_max > 0 and self.a_power >= 1, 'a_max', 'be positive (and a_power >= 1)')
    need(0 < self.damping <= 1, 'damping', 'lie in (0, 1]')
    need(0 <= self.burn < self.periods - 10, 'burn', 'leave at least 10 of the periods')
    for field in ('egm_tol', 'value_tol', 'plm_tol'):
      need(getattr(self, field) > 0, field, 'be positive')


@dataclasses.dataclass
class Solution:
  a_grid: grids_lib.PowerGrid
  B_grid: grids_lib.PowerGrid
  N_grid: grids_lib.PowerGrid
  consumption: np.ndarray  # [z, B, N, a] flow consumption
  value: np.ndarray  # [z, B, N, a]
  plm: np.ndarray  # (b0, b1, b2)
  meta: dict

  def save(self, path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    spec = lambda g: np.array([g.n, g.x_min, g.x_max, g.power])
    tmp = path + '.tmp.npz'
    np.savez_compressed(tmp, format_version=FORMAT_VERSION, consumption=self.consumption,
                        value=self.value, plm=self.plm, a_grid_spec=spec(self.a_grid),
                        B_grid_spec=spec(self.B_grid), N_grid_spec=spec(self.N_grid),
                        meta=json.dumps(self.meta))
    os.replace(tmp, path)

  def summary(self) -> dict:
    """summary.json's figures: the law of motion, its fit, and the simulated B and N."""
    m, last = self.meta, self.meta['history'][-1]
    return dict(mean_B=m['B_mean'], std_B=m['B_std'], mean_N=m['N_mean'], std_N=m['N_std'],
                plm=[float(b) for b in self.plm], plm_r2=last['r2'],
                plm_max_error_pct=last['max_error_pct'], converged=m['converged'],
                outer_iterations=len(m['history']), share_outside_grid=m['share_outside_grid'],
                seconds=m['seconds'])

  @classmethod
  def load(cls, path: str) -> 'Solution':
    if not os.path.isfile(path):
      raise errors.ConfigError(f'no FVHN KS-type solution at {path!r}: make one with python '
                               'run.py --config=configs/jfv_benchmark.py --workdir=DIR (it '
                               'writes DIR/jfv_solution.npz)')
    with np.load(path, allow_pickle=False) as f:
      if int(f['format_version']) != FORMAT_VERSION:
        raise errors.ConfigError(f'{path!r} has format {int(f["format_version"])}; this deepham '
                                 f'reads {FORMAT_VERSION}.')
      grid = lambda k: grids_lib.PowerGrid(int(f[k][0]), float(f[k][1]), float(f[k][2]),
                                           float(f[k][3]))
      return cls(grid('a_grid_spec'), grid('B_grid_spec'), grid('N_grid_spec'),
                 f['consumption'], f['value'], f['plm'], json.loads(str(f['meta'])))


def _locate(grid: grids_lib.PowerGrid, x: np.ndarray, clamp: bool):
  """(i, w) of x on grid; clamp: w in [0, 1] (the grid's edge values beyond it)."""
  i, w = grid.locate(np.asarray(x, np.float64))
  return i, (np.clip(w, 0.0, 1.0) if clamp else w)


def _bilinear_BN(table, iB, wB, iN, wN):
  """table[..., B, N, a] at (B, N) given by indices/weights [...S] broadcast over a: returns
  [..., *S.shape, a] for tables whose leading axes broadcast with S."""
  t = lambda di, dj: table[..., iB + di, iN + dj, :]
  wB, wN = wB[..., None], wN[..., None]
  return ((1 - wB) * ((1 - wN) * t(0, 0) + wN * t(0, 1))
          + wB * ((1 - wN) * t(1, 0) + wN * t(1, 1)))


class Solver:
  """The KS-type method for an FVHN economy (its parameters: economy.params)."""

  def __init__(self, economy: fvhn.FVHN, options: Options = Options()):
    if economy.sigma <= 0:
      raise errors.ConfigError('the KS-type method is for the economy with aggregate shocks '
                               '(economy.aggregate_shocks=True, economy.sigma > 0).')
    self.economy, self.options = economy, options
    p, o = economy.params, options
    self.p = p
    self.a_grid = grids_lib.PowerGrid(o.n_a, 0.0, o.a_max, o.a_power)
    self.B_grid = grids_lib.PowerGrid(o.n_B, *o.B_range)
    self.N_grid = grids_lib.PowerGrid(o.n_N, *o.N_range)
    self.a = self.a_grid.points
    B, N = np.meshgrid(self.B_grid.points, self.N_grid.points, indexing='ij')  # [nB, nN]
    self.B, self.N = B, N
    self.r, self.w = economy.prices(B, N)
    self.z = np.asarray(p.z_values)
    self.P = economy.chain.P_e[0, 0]  # [z, z'] of the households' productivity
    nodes, self.weights = economy.aggregate_quadrature()
    self.N_next = np.stack([economy.next_net_worth(B, N, o_[0]) for o_ in nodes])  # [Q, nB, nN]
    self.iN, self.wN = _locate(self.N_grid, self.N_next, clamp=True)

  # --- the household problem ---------------------------------------------------------------------
  def _cash(self):
    """[z, nB, nN, na] cash on hand at every grid state."""
    dt = self.p.dt
    return ((1 + self.r * dt)[None, :, :, None] * self.a
            + (self.w[None] * self.z[:, None, None])[..., None] * dt)

  def egm(self, plm: np.ndarray, c: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Flow consumption [z, nB, nN, na] of the household problem under the PLM, and the
    iterations EGM took, from `c` (default: consume the income)."""
    p, o, dt, g = self.p, self.options, self.p.dt, self.p.gamma
    B_next = np.exp(plm[0] + plm[1] * np.log(self.B) + plm[2] * np.log(self.N))  # [nB, nN]
    iB, wB = _locate(self.B_grid, B_next, clamp=True)
    gross = 1 + self.economy.prices(B_next[None], self.N_next)[0] * dt  # [Q, nB, nN]
    cash = self._cash()
    if c is None:
      c = np.maximum(cash - self.a, 1e-3 * cash) / dt
    a_row = np.broadcast_to(self.a, cash.shape)
    for it in range(1, o.egm_max + 1):
      emu = 0.0
      for q, wq in enumerate(self.weights):
        c_next = _bilinear_BN(c, iB, wB, self.iN[q], self.wN[q])  # [z', nB, nN, na]
        mu = gross[q][None, :, :, None] * c_next ** (-g)
        emu = emu + wq * np.einsum('zy,yjki->zjki', self.P, mu)
      c_endo = (p.beta * emu) ** (-1 / g)
      # The a that leads to each a' on the grid: cash = a' + c dt.
      a_endo = (((self.a + c_endo * dt)
                 - (self.w[None] * self.z[:, None, None])[..., None] * dt)
                / (1 + self.r * dt)[None, :, :, None])
      c_new = _interp_rows(a_row, a_endo, c_endo)
      constrained = a_row < a_endo[..., :1]
      c_new = np.where(constrained, cash / dt, c_new)  # a' = 0: consume all cash
      c_new = np.minimum(c_new, cash / dt)
      gap = np.max(np.abs(c_new - c))
      c = c_new
      if gap < o.egm_tol:
        return c, it
    logging.warning('FVHN KS-type: EGM stopped after %d iterations (gap %.2e).', o.egm_max, gap)
    return c, o.egm_max

  def value(self, plm: np.ndarray, c: np.ndarray) -> np.ndarray:
    """V [z, nB, nN, na] of the policy c under the PLM (policy evaluation)."""
    p, dt = self.p, self.p.dt
    nz, nB, nN, na = c.shape
    B_next = np.exp(plm[0] + plm[1] * np.log(self.B) + plm[2] * np.log(self.N))
    iB, wB = _locate(self.B_grid, B_next, clamp=True)
    a_next = self._cash() - c * dt
    ia, wa = _locate(self.a_grid, a_next, clamp=False)  # [z, nB, nN, na]
    rows, cols, vals = [], [], []
    state = np.arange(nz * nB * nN * na).reshape(c.shape)
    jB = np.broadcast_to(iB[None, :, :, None], c.shape)
    vB = np.broadcast_to(wB[None, :, :, None], c.shape)
    for q, wq in enumerate(self.weights):
      kN = np.broadcast_to(self.iN[q][None, :, :, None], c.shape)
      vN = np.broadcast_to(self.wN[q][None, :, :, None], c.shape)
      for zn in range(nz):
        pz = self.P[:, zn][:, None, None, None]
        for dB, fB in ((0, 1 - vB), (1, vB)):
          for dN, fN in ((0, 1 - vN), (1, vN)):
            for da, fa in ((0, 1 - wa), (1, wa)):
              target = ((zn * nB + jB + dB) * nN + kN + dN) * na + ia + da
              rows.append(state.ravel())
              cols.append(target.ravel())
              vals.append((wq * pz * fB * fN * fa).ravel())
    T = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(c.size, c.size))
    u = (dt * self.economy.utility(c)).ravel()
    v = u / (1 - p.beta)
    for _ in range(200_000):
      v_new = u + p.beta * (T @ v)
      if np.max(np.abs(v_new - v)) < self.options.value_tol:
        v = v_new
        break
      v = v_new
    return v.reshape(c.shape)

  # --- the continuum's simulation and the PLM ----------------------------------------------------
  def simulate(self, c: np.ndarray, omega: np.ndarray, B0: float, N0: float):
    """Paths of B and N [T + 1] of the continuum under policy c, from the stationary
    distribution of z and a at a = B0, for the innovations omega [T]."""
    p, dt = self.p, self.p.dt
    na = len(self.a)
    pi = self.economy.chain.stationary_e_given_z()[0]
    g = np.zeros((2, na))
    i0, w0 = _locate(self.a_grid, np.array(B0), clamp=True)
    g[:, i0], g[:, i0 + 1] = pi * (1 - w0), pi * w0
    B, N = [B0], [N0]
    for t in range(len(omega)):
      iB, wB = _locate(self.B_grid, np.array(B[-1]), clamp=True)
      iN, wN = _locate(self.N_grid, np.array(N[-1]), clamp=True)
      c_t = _bilinear_BN(c, iB, wB, iN, wN)  # [z, na]
      r, w = self.economy.prices(B[-1], N[-1])
      cash = (1 + r * dt) * self.a + w * self.z[:, None] * dt
      a_next = np.clip(cash - c_t * dt, 0.0, None)
      ia, wa = _locate(self.a_grid, a_next, clamp=True)
      moved = np.zeros((2, na))
      for zi in range(2):
        moved[zi] = (np.bincount(ia[zi], g[zi] * (1 - wa[zi]), na)
                     + np.bincount(ia[zi] + 1, g[zi] * wa[zi], na))
      B.append(float(np.sum(g * a_next)))
      N.append(float(max(self.economy.next_net_worth(B[-2], N[-1], omega[t]),
                         self.economy.n_floor)))
      g = self.P.T @ moved
    return np.asarray(B), np.asarray(N)

  def solve(self) -> Solution:
    o = self.options
    start = time.time()
    omega = np.random.default_rng(o.seed).standard_normal(o.periods)
    B0, N0 = self.p.start
    plm = np.array([0.0, 1.0, 0.0])
    c, history = None, []
    for outer in range(1, o.outer_max + 1):
      c, iters = self.egm(plm, c)
      B, N = self.simulate(c, omega, B0, N0)
      X = np.stack([np.ones(o.periods - o.burn), np.log(B[o.burn:-1]), np.log(N[o.burn:-1])], 1)
      y = np.log(B[o.burn + 1:])
      new, *_ = np.linalg.lstsq(X, y, rcond=None)
      resid = y - X @ new
      r2 = 1 - resid.var() / y.var()
      change = float(np.max(np.abs(new - plm)))
      Bs, Ns = B[o.burn:], N[o.burn:]
      history.append(dict(outer=outer, egm_iterations=iters, plm=new.tolist(), r2=float(r2),
                          max_error_pct=float(100 * np.abs(resid).max()), change=change,
                          B_range=[float(Bs.min()), float(Bs.max())],
                          N_range=[float(Ns.min()), float(Ns.max())]))
      logging.info('FVHN KS-type, outer %d: EGM %d iterations; PLM %s, R2 %.8f, max error %.4f%%, '
                   'change %.2e; B in [%.3f, %.3f], N in [%.3f, %.3f]', outer, iters,
                   np.round(new, 6), r2, 100 * np.abs(resid).max(), change, Bs.min(), Bs.max(),
                   Ns.min(), Ns.max())
      plm = o.damping * new + (1 - o.damping) * plm
      if change < o.plm_tol:
        plm = new
        break
    v = self.value(plm, c)
    meta = dict(economy=dataclasses.asdict(self.p), options=dataclasses.asdict(o),
                history=history, converged=bool(change < o.plm_tol), seconds=time.time() - start,
                B_mean=float(Bs.mean()), B_std=float(Bs.std()), N_mean=float(Ns.mean()),
                N_std=float(Ns.std()),
                share_outside_grid=float(np.mean((Bs < o.B_range[0]) | (Bs > o.B_range[1])
                                                 | (Ns < o.N_range[0]) | (Ns > o.N_range[1]))))
    return Solution(self.a_grid, self.B_grid, self.N_grid, c, v, plm, meta)


def _interp_rows(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
  """Linear interpolation (extrapolation beyond the ends) of each row of (xp, fp) at the row's
  x; rows along the last axis, xp increasing."""
  shape = xp.shape
  xp2, fp2, x2 = xp.reshape(-1, shape[-1]), fp.reshape(-1, shape[-1]), x.reshape(-1, shape[-1])
  idx = np.sum(x2[:, :, None] >= xp2[:, None, :], axis=-1) - 1
  idx = np.clip(idx, 0, shape[-1] - 2)
  rows = np.arange(xp2.shape[0])[:, None]
  x0, x1 = xp2[rows, idx], xp2[rows, idx + 1]
  f0, f1 = fp2[rows, idx], fp2[rows, idx + 1]
  return (f0 + (f1 - f0) * (x2 - x0) / (x1 - x0)).reshape(shape)


# Parameters a solution must share with the economy it is a benchmark for (the others, such as
# the number of households, the solver does not read).
_MATCHED = ('dt', 'rho', 'rho_hat', 'gamma', 'alpha', 'delta', 'z1', 'lambda1', 'lambda2',
            'aggregate_shocks', 'sigma')


class Benchmark:
  """The KS-type solution used in the N-household FVHN economy: each household's policy and
  value at its own a and z and its economy's (B, N), B being the cross-section's mean."""
  key = 'ks_type'  # summary.json key
  name = 'KS-type method'
  aggregate_forecast = None  # the shock is continuous: den Haan's statistic is not defined here

  def __init__(self, solution: Solution, economy: fvhn.FVHN):
    for field in _MATCHED:
      solved, used = solution.meta['economy'][field], getattr(economy.params, field)
      if not np.isclose(solved, used):
        raise errors.ConfigError(f'the KS-type solution was solved with {field}={solved}; '
                                 f'economy.{field} is {used}.')
    self.solution, self.economy = solution, economy

  def _lookup(self, table: np.ndarray, a, B, N, e):
    """table[e](B, N, a) for tensors of one shape; linear in a (extrapolated above the grid),
    bilinear in (B, N) clamped to the grid."""
    s = self.solution
    nB, nN, na = table.shape[1:]
    ia, wa = s.a_grid.locate_tf(a)
    iB, wB = s.B_grid.locate_tf(B)
    iN, wN = s.N_grid.locate_tf(N)
    wB, wN = tf.clip_by_value(wB, 0.0, 1.0), tf.clip_by_value(wN, 0.0, 1.0)
    flat = tf.constant(table.reshape(-1), a.dtype)
    index = ((tf.cast(e, tf.int32) * nB + iB) * nN + iN) * na + ia

    def along_a(offset):
      return ((1 - wa) * tf.gather(flat, index + offset)
              + wa * tf.gather(flat, index + offset + 1))

    low = (1 - wN) * along_a(0) + wN * along_a(na)
    high = (1 - wN) * along_a(nN * na) + wN * along_a(nN * na + na)
    return (1 - wB) * low + wB * high

  def policy(self, state, aggregates):
    a = state.x[..., 0]
    B = tf.broadcast_to(aggregates[:, :1], tf.shape(a))
    N = tf.broadcast_to(aggregates[:, 1:2], tf.shape(a))
    c = self._lookup(self.solution.consumption, a, B, N, state.e)
    cash = self.economy.cash(state, aggregates)
    share = c * self.economy.params.dt / cash
    return tf.clip_by_value(share, base.MIN_SHARE, 1.0)[..., None]

  def raw(self, dist):
    return dist[..., :1]  # bonds: their cross-sectional mean is B

  def evaluate(self, own, mean_raw):
    a = own.x[..., 0]
    B = tf.broadcast_to(mean_raw[..., 0], tf.shape(a))
    return self._lookup(self.solution.value, a, B, own.x[..., 1], own.e)

  def conditional_policy(self, own, reference):
    return self.policy(own, self.economy.aggregates(reference))




def solve(params: fvhn.FVHNParams, options: Options = Options()):
  """The conventional solution of the economy `params` describes: with aggregate shocks the
  KS-type method's (a Solution), without them the stationary equilibrium
  (jfv_stationary.StoredEquilibrium)."""
  economy = fvhn.FVHN(params)
  if economy.sigma > 0:
    return Solver(economy, options).solve()
  from deepham.conventional import jfv_stationary  # pylint: disable=g-import-not-at-top
  return jfv_stationary.StoredEquilibrium(jfv_stationary.Benchmark(economy).solution)


def load(path: str):
  """A stored solution of either kind (`solve`)."""
  with np.load(path, allow_pickle=False) as f:
    stationary = 'stationary' in f.files
  if stationary:
    from deepham.conventional import jfv_stationary  # pylint: disable=g-import-not-at-top
    return jfv_stationary.StoredEquilibrium.load(path)
  return Solution.load(path)
