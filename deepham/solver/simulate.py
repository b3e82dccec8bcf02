"""Roll an N-agent economy forward under a policy, inside compiled TensorFlow graphs.

`policy(state, aggregates) -> action [B, N, n_actions]` is any callable: the DeepHAM policy
network, a conventional solution (KS benchmark), or an economy's initial rule.

Shocks for period t of a simulation seeded with `seed` are drawn from the stateless seed
fold_in(seed, t): the same seed gives the same exogenous paths under every policy (common random
numbers), and a simulation split into pieces (with offsets) gives the same path as one piece.
The draws are made by TensorFlow's kernels, in chunks, outside XLA (XLA's stateless random
numbers are different numbers, and 20x slower on a CPU); the dynamics of each chunk then run in
one compiled, rolled `tf.range` loop, so the graph does not grow with the horizon.
"""

from typing import Callable, NamedTuple

import tensorflow as tf

from deepham.economies import base

Policy = Callable[[base.State, tf.Tensor], tf.Tensor]


def period_seed(seed: tf.Tensor, t) -> tf.Tensor:
  return tf.random.experimental.stateless_fold_in(seed, tf.cast(t, tf.int64))


def as_state(state, dtype) -> base.State:
  """A State of tensors with x in `dtype` and int32 indices, from arrays or tensors."""
  return base.State(x=tf.cast(tf.convert_to_tensor(state.x), dtype),
                    e=tf.cast(tf.convert_to_tensor(state.e), tf.int32),
                    z=tf.cast(tf.convert_to_tensor(state.z), tf.int32))


class Chunk(NamedTuple):
  state: base.State  # the state after the chunk
  discounted_utility: tf.Tensor  # [B, N]: sum over the chunk of beta^tau u_tau, tau from 0
  mean_utility: tf.Tensor  # []: mean period utility over the chunk


class Path(NamedTuple):
  aggregates: tf.Tensor  # [T, B, n_agg] aggregates of periods 0..T-1
  z: tf.Tensor  # [T, B] aggregate state of periods 0..T-1
  utility: tf.Tensor  # [T, B, N] period utilities
  state: base.State  # the state after period T-1
  states: base.State | None = None  # x [T, B, N, n_x], e [T, B, N], z [T, B] (keep_states)
  consumption: tf.Tensor | None = None  # [T, B, N] (keep_states, if the economy defines it)


class Simulator:
  """Compiled simulation of `economy` under `policy`; one trace serves every horizon.

  `utility_correction(state, next_state) -> [B, N]`, if given, is added to every period's
  utility (the value step's control variate, `value.martingale_correction`): the utilities this
  simulator reports are then corrected ones, with the same conditional mean.
  """

  def __init__(self, economy: base.Economy, policy: Policy, jit_compile: bool = True,
               chunk: int = 100, utility_correction: Callable | None = None):
    self.economy, self.policy, self.chunk = economy, policy, chunk
    self.utility_correction = utility_correction
    self._draw = tf.function(self._draw_impl)
    self._advance = tf.function(self._advance_impl, jit_compile=jit_compile)
    self._path = tf.function(self._path_impl)

  def _draw_impl(self, n_paths, seed, t0, n_periods, dtype):
    """Shocks of periods t0 .. t0 + n - 1, stacked: [n, B, ...]."""
    arrays = [tf.TensorArray(dtype, size=n_periods) for _ in base.Shocks._fields]
    for t in tf.range(n_periods):
      shocks = self.economy.draw_shocks(n_paths, period_seed(seed, t0 + tf.cast(t, tf.int64)),
                                        dtype)
      arrays = [a.write(t, s) for a, s in zip(arrays, shocks)]
    return base.Shocks(*[a.stack() for a in arrays])

  def _one_period(self, state, shocks, with_consumption=False):
    econ = self.economy
    aggregates = econ.aggregates(state)
    action = self.policy(state, aggregates)
    aggregates = econ.clear_markets(state, action, aggregates)
    nxt, u = econ.step(state, action, aggregates, shocks)
    if self.utility_correction is not None:
      u += self.utility_correction(state, nxt)
    if with_consumption:
      return nxt, u, econ.consumption(state, action, aggregates)
    return nxt, u

  def _advance_impl(self, state, shocks):
    dtype = state.x.dtype
    acc = tf.zeros(tf.shape(state.e), dtype)
    total = tf.zeros([], dtype)
    disc = tf.ones([], dtype)
    n = tf.shape(shocks.u_z)[0]
    for t in tf.range(n):
      state, u = self._one_period(state, base.Shocks(*[s[t] for s in shocks]))
      acc += disc * u
      total += tf.reduce_mean(u)
      disc *= self.economy.beta
    return Chunk(state, acc, total / tf.cast(tf.maximum(n, 1), dtype))

  def _path_impl(self, state, seed, t0, n_periods, keep_states=False):
    size = tf.cast(n_periods, tf.int32)
    dtype = state.x.dtype
    aggs = tf.TensorArray(dtype, size=size)
    zs = tf.TensorArray(tf.int32, size=size)
    us = tf.TensorArray(dtype, size=size)
    xs, es, cs = (tf.TensorArray(dtype, size=size), tf.TensorArray(tf.int32, size=size),
                  tf.TensorArray(dtype, size=size))
    with_c = keep_states and self.economy.has_consumption
    n_paths = tf.shape(state.z)[0]
    for t in tf.range(size):
      aggs = aggs.write(t, self.economy.aggregates(state))
      zs = zs.write(t, state.z)
      if keep_states:
        xs, es = xs.write(t, state.x), es.write(t, state.e)
      shocks = self.economy.draw_shocks(n_paths, period_seed(seed, t0 + tf.cast(t, tf.int64)),
                                        dtype)
      out = self._one_period(state, shocks, with_c)
      # The static shapes the loop started with (the shocks' batch size is only known at run
      # time, and a batch of one would otherwise change the loop variables' shapes).
      state = base.State(*[tf.ensure_shape(new, old.shape) for new, old in zip(out[0], state)])
      u = out[1]
      if with_c:
        cs = cs.write(t, out[2])
      us = us.write(t, u)
    if not keep_states:
      return Path(aggs.stack(), zs.stack(), us.stack(), state)
    z = zs.stack()
    return Path(aggs.stack(), z, us.stack(), state, base.State(xs.stack(), es.stack(), z),
                cs.stack() if with_c else None)

  def advance(self, state: base.State, seed, n_periods: int, t0: int = 0) -> Chunk:
    """Runs n_periods from `state`; shocks of period t use fold_in(seed, t0 + t)."""
    seed = tf.convert_to_tensor(seed, tf.int64)
    dtype = state.x.dtype
    acc = tf.zeros(tf.shape(state.e), dtype)
    total = tf.zeros([], dtype)
    for start in range(0, n_periods, self.chunk):
      n = min(self.chunk, n_periods - start)
      shocks = self._draw(tf.shape(state.z)[0], seed, tf.constant(t0 + start, tf.int64),
                          tf.constant(n), dtype)
      part = self._advance(state, shocks)
      state = part.state
      acc += self.economy.beta ** start * part.discounted_utility
      total += n * part.mean_utility
    return Chunk(state, acc, total / max(n_periods, 1))

  def path(self, state: base.State, seed, n_periods: int, t0: int = 0,
           keep_states: bool = False) -> Path:
    """Like `advance`, keeping every period's aggregates, aggregate state and utilities (and,
    with keep_states, every state and consumption)."""
    return self._path(state, tf.convert_to_tensor(seed, tf.int64),
                      tf.constant(t0, tf.int64), tf.constant(n_periods, tf.int64), keep_states)

  def snapshots(self, state: base.State, seed, n_periods: int, every: int, t0: int = 0,
                progress=None):
    """States at periods 0, every, 2 every, ... < n_periods, and the chunks' discounted sums.

    Returns (list of States at the start of each chunk, list of Chunk results). Periods are
    numbered from t0 for the shock seeds, so this continues any earlier simulation exactly.
    `progress` (a progress.Progress over n_periods) is told after each chunk.
    """
    states, chunks = [], []
    for start in range(0, n_periods, every):
      states.append(state)
      chunk = self.advance(state, seed, min(every, n_periods - start), t0 + start)
      chunks.append(chunk)
      state = chunk.state
      if progress is not None:
        progress.update(min(start + every, n_periods))
    return states, chunks
