"""Bellman errors (Han, Yang & E, appendix C). For a state s of the N-agent economy and agent i,

    err(s) = V(s) - max_a { u(a) + beta E[ V(s'_i(a)) ] },

where s'_i(a) is the next cross-section when agent i takes action a and everyone else follows the
policy: agent i's own deviation moves the summaries of the cross-section (K, fixed and generalized
moments) by its 1/N share. The expectation over the agent's next idiosyncratic state and the next
aggregate state is exact (the chain's probabilities), and over a continuous aggregate shock it
is the economy's quadrature (`Economy.aggregate_quadrature`); the maximum over a is found by a
grid that brackets it and golden-section search inside the bracket. The expectation error is
the same expression at the policy's own action. Both are in value units (per unit of time in an
economy with `bellman_error_unit`, the length of its period).
"""

import numpy as np
import tensorflow as tf

from deepham import progress as progress_lib
from deepham.economies import base
from deepham.solver import probes
from deepham.validation import euler as euler_lib
from deepham.validation import methods as methods_lib

_INVPHI = (np.sqrt(5.0) - 1) / 2


def _outcome_probs(economy: base.Economy, states: base.State, draws: int, seed: tf.Tensor):
  """P(z', e'_i | z, e_i) [S, N, n_z n_e]: exact, or (draws > 0) with P(z'|z) replaced by the
  frequencies of `draws` Monte Carlo draws per cross-section, as the original DeepHAM code does."""
  if not draws:
    return economy.exogenous_outcomes(states)
  c = economy.chain
  dtype = states.x.dtype
  logits = tf.math.log(tf.gather(tf.constant(c.P_z, dtype), states.z))
  sample = tf.random.stateless_categorical(logits, draws, seed)  # [S, draws]
  freq = tf.reduce_mean(tf.one_hot(sample, c.n_z, dtype=dtype), axis=1)  # [S, n_z]
  rows = tf.gather(tf.constant(c.P_e, dtype), states.z)  # [S, z', e, e']
  rows = tf.gather(tf.transpose(rows, [0, 2, 1, 3]), states.e, batch_dims=1)  # [S, N, z', e']
  probs = freq[:, None, :, None] * rows
  return tf.reshape(probs, tf.concat([tf.shape(states.e), [c.n_z * c.n_e]], 0))


def _bellman_chunk(economy: base.Economy, method: methods_lib.Method, states: base.State,
                   n_grid: int, n_golden: int, draws: int = 0, seed=(0, 0)):
  """Expectation and optimality errors [S, N] for S cross-sections."""
  aggs = economy.aggregates(states)
  n = tf.cast(tf.shape(states.e)[1], states.x.dtype)
  value = method.value
  raw_now = value.raw(economy.distribution_inputs(states))
  v_now = value.evaluate(states, tf.reduce_mean(raw_now, axis=1, keepdims=True))
  a_pol = method.policy(states, aggs)
  aggs = economy.clear_markets(states, a_pol, aggs)  # an agent's deviation moves no price
  # Per node of the aggregate shock's quadrature (one node without one): the shocks and the
  # summaries of the next cross-section when everyone follows the policy.
  nodes = []
  for weight, node in probes.expectation_nodes(economy):
    shocks = probes.node_shocks(states, node)
    x_pol, _ = economy.transition(states, a_pol, aggs, shocks)
    raw_pol = value.raw(economy.distribution_inputs(base.State(x_pol, states.e, states.z)))
    nodes.append((weight, shocks, raw_pol, tf.reduce_mean(raw_pol, axis=1, keepdims=True)))
  probs = _outcome_probs(economy, states, draws, tf.cast(tf.stack(seed), tf.int64))

  def rhs(a):
    ev = 0.0
    for weight, shocks, raw_pol, mean_pol in nodes:
      x_a, u_a = economy.transition(states, a, aggs, shocks)
      raw_a = value.raw(economy.distribution_inputs(base.State(x_a, states.e, states.z)))
      mean_i = mean_pol + (raw_a - raw_pol) / n  # agent i's own next cross-section
      for m, own in economy.outcome_states(x_a, states.z):
        ev += weight * probs[..., m] * value.evaluate(own, mean_i)
    return u_a + economy.beta * ev

  lo, hi = economy.action_bounds
  grid = lo + (hi - lo) * np.linspace(0.0, 1.0, n_grid) ** 2  # dense at low shares
  if not n_golden:
    # The original code's procedure: n_grid consumption levels from c - min(0.95 c, 5) to
    # c + min(k' - 1e-6, 5) around the policy's own c (consumption-savings economies only).
    cash = economy.cash(states, aggs)
    c = a_pol[..., 0] * cash
    c_lo, c_hi = c - tf.minimum(0.95 * c, 5.0), c + tf.minimum(cash - c - 1e-6, 5.0)
    vals = tf.map_fn(lambda t: rhs(((c_lo + (c_hi - c_lo) * t) / cash)[..., None]),
                     tf.constant(np.linspace(0.0, 1.0, n_grid), c.dtype),
                     fn_output_signature=c.dtype)
    return v_now - rhs(a_pol), v_now - tf.reduce_max(vals, axis=0)
  fill = lambda v: tf.fill(tf.shape(a_pol), tf.cast(v, a_pol.dtype))
  # map_fn: one copy of rhs in the graph, not one per grid point (tracing them dominated the
  # validation's time).
  vals = tf.map_fn(lambda g: rhs(fill(g)), tf.constant(grid, a_pol.dtype),
                   fn_output_signature=a_pol.dtype)  # [G, S, N]
  j = tf.argmax(vals, axis=0, output_type=tf.int32)
  g = tf.constant(grid, a_pol.dtype)
  left = tf.gather(g, tf.maximum(j - 1, 0))[..., None]
  right = tf.gather(g, tf.minimum(j + 1, n_grid - 1))[..., None]
  c = right - _INVPHI * (right - left)
  d = left + _INVPHI * (right - left)
  fc, fd = rhs(c), rhs(d)
  for _ in tf.range(n_golden):
    up = (fc > fd)[..., None]
    right = tf.where(up, d, right)
    left = tf.where(up, left, c)
    new_point = tf.where(up, right - _INVPHI * (right - left), left + _INVPHI * (right - left))
    f_new = rhs(new_point)
    c, d, fc, fd = (tf.where(up, new_point, d), tf.where(up, c, new_point),
                    tf.where(up[..., 0], f_new, fd), tf.where(up[..., 0], fc, f_new))
  best = tf.maximum(tf.maximum(fc, fd), tf.reduce_max(vals, axis=0))
  return v_now - rhs(a_pol), v_now - best


def bellman_errors(economy: base.Economy, method: methods_lib.Method, states: base.State,
                   n_grid: int = 33, n_golden: int = 40, chunk: int = 256,
                   aggregate_draws: int = 0) -> dict:
  """Bellman (and, for consumption-savings economies, Euler) errors at every agent of `states`.

  states: cross-sections x [S, N, n_x], e [S, N], z [S]. Returns NumPy arrays [S, N]:
  'expectation', 'optimality' (in value units per `economy.bellman_error_unit`) and, where
  defined, 'euler' (NaN for constrained agents).
  """
  if not probes.has_expectation_nodes(economy):
    raise ValueError('Bellman errors need an economy without idiosyncratic continuous shocks '
                     'and, with an aggregate one, its aggregate_quadrature.')
  bellman = tf.function(lambda s, i: _bellman_chunk(economy, method, s, n_grid, n_golden,
                                                    aggregate_draws, (17, i)))
  euler = (tf.function(lambda s: euler_lib.euler_chunk(economy, method, s))
           if economy.has_euler_errors else None)
  out = {'expectation': [], 'optimality': [], 'euler': []}
  S = int(states.z.shape[0])
  prog = progress_lib.Progress(f'Bellman errors of {method.label}', S, unit='cross-sections')
  for start in range(0, S, chunk):
    part = base.State(*[f[start:start + chunk] for f in states])
    exp_err, opt_err = bellman(part, tf.constant(start))
    out['expectation'].append(exp_err.numpy())
    out['optimality'].append(opt_err.numpy())
    if euler is not None:
      err, ok = euler(part)
      out['euler'].append(np.where(ok.numpy(), err.numpy(), np.nan))
    prog.update(min(start + chunk, S))
  out = {k: np.concatenate(v, axis=0) for k, v in out.items() if v}
  for key in ('expectation', 'optimality'):
    out[key] = out[key] / economy.bellman_error_unit
  return out


def error_table_row(errors: dict) -> dict:
  """Summary figures of `bellman_errors` output (absolute values; log10 for Euler errors)."""
  opt, exp = np.abs(errors['optimality']), np.abs(errors['expectation'])
  row = dict(optimality_mean=float(opt.mean()), optimality_std=float(opt.std()),
             optimality_p50=float(np.percentile(opt, 50)),
             optimality_p90=float(np.percentile(opt, 90)),
             optimality_p99=float(np.percentile(opt, 99)),
             expectation_mean=float(exp.mean()), expectation_std=float(exp.std()),
             expectation_p50=float(np.percentile(exp, 50)),
             expectation_p90=float(np.percentile(exp, 90)),
             expectation_p99=float(np.percentile(exp, 99)))
  if 'euler' in errors:
    e = errors['euler'][np.isfinite(errors['euler'])]
    log_e = np.log10(np.maximum(e, 1e-16))
    row.update(euler_error_log10_mean=float(log_e.mean()),
               euler_error_log10_max=float(np.log10(max(e.max(), 1e-16))),
               euler_unconstrained_share=float(e.size / errors['euler'].size))
  return row
