"""The warm start: the policy network fitted to another policy's actions (the economy's initial
rule, or a conventional benchmark) before training."""

import contextlib

import numpy as np
import tensorflow as tf

from deepham.economies import base
from deepham.solver import policy as policy_lib


def imitate(policy: policy_lib.PolicyNetwork, target, states: base.State, steps: int,
            batch: int, learning_rate: float, seed: int,
            variable_scope=contextlib.nullcontext) -> float:
  """Fits the policy to another policy's actions on `states` (a warm start).

  The loss is the squared relative error (floored at a tenth of the mean action, for actions
  near zero), so small actions such as the consumption shares of the rich are fitted as well as
  large ones; the learning rate decays tenfold. Returns the final mean squared relative error.
  The optimiser is made in `variable_scope()` (where the policy's variables were made) and used
  outside it.
  """
  schedule = tf.keras.optimizers.schedules.ExponentialDecay(learning_rate, max(steps, 1), 0.1)
  variables = list(policy.trainable_variables)
  with variable_scope():
    opt = tf.keras.optimizers.Adam(schedule)
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
