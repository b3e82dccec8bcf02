"""Euler errors and Euler residuals of a method's policy.

Euler errors are unit-free, |1 - c_implied / c| with u'(c_implied) = beta E[R' u'(c')], over
unconstrained agents, reported in log10 as in the JEDC 2010 comparison project: at every agent of
given cross-sections, by wealth bin, and on states common to every method (probe agents from the
constraint to beyond the largest state seen). Euler residuals are those of economies that define
one (`economy.has_euler_residual`), with the expectation by draws and quadrature.
"""

import numpy as np
import tensorflow as tf

from deepham.economies import base
from deepham.solver import explore
from deepham.solver import probes
from deepham.validation import methods as methods_lib


def euler_chunk(economy: base.Economy, method: methods_lib.Method, states: base.State):
  """(Euler errors [S, N], mask of unconstrained agents) for S cross-sections under `method`:
  the expectation over the exact next exogenous states (and the aggregate shock's quadrature)."""
  aggs = economy.aggregates(states)
  a_pol = method.policy(states, aggs)
  aggs = economy.clear_markets(states, a_pol, aggs)
  probs = economy.exogenous_outcomes(states)
  outcomes = []
  for weight, node in probes.expectation_nodes(economy):
    x_pol, _ = economy.transition(states, a_pol, aggs, probes.node_shocks(states, node))
    for m, nxt in economy.outcome_states(x_pol, states.z):
      next_aggs = economy.aggregates(nxt)
      act = method.policy(nxt, next_aggs)
      outcomes.append((weight * probs[..., m], nxt, economy.clear_markets(nxt, act, next_aggs),
                       act))
  return economy.euler_errors(states, a_pol, aggs, outcomes)


def probe_euler_errors(economy: base.Economy, method: methods_lib.Method, own: base.State,
                       cross_sections: base.State, chunk: int = 256) -> np.ndarray:
  """Euler errors [S, G] (NaN where the constraint binds) of agents `own` [S, G] (their own
  x and e, the cross-section's z) in each of the S `cross_sections`."""
  fn = tf.function(lambda o, c: probes.euler_errors(economy, method.policy,
                                                    method.conditional_policy, o, c))
  out = []
  for start in range(0, int(own.z.shape[0]), chunk):
    part = lambda s: base.State(*[f[start:start + chunk] for f in s])
    err, ok = fn(part(own), part(cross_sections))
    out.append(np.where(ok.numpy(), err.numpy(), np.nan))
  return np.concatenate(out, axis=0)


def euler_errors_of(economy, method: methods_lib.Method, states: base.State,
                    chunk: int = 256) -> np.ndarray:
  """Euler errors [S, N] (NaN: constrained) of every agent of `states` under `method`."""
  euler = tf.function(lambda s: euler_chunk(economy, method, s))
  out = []
  for start in range(0, int(states.z.shape[0]), chunk):
    err, ok = euler(base.State(*[f[start:start + chunk] for f in states]))
    out.append(np.where(ok.numpy(), err.numpy(), np.nan))
  return np.concatenate(out, axis=0)


# Wealth bins of the Euler-error tables, as multiples of the mean individual state (for KS,
# about 0, 1, 2, 5, 10, 20, 40, 80 in capital): resolved where the constraint is near.
WEALTH_BINS = (0.0, 0.025, 0.05, 0.125, 0.25, 0.5, 1.0, 2.0, np.inf)


def wealth_edges(scale: float) -> np.ndarray:
  """The bins' edges for mean wealth `scale`, at two significant digits."""
  edges = np.asarray(WEALTH_BINS) * scale
  finite = np.isfinite(edges) & (edges > 0)
  edges[finite] = [float(f'{e:.2g}') for e in edges[finite]]
  return edges


def euler_by_wealth(euler: np.ndarray, x: np.ndarray, edges: np.ndarray) -> list[dict]:
  """Euler errors (NaN: constrained) of agents with wealth x, by bin: one row per bin that
  holds states (share of the states, share constrained, log10 mean and max)."""
  rows = []
  for lo, hi in zip(edges[:-1], edges[1:]):
    inside = (x >= lo) & (x < hi)
    n = int(inside.sum())
    if not n:
      continue
    e = euler[inside]
    e = e[np.isfinite(e)]
    row = dict(k_low=float(lo), k_high=float(hi) if np.isfinite(hi) else None,  # None: open
               n_states=n, share=n / x.size,
               constrained_share=1 - e.size / n)
    if e.size:
      log_e = np.log10(np.maximum(e, 1e-16))
      row.update(euler_error_log10_mean=float(log_e.mean()),
                 euler_error_log10_max=float(log_e.max()))
    rows.append(row)
  return rows


def log10_summary(euler: np.ndarray) -> dict:
  """log10 mean and max of the finite Euler errors in `euler` (NaN: constrained); {} if none."""
  e = euler[np.isfinite(euler)]
  if not e.size:
    return {}
  log_e = np.log10(np.maximum(e, 1e-16))
  return dict(euler_error_log10_mean=float(log_e.mean()),
              euler_error_log10_max=float(log_e.max()))


# Probe agents of the common-state evaluation: each validation cross-section gets agents at
# these fractions of the way from the constraint to the largest state seen (times the reach),
# in every idiosyncratic state; the fractions put a quarter of them near the constraint.
_PROBE_FRACTIONS = np.linspace(0.0, 1.0, 17) ** 2
_PROBE_REACH = 2.0


def common_states_report(economy: base.Economy, methods: list[methods_lib.Method],
                         states: dict, edges: np.ndarray) -> tuple[list[dict], dict]:
  """Every method's Euler errors on the same states: all methods' validation states together
  (`states`: key -> State [S, N]), and probe agents from the constraint to twice the largest
  state in any of them, in those cross-sections. Returns the table's rows and arrays."""
  union = base.State(*[tf.concat([getattr(states[m.key], f) for m in methods if m.key in states],
                                 axis=0) for f in base.State._fields])
  x = union.x.numpy()[..., 0]
  floor = economy.state_floor[0]
  probe_x = floor + _PROBE_REACH * (x.max() - floor) * _PROBE_FRACTIONS
  n_e, G = economy.chain.n_e, len(_PROBE_FRACTIONS)
  S = int(union.z.shape[0])
  x_own = explore.first_state_at(np.tile(np.repeat(probe_x, n_e), (S, 1)), union.x)
  own = base.State(x_own, tf.constant(np.tile(np.tile(np.arange(n_e), G), (S, 1)), tf.int32),
                   union.z)
  rows, arrays = [], {'common_probe_x': own.x.numpy()[0, :, 0]}
  for m in methods:
    errs = euler_errors_of(economy, m, union)
    probe = probe_euler_errors(economy, m, own, union)
    arrays[f'{m.key}_common_euler'] = errs
    arrays[f'{m.key}_probe_euler'] = probe
    rows.append(dict(method=m.label, states='validation states of every method',
                     **log10_summary(errs)))
    rows.append(dict(method=m.label, states='probe agents, constraint to '
                     f'{probe_x.max():.0f}', **log10_summary(probe)))
    for r in euler_by_wealth(probe, own.x.numpy()[..., 0], edges):
      rows.append(dict(method=m.label, states='probe agents', **r))
  arrays['common_states_x'] = x
  return rows, arrays


def common_states_summary(rows: list[dict], label: str) -> dict:
  """One method's part of `common_states_report`'s rows: log10 mean and max on the validation
  states of every method, on all probe agents, and the probe agents' rows by wealth."""
  mine = [r for r in rows if r['method'] == label and 'k_low' not in r]
  euler = lambda row: {k: v for k, v in row.items() if k.startswith('euler')}
  return {'validation_states': euler(mine[0]), 'probe_agents': euler(mine[1]),
          'probe_by_wealth': [r for r in rows if r['method'] == label and 'k_low' in r]}


def euler_residuals(economy, policy, states: base.State, n_draws: int, n_quadrature: int,
                    seed: int = 0, chunk: int = 512) -> np.ndarray:
  """Euler residuals [S, N] (or [S, N, n_equations]) at cross-sections `states`, with the
  expectation over `n_draws` draws of the idiosyncratic shocks (and of the discrete chain's
  next states, where it has more than one) and `n_quadrature` Gauss-Hermite nodes of the
  aggregate shock."""
  from deepham.solver import objectives  # pylint: disable=g-import-not-at-top
  objective = objectives.EulerObjective(economy, policy)
  nodes, weights = economy.aggregate_quadrature(n_quadrature)
  chain = economy.chain.n_z * economy.chain.n_e > 1

  @tf.function
  def residual(part, noises, u_z, u_e):
    action = policy(part)
    outcomes = []
    for m in range(n_draws):
      uniforms = (u_z[m], u_e[m]) if chain else None
      for w, nxt, aggs, act in objective.outcomes(part, action, noises[m], nodes, weights,
                                                  uniforms):
        outcomes.append((w / n_draws, nxt, aggs, act))
    return economy.euler_residual(part, action, outcomes)

  rng = np.random.default_rng(seed)
  out = []
  S = int(states.z.shape[0])
  for start in range(0, S, chunk):
    part = base.State(*[f[start:start + chunk] for f in states])
    shape = (n_draws,) + tuple(part.e.shape)
    dtype = part.x.dtype
    noises = tf.constant(rng.standard_normal(shape + (economy.n_agent_noise,)), dtype)
    u_z = tf.constant(rng.uniform(size=shape[:2]) if chain else np.zeros(shape[:2]), dtype)
    u_e = tf.constant(rng.uniform(size=shape) if chain else np.zeros(shape), dtype)
    out.append(residual(part, noises, u_z, u_e).numpy())
  return np.concatenate(out, axis=0)
