"""Policy step: maximise lifetime utility along simulated paths, through the computational graph.

From sampled initial cross-sections the economy is unrolled for T periods under the policy
network; the objective is the discounted utility over the unroll plus beta^T times the value
ensemble at the end (Han, Yang & E):

  game     competitive equilibrium by fictitious play: agent 0 of each path carries gradient, the
           others' actions are stop_gradient (they follow the current policy). With
           `price_taking` (default) every cross-sectional aggregate the agent sees (prices and the
           networks' moments) is stop_gradient too; otherwise its 1/N impact passes through.
  planner  constrained efficiency: every action carries gradient, the objective is the mean of
           all agents' utilities, and prices respond.

`fast_game` computes the same objective and gradient as `full` for a price-taking game in
passes: (1) the whole economy forward without a tape, recording aggregates and the
cross-section; (2) the policy's moments of every recorded cross-section; (3) agent 0 alone with
a tape, its prices from (1) and its moments from (2); (4) the gradient of the moments' basis as
a vector-Jacobian product of (2) with the moments' gradient from (3). Passes 1, 2, 3 and 4 are
XLA functions called from a plain graph step (see PolicyTrainer for the measurements).

After the Adam steps a run may polish the policy by L-BFGS on a fixed sample (`polish`: the
Euler loss; `polish_best_response`: one price-taking agent's utility against the economy the
current policy makes, a best response).
"""

import numpy as np
import tensorflow as tf

from deepham.economies import base
from deepham.solver import networks
from deepham.solver import value as value_lib

MODES = ('game', 'planner')


class PolicyNetwork(tf.Module):
  """action_i = economy.action_from_output(rho(own_i, exo, moments)); equivariant in agents."""

  def __init__(self, economy: base.Economy, normalizer: networks.Normalizer, net_kwargs: dict,
               rng: np.random.Generator, dtype, name='policy', use_own: bool = True):
    super().__init__(name=name)
    self.economy, self.normalizer = economy, normalizer
    self.net = networks.SymmetricNet(normalizer.n_own, normalizer.n_exo, normalizer.n_dist,
                                     economy.n_actions, rng=rng, dtype=dtype, name='net',
                                     use_own=use_own, **net_kwargs)

  def act(self, state: base.State, moments: tf.Tensor) -> tf.Tensor:
    n = self.normalizer
    return self.economy.action_from_output(self.net(n.own(state), n.exo(state), moments))

  def conditional_policy(self, own: base.State, reference: base.State) -> tf.Tensor:
    """Actions of agents `own` [B, G] living in the cross-section `reference` [B, N]."""
    return self.act(own, self.net.moments(self.normalizer.dist(reference)))

  def __call__(self, state: base.State, aggregates=None, stop_dist_gradient=False) -> tf.Tensor:
    """Action [B, N, n_actions]; the signature of a simulation policy."""
    dist = self.normalizer.dist(state)
    if stop_dist_gradient:
      dist = tf.stop_gradient(dist)
    return self.act(state, self.net.moments(dist))


def _at(shocks: base.Shocks, t) -> base.Shocks:
  return base.Shocks(*[s[t] for s in shocks])


def _agent0(shocks: base.Shocks) -> base.Shocks:
  """Agent 0's shocks, of one period ([B, 1, ...]) or of an unroll ([T, B, 1, ...])."""
  return base.Shocks(shocks.u_z, shocks.u_e[..., :1], shocks.agent_noise[..., :1, :],
                     shocks.aggregate_noise)


class UtilityObjective:
  """Discounted utility over `t_unroll` periods plus the discounted terminal value."""

  def __init__(self, economy: base.Economy, policy: PolicyNetwork,
               value: value_lib.ValueEnsemble, mode: str, price_taking: bool, t_unroll: int):
    if mode not in MODES:
      raise ValueError(f'mode must be one of {MODES}')
    self.economy, self.policy, self.value = economy, policy, value
    self.mode, self.price_taking, self.t_unroll = mode, price_taking, t_unroll

  @property
  def separable(self) -> bool:
    """True when `fast_game` applies (a price-taking game)."""
    return self.mode == 'game' and self.price_taking

  def draw_shocks(self, n_paths: int, seed: tf.Tensor, dtype) -> base.Shocks:
    """Shocks for the whole unroll, leading axis time: [T, B, ...]."""
    econ, T, n = self.economy, self.t_unroll, self.economy.n_agents
    s = tf.random.experimental.stateless_split(seed, 4)
    return base.Shocks(
        u_z=tf.random.stateless_uniform([T, n_paths], s[0], dtype=dtype),
        u_e=tf.random.stateless_uniform([T, n_paths, n], s[1], dtype=dtype),
        agent_noise=tf.random.stateless_normal([T, n_paths, n, econ.n_agent_noise], s[2],
                                               dtype=dtype),
        aggregate_noise=tf.random.stateless_normal([T, n_paths, econ.n_aggregate_noise], s[3],
                                                   dtype=dtype))

  def full(self, state: base.State, shocks: base.Shocks):
    """(objective to maximise [], final state): one tape over the whole unroll."""
    econ, game = self.economy, self.mode == 'game'
    cut = game and self.price_taking
    dtype = state.x.dtype
    util = tf.zeros(tf.shape(state.e), dtype)
    disc = tf.ones([], dtype)
    for t in tf.range(self.t_unroll):
      aggregates = econ.aggregates(state)
      if cut:
        aggregates = tf.stop_gradient(aggregates)
      action = self.policy(state, stop_dist_gradient=cut)
      if game:
        action = tf.concat([action[:, :1], tf.stop_gradient(action[:, 1:])], axis=1)
      state, u = econ.step(state, action, aggregates, _at(shocks, t))
      util += disc * u
      disc *= econ.beta
    dist = self.policy.normalizer.dist(state)
    if cut:
      dist = tf.stop_gradient(dist)
    total = util + disc * self.value(state, dist)
    return (tf.reduce_mean(total[:, 0]) if game else tf.reduce_mean(total)), state

  def record(self, state: base.State, shocks: base.Shocks):
    """Phase 1 of `fast_game`: everyone forward, no gradient.

    Returns (aggregates [T, B, n_agg], normalised distribution inputs [T + 1, B, N, D],
    final state).
    """
    econ, norm = self.economy, self.policy.normalizer
    T = self.t_unroll
    aggs = tf.TensorArray(state.x.dtype, size=T)
    dists = tf.TensorArray(state.x.dtype, size=T + 1)
    for t in tf.range(T):
      aggregates = econ.aggregates(state)
      dist = norm.dist(state)
      action = self.policy.act(state, self.policy.net.moments(dist))
      aggs = aggs.write(t, aggregates)
      dists = dists.write(t, dist)
      state, _ = econ.step(state, action, aggregates, _at(shocks, t))
    dists = dists.write(T, norm.dist(state))
    return aggs.stack(), dists.stack(), state

  def fast_game(self, state: base.State, shocks: base.Shocks, aggs: tf.Tensor,
                terminal_dist: tf.Tensor, moments: tf.Tensor) -> tf.Tensor:
    """Pass 3 of `fast_game`: agent 0 alone, with gradient; aggregates from `record`, the
    policy's moments [T, B, M] of the recorded cross-sections (pass 2) and the distribution
    inputs of the last one [B, N, D]. Only agent 0's shocks are used."""
    econ = self.economy
    T = self.t_unroll
    own = base.State(state.x[:, :1], state.e[:, :1], state.z)
    dtype = state.x.dtype
    util = tf.zeros(tf.shape(own.e), dtype)
    disc = tf.ones([], dtype)
    for t in tf.range(T):
      action = self.policy.act(own, moments[t])
      own, u = econ.step(own, action, aggs[t], _agent0(_at(shocks, t)))
      util += disc * u
      disc *= econ.beta
    terminal = self.value(own, terminal_dist)
    return tf.reduce_mean(util[:, 0] + disc * terminal[:, 0])


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

  def __init__(self, economy: base.Economy, policy: PolicyNetwork, loss: str = 'square'):
    if not economy.has_euler_residual:
      raise ValueError(f'{type(economy).__name__} defines no Euler residual; use '
                       "policy.objective='utility'.")
    if loss not in EULER_LOSSES:
      raise ValueError(f'Euler loss must be one of {list(EULER_LOSSES)}; got {loss!r}.')
    self.economy, self.policy, self.loss_type = economy, policy, loss

  def outcomes(self, state: base.State, action: tf.Tensor, agent_noise: tf.Tensor,
               nodes: np.ndarray, weights: np.ndarray):
    """(weight, next state, next aggregates, next action) at each aggregate quadrature node."""
    econ = self.economy
    aggs = econ.aggregates(state)
    B = tf.shape(state.z)[0]
    dtype = state.x.dtype
    out = []
    for node, weight in zip(nodes, weights):
      shocks = base.Shocks(tf.zeros([B], dtype), tf.zeros(tf.shape(state.e), dtype), agent_noise,
                           tf.broadcast_to(tf.constant(node, dtype), [B, len(node)]))
      nxt, _ = econ.step(state, action, aggs, shocks)
      out.append((float(weight), nxt, econ.aggregates(nxt), self.policy(nxt)))
    return out

  def residual(self, state: base.State, seed: tf.Tensor | None, action: tf.Tensor | None = None,
               antithetic: bool = False, noise: tf.Tensor | None = None) -> tf.Tensor:
    """Euler residuals [B, N] with the idiosyncratic shocks of one draw (from `seed`, or the
    given `noise` [B, N, n_agent_noise]); with `antithetic`, the mean of the residuals at that
    draw and at its mirror image."""
    econ = self.economy
    action = self.policy(state) if action is None else action
    if noise is None:
      noise = tf.random.stateless_normal(
          tf.concat([tf.shape(state.e), [econ.n_agent_noise]], 0), seed, dtype=state.x.dtype)
    nodes, weights = econ.aggregate_quadrature()
    outcomes = self.outcomes(state, action, noise, nodes, weights)
    if antithetic:  # the residual is linear in the outcomes' weights: halve them, add the mirror
      outcomes = [(w / 2, *rest) for w, *rest in
                  outcomes + self.outcomes(state, action, -noise, nodes, weights)]
    return econ.euler_residual(state, action, outcomes)

  def loss(self, state: base.State, seed: tf.Tensor) -> tf.Tensor:
    if self.loss_type in ('square', 'antithetic'):
      return tf.reduce_mean(tf.square(
          self.residual(state, seed, antithetic=self.loss_type == 'antithetic')))
    action = self.policy(state)
    seeds = tf.random.experimental.stateless_split(seed, 2)
    return tf.reduce_mean(self.residual(state, seeds[0], action) *
                          self.residual(state, seeds[1], action))


def polish(objective: EulerObjective, states: base.State, iterations: int, seed: tf.Tensor,
           chunk_states: int = 2**16, report_every: int = 25, progress=None) -> dict:
  """Polishes the policy by L-BFGS on the antithetic Euler loss over a fixed sample of states.

  Adam on fresh batches leaves the policy wherever the gradient noise lets it settle (for the
  investment economy at nu = 1, errors of about 1e-3 relative that vary along the path, which
  the Euler residual multiplies by gamma). On a fixed sample with fixed idiosyncratic draws the
  loss is a deterministic function of the parameters, which a quasi-Newton method minimises to
  high precision. The antithetic loss is used because it stays a sound target on a fixed
  sample: it is a square (so bounded below, unlike the product loss) and, the part of the draw's
  noise linear in the shocks cancelling, it is zero at the exact policy when the residual is
  linear in the shocks (nu = 1), so the draws cannot bias the solution there; the square loss
  would fit the draws' noise. The sample is evaluated in chunks of about `chunk_states` agent
  states, with the draws made once for the whole sample (chunking changes only memory use).

  Returns the loss before and after and the number of iterations done.
  """
  econ = objective.economy
  polish_obj = EulerObjective(econ, objective.policy, 'antithetic')
  variables = list(objective.policy.trainable_variables)
  assign = _assigner(variables)
  S, N = int(states.z.shape[0]), int(states.e.shape[1])
  per_chunk = max(1, min(S, chunk_states // N))
  n_chunks = -(-S // per_chunk)
  noise = tf.random.stateless_normal([S, N, econ.n_agent_noise], seed, dtype=states.x.dtype)

  @tf.function
  def loss_and_gradient(theta):
    assign(theta)
    loss = tf.zeros([], states.x.dtype)
    grads = [tf.zeros_like(v) for v in variables]
    for i in tf.range(n_chunks):
      lo = i * per_chunk
      part = base.State(*[f[lo:lo + per_chunk] for f in states])
      with tf.GradientTape() as tape:  # sum of squares / (S N), the chunk's share of the mean
        res = polish_obj.residual(part, None, antithetic=True, noise=noise[lo:lo + per_chunk])
        part_loss = tf.reduce_sum(tf.square(res)) / (S * N)
      grads = [a + b for a, b in zip(grads, tape.gradient(
          part_loss, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO))]
      loss += part_loss
    return loss, _flat(grads)

  theta = _flat(variables)
  theta, start_loss, done = _lbfgs(loss_and_gradient, theta, iterations, report_every, progress)
  assign(theta)
  return dict(polish_loss_start=start_loss, polish_loss_end=float(loss_and_gradient(theta)[0]),
              polish_iterations=done)


def polish_best_response(trainer: 'PolicyTrainer', states: base.State, iterations: int,
                         seed: tf.Tensor, chunk_paths: int = 512, report_every: int = 25,
                         progress=None) -> dict:
  """Polishes a price-taking game's policy by L-BFGS on agent 0's best response.

  The economy is simulated once from `states` under the current policy with fixed shocks
  (`record`); with those aggregates and cross-sections held fixed, agent 0's discounted utility
  over the unroll plus its terminal value is a deterministic function of the policy's
  parameters, which L-BFGS maximises: the policy's best response to the economy the current
  policy makes, on that sample. Called again (train.py: `policy.polish_rounds`, fresh shocks
  and a fresh sample each time), it iterates best responses towards the equilibrium: the fixed
  point where the policy is its own best response. Adam on fresh batches, by contrast, stops
  where its gradient noise lets it (for the investment economy at nu = 1, about 0.1% from the
  exact policy: the objective is flat there, gamma/2 times the squared error).

  Returns the loss (minus the objective, per path) before and after and the iterations done.
  """
  S = int(states.z.shape[0])
  dtype = states.x.dtype
  chunks = []
  seeds = tf.random.experimental.stateless_split(seed, -(-S // chunk_paths))
  for i, lo in enumerate(range(0, S, chunk_paths)):
    part = base.State(*[f[lo:lo + chunk_paths] for f in states])
    shocks = trainer.objective.draw_shocks(tf.shape(part.z)[0], seeds[i], dtype)
    chunks.append((int(part.z.shape[0]), part, _agent0(shocks),
                   *trainer.recorded_economy(part, shocks)))
  variables = trainer.variables
  assign = _assigner(variables)

  def loss_and_gradient(theta):
    assign(theta)
    loss, grads = tf.zeros([], dtype), [tf.zeros_like(v) for v in variables]
    for n, part, shocks, aggs, dists, moments in chunks:
      l, g = trainer.agent_loss_and_gradient(part, shocks, aggs, dists, moments)
      loss += l * (n / S)
      grads = [a + b * (n / S) for a, b in zip(grads, g)]
    return loss, _flat(grads)

  theta, start_loss, done = _lbfgs(loss_and_gradient, _flat(variables), iterations,
                                   report_every, progress)
  assign(theta)
  return dict(polish_loss_start=start_loss, polish_loss_end=float(loss_and_gradient(theta)[0]),
              polish_iterations=done)


def _flat(tensors) -> tf.Tensor:
  return tf.concat([tf.reshape(t, [-1]) for t in tensors], 0)


def _assigner(variables):
  """theta (flat) -> assigns its parts to `variables`."""
  shapes = [v.shape for v in variables]
  sizes = [int(np.prod(s)) for s in shapes]

  def assign(theta):
    for v, part, shape in zip(variables, tf.split(theta, sizes), shapes):
      v.assign(tf.reshape(part, shape))
  return assign


def _lbfgs(loss_and_gradient, theta: tf.Tensor, iterations: int, report_every: int,
           progress=None) -> tuple[tf.Tensor, float, int]:
  """L-BFGS from theta for at most `iterations` iterations: (best theta, loss at the start,
  iterations done). It runs in pieces of `report_every` iterations (for progress); when its
  line search fails (seen on small samples after a few iterations), it restarts from the point
  reached with a fresh curvature history, as long as the failed run had still lowered the loss.
  The optimiser runs eagerly around `loss_and_gradient`: tracing it (with its line search) into
  a graph took longer than the iterations themselves."""
  options = dict(num_correction_pairs=20, tolerance=0.0, x_tolerance=0.0,
                 f_relative_tolerance=0.0)
  begin = lambda theta, target: tfp_optimizer().lbfgs_minimize(
      loss_and_gradient, initial_position=theta, max_iterations=target, **options)
  resume = lambda previous, target: tfp_optimizer().lbfgs_minimize(
      loss_and_gradient, initial_position=None, previous_optimizer_results=previous,
      max_iterations=target, **options)
  start_loss = float(loss_and_gradient(theta)[0])
  results, done, run_start, run_loss = None, 0, 0, start_loss
  while done < iterations:
    target = tf.constant(min(iterations, done + report_every) - run_start)
    results = begin(theta, target) if results is None else resume(results, target)
    done = run_start + int(results.num_iterations)
    loss = float(results.objective_value)
    if progress is not None:
      progress.update(done, f'loss {loss:.10g}')
    if bool(results.failed) and loss < run_loss and done < iterations:
      theta, results, run_start, run_loss = results.position, None, done, loss  # restart
      continue
    if bool(results.converged) or bool(results.failed) or done < run_start + int(target):
      break  # a zero gradient, or no further decrease along the search direction
  if results is not None:
    theta = results.position  # the best point found (the last evaluation may be a trial point)
  return theta, start_loss, done


def tfp_optimizer():
  """tfp.optimizer, imported on first use (TensorFlow Probability loads slowly)."""
  import tensorflow_probability as tfp  # pylint: disable=g-import-not-at-top
  return tfp.optimizer


class PolicyTrainer:
  """One compiled Adam step on a batch of initial cross-sections."""

  def __init__(self, objective, learning_rate, adam_beta1: float, adam_beta2: float,
               fast: bool = True, jit: bool = True, penalty=None, penalty_weight: float = 0.0):
    """penalty(cross_sections, seed) -> a loss added, times penalty_weight, to the utility
    objective's (probes.EulerPenalty for policy.euler_weight)."""
    self.objective = objective
    self.penalty, self.penalty_weight = penalty, penalty_weight
    self.optimizer = tf.keras.optimizers.Adam(learning_rate, beta_1=adam_beta1,
                                              beta_2=adam_beta2, epsilon=1e-8)
    self.variables = list(objective.policy.trainable_variables)
    self.optimizer.build(self.variables)  # slots exist before the compiled step branches on them
    self.fast = fast and objective.separable
    # Measured on a 2-core CPU: XLA speeds up the forward simulation about 2x and the basis
    # network's pass over every agent and period about 10x, but compiling the whole step (its
    # backward pass through the time loop) is slower than TF's graph executor. So the step is a
    # plain graph calling three XLA functions: the forward simulation, the moments, and the
    # moments' vector-Jacobian product.
    if self.fast:
      moments = objective.policy.net.moments
      self._gm_variables = list(moments.trainable_variables)
      gm_ids = {id(v) for v in self._gm_variables}
      self._other_variables = [v for v in self.variables if id(v) not in gm_ids]
      self._record = tf.function(objective.record, jit_compile=jit)
      self._moments = tf.function(lambda d: moments(d), jit_compile=jit)
      self._moments_vjp = tf.function(self._vjp, jit_compile=jit)
      self._agent_pass = tf.function(self._agent_gradient, jit_compile=jit)
    if isinstance(objective, UtilityObjective):  # traced only if used
      self._full_pass = tf.function(self._full_gradient, jit_compile=jit)
    if penalty is not None:
      self._penalty_pass = tf.function(self._penalty_gradient, jit_compile=jit)
    self.step = tf.function(self._step)

  def _penalty_gradient(self, state, seed):
    with tf.GradientTape() as tape:
      loss = self.penalty(state, seed)
    return loss, tape.gradient(loss, self.variables,
                               unconnected_gradients=tf.UnconnectedGradients.ZERO)

  def _full_gradient(self, state, shocks):
    with tf.GradientTape() as tape:
      value, end = self.objective.full(state, shocks)
      loss = -value
    return loss, tape.gradient(loss, self.variables,
                               unconnected_gradients=tf.UnconnectedGradients.ZERO), end

  def _agent_gradient(self, state, shocks, aggs, terminal_dist, moments):
    """Loss of agent 0's pass and its gradient w.r.t. the non-basis parameters and moments."""
    with tf.GradientTape() as tape:
      tape.watch(moments)
      loss = -self.objective.fast_game(state, shocks, aggs, terminal_dist, moments)
    return loss, tape.gradient(loss, self._other_variables + [moments],
                               unconnected_gradients=tf.UnconnectedGradients.ZERO)

  def _vjp(self, dists: tf.Tensor, upstream: tf.Tensor):
    """Gradient of sum(moments(dists) * upstream) with respect to the basis' parameters."""
    with tf.GradientTape() as tape:
      m = self.objective.policy.net.moments(dists)
    return tape.gradient(m, self._gm_variables, output_gradients=upstream,
                         unconnected_gradients=tf.UnconnectedGradients.ZERO)

  def loss_and_gradient(self, state: base.State, seed: tf.Tensor):
    """(loss, gradients, mean end-of-unroll aggregates); loss = -objective or the Euler MSE,
    plus the weighted penalty if there is one."""
    loss, grads, end = self._objective_loss_and_gradient(state, seed)
    if self.penalty is not None:
      extra, extra_grads = self._penalty_pass(state, tf.random.experimental.stateless_fold_in(
          seed, 1))
      w = tf.cast(self.penalty_weight, loss.dtype)
      loss += w * extra
      grads = [g + w * h for g, h in zip(grads, extra_grads)]
    return loss, grads, end

  def _objective_loss_and_gradient(self, state: base.State, seed: tf.Tensor):
    obj = self.objective
    if isinstance(obj, EulerObjective):
      with tf.GradientTape() as tape:
        loss = obj.loss(state, seed)
      grads = tape.gradient(loss, self.variables,
                            unconnected_gradients=tf.UnconnectedGradients.ZERO)
      return loss, grads, tf.reduce_mean(obj.economy.aggregates(state), axis=0)
    shocks = obj.draw_shocks(tf.shape(state.z)[0], seed, state.x.dtype)
    if self.fast:
      aggs, dists, end = self._record(state, shocks)
      moments = self._moments(dists[:-1])
      loss, grads = self.agent_loss_and_gradient(state, shocks, aggs, dists, moments)
      return loss, grads, tf.reduce_mean(obj.economy.aggregates(end), axis=0)
    loss, grads, end = self._full_pass(state, shocks)
    return loss, grads, tf.reduce_mean(obj.economy.aggregates(end), axis=0)

  def recorded_economy(self, state: base.State, shocks: base.Shocks):
    """(aggregates, distribution inputs, moments): passes 1 and 2 of `fast_game`, the inputs of
    `agent_loss_and_gradient` that a best response holds fixed. Without a learned basis the
    moments do not depend on the parameters: they are computed here, and of the distributions
    only the last is kept (for the terminal value); with one, moments is None and they are
    recomputed from all the distributions at every evaluation."""
    if not self.fast:
      raise ValueError('a recorded economy needs a price-taking game (the separable objective '
                       'of fast_game)')
    aggs, dists, _ = self._record(state, shocks)
    if self._gm_variables:
      return aggs, dists, None
    return aggs, dists[-1:], self._moments(dists[:-1])

  def agent_loss_and_gradient(self, state, shocks, aggs, dists, moments=None):
    """Passes 3 and 4 of `fast_game` (and pass 2 if `moments` is None): agent 0's loss, the
    others' aggregates and distributions [T + 1, ...] from `record` held fixed, and its gradient
    with respect to every policy variable. With the basis' moments computed here (None), this is
    the objective of agent 0's best response to the recorded economy."""
    if moments is None:
      moments = self._moments(dists[:-1])
    loss, grads = self._agent_pass(state, shocks, aggs, dists[-1], moments)
    by_id = dict(zip([id(v) for v in self._other_variables], grads[:-1]))
    if self._gm_variables:
      by_id.update(zip([id(v) for v in self._gm_variables],
                       self._moments_vjp(dists[:-1], grads[-1])))
    return loss, [by_id[id(v)] for v in self.variables]

  def _step(self, state: base.State, seed: tf.Tensor):
    loss, grads, end = self.loss_and_gradient(state, seed)
    finite = tf.math.is_finite(loss) & tf.reduce_all(
        [tf.reduce_all(tf.math.is_finite(g)) for g in grads])
    if finite:
      self.optimizer.apply_gradients(zip(grads, self.variables))
    return loss, end, finite


def imitate(policy: PolicyNetwork, target, states: base.State, steps: int, batch: int,
            learning_rate: float, seed: int) -> float:
  """Fits the policy to another policy's actions on `states` (a warm start).

  The loss is the squared relative error (floored at a tenth of the mean action, for actions
  near zero), so small actions such as the consumption shares of the rich are fitted as well as
  large ones; the learning rate decays tenfold. Returns the final mean squared relative error.
  """
  schedule = tf.keras.optimizers.schedules.ExponentialDecay(learning_rate, max(steps, 1), 0.1)
  opt = tf.keras.optimizers.Adam(schedule)
  variables = list(policy.trainable_variables)
  opt.build(variables)
  target_actions = target(states, policy.economy.aggregates(states))
  scale = tf.abs(target_actions) + 0.1 * tf.reduce_mean(tf.abs(target_actions))
  n = int(states.z.shape[0])

  @tf.function
  def run(idx):
    loss = tf.zeros([], states.x.dtype)
    for i in tf.range(tf.shape(idx)[0]):
      sub = base.State(*[tf.gather(f, idx[i]) for f in states])
      with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(
            (policy(sub) - tf.gather(target_actions, idx[i])) / tf.gather(scale, idx[i])))
      opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return loss

  rng = np.random.default_rng(seed)
  idx = rng.integers(0, n, (steps, min(batch, n)))
  return float(run(tf.constant(idx, tf.int32))) if steps else 0.0
