"""Transformations of the cross-section at t = 0 for distribution experiments.

A transform maps a State [B, N] to a State of the same shape: the shocked path's cross-section
at t = 0 (experiments.redistribute). `parse` reads the shipped ones from a string; any callable
State -> State works too, and `check` refuses one whose states leave the economy's domain.
"""

import numpy as np
import tensorflow as tf

from deepham import errors
from deepham.economies import base

N_QUANTILES = 10


def rich_to_poor(share: float, groups: int = N_QUANTILES):
  """The richest 1/groups of each cross-section (by the first individual state) gives `share`
  of its wealth, in equal amounts to each of the poorest 1/groups; the mean is unchanged and
  everyone in between keeps their state (the seed's unanticipated redistribution)."""
  def transform(state: base.State) -> base.State:
    k = state.x[..., 0]
    N = k.shape[-1]
    n = max(N // groups, 1)
    order = tf.argsort(k, axis=-1)
    rank = tf.argsort(order, axis=-1)
    rich, poor = rank >= N - n, rank < n
    taken = share * tf.reduce_sum(tf.where(rich, k, 0.0), axis=-1, keepdims=True)
    k_new = tf.where(rich, (1 - share) * k, k) + tf.where(poor, taken / n, 0.0)
    return base.State(tf.concat([k_new[..., None], state.x[..., 1:]], -1), state.e, state.z)
  return transform


def transfer(amount: float):
  """Every household's first individual state raised by `amount` (negative: a levy)."""
  def transform(state: base.State) -> base.State:
    add = tf.one_hot(0, state.x.shape[-1], dtype=state.x.dtype) * amount
    return base.State(state.x + add, state.e, state.z)
  return transform


def destroy(share: float):
  """Every household's first individual state scaled by 1 - share (a capital destruction)."""
  def transform(state: base.State) -> base.State:
    scale = 1 - tf.one_hot(0, state.x.shape[-1], dtype=state.x.dtype) * share
    return base.State(state.x * scale, state.e, state.z)
  return transform


SHIPPED = {'rich_to_poor': rich_to_poor, 'transfer': transfer, 'destroy': destroy}
_ALLOWED = "'rich_to_poor=S' (0 < S < 1), 'transfer=V' or 'destroy=S' (0 < S < 1)"


def parse(spec: str):
  """(name, transform) for 'rich_to_poor=S', 'transfer=V' or 'destroy=S'."""
  key, sep, value = str(spec).replace(' ', '').partition('=')
  try:
    number = float(value)
  except ValueError:
    number = None
  share_ok = number is not None and 0 < number < 1
  if not sep or key not in SHIPPED or number is None or not np.isfinite(number) or (
      key != 'transfer' and not share_ok):
    raise errors.ConfigError(f'transform must be {_ALLOWED}, or a function State -> State; '
                             f'got {spec!r}.')
  return f'{key}={number:g}', SHIPPED[key](number)


def check(economy: base.Economy, before: base.State, after: base.State) -> None:
  """Refuses a transformed cross-section that changed shape or left the economy's domain
  (non-finite states, states below the floor)."""
  if after.x.shape != before.x.shape or after.e.shape != before.e.shape:
    raise errors.ConfigError(f'transform must keep the cross-section\'s shape {before.x.shape}; '
                             f'it returned {after.x.shape}.')
  x = after.x.numpy()
  if not np.all(np.isfinite(x)):
    raise errors.ConfigError('transform produced non-finite states.')
  if economy.state_floor is not None:
    floor = np.asarray(economy.state_floor)
    low = x.reshape(-1, x.shape[-1]).min(0)
    if np.any(low < floor - 1e-12):
      raise errors.ConfigError(f'transform moved states below the economy\'s floor {floor} '
                               f'(lowest {low}): infeasible.')
