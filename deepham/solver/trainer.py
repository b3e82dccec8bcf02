"""The policy step: one compiled Adam step on a batch of initial cross-sections, on an objective
of objectives.py (with the fast passes of a price-taking game) and an optional penalty. Under a
tf.distribute strategy with replicas the batch's rows are split among them (distribute.py).
"""

import tensorflow as tf

from deepham.economies import base
from deepham.solver import distribute
from deepham.solver import objectives


class PolicyTrainer:
  """One compiled Adam step on a batch of initial cross-sections."""

  def __init__(self, objective, learning_rate, adam_beta1: float, adam_beta2: float,
               fast: bool = True, jit: bool = True, penalty=None, penalty_weight: float = 0.0,
               strategy: tf.distribute.Strategy | None = None):
    """penalty(cross_sections, seed) -> a loss added, times penalty_weight, to the utility
    objective's (probes.EulerPenalty for policy.euler_weight). Build it, as the policy, under
    `strategy.scope()` when there is a strategy."""
    self.strategy = strategy if distribute.replicated(strategy) else None
    if self.strategy is not None and penalty is not None:
      raise ValueError('the Euler penalty draws its probes over the whole batch: it needs '
                       "run.strategy='default'")
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
    if isinstance(objective, objectives.UtilityObjective):  # traced only if used
      self._full_pass = tf.function(self._full_gradient, jit_compile=jit)
    if penalty is not None:
      self._penalty_pass = tf.function(self._penalty_gradient, jit_compile=jit)
    self.step = tf.function(self._step)
    if self.strategy is not None:
      self.distributed_loss_and_gradient = tf.function(self._distributed_loss_and_gradient)

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

  def _objective_loss_and_gradient(self, state: base.State, seed: tf.Tensor, shard=(0, 1)):
    """On a replica's rows (shard=(replica, replicas)) with the draws those rows get in the
    whole batch."""
    obj = self.objective
    if isinstance(obj, objectives.EulerObjective):
      with tf.GradientTape() as tape:
        loss = obj.loss(state, seed, shard)
      grads = tape.gradient(loss, self.variables,
                            unconnected_gradients=tf.UnconnectedGradients.ZERO)
      return loss, grads, tf.reduce_mean(obj.economy.aggregates(state), axis=0)
    shocks = obj.draw_shocks(tf.shape(state.z)[0], seed, state.x.dtype, shard)
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

  def _distributed_loss_and_gradient(self, state: base.State, seed: tf.Tensor):
    """loss_and_gradient of the whole batch, each replica on its rows, averaged over them."""
    strategy = self.strategy

    def replica(state, seed):
      ctx = tf.distribute.get_replica_context()
      shard = (ctx.replica_id_in_sync_group, ctx.num_replicas_in_sync)
      out = self._objective_loss_and_gradient(distribute.rows(state, *shard), seed, shard)
      return ctx.all_reduce(tf.distribute.ReduceOp.MEAN, out)

    out = strategy.run(replica, args=(state, seed))
    return tf.nest.map_structure(lambda x: strategy.experimental_local_results(x)[0], out)

  def _step(self, state: base.State, seed: tf.Tensor):
    if self.strategy is None:
      loss, grads, end = self.loss_and_gradient(state, seed)
    else:
      loss, grads, end = self._distributed_loss_and_gradient(state, seed)
    finite = tf.math.is_finite(loss) & tf.reduce_all(
        [tf.reduce_all(tf.math.is_finite(g)) for g in grads])
    if finite:
      self.optimizer.apply_gradients(zip(grads, self.variables))
    return loss, end, finite
