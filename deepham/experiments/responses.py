"""Generalized impulse responses (Koop, Pesaran & Potter 1996) with common random numbers.

From cross-sections drawn from a method's ergodic distribution, two paths are simulated under
the method's policy with the same draws in every period (the shock seed of period t is
fold_in(seed, t), as in solver/simulate.py): a baseline, and a shocked path whose cross-section
at t = 0 (`Impulse.state`) or whose period-0 shocks (`Impulse.shocks`) differ. The response of a
quantity at horizon t is the mean over the drawn cross-sections of (shocked - baseline); with a
zero impulse it is exactly zero. Works for any economy and any policy (state, aggregates) ->
action: a DeepHAM network, a conventional solution, an exact or reference policy.

Each path reports, every period: the economy's quantities (`Economy.quantities`: aggregates,
prices, mean consumption), the distribution of the first individual state and of consumption
(p10, p50, p90, Gini), consumption by decile of the t = 0 wealth (by rank where N < 10) and by idiosyncratic state at
t = 0 (the same households on both paths), and once (horizon 0) welfare: the mean over
households of discounted utility over the horizon plus the discounted value at its end, for
every household and for those whose own state the impulse leaves unchanged, and the method's
value function at t = 0 (`value`, `value_unshocked`: how the impulse changes the value of
households it did not touch, through the distribution alone).
"""

from typing import Callable, NamedTuple

import numpy as np
import pandas as pd
import tensorflow as tf

from deepham import errors
from deepham import progress as progress_lib
from deepham.economies import base
from deepham.solver import simulate
from deepham.validation import statistics as stats_lib

QUANTILES = (10, 50, 90)
N_DECILES = 10
Z_BAND = 1.959963984540054  # two-sided 95% normal quantile


class Impulse(NamedTuple):
  """What differs on the shocked path: its cross-section at t = 0 (state: State -> State), its
  period-0 shocks (shocks: Shocks -> Shocks), or both; `condition(state) -> [B] bool` picks
  the ergodic cross-sections it starts from (None: all)."""
  name: str
  state: Callable | None = None
  shocks: Callable | None = None
  condition: Callable | None = None


def parse_shock(economy: base.Economy, spec: str | None) -> Impulse:
  """The impulse a --shock string names.

  None: the economy's default, a switch of the aggregate state from the last to the first
  (KS: good -> bad) where z is discrete, else +1 std of the first aggregate innovation.
  'zero': no impulse (the response is exactly zero). 'z=I->J': z switched from I to J at t = 0,
  from cross-sections with z = I; 'z=J': to J from any z other than J. 'noise=V' or
  'noise[i]=V': V standard deviations added to aggregate innovation i (0) in period 0.
  """
  n_z, n_noise = economy.chain.n_z, economy.n_aggregate_noise
  if spec is None:
    if n_z > 1:
      spec = f'z={n_z - 1}->0'
    elif n_noise:
      spec = 'noise=1'
    else:
      raise errors.ConfigError(f'shock: {type(economy).__name__} has no aggregate shock (one '
                               'aggregate state, no aggregate innovation); use a '
                               'distribution experiment (redistribute) instead.')
  spec = str(spec).replace(' ', '')
  allowed = ("'zero', 'z=I->J' or 'z=J' (aggregate states 0.." f'{n_z - 1}), '
             "'noise=V' or 'noise[i]=V'" + (f' (i < {n_noise})' if n_noise else
                                           ' (this economy has no aggregate innovation)'))
  bad = errors.ConfigError(f'shock must be one of {allowed}; got {spec!r}.')
  if spec == 'zero':
    return Impulse('zero', state=lambda s: s)
  key, sep, value = spec.partition('=')
  if not sep:
    raise bad
  if key == 'z':
    source, arrow, target = value.partition('->')
    if not arrow:
      source, target = None, source
    try:
      target = int(target)
      source = None if source is None else int(source)
    except ValueError:
      raise bad from None
    if not (0 <= target < n_z and (source is None or (0 <= source < n_z and source != target))):
      raise bad
    def switch(state, target=target):
      return base.State(state.x, state.e, tf.fill(tf.shape(state.z), target))
    if source is None:
      return Impulse(f'z={target}', state=switch, condition=lambda s: s.z != target)
    return Impulse(f'z={source}->{target}', state=switch, condition=lambda s: s.z == source)
  if key == 'noise' or (key.startswith('noise[') and key.endswith(']')):
    try:
      index = int(key[6:-1]) if key != 'noise' else 0
      size = float(value)
    except ValueError:
      raise bad from None
    if not 0 <= index < n_noise or not np.isfinite(size):
      raise bad
    def innovate(shocks, index=index, size=size):
      add = tf.one_hot(index, n_noise, dtype=shocks.aggregate_noise.dtype) * size
      return shocks._replace(aggregate_noise=shocks.aggregate_noise + add)
    return Impulse(f'noise[{index}]={size:g}', shocks=innovate)
  raise bad


def ergodic_states(economy: base.Economy, policy, start: base.State, n_states: int, seed: int,
                   condition: Callable | None = None, burn: int = 200, every: int = 10,
                   max_periods: int = 100_000, jit: bool = True) -> base.State:
  """n_states cross-sections from the ergodic distribution of `policy`: `start` simulated
  `burn` periods, then snapshots every `every` periods, keeping those where `condition`
  holds."""
  sim = simulate.Simulator(economy, policy, jit_compile=jit)
  seeds = tf.constant([seed, 7_001], tf.int64)
  state = sim.advance(start, seeds, burn).state
  kept, count, t = [], 0, burn
  while count < n_states:
    if t > burn + max_periods:
      raise errors.ConfigError('states: the ergodic distribution did not reach the impulse\'s '
                               f'starting condition in {max_periods} periods; choose another '
                               'shock.')
    state = sim.advance(state, seeds, every, t0=t).state
    t += every
    mask = tf.ones_like(state.z, tf.bool) if condition is None else condition(state)
    part = base.State(*[tf.boolean_mask(f, mask) for f in state])
    kept.append(part)
    count += int(part.z.shape[0])
  return base.State(*[tf.concat(f, 0)[:n_states] for f in zip(*kept)])


class Paths(NamedTuple):
  """Baseline and shocked paths of the same cross-sections, as NumPy arrays."""
  quantities: dict  # name -> (baseline [T, B], shocked [T, B])
  x: tuple  # (baseline, shocked) [T, B, N]: the first individual state
  consumption: tuple | None  # (baseline, shocked) [T, B, N], where the economy defines it
  e0: np.ndarray  # [B, N] idiosyncratic states at t = 0
  welfare: tuple  # (baseline, shocked) [B, N]: discounted utility plus terminal value
  value0: tuple | None  # (baseline, shocked) [B, N]: the method's value at t = 0, if it has one
  unchanged: np.ndarray  # [B, N] bool: households whose own state the impulse leaves as it was
  shocked_states: base.State  # x [T, B, N, n_x], e [T, B, N], z [T, B] of the shocked path


class PairSimulator:
  """Baseline and shocked paths of `horizon` periods under `policy`, compiled once for every
  chunk of cross-sections; `value` (validation's value interface: raw, evaluate) gives the
  terminal value of welfare, or None (none added)."""

  def __init__(self, economy: base.Economy, policy, value, impulse: Impulse, horizon: int):
    self.economy, self.impulse, self.has_value = economy, impulse, value is not None
    self.names = []  # of the quantities, in the order they are stacked
    self._run = tf.function(self._build(economy, policy, value, impulse, horizon, self.names))

  def __call__(self, start: base.State, seed: int) -> Paths:
    """The paths from cross-sections `start` [B, N]; period t's draws from fold_in of `seed`."""
    q, x, c, w, v0, states, shocked0 = self._run(start, tf.constant([seed, 7_002], tf.int64))
    unchanged = (np.all(start.x.numpy() == shocked0.x.numpy(), axis=-1)
                 & (start.e.numpy() == shocked0.e.numpy()))
    q = q.numpy()  # [2, T, Q, B]
    q = {k: (q[0, :, i], q[1, :, i]) for i, k in enumerate(self.names)}
    c = c.numpy()
    return Paths(q, (x[0].numpy(), x[1].numpy()),
                 (c[0], c[1]) if self.economy.has_consumption else None, start.e.numpy(),
                 (w[0].numpy(), w[1].numpy()),
                 (v0[0].numpy(), v0[1].numpy()) if self.has_value else None, unchanged, states)

  @staticmethod
  def _build(economy, policy, value, impulse, horizon, names):
    """The graph function (start, seed) -> stacked paths."""
    def period(state, shocks):
      aggs = economy.aggregates(state)
      action = policy(state, aggs)
      aggs = economy.clear_markets(state, action, aggs)
      q = economy.quantities(state, action, aggs)
      c = (economy.consumption(state, action, aggs) if economy.has_consumption
           else tf.zeros_like(state.x[..., 0]))
      nxt, u = economy.step(state, action, aggs, shocks)
      return nxt, q, c, u

    def terminal(state):
      if value is None:
        return tf.zeros_like(state.x[..., 0])
      raw = value.raw(economy.distribution_inputs(state))
      return value.evaluate(state, tf.reduce_mean(raw, axis=1, keepdims=True))

    def run(start, seed):
      dtype = start.x.dtype
      B = tf.shape(start.z)[0]
      shocked = impulse.state(start) if impulse.state is not None else start

      def both(pair, t, first):
        shocks = economy.draw_shocks(B, simulate.period_seed(seed, t), dtype)
        moved = impulse.shocks(shocks) if first and impulse.shocks is not None else shocks
        return period(pair[0], shocks), period(pair[1], moved)

      arrays = [tf.TensorArray(dtype, size=horizon) for _ in range(3)]  # quantities, x, c
      s_arrays = [tf.TensorArray(f.dtype, size=horizon) for f in start]

      def record(t, pair, outs, arrays, s_arrays):
        if not names:
          names.extend(outs[0][1])
        q = tf.stack([tf.stack([o[1][k] for k in names]) for o in outs])  # [2, Q, B]
        values = (q, tf.stack([pair[0].x[..., 0], pair[1].x[..., 0]]),
                  tf.stack([outs[0][2], outs[1][2]]))
        return ([a.write(t, v) for a, v in zip(arrays, values)],
                [a.write(t, f) for a, f in zip(s_arrays, pair[1])])

      pair = (start, shocked)
      outs = both(pair, 0, True)
      arrays, s_arrays = record(0, pair, outs, arrays, s_arrays)
      welfare = (outs[0][3], outs[1][3])
      disc = tf.constant(economy.beta, dtype)
      pair = (outs[0][0], outs[1][0])
      for t in tf.range(1, horizon):
        outs = both(pair, t, False)
        arrays, s_arrays = record(t, pair, outs, arrays, s_arrays)
        welfare = (welfare[0] + disc * outs[0][3], welfare[1] + disc * outs[1][3])
        disc *= economy.beta
        pair = (outs[0][0], outs[1][0])
      welfare = tf.stack([welfare[0] + disc * terminal(pair[0]),
                          welfare[1] + disc * terminal(pair[1])])
      q, x, c = [tf.transpose(a.stack(), [1, 0, 2, 3]) for a in arrays]  # [2, T, ...]
      value0 = tf.stack([terminal(start), terminal(shocked)])
      return (q, x, c, welfare, value0, base.State(*[a.stack() for a in s_arrays]), shocked)

    return run


def _band(diff: np.ndarray, baseline: np.ndarray) -> dict:
  """Mean of per-path differences over the paths (last axis), its 95% band, the baseline."""
  n = diff.shape[-1]
  mean = diff.mean(-1)
  se = diff.std(-1, ddof=1) / np.sqrt(n) if n > 1 else np.zeros_like(mean)
  return dict(mean=mean, lower=mean - Z_BAND * se, upper=mean + Z_BAND * se,
              baseline=baseline.mean(-1))


def _distribution(values: np.ndarray) -> dict:
  """Per period and path [T, B] statistics of the cross-sections `values` [T, B, N]."""
  out = {f'p{q}': np.percentile(values, q, axis=-1) for q in QUANTILES}
  out['gini'] = stats_lib.gini(np.maximum(values, 0))
  return out


def summarise(economy: base.Economy, paths: Paths, method: str) -> pd.DataFrame:
  """The tidy table of responses: variable, horizon, mean, lower, upper, baseline, method."""
  rows = []

  def add(variable, base_tb, shock_tb):
    base_tb, shock_tb = np.atleast_2d(base_tb), np.atleast_2d(shock_tb)
    band = _band(shock_tb - base_tb, base_tb)
    for t in range(base_tb.shape[0]):
      rows.append(dict(variable=variable, horizon=t, method=method,
                       **{k: float(v[t]) for k, v in band.items()}))

  for name, (b, s) in paths.quantities.items():
    add(name, b, s)
  sname = economy.state_names[0]
  series = [(sname, paths.x)]
  if paths.consumption is not None:
    series.append(('c', paths.consumption))
  for label, (b, s) in series:
    db, ds = _distribution(b), _distribution(s)
    for k in db:
      add(f'{label}_{k}', db[k], ds[k])
  if paths.consumption is not None:
    cb, cs = paths.consumption
    # Deciles of each cross-section's wealth at t = 0 (ranks in the baseline; the same
    # households on both paths); with fewer than ten households, one group per household.
    N = cb.shape[-1]
    groups = min(N_DECILES, N)
    rank = np.argsort(np.argsort(paths.x[0][0], axis=-1), axis=-1)
    group = rank * groups // N
    for d in range(groups):
      label = f'c_decile_{d + 1}' if groups == N_DECILES else f'c_rank_{d + 1}of{groups}'
      add(label, _masked_mean(cb, group == d), _masked_mean(cs, group == d))
    for j in range(economy.chain.n_e):
      m = paths.e0 == j  # over the cross-sections that have such households
      has = m.any(axis=-1)
      if has.any():
        add(f'c_e{j}', _masked_mean(cb[:, has], m[has]), _masked_mean(cs[:, has], m[has]))
  keep = paths.unchanged
  some = keep.any() and not keep.all()  # the impulse moved some households and not others
  has = keep.any(-1)
  for name, pair in (('welfare', paths.welfare), ('value', paths.value0)):
    if pair is None:
      continue
    vb, vs = pair
    add(name, vb.mean(-1)[None], vs.mean(-1)[None])
    if some:
      add(f'{name}_unshocked', _masked_mean(vb[has][None], keep[has]),
          _masked_mean(vs[has][None], keep[has]))
  return pd.DataFrame(rows)


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
  """Mean over the last axis of `values` [..., B, N] where mask [B, N] holds."""
  return (values * mask).sum(-1) / np.maximum(mask.sum(-1), 1)


def responses(economy: base.Economy, methods, starts: dict, impulse: Impulse, horizon: int,
              seed: int = 0, chunk: int = 500, keep_paths: bool = False):
  """The responses of every method (validation.methods.Method: key, policy, value) from its
  start cross-sections (starts[key]: State [B, N]), in chunks of `chunk` cross-sections with
  progress; all methods see the same draws. Returns the tidy DataFrame and, with keep_paths,
  {method key: [Paths of each chunk]}."""
  if horizon < 1:
    raise errors.ConfigError(f'horizon must be a positive integer; got {horizon}.')
  frames, kept = [], {}
  total = sum(int(starts[m.key].z.shape[0]) for m in methods)
  prog = progress_lib.Progress(f'responses to {impulse.name}', total, unit='cross-sections')
  done = 0
  for m in methods:
    start = starts[m.key]
    S = int(start.z.shape[0])
    pair_sim = PairSimulator(economy, m.policy, m.value, impulse, horizon)
    parts = []
    for lo in range(0, S, chunk):
      part = base.State(*[f[lo:lo + chunk] for f in start])
      parts.append(pair_sim(part, seed + lo))
      done += int(part.z.shape[0])
      prog.update(done)
    merged = _merge(parts)
    frames.append(summarise(economy, merged, m.key))
    if keep_paths:
      kept[m.key] = merged
  table = pd.concat(frames, ignore_index=True)
  return (table, kept) if keep_paths else table


def _merge(parts: list[Paths]) -> Paths:
  """One Paths from chunks along the cross-sections' axis."""
  if len(parts) == 1:
    return parts[0]
  cat = lambda arrays, axis: np.concatenate(arrays, axis=axis)
  pair = lambda get, axis: (cat([get(p)[0] for p in parts], axis),
                            cat([get(p)[1] for p in parts], axis))
  first = parts[0]
  return Paths(
      {k: pair(lambda p, k=k: p.quantities[k], 1) for k in first.quantities},
      pair(lambda p: p.x, 1),
      None if first.consumption is None else pair(lambda p: p.consumption, 1),
      cat([p.e0 for p in parts], 0), pair(lambda p: p.welfare, 0),
      None if first.value0 is None else pair(lambda p: p.value0, 0),
      cat([p.unchanged for p in parts], 0),
      base.State(*[tf.concat([getattr(p.shocked_states, f) for p in parts], 1)
                   for f in base.State._fields]))
