"""Validation report: accuracy of a solution beside the conventional method's, on the same states.

Bellman error (Han, Yang & E, appendix C). For a state s of the N-agent economy and agent i,

    err(s) = V(s) - max_a { u(a) + beta E[ V(s'_i(a)) ] },

where s'_i(a) is the next cross-section when agent i takes action a and everyone else follows the
policy: agent i's own deviation moves the summaries of the cross-section (K, fixed and generalized
moments) by its 1/N share. The expectation over the agent's next idiosyncratic state and the next
aggregate state is exact (the chain's probabilities); the maximum over a is found by a grid that
brackets it and golden-section search inside the bracket. The expectation error is the same
expression at the policy's own action. Both are in value units.

The same routine evaluates every method (DeepHAM and the conventional benchmark) through one
interface: `policy(state, aggregates)`, and a value function given by per-agent contributions
`raw(dist)` whose cross-sectional mean summarises the distribution and `evaluate(own, mean_raw)`.

Euler errors are unit-free, |1 - c_implied / c| with u'(c_implied) = beta E[R' u'(c')], over
unconstrained agents, reported in log10 as in the JEDC 2010 comparison project.
"""

import json
import os
from typing import Any, Callable, NamedTuple

from absl import logging
import numpy as np
import pandas as pd
import tensorflow as tf

from deepham import conventional
from deepham import progress as progress_lib
from deepham.economies import base
from deepham.solver import probes
from deepham.solver import simulate

_INVPHI = (np.sqrt(5.0) - 1) / 2
_PUBLISHED = os.path.join('data', 'published.json')


class Method(NamedTuple):
  key: str  # summary.json key: 'deepham', 'ks', ...
  label: str  # table row
  policy: Callable  # (state, aggregates) -> action
  value: Any  # .raw(dist), .evaluate(own, mean_raw)
  conditional_policy: Callable  # (own, reference) -> action of agents `own` in `reference`


# --- Bellman and Euler errors ----------------------------------------------------------------------
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


def _bellman_chunk(economy: base.Economy, method: Method, states: base.State, n_grid: int,
                   n_golden: int, draws: int = 0, seed=(0, 0)):
  """Expectation and optimality errors [S, N] for S cross-sections."""
  aggs = economy.aggregates(states)
  shocks = probes.no_shocks(states)
  n = tf.cast(tf.shape(states.e)[1], states.x.dtype)
  value = method.value
  raw_now = value.raw(economy.distribution_inputs(states))
  v_now = value.evaluate(states, tf.reduce_mean(raw_now, axis=1, keepdims=True))
  a_pol = method.policy(states, aggs)
  x_pol, _ = economy.transition(states, a_pol, aggs, shocks)
  raw_pol = value.raw(economy.distribution_inputs(base.State(x_pol, states.e, states.z)))
  mean_pol = tf.reduce_mean(raw_pol, axis=1, keepdims=True)
  probs = _outcome_probs(economy, states, draws, tf.cast(tf.stack(seed), tf.int64))

  def rhs(a):
    x_a, u_a = economy.transition(states, a, aggs, shocks)
    raw_a = value.raw(economy.distribution_inputs(base.State(x_a, states.e, states.z)))
    mean_i = mean_pol + (raw_a - raw_pol) / n  # agent i's own next cross-section
    ev = tf.zeros_like(u_a)
    for m, own in economy.outcome_states(x_a, states.z):
      ev += probs[..., m] * value.evaluate(own, mean_i)
    return u_a + economy.beta * ev

  lo, hi = economy.action_bounds
  grid = lo + (hi - lo) * np.linspace(0.0, 1.0, n_grid) ** 2  # dense at low shares
  if not n_golden:
    # The original code's procedure: n_grid consumption levels from c - min(0.95 c, 5) to
    # c + min(k' - 1e-6, 5) around the policy's own c (consumption-savings economies only).
    cash = economy.cash(states, aggs)
    c = a_pol[..., 0] * cash
    c_lo, c_hi = c - tf.minimum(0.95 * c, 5.0), c + tf.minimum(cash - c - 1e-6, 5.0)
    vals = tf.stack([rhs(((c_lo + (c_hi - c_lo) * j / (n_grid - 1)) / cash)[..., None])
                     for j in range(n_grid)])
    return v_now - rhs(a_pol), v_now - tf.reduce_max(vals, axis=0)
  fill = lambda v: tf.fill(tf.shape(a_pol), tf.cast(v, a_pol.dtype))
  vals = tf.stack([rhs(fill(g)) for g in grid])  # [G, S, N]
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


def _euler_chunk(economy: base.Economy, method: Method, states: base.State):
  aggs = economy.aggregates(states)
  a_pol = method.policy(states, aggs)
  x_pol, _ = economy.transition(states, a_pol, aggs, probes.no_shocks(states))
  probs = economy.exogenous_outcomes(states)
  outcomes = []
  for m, nxt in economy.outcome_states(x_pol, states.z):
    next_aggs = economy.aggregates(nxt)
    outcomes.append((probs[..., m], nxt, next_aggs, method.policy(nxt, next_aggs)))
  return economy.euler_errors(states, a_pol, aggs, outcomes)


def probe_euler_errors(economy: base.Economy, method: Method, own: base.State,
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


def bellman_errors(economy: base.Economy, method: Method, states: base.State,
                   n_grid: int = 33, n_golden: int = 40, chunk: int = 256,
                   aggregate_draws: int = 0) -> dict:
  """Bellman (and, for consumption-savings economies, Euler) errors at every agent of `states`.

  states: cross-sections x [S, N, n_x], e [S, N], z [S]. Returns NumPy arrays [S, N]:
  'expectation', 'optimality' and, where defined, 'euler' (NaN for constrained agents).
  """
  if economy.n_agent_noise or economy.n_aggregate_noise:
    raise ValueError('exact Bellman errors need an economy without continuous shocks.')
  bellman = tf.function(lambda s, i: _bellman_chunk(economy, method, s, n_grid, n_golden,
                                                    aggregate_draws, (17, i)))
  euler = (tf.function(lambda s: _euler_chunk(economy, method, s))
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
  return {k: np.concatenate(v, axis=0) for k, v in out.items() if v}


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


def _log10_summary(euler: np.ndarray) -> dict:
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


def common_states_report(economy: base.Economy, methods: list[Method],
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
  own = base.State(
      tf.constant(np.tile(np.repeat(probe_x, n_e), (S, 1))[..., None], union.x.dtype),
      tf.constant(np.tile(np.tile(np.arange(n_e), G), (S, 1)), tf.int32), union.z)
  rows, arrays = [], {'common_probe_x': own.x.numpy()[0, :, 0]}
  for m in methods:
    errs = euler_errors_of(economy, m, union)
    probe = probe_euler_errors(economy, m, own, union)
    arrays[f'{m.key}_common_euler'] = errs
    arrays[f'{m.key}_probe_euler'] = probe
    rows.append(dict(method=m.label, states='validation states of every method',
                     **_log10_summary(errs)))
    rows.append(dict(method=m.label, states='probe agents, constraint to '
                     f'{probe_x.max():.0f}', **_log10_summary(probe)))
    for r in euler_by_wealth(probe, own.x.numpy()[..., 0], edges):
      rows.append(dict(method=m.label, states='probe agents', **r))
  arrays['common_states_x'] = x
  return rows, arrays


def euler_errors_of(economy, method: Method, states: base.State,
                              chunk: int = 256) -> np.ndarray:
  """Euler errors [S, N] (NaN: constrained) of every agent of `states` under `method`."""
  euler = tf.function(lambda s: _euler_chunk(economy, method, s))
  out = []
  for start in range(0, int(states.z.shape[0]), chunk):
    err, ok = euler(base.State(*[f[start:start + chunk] for f in states]))
    out.append(np.where(ok.numpy(), err.numpy(), np.nan))
  return np.concatenate(out, axis=0)


# --- simulation statistics -------------------------------------------------------------------------
def gini(x: np.ndarray) -> np.ndarray:
  """Gini coefficient of each cross-section along the last axis (non-negative values)."""
  x = np.sort(np.maximum(x, 0), axis=-1)
  n = x.shape[-1]
  total = x.sum(axis=-1)
  ranks = np.arange(1, n + 1)
  g = (2 * (ranks * x).sum(axis=-1)) / (n * np.maximum(total, 1e-300)) - (n + 1) / n
  return np.where(total > 0, g, 0.0)


def path_statistics(economy: base.Economy, path: simulate.Path, burn: int) -> dict:
  """Aggregates, welfare, inequality and the wealth distribution of a simulated path.

  Ginis are computed each period over all agents of all paths (independent draws of the same
  economy: the large-population cross-section) and averaged over periods; the `_within`
  variants use each N-agent cross-section alone.
  """
  agg = path.aggregates.numpy()[burn:]
  T = path.utility.shape[0]
  disc = economy.beta ** np.arange(T)
  welfare = np.einsum('t,tbn->bn', disc, path.utility.numpy())
  x = path.states.x.numpy()[burn:, ..., 0]
  stats = {}
  for i, name in enumerate(economy.aggregate_names):
    stats[f'mean_{name}'] = float(agg[..., i].mean())
    stats[f'std_{name}'] = float(agg[..., i].std())
  if economy.has_consumption:
    R = economy.gross_return(tf.convert_to_tensor(agg.reshape(-1, agg.shape[-1])),
                             tf.reshape(path.z[burn:], [-1]))
    stats['mean_return'] = float(tf.reduce_mean(R)) - 1
  stats['welfare'] = float(welfare.mean())
  stats['wealth_gini'] = float(gini(x.reshape(x.shape[0], -1)).mean())
  stats['wealth_gini_within'] = float(gini(x).mean())
  if path.consumption is not None:
    c = path.consumption.numpy()[burn:]
    stats['consumption_gini'] = float(gini(c.reshape(c.shape[0], -1)).mean())
    stats['consumption_gini_within'] = float(gini(c).mean())
  for q in (1, 10, 25, 50, 75, 90, 99):
    stats[f'wealth_p{q}'] = float(np.percentile(x, q))
  stats['wealth_min'], stats['wealth_max'] = float(x.min()), float(x.max())
  if economy.state_floor is not None:  # households at or near the borrowing limit
    gap = x - economy.state_floor[0]
    stats['share_at_floor'] = float(np.mean(gap <= 1e-6 * (1 + np.abs(x))))
    stats['share_near_floor'] = float(np.mean(gap < 0.01 * x.mean()))
  return stats


# --- the report ------------------------------------------------------------------------------------
def methods_for(solver) -> list[Method]:
  """DeepHAM (the solver's networks) and, where one exists, the conventional benchmark."""
  methods = [Method('deepham', 'DeepHAM (this run)', solver.policy, solver.value,
                    solver.policy.conditional_policy)]
  try:
    bench = conventional.load_benchmark(solver.economy, solver.config.init.benchmark)
  except Exception as exc:  # pylint: disable=broad-except
    logging.info('no conventional benchmark in the validation (%s)', exc)
    return methods
  methods.append(Method(bench.key, f'{bench.name} (same procedure)', bench.policy, bench,
                        bench.conditional_policy))
  return methods


def _published_rows(economy) -> list[dict]:
  if economy.published_table is None:
    return []
  with open(conventional.resolve(_PUBLISHED)) as f:
    table = json.load(f)[economy.published_table]
  return [dict(method=label, optimality_mean=v) for label, v in table['rows'].items()]


def euler_residuals(economy, policy, states: base.State, n_draws: int, n_quadrature: int,
                    seed: int = 0, chunk: int = 512) -> np.ndarray:
  """Euler residuals [S, N] at cross-sections `states`, with the expectation over `n_draws`
  idiosyncratic draws and `n_quadrature` Gauss-Hermite nodes of the aggregate shock."""
  from deepham.solver import policy as policy_lib  # pylint: disable=g-import-not-at-top
  objective = policy_lib.EulerObjective(economy, policy)
  nodes, weights = economy.aggregate_quadrature(n_quadrature)

  @tf.function
  def residual(part, noises):
    action = policy(part)
    outcomes = []
    for m in range(n_draws):
      for w, nxt, aggs, act in objective.outcomes(part, action, noises[m], nodes, weights):
        outcomes.append((w / n_draws, nxt, aggs, act))
    return economy.euler_residual(part, action, outcomes)

  rng = np.random.default_rng(seed)
  out = []
  S = int(states.z.shape[0])
  for start in range(0, S, chunk):
    part = base.State(*[f[start:start + chunk] for f in states])
    shape = (n_draws,) + tuple(part.e.shape) + (economy.n_agent_noise,)
    noises = tf.constant(rng.standard_normal(shape), part.x.dtype)
    out.append(residual(part, noises).numpy())
  return np.concatenate(out, axis=0)


def run_euler(solver, workdir: str) -> dict:
  """Validation of economies with an Euler residual (the investment economy): residuals along
  test trajectories from the initial condition, and the error against the economy's reference
  policy where it has one."""
  cfg, econ = solver.config.validation, solver.economy
  start = solver.fresh_start(10**9 + cfg.seed, n_paths=cfg.n_paths)
  n_paths = int(start.z.shape[0])
  path = simulate.Simulator(econ, solver.policy, jit_compile=False).path(
      start, tf.constant([cfg.seed, 7], tf.int64), cfg.periods, keep_states=True)
  T = cfg.periods
  states = base.State(*[tf.reshape(f, tf.concat([[-1], tf.shape(f)[2:]], 0))
                        for f in path.states])
  logging.info('validation: Euler residuals at %d states (%d draws x %d nodes)',
               int(states.z.shape[0]) * econ.n_agents, cfg.euler_draws, cfg.quadrature)
  res = euler_residuals(econ, solver.policy, states, cfg.euler_draws, cfg.quadrature,
                        seed=cfg.seed).reshape(T, n_paths, -1)
  row = dict(method='DeepHAM (this run)', objective=solver.config.policy.objective,
             **econ.headline({}), euler_mse_test=float(np.mean(res ** 2)),
             euler_abs_p50=float(np.percentile(np.abs(res), 50)),
             euler_abs_p99=float(np.percentile(np.abs(res), 99)))
  u = solver.policy(states).numpy()[..., 0].reshape(T, n_paths, -1)
  arrays = dict(residuals=res, policy=u, mean_x=path.aggregates.numpy()[..., 0])
  reference = econ.reference_policy()
  if reference is not None:
    exact = reference(states).numpy()[..., 0].reshape(T, n_paths, -1)
    err = np.abs(u - exact)
    # The same procedure applied to the reference policy: what the finite number of draws alone
    # contributes to the test MSE (investment: about 4.9e-6 / euler_draws).
    floor = euler_residuals(econ, reference, states, cfg.euler_draws, cfg.quadrature,
                            seed=cfg.seed)
    row.update(policy_abs_error=float(err.mean()), policy_rel_error=float(np.mean(
        err / np.abs(exact))), policy_abs_error_max=float(err.max()),
               euler_mse_test_exact_policy=float(np.mean(floor ** 2)))
    arrays['exact_policy'] = exact
  np.savez_compressed(os.path.join(workdir, 'paths.npz'), **arrays)
  table = pd.DataFrame([row]).set_index('method')
  table.to_csv(os.path.join(workdir, 'validation.csv'))
  from deepham import figures  # pylint: disable=g-import-not-at-top
  figures.euler_figures(arrays, econ.action_name, _title(econ.headline({})),
                        os.path.join(workdir, 'figures'))
  with pd.option_context('display.width', 200, 'display.float_format', '{:.4g}'.format):
    logging.info('validation:\n%s', table.to_string())
  keys = ('objective', *econ.headline({}), 'euler_mse_test', 'euler_abs_p50', 'euler_abs_p99',
          'policy_abs_error', 'policy_rel_error', 'euler_mse_test_exact_policy')
  return {k: row[k] for k in keys if k in row}


def _title(headline: dict) -> str:
  """'nu = 1' from {'nu': 1.0}: the economy's headline parameters, for figure titles."""
  return ', '.join(f'{k} = {v:g}' if isinstance(v, float) else f'{k} = {v}'
                   for k, v in headline.items())


def run(solver, workdir: str) -> dict:
  """Validates a trained solver; writes validation.csv, paths.npz, figures/; returns summary keys."""
  cfg, econ = solver.config.validation, solver.economy
  if econ.has_euler_residual:
    return run_euler(solver, workdir)
  methods = methods_for(solver)
  dist = solver.distribution
  n_paths = min(cfg.n_paths, int(dist[0].shape[0]))
  start = base.State(*[tf.convert_to_tensor(v)[:n_paths] for v in dist])
  seed = tf.constant([cfg.seed, 7], tf.int64)
  burn = min(cfg.burn, cfg.periods - 1)
  rng = np.random.default_rng(cfg.seed)
  periods = np.sort(rng.choice(np.arange(burn, cfg.periods), size=min(cfg.n_states,
                                                                       cfg.periods - burn),
                               replace=False))
  rows, results, paths = [], {}, {}
  for method in methods:
    logging.info('validation: simulating %d paths x %d periods under %s', n_paths, cfg.periods,
                 method.label)
    path = simulate.Simulator(econ, method.policy, jit_compile=False).path(
        start, seed, cfg.periods, keep_states=True)
    stats = path_statistics(econ, path, burn)
    states = base.State(*[tf.reshape(tf.gather(f, periods), tf.concat([[-1], tf.shape(f)[2:]], 0))
                          for f in path.states])
    row = dict(method=method.label, **stats)
    if not (econ.n_agent_noise or econ.n_aggregate_noise):
      logging.info('validation: Bellman errors of %s at %d states', method.label,
                   int(states.z.shape[0]) * econ.n_agents)
      errs = bellman_errors(econ, method, states, cfg.n_grid, cfg.n_golden)
      row.update(error_table_row(errs))
      results[method.key] = dict(errors=errs, x=states.x.numpy()[..., 0], row=row,
                                 states=states)
    rows.append(row)
    if cfg.original_procedure and econ.has_euler_errors and method.key in (
        results):
      # The published figures' procedure: 100 Monte Carlo draws of z', an 11-point grid in c.
      orig = bellman_errors(econ, method, states, 11, 0, aggregate_draws=100)
      o = error_table_row({k: v for k, v in orig.items() if k != 'euler'})
      rows.append(dict(method=f'{method.label.split(" (")[0]} (original procedure)',
                       **{k: o[k] for k in ('optimality_mean', 'optimality_std',
                                            'expectation_mean')}))
      results[method.key]['original'] = o
    paths[method.key] = path
  rows += _published_rows(econ)
  table = pd.DataFrame(rows).set_index('method')
  table.to_csv(os.path.join(workdir, 'validation.csv'))
  tails = _tails_report(econ, methods, results, workdir)
  _save_paths(workdir, paths, periods, results, tails.pop('arrays', {}))
  from deepham import figures  # pylint: disable=g-import-not-at-top
  figures.validation_figures(solver, methods, paths, results, burn,
                             os.path.join(workdir, 'figures'))
  _log_table(table)
  out = _summary_keys(results, table, methods)
  out.update(tails)
  out.update(econ.headline(out['statistics']['deepham']))
  return out


def _tails_report(econ, methods, results, workdir) -> dict:
  """Euler errors by wealth on each method's own states and on common states (probe agents
  from the constraint to beyond the largest state): euler_by_wealth.csv and summary keys."""
  with_euler = [m for m in methods if m.key in results and 'euler' in results[m.key]['errors']]
  if not with_euler or econ.state_floor is None:
    return {}
  scale = float(np.mean([results[m.key]['x'].mean() for m in with_euler]))
  edges = wealth_edges(scale)
  rows, out = [], {'euler_by_wealth': {}, 'euler_common_states': {}}
  for m in with_euler:
    own = euler_by_wealth(results[m.key]['errors']['euler'], results[m.key]['x'], edges)
    rows += [dict(method=m.label, states='own validation states', **r) for r in own]
    out['euler_by_wealth'][m.key] = own
  common, arrays = common_states_report(econ, with_euler, {m.key: results[m.key]['states']
                                                           for m in with_euler}, edges)
  rows += common
  for m in with_euler:
    mine = [r for r in common if r['method'] == m.label and 'k_low' not in r]
    out['euler_common_states'][m.key] = {
        'validation_states': {k: v for k, v in mine[0].items() if k.startswith('euler')},
        'probe_agents': {k: v for k, v in mine[1].items() if k.startswith('euler')},
        'probe_by_wealth': [r for r in common if r['method'] == m.label and 'k_low' in r]}
  table = pd.DataFrame(rows)
  table.to_csv(os.path.join(workdir, 'euler_by_wealth.csv'), index=False)
  with pd.option_context('display.width', 200, 'display.max_columns', 20,
                         'display.float_format', '{:.3g}'.format):
    logging.info('validation: Euler errors (log10) by wealth, on own and on common states:\n%s',
                 table.to_string(index=False, na_rep=''))
  out['arrays'] = arrays
  return out


def _save_paths(workdir, paths, periods, results, extra=None) -> None:
  arrays = {'validation_periods': periods, **(extra or {})}
  for key, path in paths.items():
    arrays[f'{key}_aggregates'] = path.aggregates.numpy()
    arrays[f'{key}_z'] = path.z.numpy()
    if key in results:
      for name, err in results[key]['errors'].items():
        arrays[f'{key}_bellman_{name}'] = err
      arrays[f'{key}_states_x'] = results[key]['x']
  np.savez_compressed(os.path.join(workdir, 'paths.npz'), **arrays)


def _log_table(table: pd.DataFrame) -> None:
  cols = [c for c in ('optimality_mean', 'optimality_std', 'optimality_p90', 'expectation_mean',
                      'euler_error_log10_mean', 'euler_error_log10_max', 'mean_K', 'std_K',
                      'welfare', 'wealth_gini', 'consumption_gini') if c in table.columns]
  with pd.option_context('display.width', 200, 'display.max_columns', 20,
                         'display.float_format', '{:.5g}'.format):
    logging.info('validation (Bellman errors in value units; Euler errors log10):\n%s',
                 table[cols].to_string(na_rep=''))


def _summary_keys(results, table, methods) -> dict:
  out = {'bellman_error': {}, 'euler_error_log10_mean': {}, 'statistics': {}}
  for m in methods:
    row = table.loc[m.label].dropna().to_dict()
    out['statistics'][m.key] = {k: v for k, v in row.items()
                                if not k.startswith(('optimality', 'expectation', 'euler'))}
    if m.key in results:
      r = results[m.key]['row']
      entry = {k: r[k] for k in ('optimality_mean', 'optimality_std', 'expectation_mean')}
      if 'original' in results[m.key]:
        entry['optimality_mean_original_procedure'] = results[m.key]['original'][
            'optimality_mean']
      if 'euler_error_log10_mean' in r:
        entry['euler_error_log10_mean'] = r['euler_error_log10_mean']
        out['euler_error_log10_mean'][m.key] = r['euler_error_log10_mean']
      out['bellman_error'][m.key] = entry
  return {k: v for k, v in out.items() if v}

