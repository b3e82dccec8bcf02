"""The objectives of the policy step: lifetime utility along simulated paths (through the
computational graph), or the Euler residual on sampled states.

From sampled initial cross-sections the economy is unrolled for T periods under the policy
network; the utility objective is the discounted utility over the unroll plus beta^T times the
value ensemble at the end (Han, Yang & E):

  game     competitive equilibrium by fictitious play: agents 0..G-1 of each path (the optimising
           agents, G = `agents`) carry gradient, the others' actions are stop_gradient (they
           follow the current policy). With `price_taking` (default) every cross-sectional
           aggregate an agent sees (prices and the networks' moments) is stop_gradient too, so
           each optimising agent's utility depends on the parameters through its own actions
           only, and their mean is the mean of G price takers' objectives: G samples of the
           best-response gradient per path instead of one. Without price taking an agent's 1/N
           impact passes through, and G must be 1 (another optimiser's impact on my prices is not
           my choice).
  planner  constrained efficiency: every action carries gradient, the objective is the mean of
           all agents' utilities, and prices respond.

`fast_game` computes the same objective and gradient as `full` for a price-taking game in
passes: (1) the whole economy forward without a tape, recording aggregates and the
cross-section; (2) the policy's moments of every recorded cross-section; (3) agent 0 alone with
a tape, its prices from (1) and its moments from (2); (4) the gradient of the moments' basis as
a vector-Jacobian product of (2) with the moments' gradient from (3). Passes 1, 2, 3 and 4 are
XLA functions called from a plain graph step (trainer.py: PolicyTrainer, with the measurements).
"""

import numpy as np
import tensorflow as tf

from deepham.economies import base
from deepham.solver import distribute
from deepham.solver import policy as policy_lib
from deepham.solver import value as value_lib

MODES = ('game', 'planner')


def _at(shocks: base.Shocks, t) -> base.Shocks:
  return base.Shocks(*[s[t] for s in shocks])


def first_agents(shocks: base.Shocks, n: int = 1) -> base.Shocks:
  """The shocks of agents 0..n-1, of one period ([B, n, ...]) or of an unroll ([T, B, n, ...])."""
  return base.Shocks(shocks.u_z, shocks.u_e[..., :n], shocks.agent_noise[..., :n, :],
                     shocks.aggregate_noise)


class UtilityObjective:
  """Discounted utility over `t_unroll` periods plus the discounted terminal value."""

  def __init__(self, economy: base.Economy, policy: policy_lib.PolicyNetwork,
               value: value_lib.ValueEnsemble, mode: str, price_taking: bool, t_unroll: int,
               agents: int = 1):
    """agents: the game's optimising agents per path (0: all N); the planner ignores it."""
    if mode not in MODES:
      raise ValueError(f'mode must be one of {MODES}')
    agents = agents or economy.n_agents
    if not 1 <= agents <= economy.n_agents or (agents > 1 and mode == 'game' and not price_taking):
      raise ValueError(f'agents must be in [1, {economy.n_agents}], and 1 without price taking')
    self.economy, self.policy, self.value = economy, policy, value
    self.mode, self.price_taking, self.t_unroll = mode, price_taking, t_unroll
    self.agents = agents

  @property
  def separable(self) -> bool:
    """True when `fast_game` applies (a price-taking game)."""
    return self.mode == 'game' and self.price_taking

  def draw_shocks(self, n_paths: int, seed: tf.Tensor, dtype, shard=(0, 1)) -> base.Shocks:
    """Shocks for the whole unroll, leading axis time: [T, B, ...]. With shard=(i, n), those of
    the i-th of n row blocks of a batch of n * B paths (a replica's part of the batch)."""
    econ, T, n = self.economy, self.t_unroll, self.economy.n_agents
    index, count = shard
    B = n_paths * count
    s = tf.random.experimental.stateless_split(seed, 4)
    shocks = base.Shocks(
        u_z=tf.random.stateless_uniform([T, B], s[0], dtype=dtype),
        u_e=tf.random.stateless_uniform([T, B, n], s[1], dtype=dtype),
        agent_noise=tf.random.stateless_normal([T, B, n, econ.n_agent_noise], s[2], dtype=dtype),
        aggregate_noise=tf.random.stateless_normal([T, B, econ.n_aggregate_noise], s[3],
                                                   dtype=dtype))
    if count == 1:
      return shocks
    return distribute.rows(shocks, index, count, axis=1)

  def full(self, state: base.State, shocks: base.Shocks):
    """(objective to maximise [], final state): one tape over the whole unroll."""
    econ, game = self.economy, self.mode == 'game'
    cut = game and self.price_taking
    dtype = state.x.dtype
    util = tf.zeros(tf.shape(state.e), dtype)
    disc = tf.ones([], dtype)
    for t in tf.range(self.t_unroll):
      action = self.policy(state, stop_dist_gradient=cut)
      if game:
        g = self.agents
        action = tf.concat([action[:, :g], tf.stop_gradient(action[:, g:])], axis=1)
      aggregates = econ.clear_markets(state, action, econ.aggregates(state))
      if cut:
        aggregates = tf.stop_gradient(aggregates)
      state, u = econ.step(state, action, aggregates, _at(shocks, t))
      util += disc * u
      disc *= econ.beta
    dist = self.policy.normalizer.dist(state)
    if cut:
      dist = tf.stop_gradient(dist)
    total = util + disc * self.value(state, dist)
    return (tf.reduce_mean(total[:, :self.agents]) if game else tf.reduce_mean(total)), state

  def record(self, state: base.State, shocks: base.Shocks):
    """Phase 1 of `fast_game`: everyone forward, no gradient.

    Returns (aggregates [T, B, n_agg] of `clear_markets`, normalised distribution inputs
    [T + 1, B, N, D], final state).
    """
    econ, norm = self.economy, self.policy.normalizer
    T = self.t_unroll
    aggs = tf.TensorArray(state.x.dtype, size=T)
    dists = tf.TensorArray(state.x.dtype, size=T + 1)
    for t in tf.range(T):
      dist = norm.dist(state)
      aggregates = econ.aggregates(state)
      action = self.policy.act(state, self.policy.net.moments(dist), aggregates,
                               agents=state.x.shape[1])
      aggregates = econ.clear_markets(state, action, aggregates)
      aggs = aggs.write(t, aggregates)
      dists = dists.write(t, dist)
      state, _ = econ.step(state, action, aggregates, _at(shocks, t))
    dists = dists.write(T, norm.dist(state))
    return aggs.stack(), dists.stack(), state

  def fast_game(self, state: base.State, shocks: base.Shocks, aggs: tf.Tensor,
                terminal_dist: tf.Tensor, moments: tf.Tensor) -> tf.Tensor:
    """Pass 3 of `fast_game`: the optimising agents alone, with gradient; aggregates from
    `record`, the policy's moments [T, B, M] of the recorded cross-sections (pass 2) and the
    distribution inputs of the last one [B, N, D]. Only the optimising agents' shocks are
    used."""
    econ, g = self.economy, self.agents
    T = self.t_unroll
    own = base.State(state.x[:, :g], state.e[:, :g], state.z)
    dtype = state.x.dtype
    util = tf.zeros(tf.shape(own.e), dtype)
    disc = tf.ones([], dtype)
    for t in tf.range(T):
      action = self.policy.act(own, moments[t], aggs[t], agents=g)
      own, u = econ.step(own, action, aggs[t], first_agents(_at(shocks, t), g))
      util += disc * u
      disc *= econ.beta
    terminal = self.value(own, terminal_dist)
    return tf.reduce_mean(util + disc * terminal)


EULER_LOSSES = ('square', 'product', 'antithetic')


class EulerObjective:
  """Mean squared Euler residual on sampled states (Kahou, Fernandez-Villaverde, Perla & Sood).

  The conditional expectation uses one Monte Carlo draw of the N idiosyncratic shocks
  (concentration of measure) and Gauss-Hermite quadrature over the aggregate shock. The economy
  supplies `euler_residual(state, action, outcomes)` and `aggregate_quadrature()`.

  loss='square' (Kahou et al.) squares the one-draw residual: its expectation is the squared
  residual plus the variance of the draw, a bias that pulls the policy toward shock-insensitive
  rules. loss='product' multiplies the residuals of two independent draws, an unbiased estimate of
  the squared residual (the all-in-one expectation operator of Maliar, Maliar & Winant, 2021).
  loss='antithetic' squares the mean of the residuals at a draw w and at its mirror -w: the part
  of the residual linear in the idiosyncratic shocks cancels, so the draw's variance (and with it
  the square loss's bias) falls to what is nonlinear in them; at the exact nu = 1 policy it is zero.
  """
  separable = False

  def __init__(self, economy: base.Economy, policy: policy_lib.PolicyNetwork,
               loss: str = 'square'):
    if not economy.has_euler_residual:
      raise ValueError(f'{type(economy).__name__} defines no Euler residual; use '
                       "policy.objective='utility'.")
    if loss not in EULER_LOSSES:
      raise ValueError(f'Euler loss must be one of {list(EULER_LOSSES)}; got {loss!r}.')
    self.economy, self.policy, self.loss_type = economy, policy, loss

  def outcomes(self, state: base.State, action: tf.Tensor, agent_noise: tf.Tensor,
               nodes: np.ndarray, weights: np.ndarray, uniforms=None):
    """(weight, next state, next aggregates, next action) at each aggregate quadrature node,
    with the idiosyncratic draw `agent_noise` [B, N, n_agent_noise] and, in an economy with a
    discrete exogenous chain, the chain's uniforms (u_z [B], u_e [B, N]) of the same draw (None:
    zeros). Aggregates are those of `clear_markets` at each period's actions."""
    econ = self.economy
    aggs = econ.clear_markets(state, action, econ.aggregates(state))
    B = tf.shape(state.z)[0]
    dtype = state.x.dtype
    if uniforms is None:
      uniforms = (tf.zeros([B], dtype), tf.zeros(tf.shape(state.e), dtype))
    out = []
    for node, weight in zip(nodes, weights):
      shocks = base.Shocks(*uniforms, agent_noise,
                           tf.broadcast_to(tf.constant(node, dtype), [B, len(node)]))
      nxt, _ = econ.step(state, action, aggs, shocks)
      act = self.policy(nxt)
      out.append((float(weight), nxt, econ.clear_markets(nxt, act, econ.aggregates(nxt)), act))
    return out

  def residual(self, state: base.State, seed: tf.Tensor | None, action: tf.Tensor | None = None,
               antithetic: bool = False, noise: tf.Tensor | None = None,
               uniforms=None) -> tf.Tensor:
    """Euler residuals [B, N] with the idiosyncratic shocks of one draw (from `seed`, or the
    given `noise` [B, N, n_agent_noise] and chain `uniforms`); with `antithetic`, the mean of
    the residuals at that draw and at its mirror image (-noise, 1 - uniforms)."""
    econ = self.economy
    action = self.policy(state) if action is None else action
    if noise is None:
      noise = tf.random.stateless_normal(
          tf.concat([tf.shape(state.e), [econ.n_agent_noise]], 0), seed, dtype=state.x.dtype)
      uniforms = self.chain_uniforms(state, seed)
    nodes, weights = econ.aggregate_quadrature()
    outcomes = self.outcomes(state, action, noise, nodes, weights, uniforms)
    if antithetic:  # the residual is linear in the outcomes' weights: halve them, add the mirror
      mirror = None if uniforms is None else tuple(1 - u for u in uniforms)
      outcomes = [(w / 2, *rest) for w, *rest in
                  outcomes + self.outcomes(state, action, -noise, nodes, weights, mirror)]
    return econ.euler_residual(state, action, outcomes)

  def chain_uniforms(self, state: base.State, seed: tf.Tensor, shard=(0, 1)):
    """The discrete chain's uniforms (u_z [B], u_e [B, N]) of one draw, or None where the chain
    has one state; with shard=(i, n), the i-th of n row blocks of a batch n times as large.
    They come from fold_in(seed, 1): independent of the normal draw made from `seed`."""
    chain = self.economy.chain
    if chain.n_z * chain.n_e == 1:
      return None
    index, count = shard
    seeds = tf.random.experimental.stateless_split(
        tf.random.experimental.stateless_fold_in(seed, 1), 2)
    B = tf.shape(state.e)[0] * count
    u = (tf.random.stateless_uniform([B], seeds[0], dtype=state.x.dtype),
         tf.random.stateless_uniform([B, tf.shape(state.e)[1]], seeds[1], dtype=state.x.dtype))
    return u if count == 1 else distribute.rows(u, index, count)

  def _noise(self, state: base.State, seed: tf.Tensor, shard) -> tf.Tensor:
    """The idiosyncratic draw [B, N, n_agent_noise] of `residual`; with shard=(i, n), the i-th
    of n row blocks of the draw for a batch n times as large (a replica's part)."""
    index, count = shard
    shape = tf.concat([[tf.shape(state.e)[0] * count], tf.shape(state.e)[1:],
                       [self.economy.n_agent_noise]], 0)
    noise = tf.random.stateless_normal(shape, seed, dtype=state.x.dtype)
    return noise if count == 1 else distribute.rows(noise, index, count)

  def loss(self, state: base.State, seed: tf.Tensor, shard=(0, 1)) -> tf.Tensor:
    if self.loss_type in ('square', 'antithetic'):
      return tf.reduce_mean(tf.square(self.residual(
          state, None, antithetic=self.loss_type == 'antithetic',
          noise=self._noise(state, seed, shard),
          uniforms=self.chain_uniforms(state, seed, shard))))
    action = self.policy(state)
    seeds = tf.random.experimental.stateless_split(seed, 2)
    return tf.reduce_mean(
        self.residual(state, None, action, noise=self._noise(state, seeds[0], shard),
                      uniforms=self.chain_uniforms(state, seeds[0], shard)) *
        self.residual(state, None, action, noise=self._noise(state, seeds[1], shard),
                      uniforms=self.chain_uniforms(state, seeds[1], shard)))

