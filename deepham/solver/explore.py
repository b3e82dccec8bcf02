"""States beyond the simulated distribution, where a policy must be right too.

A policy trained only on the states its own simulations visit is untested, and can be far off,
where they do not go. For Krusell-Smith that is where the economics is: near the borrowing
constraint, which a distribution simulated under a policy that over-saves never reaches, and
above its range, which a policy that dissaves there never lets it reach. So chosen agents are
moved to states drawn over the whole region [floor, floor + reach (x_max - floor)] of each
endogenous state, x_max the largest value in the cross-sections at hand and the floor the
economy's lower bound (a borrowing limit, `Economy.state_floor`):

    x = floor + reach (x_max - floor) u^2,   u ~ U(0, 1),

a density falling as one over the square root of the distance to the floor: with reach 2, a
quarter of the draws within an eighth of x_max of the constraint, a quarter above 1.1 x_max.
Training moves the optimising agent of a share of the policy batch's paths (`policy.
explore_share`) and a share of all agents at the start of each value-data simulation
(`value.explore_share`), both with `policy.explore_reach`; validation evaluates every method on
probe agents over the same region.
"""

import numpy as np
import tensorflow as tf

from deepham.economies import base


def draw(u: tf.Tensor, floor: tf.Tensor, x_max: tf.Tensor, reach: float) -> tf.Tensor:
  """States for uniforms u [..., n_x] over [floor, floor + reach (x_max - floor)]."""
  return floor + reach * (x_max - floor) * tf.square(u)


def keep_common(x: tf.Tensor, reference: tf.Tensor, n_common: int) -> tf.Tensor:
  """x [S, G, n_x] with its last n_common columns (the economy's common states) set to those of
  the cross-sections `reference` [S, N, n_x], which every agent of a path holds alike."""
  if not n_common:
    return x
  common = tf.broadcast_to(reference[:, :1, -n_common:],
                           tf.concat([tf.shape(x)[:2], [n_common]], 0))
  return tf.concat([x[..., :-n_common], common], axis=-1)


def first_state_at(x0: tf.Tensor, reference: tf.Tensor) -> tf.Tensor:
  """x [S, G, n_x] of agents whose first endogenous state is x0 [S, G] and whose other ones are
  those of the first agent of their cross-section in `reference` [S, N, n_x] (the common states
  of every agent there): the states of figures and probes over the first state alone."""
  x0 = tf.cast(x0, reference.dtype)[..., None]
  if reference.shape[-1] == 1:
    return x0
  rest = tf.broadcast_to(reference[:, :1, 1:],
                         tf.concat([tf.shape(x0)[:2], [reference.shape[-1] - 1]], 0))
  return tf.concat([x0, rest], axis=-1)


def widen_agents(state: base.State, floor, moved: tf.Tensor, u: tf.Tensor,
                 reach: float, n_common: int = 0) -> base.State:
  """`state` with the agents where moved [B, N] is True put at explored states (uniforms
  u [B, N, n_x]); x_max is the largest x in `state`, per dimension. The last n_common columns
  (common states) stay as they are."""
  x = state.x
  floor = tf.constant(np.asarray(floor, dtype=np.float64), x.dtype)
  x_max = tf.reduce_max(tf.reshape(x, [-1, x.shape[-1]]), axis=0)
  drawn = keep_common(draw(tf.cast(u, x.dtype), floor, x_max, reach), x, n_common)
  x = tf.where(moved[..., None], drawn, x)
  return base.State(x, state.e, state.z)


def explore_batch(state: base.State, floor, share: float, reach: float, seed: tf.Tensor,
                  agents: int = 1, n_common: int = 0) -> base.State:
  """Each of agents 0..agents-1 of each path of `state` moved to an explored state with
  probability `share` (the agents a game's policy step optimises; in a planner's step some
  agents of N)."""
  s = tf.random.experimental.stateless_split(seed, 2)
  shape = tf.shape(state.e)
  chosen = tf.random.stateless_uniform([shape[0], agents], s[0]) < share
  moved = tf.concat([chosen, tf.zeros([shape[0], shape[1] - agents], tf.bool)], axis=1)
  return _widen(state, floor, moved, reach, s[1], n_common)


def explore_agents(state: base.State, floor, share: float, reach: float,
                   seed: tf.Tensor, n_common: int = 0) -> base.State:
  """Every agent of `state` moved to an explored state with probability `share` (the start of
  a value-data simulation: its targets then cover the tails, and the states after it are the
  simulation's own)."""
  s = tf.random.experimental.stateless_split(seed, 2)
  moved = tf.random.stateless_uniform(tf.shape(state.e), s[0]) < share
  return _widen(state, floor, moved, reach, s[1], n_common)


def _widen(state, floor, moved, reach, seed, n_common):
  u = tf.random.stateless_uniform(tf.concat([tf.shape(state.e), [state.x.shape[-1]]], 0), seed)
  return widen_agents(state, floor, moved, u, reach, n_common)
