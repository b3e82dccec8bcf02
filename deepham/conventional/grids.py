"""Grids with O(1) location, in NumPy and TensorFlow, for the conventional solvers.

A `PowerGrid` has points x_i = x_min + (x_max - x_min) (i / (n - 1))^power: dense near x_min where
policies bend (the borrowing limit), sparse at the top. power = 1 is a uniform grid. `locate`
returns the left index i and the weight w of the right neighbour, so that the linear interpolant
is (1 - w) f[i] + w f[i + 1]; outside the grid w extrapolates the end segment linearly.
"""

import dataclasses

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class PowerGrid:
  n: int
  x_min: float
  x_max: float
  power: float = 1.0

  @property
  def points(self) -> np.ndarray:
    return self.x_min + (self.x_max - self.x_min) * np.linspace(0, 1, self.n) ** self.power

  def locate(self, x):
    """(i, w) for NumPy arrays x: left neighbour index and right weight (may extrapolate)."""
    pts = self.points
    s = np.clip((np.asarray(x) - self.x_min) / (self.x_max - self.x_min), 0, 1)
    i = np.clip(np.floor(s ** (1 / self.power) * (self.n - 1)).astype(np.int64), 0, self.n - 2)
    # Rounding in the power can put x just left of pts[i]; step back one point when it does.
    i = np.where((i > 0) & (x < pts[i]), i - 1, i)
    i = np.where((i < self.n - 2) & (x >= pts[np.minimum(i + 1, self.n - 1)]), i + 1, i)
    w = (x - pts[i]) / (pts[i + 1] - pts[i])
    return i, w

  def locate_tf(self, x: tf.Tensor):
    """(i, w) for a TF tensor x, same conventions as `locate`."""
    pts = tf.constant(self.points, dtype=x.dtype)
    s = tf.clip_by_value((x - self.x_min) / (self.x_max - self.x_min), 0, 1)
    i = tf.cast(tf.floor(s ** (1 / self.power) * (self.n - 1)), tf.int32)
    i = tf.clip_by_value(i, 0, self.n - 2)
    i = tf.where((i > 0) & (x < tf.gather(pts, i)), i - 1, i)
    i = tf.where((i < self.n - 2) & (x >= tf.gather(pts, tf.minimum(i + 1, self.n - 1))), i + 1, i)
    left, right = tf.gather(pts, i), tf.gather(pts, i + 1)
    return i, (x - left) / (right - left)

  def lookup_tf(self, table: np.ndarray, x: tf.Tensor, row: tf.Tensor) -> tf.Tensor:
    """Linear interpolation (and extrapolation, as `locate_tf`) of table[row] at x, for a table
    [R, n] on this grid and x, row of one shape (per agent: the row of its idiosyncratic
    state)."""
    i, w = self.locate_tf(x)
    rows = tf.gather(tf.constant(table, x.dtype), row)  # [..., n]
    left = tf.gather(rows, i, batch_dims=len(x.shape))
    right = tf.gather(rows, i + 1, batch_dims=len(x.shape))
    return left + w * (right - left)


def interp_rows(x_query: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
  """Linear interpolation, with linear extrapolation, of each row of (xp, fp) at x_query.

  xp, fp: [..., m], xp increasing along the last axis; x_query: [q]. Returns [..., q].
  """
  xp2, fp2 = xp.reshape(-1, xp.shape[-1]), fp.reshape(-1, fp.shape[-1])
  out = np.empty((xp2.shape[0], x_query.shape[0]))
  for r in range(xp2.shape[0]):
    i = np.clip(np.searchsorted(xp2[r], x_query) - 1, 0, xp2.shape[1] - 2)
    w = (x_query - xp2[r, i]) / (xp2[r, i + 1] - xp2[r, i])
    out[r] = fp2[r, i] + w * (fp2[r, i + 1] - fp2[r, i])
  return out.reshape(xp.shape[:-1] + x_query.shape)


def egm_on_grid(grid: np.ndarray, x_endo: np.ndarray, c_endo: np.ndarray,
                cash: np.ndarray) -> np.ndarray:
  """Consumption on `grid` from the endogenous-grid points (x_endo, c_endo), [..., m] each.

  Below the first endogenous point the borrowing limit binds (save nothing, consume all cash);
  elsewhere consumption is interpolated and never exceeds cash on hand [..., n].
  """
  c = interp_rows(grid, x_endo, c_endo)
  binding = grid < x_endo[..., :1]
  return np.where(binding, cash, np.minimum(c, cash))


def lottery(fine: PowerGrid, x_next: np.ndarray, mass: np.ndarray) -> np.ndarray:
  """Moves `mass` at each fine-grid point to x_next, split between its two neighbours so that
  the mean is preserved (Young 2010). x_next, mass: [n_fine]."""
  i, w = fine.locate(np.clip(x_next, fine.x_min, fine.x_max))
  w = np.clip(w, 0, 1)
  n = fine.n
  return (np.bincount(i, mass * (1 - w), minlength=n) +
          np.bincount(i + 1, mass * w, minlength=n))
