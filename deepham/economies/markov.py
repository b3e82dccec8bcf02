"""Exogenous Markov chains: an aggregate state z and each agent's idiosyncratic state e.

The chain is stored in the form the simulation needs: the aggregate transition P_z[z, z'] and the
transition of one agent's state conditional on the aggregate move, P_e[z, z', e, e']. Agents'
idiosyncratic moves are independent given (z, z'). The joint one-agent chain is
P((z', e') | (z, e)) = P_z[z, z'] P_e[z, z', e, e'].

Draws use inverse-CDF sampling on uniforms, so the same uniforms give the same path in NumPy and in
TensorFlow, and the exogenous path never depends on the policy (common random numbers).
"""

import dataclasses

import numpy as np
import tensorflow as tf

from deepham import errors

_ROW_TOL = 1e-6


def check_stochastic(matrix, field: str) -> np.ndarray:
  """Returns `matrix` as an array, or raises ConfigError naming `field` if it is not stochastic."""
  m = np.asarray(matrix, dtype=np.float64)
  if m.ndim < 2 or m.shape[-1] != m.shape[-2]:
    raise errors.ConfigError(f'{field} must be a square matrix (or a stack of them); got shape '
                             f'{m.shape}.')
  if not np.all(np.isfinite(m)) or np.any(m < 0):
    raise errors.ConfigError(f'{field} must have finite, non-negative entries.')
  sums = m.sum(axis=-1)
  if np.max(np.abs(sums - 1)) > _ROW_TOL:
    raise errors.ConfigError(f'every row of {field} must sum to 1; row sums are '
                             f'{np.round(sums, 8).tolist()}.')
  return m


def stationary(P: np.ndarray) -> np.ndarray:
  """Stationary distribution of a stochastic matrix (left eigenvector for eigenvalue 1)."""
  vals, vecs = np.linalg.eig(P.T)
  v = np.real(vecs[:, np.argmin(np.abs(vals - 1))])
  return v / v.sum()


@dataclasses.dataclass(frozen=True)
class ExogenousChain:
  """Aggregate chain P_z [n_z, n_z] and conditional idiosyncratic chain P_e [n_z, n_z, n_e, n_e]."""
  P_z: np.ndarray
  P_e: np.ndarray

  @classmethod
  def from_joint(cls, joint, n_z: int, n_e: int, field: str = 'transition') -> 'ExogenousChain':
    """Builds the chain from a joint matrix over (z, e) ordered z-major: row z * n_e + e.

    The joint matrix must imply the same aggregate transition for every e (z is exogenous to
    the agents); otherwise a ConfigError names `field`.
    """
    J = check_stochastic(joint, field)
    if J.shape != (n_z * n_e, n_z * n_e):
      raise errors.ConfigError(f'{field} must be {n_z * n_e}x{n_z * n_e}; got {J.shape}.')
    J4 = J.reshape(n_z, n_e, n_z, n_e)  # [z, e, z', e']
    P_ze = J4.sum(axis=3)  # [z, e, z']: P(z' | z, e)
    if np.max(np.abs(P_ze - P_ze[:, :1, :])) > 1e-5:
      raise errors.ConfigError(f'{field} must imply one aggregate transition P(z\'|z) for every '
                               f'idiosyncratic state; got {np.round(P_ze, 6).tolist()}.')
    P_z = P_ze.mean(axis=1)
    P_e = np.transpose(J4, (0, 2, 1, 3)) / np.maximum(P_z[:, :, None, None], 1e-300)
    P_e = P_e / P_e.sum(axis=-1, keepdims=True)
    return cls(P_z=P_z, P_e=P_e)

  @classmethod
  def independent(cls, P_z, P_e_by_z, field: str = 'transition') -> 'ExogenousChain':
    """Chain where e' given e depends on z only through the matrix P_e_by_z[z] [n_z, n_e, n_e]."""
    P_z = check_stochastic(P_z, field + ' (aggregate)')
    P_e = check_stochastic(P_e_by_z, field)
    n_z = P_z.shape[0]
    return cls(P_z=P_z, P_e=np.broadcast_to(P_e[:, None], (n_z, n_z) + P_e.shape[1:]).copy())

  @property
  def n_z(self) -> int:
    return self.P_z.shape[0]

  @property
  def n_e(self) -> int:
    return self.P_e.shape[-1]

  def joint(self) -> np.ndarray:
    """Joint one-agent transition over (z, e), z-major: [n_z * n_e, n_z * n_e]."""
    J4 = self.P_z[:, :, None, None] * self.P_e  # [z, z', e, e']
    return np.transpose(J4, (0, 2, 1, 3)).reshape(self.n_z * self.n_e, self.n_z * self.n_e)

  def stationary_z(self) -> np.ndarray:
    return stationary(self.P_z)

  def stationary_e_given_z(self) -> np.ndarray:
    """[n_z, n_e]: the cross-sectional distribution of e in a large economy whose current state is z.

    For chains built so that this share is determined by z alone (KS: unemployment u(z)), this is
    the share every large cross-section has after a move into z.
    """
    pi = stationary(self.joint()).reshape(self.n_z, self.n_e)
    return pi / pi.sum(axis=1, keepdims=True)

  # --- sampling (TensorFlow, inside graphs) ------------------------------------------------------
  def next_z(self, z: tf.Tensor, u: tf.Tensor) -> tf.Tensor:
    """z: [B] int32 current state; u: [B] uniforms. Returns z' [B] int32."""
    cdf = tf.constant(np.cumsum(self.P_z, axis=1)[:, :-1], dtype=u.dtype)  # [n_z, n_z-1]
    return tf.reduce_sum(tf.cast(u[:, None] > tf.gather(cdf, z), tf.int32), axis=-1)

  def next_e(self, z: tf.Tensor, z_next: tf.Tensor, e: tf.Tensor, u: tf.Tensor) -> tf.Tensor:
    """z, z_next: [B]; e: [B, N] int32; u: [B, N] uniforms. Returns e' [B, N] int32."""
    n_z, n_e = self.n_z, self.n_e
    if n_e == 1:
      return tf.zeros_like(e)
    cdf = np.cumsum(self.P_e, axis=-1)[..., :-1].reshape(n_z * n_z * n_e, n_e - 1)
    row = (z * n_z + z_next)[:, None] * n_e + e
    cdf_rows = tf.gather(tf.constant(cdf, dtype=u.dtype), row)  # [B, N, n_e - 1]
    return tf.reduce_sum(tf.cast(u[..., None] > cdf_rows, tf.int32), axis=-1)

  def draw_initial(self, n_paths: int, n_agents: int, rng: np.random.Generator):
    """Draws z [B] from the stationary aggregate distribution and e [B, N] given z."""
    z = rng.choice(self.n_z, size=n_paths, p=self.stationary_z())
    p_e = self.stationary_e_given_z()[z]  # [B, n_e]
    u = rng.random((n_paths, n_agents))
    e = (u[..., None] > np.cumsum(p_e, axis=1)[:, None, :-1]).sum(axis=-1)
    return z.astype(np.int32), e.astype(np.int32)
