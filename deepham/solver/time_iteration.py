"""Time iteration on the policy network: the Euler equation's targets, fitted by regression.

The utility objective trains the policy where the simulated paths go and, through them, weighs
each state by how often they go there: near a borrowing constraint and above the simulated range
its signal is weak, and the policy learned there is wrong by several percent (KS:
docs/results.md). The Euler equation is a condition at every state, however rare. One iteration
(Coleman's operator, with the network as the function it acts on):

  1. cross-sections: the distribution simulated on under the current policy, a snapshot every
     `SPACING` periods, `states` of them;
  2. agents: every agent of those cross-sections and `probes` probe agents per cross-section
     drawn over the explored region (solver/explore.py: from the constraint to `reach` times the
     largest state), each a price taker in its cross-section;
  3. targets: what each agent's Euler equation with the constraint implies today, given next
     period's actions under the current policy in each exogenous outcome, the cross-section
     moving on under the current policy (probes.euler_targets: the exact expectation); with
     `damping` < 1, that share of the way to it from the current policy's action (with
     `damping_far`, another share for agents far above the floor: `agent_damping`);
  4. fit: Adam steps on minibatches of `batch_size` cross-sections, on the economy's loss of the
     network's output against the targets (`euler_target_loss`, in the Kuhn-Tucker form).

A fixed point is a policy that meets its Euler equation at every state trained on, in the
economy its own actions make: the price-taking (competitive) equilibrium that the utility
objective's fictitious play approaches. Started from that objective's solution, which is right
in the bulk of the distribution, a few tens of iterations carry it to the tails. It needs an
economy with Euler targets (`has_euler_errors`) and a price-taking game: a planner's optimum
is not where each agent's Euler equation holds.
"""

import numpy as np
import tensorflow as tf

from deepham.economies import base
from deepham.solver import probes

# Periods between the snapshots of one iteration's cross-sections: a snapshot closer to the
# last one would add little that the last one did not have.
SPACING = 10

# With damping_far, an agent's damping ramps linearly from `damping` to `damping_far` as its
# distance from the floor goes from NEAR to FAR times its cross-section's mean distance: the
# households near the constraint, where undamped iterations were noisy (KS: k below about 5),
# keep `damping`; the rich, whose policy contracts only at about beta per iteration
# (benchmarks/coleman_rate.py; KS: k above about 20), get `damping_far`.
NEAR, FAR = 0.125, 0.5


def applies(config) -> bool:
  """Whether a run's policy.time_iterations are done: time iteration solves each price taker's
  Euler equation, so it runs in a price-taking game with the utility objective and is idle
  elsewhere (a game config's setting stays valid with mode=planner or price impact)."""
  p = config.policy
  return config.mode == 'game' and p.price_taking and p.objective == 'utility'


class TimeIteration:
  """Targets and the fit of one iteration, compiled once for the run."""

  def __init__(self, economy: base.Economy, policy, learning_rate: float, batch_size: int,
               probes_per_section: int, reach: float, damping: float = 1.0,
               damping_far: float | None = None, chunk: int = 512):
    if not economy.has_euler_errors:
      raise ValueError(f'{type(economy).__name__} defines no Euler targets.')
    self.economy, self.policy = economy, policy
    self.batch_size, self.probes, self.reach = batch_size, probes_per_section, reach
    self.damping, self.damping_far, self.chunk = damping, damping_far, chunk
    self.optimizer = tf.keras.optimizers.Adam(learning_rate, beta_1=0.9, beta_2=0.99,
                                              epsilon=1e-8)
    self.variables = list(policy.trainable_variables)
    self.optimizer.build(self.variables)
    self._targets = tf.function(self._targets_impl)
    self._step = tf.function(self._step_impl)

  def agents(self, cross_sections: base.State, seed: tf.Tensor) -> base.State:
    """Each cross-section's agents followed by its probe agents: [S, N + probes]."""
    econ = self.economy
    if not self.probes:
      return cross_sections
    extra = probes.draw_probes(cross_sections, econ.state_floor, econ.chain.n_e, self.probes,
                               self.reach, seed, econ.n_common_states)
    return base.State(tf.concat([cross_sections.x, extra.x], 1),
                      tf.concat([cross_sections.e, extra.e], 1), cross_sections.z)

  def agent_damping(self, own: base.State, cross_sections: base.State):
    """The damping of each agent of `own` [S, G]: `damping`, or with `damping_far` the ramp
    (NEAR, FAR) in the first state's distance from the floor relative to its cross-section's
    mean distance."""
    if self.damping_far is None or self.damping_far == self.damping:
      return self.damping
    floor = float(self.economy.state_floor[0])
    mean = tf.reduce_mean(cross_sections.x[..., 0] - floor, axis=1, keepdims=True)
    ratio = (own.x[..., 0] - floor) / tf.maximum(mean, 1e-12)
    ramp = tf.clip_by_value((ratio - NEAR) / (FAR - NEAR), 0.0, 1.0)
    return self.damping + (self.damping_far - self.damping) * ramp

  def _targets_impl(self, own, cross_sections):
    pol = self.policy
    return probes.euler_targets(self.economy, lambda s, a: pol(s, a), pol.conditional_policy,
                                own, cross_sections, self.agent_damping(own, cross_sections))

  def targets(self, own: base.State, cross_sections: base.State):
    """(targets [S, G], Euler errors [S, G] of the current policy) of agents `own` [S, G]."""
    out = []
    for lo in range(0, int(own.z.shape[0]), self.chunk):
      part = lambda s: base.State(*[f[lo:lo + self.chunk] for f in s])
      out.append(self._targets(part(own), part(cross_sections)))
    return tuple(tf.concat(parts, 0) for parts in zip(*out))

  def _step_impl(self, own, cross_sections, target):
    econ, pol = self.economy, self.policy
    with tf.GradientTape() as tape:
      moments = pol.net.moments(pol.normalizer.dist(cross_sections))
      raw = pol.output(own, moments)
      loss = tf.reduce_mean(econ.euler_target_loss(own, raw, econ.aggregates(cross_sections),
                                                   target))
    grads = tape.gradient(loss, self.variables,
                          unconnected_gradients=tf.UnconnectedGradients.ZERO)
    self.optimizer.apply_gradients(zip(grads, self.variables))
    return loss

  def fit(self, own: base.State, cross_sections: base.State, target: tf.Tensor, steps: int,
          seed: tf.Tensor) -> tuple[float, float]:
    """`steps` Adam steps on minibatches drawn from the S cross-sections (with their agents
    `own` and targets); returns the mean loss of the first and of the last tenth of them."""
    S = int(cross_sections.z.shape[0])
    b = min(self.batch_size, S)
    rng = np.random.default_rng(seed.numpy())
    losses = []
    for _ in range(steps):
      idx = tf.constant(rng.choice(S, b, replace=False))
      pick = lambda s: base.State(*[tf.gather(f, idx) for f in s])
      losses.append(float(self._step(pick(own), pick(cross_sections), tf.gather(target, idx))))
    tenth = max(1, steps // 10)
    return float(np.mean(losses[:tenth])), float(np.mean(losses[-tenth:]))


def learning_rate(start: float, end: float | None, iteration: int, total: int) -> float:
  """The fit's rate at `iteration` (0-based) of `total`: exponential from start to end (None:
  constant)."""
  if end is None:
    return start
  return start * (end / start) ** (iteration / max(1, total - 1))


# Columns of time_iteration.csv, one row per iteration (record_row).
RECORD_FIELDS = ('iteration', 'agents_euler_log10_mean', 'agents_euler_log10_max',
                 'probes_euler_log10_mean', 'probes_euler_log10_max', 'fit_loss_start',
                 'fit_loss_end')


def record_row(iteration: int, summary: dict, fit_loss_start: float,
               fit_loss_end: float) -> dict:
  """The row of RECORD_FIELDS of an iteration (1-based) with its error_summary."""
  row = dict(iteration=iteration, fit_loss_start=fit_loss_start, fit_loss_end=fit_loss_end)
  for who, (mean, worst) in summary.items():
    row.update({f'{who}_euler_log10_mean': mean, f'{who}_euler_log10_max': worst})
  return row


def error_summary(errors: np.ndarray, n_own: int) -> dict:
  """log10 mean and max of the Euler errors (NaN: constrained) of the cross-sections' own
  agents (the first n_own columns) and of the probes."""
  out = {}
  for name, part in (('agents', errors[:, :n_own]), ('probes', errors[:, n_own:])):
    e = part[np.isfinite(part)]
    if e.size:
      log_e = np.log10(np.maximum(e, 1e-16))
      out[name] = (float(log_e.mean()), float(log_e.max()))
  return out
