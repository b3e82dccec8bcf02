"""The validation report of a trained run: every method simulated on the same shocks, its
accuracy measured on the same procedure, and the results written to the workdir (validation.csv,
euler_by_wealth.csv, paths.npz, figures/) and returned as summary.json keys.

Which measures a run gets follows from the economy's capabilities: Bellman errors where it has no
continuous shocks, Euler errors by wealth where it defines them (`has_euler_errors`), Euler
residuals and the error against a reference policy where it defines those (`has_euler_residual`,
`reference_policy()`), and published rows where it names a table (`published_table`).
"""

import json
import os

from absl import logging
import numpy as np
import pandas as pd
import tensorflow as tf

from deepham import conventional
from deepham.economies import base
from deepham.solver import probes
from deepham.solver import simulate
from deepham.validation import bellman
from deepham.validation import euler as euler_lib
from deepham.validation import methods as methods_lib
from deepham.validation import statistics

_PUBLISHED = os.path.join('data', 'published.json')


def run(view, workdir: str) -> dict:
  """Validates a trained run (its RunView, deepham/solution.py); writes validation.csv,
  paths.npz and figures/, and returns the summary keys."""
  cfg, econ = view.config.validation, view.economy
  if econ.has_euler_residual:
    return run_euler(view, workdir)
  methods = methods_lib.methods_for(view)
  dist = view.distribution
  n_paths = min(cfg.n_paths, int(dist[0].shape[0]))
  start = base.State(*[v[:n_paths] for v in dist])
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
    stats = statistics.path_statistics(econ, path, burn)
    states = base.State(*[tf.reshape(tf.gather(f, periods), tf.concat([[-1], tf.shape(f)[2:]], 0))
                          for f in path.states])
    row = dict(method=method.label, **stats)
    if probes.has_expectation_nodes(econ):
      logging.info('validation: Bellman errors of %s at %d states', method.label,
                   int(states.z.shape[0]) * econ.n_agents)
      errs = bellman.bellman_errors(econ, method, states, cfg.n_grid, cfg.n_golden)
      row.update(bellman.error_table_row(errs))
      results[method.key] = dict(errors=errs, x=states.x.numpy()[..., 0], row=row,
                                 states=states)
    rows.append(row)
    if cfg.original_procedure and econ.has_euler_errors and method.key in (
        results):
      # The published figures' procedure: 100 Monte Carlo draws of z', an 11-point grid in c.
      orig = bellman.bellman_errors(econ, method, states, 11, 0, aggregate_draws=100)
      o = bellman.error_table_row({k: v for k, v in orig.items() if k != 'euler'})
      rows.append(dict(method=f'{method.label.split(" (")[0]} (original procedure)',
                       **{k: o[k] for k in ('optimality_mean', 'optimality_std',
                                            'expectation_mean')}))
      results[method.key]['original'] = o
    paths[method.key] = path
  rows += published_rows(econ)
  table = pd.DataFrame(rows).set_index('method')
  table.to_csv(os.path.join(workdir, 'validation.csv'))
  tails = _tails_report(econ, methods, results, workdir)
  _save_paths(workdir, paths, periods, results, tails.pop('arrays', {}))
  from deepham import figures  # pylint: disable=g-import-not-at-top
  figures.validation_figures(view, methods, paths, results, burn,
                             os.path.join(workdir, 'figures'))
  _log_table(table)
  out = _summary_keys(results, table, methods)
  out.update(tails)
  out.update(econ.headline(out['statistics']['deepham']))
  return out


def run_euler(view, workdir: str) -> dict:
  """Validation of economies with an Euler residual (the investment economy): residuals along
  test trajectories from the initial condition, and the error against the economy's reference
  policy where it has one."""
  cfg, econ = view.config.validation, view.economy
  start = view.fresh_start(10**9 + cfg.seed, n_paths=cfg.n_paths)
  n_paths = int(start.z.shape[0])
  path = simulate.Simulator(econ, view.policy, jit_compile=False).path(
      start, tf.constant([cfg.seed, 7], tf.int64), cfg.periods, keep_states=True)
  T = cfg.periods
  states = base.State(*[tf.reshape(f, tf.concat([[-1], tf.shape(f)[2:]], 0))
                        for f in path.states])
  logging.info('validation: Euler residuals at %d states (%d draws x %d nodes)',
               int(states.z.shape[0]) * econ.n_agents, cfg.euler_draws, cfg.quadrature)
  res = euler_lib.euler_residuals(econ, view.policy, states, cfg.euler_draws, cfg.quadrature,
                                  seed=cfg.seed).reshape(T, n_paths, -1)
  # Mean discounted utility of the paths' agents over the horizon, and the mean state at its
  # end (from an off-steady-state start: where a deterministic economy settles).
  discount = econ.beta ** np.arange(T)
  per_agent = np.tensordot(discount, path.utility.numpy(), axes=1)  # [paths, N]
  welfare = float(np.mean(per_agent))
  final_x = path.state.x.numpy().reshape(-1, econ.n_x).mean(axis=0)
  headline = econ.headline({'final_mean_x': final_x})
  row = dict(method='DeepHAM (this run)', objective=view.config.policy.objective,
             **headline, euler_mse_test=float(np.mean(res ** 2)),
             euler_abs_mean=float(np.mean(np.abs(res))),
             euler_abs_p50=float(np.percentile(np.abs(res), 50)),
             euler_abs_p99=float(np.percentile(np.abs(res), 99)), welfare=welfare)
  mask = view.policy.mask
  if mask is not None:  # incomplete information: each type's welfare and residuals
    by_agent = res.reshape(T, n_paths, econ.n_agents, -1)  # an agent's equations last
    for label, cols in (('informed', mask), ('uninformed', ~mask)):
      row[f'welfare_{label}'] = float(per_agent[:, cols].mean())
      row[f'euler_abs_mean_{label}'] = float(np.abs(by_agent[:, :, cols]).mean())
  u = view.policy(states).numpy()[..., 0].reshape(T, n_paths, -1)
  arrays = dict(residuals=res, policy=u, mean_x=path.aggregates.numpy()[..., 0],
                aggregates=path.aggregates.numpy(), final_x=path.state.x.numpy(),
                welfare=per_agent)
  reference = econ.reference_policy()
  if reference is not None:
    exact = reference(states).numpy()[..., 0].reshape(T, n_paths, -1)
    err = np.abs(u - exact)
    # The same procedure applied to the reference policy: what the finite number of draws alone
    # contributes to the test MSE (it falls as 1 / euler_draws; figures in docs/results.md).
    floor = euler_lib.euler_residuals(econ, reference, states, cfg.euler_draws, cfg.quadrature,
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
  keys = ('objective', *headline, 'euler_mse_test', 'euler_abs_mean', 'euler_abs_p50',
          'euler_abs_p99', 'welfare', 'welfare_informed', 'welfare_uninformed',
          'euler_abs_mean_informed', 'euler_abs_mean_uninformed', 'policy_abs_error',
          'policy_rel_error', 'euler_mse_test_exact_policy')
  return {k: row[k] for k in keys if k in row}


def _title(headline: dict) -> str:
  """'nu = 1' from {'nu': 1.0}: the economy's headline parameters, for figure titles."""
  return ', '.join(f'{k} = {v:g}' if isinstance(v, float) else f'{k} = {v}'
                   for k, v in headline.items())


def published_rows(economy) -> list[dict]:
  if economy.published_table is None:
    return []
  with open(conventional.resolve(_PUBLISHED)) as f:
    table = json.load(f)[economy.published_table]
  return [dict(method=label, optimality_mean=v) for label, v in table['rows'].items()]


def _tails_report(econ, methods, results, workdir) -> dict:
  """Euler errors by wealth on each method's own states and on common states (probe agents
  from the constraint to beyond the largest state): euler_by_wealth.csv and summary keys."""
  with_euler = [m for m in methods if m.key in results and 'euler' in results[m.key]['errors']]
  if not with_euler or econ.state_floor is None:
    return {}
  scale = float(np.mean([results[m.key]['x'].mean() for m in with_euler]))
  edges = euler_lib.wealth_edges(scale)
  rows, out = [], {'euler_by_wealth': {}, 'euler_common_states': {}}
  for m in with_euler:
    own = euler_lib.euler_by_wealth(results[m.key]['errors']['euler'], results[m.key]['x'],
                                    edges)
    rows += [dict(method=m.label, states='own validation states', **r) for r in own]
    out['euler_by_wealth'][m.key] = own
  common, arrays = euler_lib.common_states_report(
      econ, with_euler, {m.key: results[m.key]['states'] for m in with_euler}, edges)
  rows += common
  for m in with_euler:
    out['euler_common_states'][m.key] = euler_lib.common_states_summary(common, m.label)
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
