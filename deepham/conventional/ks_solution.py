"""A Krusell-Smith solution on the (k, K) grid: storage, interpolation, and use as a benchmark.

File format (`.npz`, one file; `format_version` 1). Tables are indexed [z, eps, j, i]: aggregate
state z (0 bad, 1 good), employment eps (0, 1), K grid point j, k grid point i.

  savings       k'(k, K, z, eps)              consumption   c(k, K, z, eps) = cash - k'
  value         V(k, K, z, eps) under the ALM (policy evaluation, log utility)
  alm           [z, (intercept, slope)] of ln K' = a(z) + b(z) ln K
  k_grid, K_grid  the grid points; k_grid_spec, K_grid_spec  [n, min, max, power]
  meta          JSON: the economy's parameters and the solver's statistics

Off the grid, tables are interpolated bilinearly in (k, K) (linear extrapolation in k).
"""

import dataclasses
import json
import os

import numpy as np
import tensorflow as tf

from deepham import errors
from deepham.conventional import grids as grids_lib
from deepham.economies import base
from deepham.economies import ks

FORMAT_VERSION = 1
_TABLES = ('savings', 'consumption', 'value')


def bilinear(table: np.ndarray, k_grid: grids_lib.PowerGrid, K_grid: grids_lib.PowerGrid,
             k: tf.Tensor, K: tf.Tensor, z: tf.Tensor, eps: tf.Tensor) -> tf.Tensor:
  """table[z, eps](k, K) for tensors k [B, N], K [B, 1], z [B, 1] and eps [B, N]."""
  n_e, n_K, n_k = table.shape[1:]
  flat = tf.constant(table.reshape(-1), dtype=k.dtype)
  ik, wk = k_grid.locate_tf(k)
  jK, wK = K_grid.locate_tf(tf.broadcast_to(K, tf.shape(k)))
  base_idx = ((tf.cast(z, tf.int32) * n_e + tf.cast(eps, tf.int32)) * n_K + jK) * n_k + ik
  g = lambda off: tf.gather(flat, base_idx + off)
  low = (1 - wk) * g(0) + wk * g(1)
  high = (1 - wk) * g(n_k) + wk * g(n_k + 1)
  return (1 - wK) * low + wK * high


def grid_policy(economy: ks.KrusellSmith, savings: np.ndarray, k_grid, K_grid):
  """The consumption-share policy (state, aggregates) -> [B, N, 1] of a savings table."""
  def policy(state: base.State, aggregates: tf.Tensor) -> tf.Tensor:
    k, eps = state.x[..., 0], state.e
    z = state.z[:, None]
    kp = bilinear(savings, k_grid, K_grid, k, aggregates, z, eps)
    wealth = economy.wealth(k, tf.cast(eps, k.dtype), aggregates, z)
    share = 1 - tf.clip_by_value(kp, 0.0, wealth) / wealth
    return tf.clip_by_value(share, base.MIN_SHARE, 1.0)[..., None]
  return policy


@dataclasses.dataclass
class KSSolution:
  """Tables and accuracy statistics of a solved Krusell-Smith economy."""
  k_grid: grids_lib.PowerGrid
  K_grid: grids_lib.PowerGrid
  alm: np.ndarray
  savings: np.ndarray
  consumption: np.ndarray
  value: np.ndarray
  economy: dict
  stats: dict

  # --- files -------------------------------------------------------------------------------------
  def save(self, path: str) -> None:
    spec = lambda g: np.array([g.n, g.x_min, g.x_max, g.power])
    meta = dict(format_version=FORMAT_VERSION, economy=self.economy, stats=self.stats)
    tmp = path + '.tmp.npz'
    np.savez_compressed(tmp, k_grid=self.k_grid.points, K_grid=self.K_grid.points,
                        k_grid_spec=spec(self.k_grid), K_grid_spec=spec(self.K_grid),
                        alm=self.alm, savings=self.savings, consumption=self.consumption,
                        value=self.value, meta=np.array(json.dumps(meta)))
    os.replace(tmp, path)

  @classmethod
  def load(cls, path: str) -> 'KSSolution':
    """Reads a solution file; a missing or corrupt file raises an error that names it."""
    if not os.path.exists(path):
      raise FileNotFoundError(
          f'no Krusell-Smith solution at {path}; create it with '
          f'`python run.py --config=configs/ks_benchmark.py --workdir=DIR` (it writes '
          f'DIR/ks_solution.npz).')
    try:
      with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
      meta = json.loads(str(arrays['meta']))
      grid = lambda s: grids_lib.PowerGrid(int(s[0]), float(s[1]), float(s[2]), float(s[3]))
      sol = cls(k_grid=grid(arrays['k_grid_spec']), K_grid=grid(arrays['K_grid_spec']),
                alm=arrays['alm'], savings=arrays['savings'],
                consumption=arrays['consumption'], value=arrays['value'],
                economy=meta['economy'], stats=meta['stats'])
    except (KeyError, ValueError, OSError, json.JSONDecodeError) as exc:
      raise errors.WorkdirError(f'{path} is not a readable Krusell-Smith solution file '
                                f'({type(exc).__name__}: {exc}).') from exc
    if meta.get('format_version') != FORMAT_VERSION:
      raise errors.WorkdirError(f'{path} has format_version {meta.get("format_version")}; this '
                                f'deepham reads version {FORMAT_VERSION}.')
    expected = (2, 2, sol.K_grid.n, sol.k_grid.n)
    for name in _TABLES:
      table = getattr(sol, name)
      if table.shape != expected or not np.all(np.isfinite(table)):
        raise errors.WorkdirError(f'{path}: table {name} has shape {table.shape} (expected '
                                  f'{expected}) or non-finite entries.')
    return sol

  def summary(self) -> dict:
    """The headline figures, as plain numbers (what summary.json holds)."""
    keys = ('alm', 'r2', 'mean_K', 'std_K', 'den_haan_max_pct', 'den_haan_mean_pct', 'seconds')
    return {k: self.stats[k] for k in keys if k in self.stats}

  # --- evaluation --------------------------------------------------------------------------------
  def check_economy(self, params: ks.KSParams) -> None:
    """Raises if the solution was computed for other economic parameters than `params`."""
    mine = dict(self.economy)
    theirs = dataclasses.asdict(params)
    for key in ('beta', 'alpha', 'delta', 'l_bar', 'mu'):
      if not np.isclose(mine[key], theirs[key]):
        raise errors.ConfigError(
            f'the Krusell-Smith benchmark was solved with {key}={mine[key]}, but the economy has '
            f'economy.{key}={theirs[key]}; regenerate it with configs/ks_benchmark.py.')

  def interpolate(self, name: str, k, K, z, eps) -> tf.Tensor:
    """Table `name` at (k [B, N], K [B, 1], z [B, 1], eps [B, N])."""
    k = tf.convert_to_tensor(k)
    return bilinear(getattr(self, name), self.k_grid, self.K_grid, k,
                    tf.cast(K, k.dtype), z, eps)

  def policy(self, economy: ks.KrusellSmith):
    """The consumption-share policy of this solution, for the N-agent simulation."""
    self.check_economy(economy.params)
    return grid_policy(economy, self.savings, self.k_grid, self.K_grid)

  def state_value(self, economy: ks.KrusellSmith, state: base.State) -> tf.Tensor:
    """V(k_i, K, z, eps_i) for every agent of a cross-section: [B, N]."""
    K = economy.aggregates(state)
    return self.interpolate('value', state.x[..., 0], K, state.z[:, None], state.e)


class Benchmark:
  """A KS solution bound to an N-agent economy: the interface validation and warm starts use."""
  key = 'ks'  # summary.json key
  name = 'KS method'

  def __init__(self, solution: KSSolution, economy: ks.KrusellSmith):
    self.solution, self.economy = solution, economy
    self.policy = solution.policy(economy)

  def value(self, state: base.State) -> tf.Tensor:
    return self.solution.state_value(self.economy, state)

  # The value interface of validation (see deepham/validation/methods.py): V depends on the
  # cross-section through K, the mean of each agent's contribution k.
  def raw(self, dist: tf.Tensor) -> tf.Tensor:
    return dist

  def evaluate(self, own: base.State, mean_raw: tf.Tensor) -> tf.Tensor:
    K = tf.broadcast_to(mean_raw[..., 0], tf.shape(own.e))
    return self.solution.interpolate('value', own.x[..., 0], K, own.z[:, None], own.e)

  def aggregate_forecast(self, K0: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The aggregate path [T, B] the KS method's agents expect: K_0 = K0 [B], then
    ln K_{t+1} = a(z_t) + b(z_t) ln K_t along the aggregate states z [T, B] (den Haan 2010)."""
    alm = np.asarray(self.solution.alm)
    K = [np.asarray(K0, np.float64)]
    for t in range(z.shape[0] - 1):
      a, b = alm[z[t], 0], alm[z[t], 1]
      K.append(np.exp(a + b * np.log(K[-1])))
    return np.stack(K)

  def conditional_policy(self, own: base.State, reference: base.State) -> tf.Tensor:
    """Actions of agents `own` [B, G] living in the cross-section `reference` [B, N]."""
    return self.policy(own, self.economy.aggregates(reference))
