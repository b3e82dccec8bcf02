"""The polish after the Adam steps: L-BFGS on a fixed sample, where the objective is a
deterministic function of the policy's parameters (`polish`: the antithetic Euler loss;
`polish_best_response`: one price-taking agent's utility against the economy the current policy
makes, a best response).
"""

import numpy as np
import tensorflow as tf

from deepham.economies import base
from deepham.solver import objectives
from deepham.solver import trainer as trainer_lib


def polish(objective: objectives.EulerObjective, states: base.State, iterations: int,
           seed: tf.Tensor, chunk_states: int = 2**16, report_every: int = 25,
           progress=None) -> dict:
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
  polish_obj = objectives.EulerObjective(econ, objective.policy, 'antithetic')
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


def polish_best_response(trainer: trainer_lib.PolicyTrainer, states: base.State,
                         iterations: int, seed: tf.Tensor, chunk_paths: int = 512,
                         report_every: int = 25, progress=None) -> dict:
  """Polishes a price-taking game's policy by L-BFGS on the optimising agents' best response.

  The economy is simulated once from `states` under the current policy with fixed shocks
  (`record`); with those aggregates and cross-sections held fixed, the optimising agents'
  discounted utility over the unroll plus their terminal value is a deterministic function of
  the policy's parameters, which L-BFGS maximises: the policy's best response to the economy
  the current policy makes, on that sample. Called again (phases.py: `policy.polish_rounds`,
  fresh shocks and a fresh sample each time), it iterates best responses towards the
  equilibrium: the fixed point where the policy is its own best response. Adam on fresh
  batches, by contrast, stops where its gradient noise lets it (for the investment economy at
  nu = 1, about 0.1% from the exact policy: the objective is flat there, gamma/2 times the
  squared error).

  Returns the loss (minus the objective, per path) before and after and the iterations done.
  """
  S = int(states.z.shape[0])
  dtype = states.x.dtype
  chunks = []
  seeds = tf.random.experimental.stateless_split(seed, -(-S // chunk_paths))
  for i, lo in enumerate(range(0, S, chunk_paths)):
    part = base.State(*[f[lo:lo + chunk_paths] for f in states])
    shocks = trainer.objective.draw_shocks(tf.shape(part.z)[0], seeds[i], dtype)
    own_shocks = objectives.first_agents(shocks, trainer.objective.agents)
    chunks.append((int(part.z.shape[0]), part, own_shocks,
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

