"""Statistics of simulated paths: aggregates, welfare, inequality and the wealth distribution."""

import numpy as np
import tensorflow as tf

from deepham.economies import base
from deepham.solver import simulate


def gini(x: np.ndarray) -> np.ndarray:
  """Gini coefficient of each cross-section along the last axis (non-negative values)."""
  x = np.sort(np.maximum(x, 0), axis=-1)
  n = x.shape[-1]
  total = x.sum(axis=-1)
  ranks = np.arange(1, n + 1)
  g = (2 * (ranks * x).sum(axis=-1)) / (n * np.maximum(total, 1e-300)) - (n + 1) / n
  return np.where(total > 0, g, 0.0)


def path_statistics(economy: base.Economy, path: simulate.Path, burn: int) -> dict:
  """Aggregates, welfare, inequality and the wealth distribution of a simulated path.

  Ginis are computed each period over all agents of all paths (independent draws of the same
  economy: the large-population cross-section) and averaged over periods; the `_within`
  variants use each N-agent cross-section alone.
  """
  agg = path.aggregates.numpy()[burn:]
  T = path.utility.shape[0]
  disc = economy.beta ** np.arange(T)
  welfare = np.einsum('t,tbn->bn', disc, path.utility.numpy())
  x = path.states.x.numpy()[burn:, ..., 0]
  stats = {}
  for i, name in enumerate(economy.aggregate_names):
    stats[f'mean_{name}'] = float(agg[..., i].mean())
    stats[f'std_{name}'] = float(agg[..., i].std())
  if isinstance(economy, base.ConsumptionSavings):  # the return on saving
    R = economy.gross_return(tf.convert_to_tensor(agg.reshape(-1, agg.shape[-1])),
                             tf.reshape(path.z[burn:], [-1]))
    stats['mean_return'] = float(tf.reduce_mean(R)) - 1
  stats['welfare'] = float(welfare.mean())
  stats['wealth_gini'] = float(gini(x.reshape(x.shape[0], -1)).mean())
  stats['wealth_gini_within'] = float(gini(x).mean())
  if path.consumption is not None:
    c = path.consumption.numpy()[burn:]
    stats['consumption_gini'] = float(gini(c.reshape(c.shape[0], -1)).mean())
    stats['consumption_gini_within'] = float(gini(c).mean())
  for q in (1, 10, 25, 50, 75, 90, 99):
    stats[f'wealth_p{q}'] = float(np.percentile(x, q))
  stats['wealth_min'], stats['wealth_max'] = float(x.min()), float(x.max())
  if economy.state_floor is not None:  # households at or near the borrowing limit
    gap = x - economy.state_floor[0]
    stats['share_at_floor'] = float(np.mean(gap <= 1e-6 * (1 + np.abs(x))))
    stats['share_near_floor'] = float(np.mean(gap < 0.01 * x.mean()))
  return stats
