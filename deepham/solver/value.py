"""Value step: regress simulated lifetime utility on the state with an ensemble of networks.

From states on simulated paths, the economy runs forward under the current policy; each agent's
discounted utility over the next `window` periods (beta^window is negligible) is the regression
target for its state (Han, Yang & E, the value function learning step). Each network of the
ensemble sees the same data in its own random order; the ensemble mean is the value function.

Two refinements use the last fit's value V (`martingale_correction`, the `tail` of
`simulate_values`): each period's utility minus beta (V(s') - E[V(s') | s]), a control variate
with conditional mean zero that removes most of the target's noise, and beta^window V at the
window's end, the lifetime utility beyond the window. With value.method='td_lambda' the targets
are lambda-returns that also bootstrap on V inside the window (`simulate_values`).
"""

from typing import Callable, NamedTuple

import numpy as np
import tensorflow as tf

from deepham.economies import base
from deepham.solver import networks
from deepham.solver import simulate


class ValueData(NamedTuple):
  states: base.State  # x [S, N, n_x], e [S, N], z [S]: S sampled cross-sections
  targets: tf.Tensor  # [S, N] discounted utility over the window


class ValueEnsemble(tf.Module):
  """Mean of `n_nets` symmetric networks; predicts values in units standardised by target stats."""

  def __init__(self, economy: base.Economy, normalizer: networks.Normalizer, n_nets: int,
               net_kwargs: dict, rng: np.random.Generator, dtype, name='value',
               floor: bool = True):
    super().__init__(name=name)
    self.economy, self.normalizer = economy, normalizer
    self.floor = floor  # whether the nets read the normalizer's floor features (if it has them)
    self.nets = [networks.SymmetricNet(normalizer.own_size(floor), normalizer.n_exo,
                                       normalizer.n_dist, 1,
                                       rng=rng, dtype=dtype, name=f'net{i}', **net_kwargs)
                 for i in range(n_nets)]
    self.target_mean = tf.Variable(0.0, dtype=dtype, trainable=False, name='target_mean')
    self.target_std = tf.Variable(1.0, dtype=dtype, trainable=False, name='target_std')

  def standardized(self, i: int, state: base.State, dist: tf.Tensor | None = None) -> tf.Tensor:
    """Net i's prediction in standardised units, [B, N]; `dist` overrides the cross-section."""
    n = self.normalizer
    dist = n.dist(state) if dist is None else dist
    net = self.nets[i]
    return net(n.own(state, self.floor), n.exo(state), net.moments(dist))[..., 0]

  def __call__(self, state: base.State, dist: tf.Tensor | None = None) -> tf.Tensor:
    """Ensemble value [B, N] in utility units."""
    total = tf.add_n([self.standardized(i, state, dist) for i in range(len(self.nets))])
    return self.target_mean + self.target_std * total / len(self.nets)

  # --- the value interface of validation: raw contributions and evaluation ---------------------
  def raw(self, dist: tf.Tensor) -> tf.Tensor:
    """Per-agent contributions [B, N, R] whose cross-sectional mean summarises a distribution."""
    return tf.concat([net.moments.raw(self.normalizer.dist_of(dist)) for net in self.nets], -1)

  def evaluate(self, own: base.State, mean_raw: tf.Tensor) -> tf.Tensor:
    """Value [B, N] of agents with own states `own` who each see the mean contributions
    mean_raw [B, N, R] (or [B, 1, R]) of their own cross-section."""
    n = self.normalizer
    o, x = n.own(own, self.floor), n.exo(own)
    out, start = [], 0
    for net in self.nets:
      width = net.moments.raw_size
      moments = net.moments.finalize(mean_raw[..., start:start + width])
      start += width
      moments = tf.broadcast_to(moments, tf.concat([tf.shape(o)[:2], [moments.shape[-1]]], 0))
      out.append(net(o, x, moments)[..., 0])
    return self.target_mean + self.target_std * tf.add_n(out) / len(self.nets)

  def restandardize(self, mean: float, std: float) -> None:
    """New target statistics, rescaling every output layer so the value function is unchanged."""
    old_m, old_s = float(self.target_mean.numpy()), float(self.target_std.numpy())
    for net in self.nets:
      w, b = net.output_layer()
      w.assign(w * old_s / std)
      b.assign((b * old_s + old_m - mean) / std)
    self.target_mean.assign(mean)
    self.target_std.assign(std)


def martingale_correction(economy: base.Economy, value) -> Callable:
  """A control variate for simulated lifetime utility: period t's utility gains

      -beta (V(s_{t+1}) - E[V(s_{t+1}) | s_t]),

  with V any value function (the ensemble of the last fit) and the expectation exact over the
  agent's next idiosyncratic state and the next aggregate state (the chain's probabilities; the
  next cross-section's summaries are known at t, as the distribution inputs are predetermined).
  Each term has conditional mean zero, so a discounted sum of corrected utilities has the same
  expectation given s_t as the plain one, the value the regression estimates; the closer V is
  to the policy's value, the more of the target's noise (the shocks' realisations) it removes.
  With the exact V the window target is V(s_0) - beta^W V(s_W): nearly noise-free.

  `value` has the validation interface: raw(dist) per-agent contributions, evaluate(own,
  mean_raw). Only for economies whose shocks all move the discrete chain (no continuous noise).
  """
  if economy.n_agent_noise or economy.n_aggregate_noise:
    raise ValueError('the martingale correction needs an economy without continuous shocks.')
  n_e = economy.chain.n_e

  def correction(state: base.State, nxt: base.State) -> tf.Tensor:
    mean_raw = tf.reduce_mean(value.raw(economy.distribution_inputs(nxt)), axis=1,
                              keepdims=True)
    probs = economy.exogenous_outcomes(state)  # [B, N, M]
    realised = nxt.z[:, None] * n_e + nxt.e  # [B, N]
    expected = tf.zeros_like(probs[..., 0])
    actual = tf.zeros_like(expected)
    for m, own in economy.outcome_states(nxt.x, nxt.z):
      v = value.evaluate(own, mean_raw)
      expected += probs[..., m] * v
      actual += tf.where(tf.equal(realised, m), v, tf.zeros_like(v))
    return -economy.beta * (actual - expected)

  return correction


def simulate_values(sim: simulate.Simulator, state: base.State, seed, t0: int, horizon: int,
                    window: int, every: int, tail: Callable | None = None,
                    td_lambda: float = 1.0, progress=None) -> tuple[ValueData, base.State]:
  """States every `every` periods of a `horizon`-period simulation and their window values.

  With `tail` (a value function, state -> [B, N]) each target also gets beta^window times the
  value at the window's end: the part of lifetime utility beyond the window, which plain window
  sums leave out (for KS, beta^800 V = 0.034: every value 0.034 too low, -3.4e-4 in every
  Bellman error).

  With td_lambda < 1 (value.method='td_lambda') the targets are lambda-returns on the snapshot
  grid, whose step is `every` periods: with U_m the discounted utility of chunk m and s_{m+1}
  the state at its end, G_m = U_m + beta^every ((1 - lambda) V(s_{m+1}) + lambda G_{m+1}),
  G at the window's end being its tail V; V is `tail`. lambda = 1 gives the Monte Carlo window
  sums exactly; lambda = 0 the `every`-step TD targets U_m + beta^every V(s_{m+1}). Lower
  lambda trades the realised utility's noise for V's error.

  Returns the data and the final state (the distribution moves on under the current policy).
  `progress` is told the periods simulated.
  """
  if not 0 <= td_lambda <= 1:
    raise ValueError(f'td_lambda must lie in [0, 1], not {td_lambda}.')
  if td_lambda < 1 and tail is None:
    raise ValueError('TD(lambda) targets need a value function (tail).')
  if window % every or window > horizon:
    raise ValueError('value.window must be a multiple of value.every and at most value.horizon.')
  states, chunks = sim.snapshots(state, seed, horizon, every, t0, progress=progress)
  beta_every = sim.economy.beta ** every
  per_window = window // every
  starts = range(0, len(chunks) - per_window + 1)
  values = {}  # V at the end of chunk i, each computed once

  def value_at(i):
    if i not in values:
      values[i] = tail(chunks[i].state)
    return values[i]

  targets = []
  for c in starts:
    end = c + per_window - 1
    v = tf.zeros_like(chunks[c].discounted_utility) if tail is None else value_at(end)
    for m in reversed(range(c, end + 1)):
      if td_lambda < 1 and m < end:
        v = td_lambda * v + (1 - td_lambda) * value_at(m)
      v = chunks[m].discounted_utility + beta_every * v
    targets.append(v)
  stacked = base.State(*[tf.concat([getattr(states[c], f) for c in starts], axis=0)
                         for f in base.State._fields])
  return ValueData(stacked, tf.concat(targets, axis=0)), chunks[-1].state


class ValueFitter:
  """Fits the ensemble by mean-squared regression; one compiled call runs a whole epoch."""

  def __init__(self, ensemble: ValueEnsemble, learning_rate: float, batch_size: int,
               adam_beta1: float = 0.9, adam_beta2: float = 0.999, jit: bool = False,
               learning_rate_end: float | None = None):
    self.ensemble = ensemble
    self.batch_size = batch_size
    # Within each fit the rate decays exponentially from learning_rate to learning_rate_end, so
    # that the fit ends at a settled function rather than at one of Adam's last noisy iterates.
    self.learning_rate = learning_rate
    self.learning_rate_end = learning_rate if learning_rate_end is None else learning_rate_end
    self.optimizer = tf.keras.optimizers.Adam(learning_rate, beta_1=adam_beta1,
                                              beta_2=adam_beta2, epsilon=1e-8)
    self.variables = [v for net in ensemble.nets for v in net.trainable_variables]
    self.optimizer.build(self.variables)
    self._epoch = tf.function(self._epoch_impl, jit_compile=jit)
    self._loss = tf.function(self._loss_impl)

  def _losses(self, data: ValueData, idx: tf.Tensor) -> tf.Tensor:
    """Mean squared error of each net on its own cross-sections idx[m]: [n_nets]."""
    ens = self.ensemble
    t = (data.targets - ens.target_mean) / ens.target_std
    out = []
    for m in range(len(ens.nets)):
      sub = base.State(*[tf.gather(f, idx[m]) for f in data.states])
      out.append(tf.reduce_mean(tf.square(ens.standardized(m, sub) - tf.gather(t, idx[m]))))
    return tf.stack(out)

  def _epoch_impl(self, data: ValueData, batches: tf.Tensor) -> tf.Tensor:
    """batches: [n_batches, n_nets, batch] cross-section indices; returns mean training loss."""
    total = tf.zeros([], data.targets.dtype)
    for b in tf.range(tf.shape(batches)[0]):
      with tf.GradientTape() as tape:
        loss = tf.reduce_sum(self._losses(data, batches[b]))
      grads = tape.gradient(loss, self.variables)
      self.optimizer.apply_gradients(zip(grads, self.variables))
      total += loss
    return total / tf.cast(tf.shape(batches)[0] * len(self.ensemble.nets), total.dtype)

  def _loss_impl(self, data: ValueData, idx: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(self._losses(data, idx))

  def fit(self, data: ValueData, epochs: int, seed: int, valid_fraction: float = 0.1,
          progress=None, keep_function: bool = True) -> dict:
    """Trains on (1 - valid_fraction) of the cross-sections; returns train and validation MSE.

    Targets are re-standardised to this data set's mean and std first. With keep_function
    (later rounds) the output layers are rescaled so that the fit continues from the previous
    round's value function. The first fit sets the statistics only: rescaling untrained networks
    to keep their meaningless function would start them (mean - 0) / std standard deviations
    away from the targets (37 for the KS economy), further than the fit can travel.
    """
    ens = self.ensemble
    targets = data.targets.numpy()
    mean, std = float(targets.mean()), float(max(targets.std(), 1e-8))
    if keep_function:
      ens.restandardize(mean, std)
    else:
      ens.target_mean.assign(mean)
      ens.target_std.assign(std)
    rng = np.random.default_rng(seed)
    n = int(data.targets.shape[0])
    order = rng.permutation(n)
    n_valid = int(round(valid_fraction * n)) if n >= 20 else 0
    valid, train = order[:n_valid], order[n_valid:]
    b = min(self.batch_size, len(train))
    n_batches = len(train) // b
    n_nets = len(ens.nets)
    train_loss = float('nan')
    for epoch in range(epochs):
      if self.learning_rate_end != self.learning_rate:
        ratio = self.learning_rate_end / self.learning_rate
        self.optimizer.learning_rate = self.learning_rate * ratio ** (epoch / max(epochs - 1, 1))
      perms = np.stack([rng.permutation(train)[:n_batches * b].reshape(n_batches, b)
                        for _ in range(n_nets)], axis=1)
      train_loss = float(self._epoch(data, tf.constant(perms, tf.int32)))
      if progress is not None:
        progress.update(epoch + 1, f'train MSE {train_loss:.3e} (standardized targets)')
    valid_loss = (float(self._loss(data, tf.constant(np.stack([valid] * n_nets), tf.int32)))
                  if n_valid else train_loss)
    return dict(train_mse=train_loss, valid_mse=valid_loss)
