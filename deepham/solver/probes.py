"""Euler errors of probe agents: price takers placed at chosen states inside given cross-sections.

A probe agent [S, G] lives in cross-section s [S, N]: it acts by the policy conditional on s,
the cross-section moves on under the policy (its agents' actions, not the probe's), and next
period the probe acts in the cross-section s became, in each outcome of the exogenous states
(and at each node of the aggregate shock's quadrature, in an economy with one). Its Euler error
is the economy's `euler_errors` over those outcomes. Validation uses it to measure every method
at the same states (the constraint, the ergodic range and beyond it), and training
(`policy.euler_weight`) uses its square as a penalty beside the utility objective, at probes
drawn over the whole region `solver/explore.py` explores: a pointwise condition, which the
utility objective lacks where the simulated paths rarely go. Time iteration
(solver/time_iteration.py) fits the policy to the Euler equation's targets at such probes.
"""

import numpy as np
import tensorflow as tf

from deepham.economies import base
from deepham.solver import explore


def no_shocks(state: base.State) -> base.Shocks:
  """Zero shocks for `state`: the transitions below only move the endogenous states."""
  B, N = tf.shape(state.e)[0], tf.shape(state.e)[1]
  dtype = state.x.dtype
  return base.Shocks(tf.zeros([B], dtype), tf.zeros([B, N], dtype), tf.zeros([B, N, 0], dtype),
                     tf.zeros([B, 0], dtype))


def expectation_nodes(economy: base.Economy) -> list[tuple[float, np.ndarray | None]]:
  """(weight, aggregate innovation [n_aggregate_noise] or None) over which next period's
  expectations are taken beside the discrete outcomes: one node without continuous shocks, the
  economy's aggregate quadrature with an aggregate shock. Idiosyncratic continuous shocks are
  not integrated here (economies with them define an Euler residual instead)."""
  if economy.n_agent_noise:
    raise ValueError(f'{type(economy).__name__} has idiosyncratic continuous shocks: its '
                     'expectations are not taken by quadrature here.')
  if not economy.n_aggregate_noise:
    return [(1.0, None)]
  nodes, weights = economy.aggregate_quadrature()
  return [(float(w), np.asarray(v, np.float64)) for v, w in zip(nodes, weights)]


def has_expectation_nodes(economy: base.Economy) -> bool:
  """Whether `expectation_nodes` covers every shock of the economy (Bellman and Euler errors
  can then be exact up to the quadrature)."""
  return not economy.n_agent_noise and (not economy.n_aggregate_noise
                                        or economy.has_aggregate_quadrature)


def node_shocks(state: base.State, node: np.ndarray | None) -> base.Shocks:
  """The shocks of one expectation node for `state`: no discrete draws (the outcomes are taken
  apart) and the node's aggregate innovation on every path."""
  shocks = no_shocks(state)
  if node is None:
    return shocks
  value = tf.constant(node[None], state.x.dtype)
  return shocks._replace(aggregate_noise=tf.tile(value, [tf.shape(state.e)[0], 1]))


def euler_errors(economy: base.Economy, policy, conditional_policy, own: base.State,
                 cross_sections: base.State) -> tuple[tf.Tensor, tf.Tensor]:
  """(Euler errors [S, G], mask of unconstrained probes) of probe agents `own` [S, G] (their
  own x and e, the cross-sections' z) in `cross_sections` [S, N].

  policy(state, aggregates) -> action of every agent of `state`; conditional_policy(own,
  reference) -> action of agents `own` in the cross-section `reference`. The cross-section's
  next state is held fixed for gradients: the probes are price takers.
  """
  return economy.euler_errors(own, *euler_outcomes(economy, policy, conditional_policy, own,
                                                   cross_sections))


def euler_targets(economy: base.Economy, policy, conditional_policy, own: base.State,
                  cross_sections: base.State, damping: float | tf.Tensor = 1.0
                  ) -> tuple[tf.Tensor, tf.Tensor]:
  """(the Euler equation's targets [S, G] for probe agents `own` in `cross_sections`, their
  Euler errors [S, G], NaN where the constraint binds), as for `euler_errors`:
  `economy.euler_target`, next period's actions those of the policy; with damping < 1 (a
  number, or one per agent [S, G]), that share of the way to it from the agents' current
  consumption."""
  action, aggs, outcomes = euler_outcomes(economy, policy, conditional_policy, own,
                                          cross_sections)
  errors, unconstrained = economy.euler_errors(own, action, aggs, outcomes)
  target = economy.euler_target(own, action, aggs, outcomes)
  if isinstance(damping, tf.Tensor) or damping != 1.0:
    c = economy.consumption(own, action, aggs)
    target = c + tf.cast(damping, c.dtype) * (target - c)
  nan = tf.constant(np.nan, errors.dtype)
  return target, tf.where(unconstrained, errors, nan)


def euler_outcomes(economy: base.Economy, policy, conditional_policy, own: base.State,
                   cross_sections: base.State):
  """(the probes' actions, this period's aggregates, the outcomes of next period: (probability,
  the probes' next state, next aggregates, their next actions) per exogenous outcome), the
  arguments of `economy.euler_errors` after the state."""
  aggs = economy.aggregates(cross_sections)
  others = policy(cross_sections, aggs)
  aggs = economy.clear_markets(cross_sections, others, aggs)
  action = conditional_policy(own, cross_sections)
  probs = economy.exogenous_outcomes(own)
  outcomes = []
  for weight, node in expectation_nodes(economy):
    x_own, _ = economy.transition(own, action, aggs, node_shocks(own, node))
    x_next, _ = economy.transition(cross_sections, others, aggs,
                                   node_shocks(cross_sections, node))
    x_next = tf.stop_gradient(x_next)
    for m, nxt in economy.outcome_states(x_own, own.z):
      reference = base.State(x_next, cross_sections.e, nxt.z)
      next_aggs = economy.aggregates(reference)
      if economy.sets_prices:  # the prices the reference cross-section's next actions set
        next_aggs = economy.clear_markets(reference, policy(reference, next_aggs), next_aggs)
      outcomes.append((weight * probs[..., m], nxt, next_aggs,
                       conditional_policy(nxt, reference)))
  return action, aggs, outcomes


def draw_probes(cross_sections: base.State, floor, n_e: int, per_section: int, reach: float,
                seed: tf.Tensor, n_common: int = 0) -> base.State:
  """`per_section` probe agents in each cross-section, their states drawn as explore.py draws
  explored states (from the floor to `reach` times the largest state of `cross_sections`) and
  their idiosyncratic states uniformly; the last n_common columns (common states) are their
  cross-section's."""
  s = tf.random.experimental.stateless_split(seed, 2)
  x = cross_sections.x
  S, n_x = tf.shape(cross_sections.z)[0], x.shape[-1]
  e = tf.random.stateless_uniform([S, per_section], s[0], maxval=n_e, dtype=tf.int32)
  u = tf.random.stateless_uniform([S, per_section, n_x], s[1], dtype=x.dtype)
  x_max = tf.reduce_max(tf.reshape(x, [-1, n_x]), axis=0)
  floor = tf.constant(np.asarray(floor, dtype=np.float64), x.dtype)
  x_own = explore.keep_common(explore.draw(u, floor, x_max, reach), x, n_common)
  return base.State(x_own, e, cross_sections.z)


class EulerPenalty:
  """Mean squared Euler error of probe agents drawn afresh in each batch's cross-sections.

  The error is the economy's unit-free one with the constraint, 1 - min(cash, c_Euler) / c,
  which is zero exactly where the Kuhn-Tucker conditions hold: at an interior optimum, or at the
  constraint for an agent that would borrow if it could. Constrained or not, every probe counts.
  """

  def __init__(self, economy: base.Economy, policy, per_section: int, reach: float):
    self.economy, self.policy = economy, policy
    self.per_section, self.reach = per_section, reach

  def __call__(self, cross_sections: base.State, seed: tf.Tensor) -> tf.Tensor:
    econ = self.economy
    own = draw_probes(cross_sections, econ.state_floor, econ.chain.n_e, self.per_section,
                      self.reach, seed, econ.n_common_states)
    errors, _ = euler_errors(econ, lambda s, a: self.policy(s),
                             self.policy.conditional_policy, own, cross_sections)
    return tf.reduce_mean(tf.square(errors))
