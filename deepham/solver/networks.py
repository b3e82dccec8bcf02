"""Networks of the DeepHAM solver: permutation-invariant summaries and equivariant maps.

Every policy and value network maps a cross-section to one output per agent,

    f_i = rho(own_i, exo, m),   m = [fixed moments of d, (1/N) sum_j Q(d_j)],

where own_i is agent i's own state, exo the aggregate exogenous state, d_j the distribution
inputs of agent j (KS: capital), the fixed moments are the cross-sectional mean (and variance)
of d, and Q is a learned basis network whose mean over agents gives the generalized moments
(Han, Yang & E; the rho/phi representation of Kahou et al.). m is invariant to permuting agents
and f is equivariant. Inputs are standardised by a `Normalizer` fitted once on simulated states.

The first layer is split as W_own own_i + (W_common [exo, m] + b): the common part is computed
once per path, not once per agent.
"""

from typing import Sequence

import math

import numpy as np
import tensorflow as tf

from deepham.economies import base

_ACTIVATIONS = {'tanh': tf.tanh, 'relu': tf.nn.relu, 'softplus': tf.nn.softplus,
                'gelu': tf.nn.gelu, 'silu': tf.nn.silu}


def activation(name: str):
  return _ACTIVATIONS[name]


def _glorot(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
  limit = np.sqrt(6.0 / (n_in + n_out))
  return rng.uniform(-limit, limit, (n_in, n_out))


class MLP(tf.Module):
  """Dense layers with an activation between them and a linear output."""

  def __init__(self, n_in: int, widths: Sequence[int], n_out: int, act: str,
               rng: np.random.Generator, dtype, name=None):
    super().__init__(name=name)
    sizes = [n_in, *widths, n_out]
    self.act = activation(act)
    self.weights = [tf.Variable(_glorot(rng, a, b), dtype=dtype, name=f'w{i}')
                    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))]
    self.biases = [tf.Variable(np.zeros(b), dtype=dtype, name=f'b{i}')
                   for i, b in enumerate(sizes[1:])]

  def __call__(self, x: tf.Tensor) -> tf.Tensor:
    lead = tf.shape(x)[:-1]
    x = tf.reshape(x, [-1, x.shape[-1]])
    for i, (w, b) in enumerate(zip(self.weights, self.biases)):
      x = tf.matmul(x, w) + b
      if i < len(self.weights) - 1:
        x = self.act(x)
    return tf.reshape(x, tf.concat([lead, [x.shape[-1]]], 0))


class Moments(tf.Module):
  """Permutation-invariant summaries of a cross-section: fixed and generalized moments.

  With `grid_points` > 0 and one-dimensional distribution inputs, the basis Q is evaluated on a
  fixed grid of standardised values over `grid_range` and interpolated linearly (extrapolated
  beyond): one evaluation of Q per grid point instead of one per agent and period, and Q's
  gradient needs only the grid values. The interpolation error is below h^2/8 max|Q''|, with h
  the grid spacing (1e-5 |Q''| for the default 2048 points over [-5, 15]).
  """

  def __init__(self, n_dist: int, n_fixed: int, n_generalized: int, widths: Sequence[int],
               act: str, rng: np.random.Generator, dtype, name=None, grid_points: int = 0,
               grid_range: tuple[float, float] = (-5.0, 15.0)):
    super().__init__(name=name)
    self.grid_points = grid_points if n_dist == 1 else 0
    self.grid_range = grid_range
    if n_fixed not in range(5):
      raise ValueError('n_fixed must be 0 (none) to 4 (means of d, d^2, d^3, d^4).')
    self.n_fixed, self.n_generalized = n_fixed, n_generalized
    self.size = n_fixed * n_dist + n_generalized  # moments = means of the contributions
    self.raw_size = self.size  # per-agent contributions [d, ..., d^n_fixed, Q(d)]
    self.basis = (MLP(n_dist, widths, n_generalized, act, rng, dtype, name='basis')
                  if n_generalized else None)

  def q(self, dist: tf.Tensor) -> tf.Tensor:
    """The basis Q at distribution inputs [..., D] -> [..., J] (on the grid if configured)."""
    if not self.grid_points:
      return self.basis(dist)
    lo, hi = self.grid_range
    G = self.grid_points
    h = (hi - lo) / (G - 1)
    values = self.basis(tf.linspace(tf.constant(lo, dist.dtype), hi, G)[:, None])  # [G, J]
    s = (dist[..., 0] - lo) / h
    i = tf.clip_by_value(tf.cast(tf.floor(s), tf.int32), 0, G - 2)
    w = (s - tf.cast(i, dist.dtype))[..., None]  # beyond the grid: extrapolates the end segment
    return tf.gather(values, i) * (1 - w) + tf.gather(values, i + 1) * w

  def raw(self, dist: tf.Tensor) -> tf.Tensor:
    """Each agent's contribution [..., N, R]: [d, d^2, ..., d^n_fixed, Q(d)]."""
    parts = [dist ** p for p in range(1, self.n_fixed + 1)]
    if self.basis is not None:
      parts.append(self.q(dist))
    if not parts:
      return dist[..., :0]
    return tf.concat(parts, axis=-1)

  def finalize(self, mean_raw: tf.Tensor) -> tf.Tensor:
    """Moments from the cross-sectional mean of `raw` (here the same numbers)."""
    return mean_raw

  def __call__(self, dist: tf.Tensor) -> tf.Tensor:
    """dist: [..., N, D] normalised distribution inputs -> [..., size]."""
    return self.finalize(tf.reduce_mean(self.raw(dist), axis=-2))


class SymmetricNet(tf.Module):
  """f(own_i, exo, moments(dist)) for every agent i; equivariant in the agents.

  With use_own=False the agent's own features are not an input (f(exo, moments), the same for
  every agent of a cross-section): for economies whose policy provably does not depend on them.

  With partial_information, a call may say which agents are `informed`: the others see their
  own state, the exogenous state and the fixed moments (an aggregate stock) but not the
  generalized moments, whose part of the first layer is replaced for them by a learned bias
  (their type's constant: one network serves both types).
  """

  def __init__(self, n_own: int, n_exo: int, n_dist: int, n_out: int, widths: Sequence[int],
               act: str, n_fixed: int, n_generalized: int, gm_widths: Sequence[int],
               rng: np.random.Generator, dtype, name=None, gm_grid: int = 0,
               use_own: bool = True, partial_information: bool = False):
    super().__init__(name=name)
    self.moments = Moments(n_dist, n_fixed, n_generalized, gm_widths, act, rng, dtype,
                           name='moments', grid_points=gm_grid)
    n_common = n_exo + self.moments.size
    w0 = _glorot(rng, n_own + n_common, widths[0])
    self.use_own = use_own
    self.w_own = tf.Variable(w0[:n_own] if use_own else np.zeros_like(w0[:n_own]), dtype=dtype,
                             trainable=use_own, name='w_own')
    self.w_common = tf.Variable(w0[n_own:], dtype=dtype, name='w_common')
    self.b0 = tf.Variable(np.zeros(widths[0]), dtype=dtype, name='b0')
    self.b_uninformed = (tf.Variable(np.zeros(widths[0]), dtype=dtype, name='b_uninformed')
                         if partial_information else None)
    self.act = activation(act)
    self.head = MLP(widths[0], widths[1:], n_out, act, rng, dtype, name='head')

  def __call__(self, own: tf.Tensor, exo: tf.Tensor, moments: tf.Tensor,
               informed: tf.Tensor | None = None) -> tf.Tensor:
    """own [B, N, F], exo [B, G], moments [B, M] -> [B, N, n_out].

    moments may also be [B, N, M] (each agent sees its own cross-section, as in validation).
    informed [N] (bool; a network built with partial_information): which agents see the
    generalized moments; None: all.
    """
    if moments.shape.rank == 3:
      exo = tf.broadcast_to(exo[:, None, :], tf.concat([tf.shape(moments)[:2],
                                                        [exo.shape[-1]]], 0))
    common = self._common(exo, moments)
    if informed is not None:
      if self.b_uninformed is None:
        raise ValueError('informed agents need a network built with partial_information.')
      n_gm = self.moments.n_generalized
      seen = tf.concat([moments[..., :moments.shape[-1] - n_gm],  # the fixed moments alone
                      tf.zeros_like(moments[..., moments.shape[-1] - n_gm:])], axis=-1)
      common = tf.where(informed[:, None], common,
                        self._common(exo, seen) + self.b_uninformed)
    n_own = self.w_own.shape[0]
    if not self.use_own:  # one evaluation per cross-section (or per agent's own cross-section)
      out = self.head(self.act(common + self.b0))
      return tf.broadcast_to(out, tf.concat([tf.shape(own)[:2], [out.shape[-1]]], 0))
    if n_own <= 4:  # a dot product over 1-4 features is slow on a CPU: broadcast instead (2.4x)
      own_part = sum(own[..., i:i + 1] * self.w_own[i] for i in range(n_own))
    else:
      own_part = tf.einsum('bnf,fh->bnh', own, self.w_own)
    return self.head(self.act(own_part + common + self.b0))

  def _common(self, exo: tf.Tensor, moments: tf.Tensor) -> tf.Tensor:
    """The first layer's common part, [B, 1, H] (or [B, N, H] for per-agent moments)."""
    if moments.shape.rank == 3:
      return tf.einsum('bnc,ch->bnh', tf.concat([exo, moments], axis=-1), self.w_common)
    return tf.matmul(tf.concat([exo, moments], axis=-1), self.w_common)[:, None, :]

  def output_layer(self) -> tuple[tf.Variable, tf.Variable]:
    return self.head.weights[-1], self.head.biases[-1]

  def reparametrize(self, own: tuple, exo: tuple, dist: tuple) -> None:
    """Keeps the function fixed when inputs are re-standardised.

    Each argument is (a, c) with old_standardised = a * new_standardised + c, per feature.
    """
    (a_own, c_own), (a_exo, c_exo), (a_d, c_d) = own, exo, dist
    n_exo = a_exo.shape[0]
    w_exo, w_mom = self.w_common[:n_exo], self.w_common[n_exo:]
    shift = tf.linalg.matvec(self.w_own, c_own, transpose_a=True)
    shift += tf.linalg.matvec(w_exo, c_exo, transpose_a=True)
    m, D = self.moments, a_d.shape[0]
    P = m.n_fixed
    if P:  # mean(d_old^p) = sum_j C(p, j) a^j c^(p-j) mean(d_new^j): a linear map of the moments
      w_fixed = tf.reshape(w_mom[:P * D], [P, D, -1])  # [power, dim, hidden]
      pw = np.arange(1, P + 1)
      binom = np.array([[math.comb(p, j) if j <= p else 0 for j in pw] for p in pw], float)
      a, c = a_d[None, None, :], c_d[None, None, :]  # [1, 1, D]
      jj, pp = pw[None, :, None], pw[:, None, None]
      T = (binom[:, :, None] * a ** jj * tf.math.pow(c, np.maximum(pp - jj, 0)) *
           (jj <= pp))  # [p, j, D]
      shift += tf.einsum('pdh,pd->h', w_fixed, c[0] ** pw[:, None])
      w_fixed = tf.einsum('pjd,pdh->jdh', tf.cast(T, w_fixed.dtype), w_fixed)
      w_mom = tf.concat([tf.reshape(w_fixed, [P * D, -1]), w_mom[P * D:]], axis=0)
    new_rows = [a_exo[:, None] * w_exo, w_mom]  # generalized moments: the basis absorbs it
    if m.basis is not None:
      w1, b1 = m.basis.weights[0], m.basis.biases[0]
      b1.assign_add(tf.linalg.matvec(w1, c_d, transpose_a=True))
      w1.assign(a_d[:, None] * w1)
    self.b0.assign_add(shift)
    self.w_own.assign(a_own[:, None] * self.w_own)
    self.w_common.assign(tf.concat(new_rows, axis=0))


class Normalizer(tf.Module):
  """Standardises network inputs with means and standard deviations fitted on simulated states.

  With `floor_features`, each agent's own inputs also include log(1 + x - floor) for its
  endogenous states (economies with a `state_floor`): near a borrowing limit, where policies
  bend most, this input stretches the few units of x that a standardised x alone compresses
  into a small fraction of its range, so that the network can bend there without moving its
  fit in the bulk of the distribution. A network built with `own_size(floor=False)` inputs
  reads `own(state, floor=False)`, the economy's features alone, and `fit` keeps it consistent.
  """

  def __init__(self, economy: base.Economy, dtype, name=None, floor_features: bool = False):
    super().__init__(name=name)
    self.economy = economy
    if floor_features and economy.state_floor is None:
      raise ValueError('floor features need an economy with a state_floor.')
    self.floor = (tf.constant(np.asarray(economy.state_floor, np.float64), dtype)
                  if floor_features else None)
    probe = base.State(x=tf.zeros([1, 2, economy.n_x], dtype), e=tf.zeros([1, 2], tf.int32),
                       z=tf.zeros([1], tf.int32))
    self.n_own = int(self.own_features(probe).shape[-1])
    self.n_plain = int(economy.agent_features(probe).shape[-1])  # without the floor features
    self.n_exo = int(economy.exogenous_features(probe).shape[-1])
    self.n_dist = int(economy.distribution_inputs(probe).shape[-1])
    stat = lambda n, v, nm: tf.Variable(np.full(n, v), dtype=dtype, trainable=False, name=nm)
    self.own_mean, self.own_std = stat(self.n_own, 0, 'own_mean'), stat(self.n_own, 1, 'own_std')
    self.exo_mean, self.exo_std = stat(self.n_exo, 0, 'exo_mean'), stat(self.n_exo, 1, 'exo_std')
    self.dist_mean = stat(self.n_dist, 0, 'dist_mean')
    self.dist_std = stat(self.n_dist, 1, 'dist_std')

  def _pairs(self):
    e = self.economy
    return (((self.own_mean, self.own_std), self.own_features),
            ((self.exo_mean, self.exo_std), e.exogenous_features),
            ((self.dist_mean, self.dist_std), e.distribution_inputs))

  def fit(self, state: base.State, nets: Sequence[SymmetricNet] = ()) -> None:
    """Sets the statistics from a batch of states (constant features get std 1).

    The networks in `nets` are re-parametrised so that they compute the same function of the
    raw state as before: the statistics can follow the distribution without disturbing training.
    """
    changes = []
    for (mean, std), features in self._pairs():
      data = features(state)
      flat = tf.reshape(data, [-1, data.shape[-1]])
      m, s = tf.reduce_mean(flat, 0), tf.math.reduce_std(flat, 0)
      s = tf.where(s > 1e-8 * (1 + tf.abs(m)), s, tf.ones_like(s))
      changes.append((s / std, (m - mean) / std))  # old = a * new + c
      mean.assign(m)
      std.assign(s)
    for net in nets:  # a network without the floor features reads the leading columns only
      width = net.w_own.shape[0]
      net.reparametrize(tuple(c[:width] for c in changes[0]), *changes[1:])

  def own_features(self, state: base.State) -> tf.Tensor:
    """[B, N, n_own]: the economy's agent features (and, with floor features, log(1 + x - floor))."""
    features = self.economy.agent_features(state)
    if self.floor is None:
      return features
    gap = tf.nn.relu(state.x - self.floor)
    return tf.concat([features, tf.math.log1p(gap)], axis=-1)

  def own_size(self, floor: bool = True) -> int:
    """Own inputs of a network that reads own(state, floor)."""
    return self.n_own if floor else self.n_plain

  def own(self, state: base.State, floor: bool = True) -> tf.Tensor:
    """Standardised own inputs; floor=False: without the floor features."""
    if floor or self.floor is None:
      return (self.own_features(state) - self.own_mean) / self.own_std
    n = self.n_plain
    return (self.economy.agent_features(state) - self.own_mean[:n]) / self.own_std[:n]

  def exo(self, state: base.State) -> tf.Tensor:
    return (self.economy.exogenous_features(state) - self.exo_mean) / self.exo_std

  def dist(self, state: base.State) -> tf.Tensor:
    return self.dist_of(self.economy.distribution_inputs(state))

  def dist_of(self, inputs: tf.Tensor) -> tf.Tensor:
    """Standardises raw distribution inputs [..., D]."""
    return (inputs - self.dist_mean) / self.dist_std
