"""Tables and figures that combine several runs.

python -m deepham.report davila --market=DIR --planner=DIR [--market_agg=DIR]
    [--planner_agg=DIR] --out=DIR

writes davila_table.csv and davila_table.md (the paper's Table 5 from our runs, with the
published figures beside them) and figures (saving policies by earnings state, wealth and
labor-share distributions) to --out.

python -m deepham.report investment --runs=DIR,DIR,... --out=DIR

writes investment_table.csv/.md (objective, nu, N, test Euler MSE, policy errors, seconds of
each investment-economy run) and the figure of investment along the common test paths, one line
per run (the runs validate on the same seeded paths from X0).
"""

import json
import os

from absl import app
from absl import flags
import numpy as np
import pandas as pd
import tensorflow as tf

import deepham
from deepham import cli
from deepham import conventional
from deepham import figures
from deepham import workdir as workdir_lib
from deepham.economies import base

COLUMNS = (('market', 'no aggregate shock: market'),
           ('planner', 'no aggregate shock: constrained optimum'),
           ('market_agg', 'aggregate shock: market'),
           ('planner_agg', 'aggregate shock: constrained optimum'))
ROWS = (('K', 'aggregate capital', 'aggregate_capital'),
        ('r_pct', 'real interest (%)', 'real_interest_pct'),
        ('wealth_gini', 'wealth Gini', 'wealth_gini'),
        ('consumption_gini', 'consumption Gini', 'consumption_gini'))


def davila_table(runs: dict[str, str]) -> pd.DataFrame:
  """Our figures and the published ones, one column per (run, source)."""
  with open(conventional.resolve(os.path.join('data', 'published.json'))) as f:
    published = json.load(f)['han_yang_e_2025_table5']
  table = {}
  for i, (key, label) in enumerate(COLUMNS):
    if key in runs:
      s = workdir_lib.read_summary(runs[key])
      table[f'{label} (deepham)'] = [s[k] for k, _, _ in ROWS] + [s.get('seconds', np.nan)]
    table[f'{label} (published)'] = [published[p][i] for _, _, p in ROWS] + [np.nan]
  return pd.DataFrame(table, index=[r for _, r, _ in ROWS] + ['seconds'])


def markdown(table: pd.DataFrame, fmt: str = '{:.3f}') -> str:
  """A pipe table of a DataFrame (empty cells for NaN)."""
  cell = lambda v: '' if isinstance(v, float) and np.isnan(v) else (
      fmt.format(v) if isinstance(v, (float, np.floating)) else str(v))
  lines = ['| | ' + ' | '.join(table.columns) + ' |',
           '|---' * (len(table.columns) + 1) + '|']
  lines += [f'| {idx} | ' + ' | '.join(cell(v) for v in row) + ' |'
            for idx, row in zip(table.index, table.to_numpy())]
  return '\n'.join(lines) + '\n'


def _policy_and_distribution(workdir: str):
  sol = deepham.load(workdir)
  solver = sol._solver  # pylint: disable=protected-access
  d = solver.distribution
  state = base.State(*[tf.convert_to_tensor(v) for v in d])
  return sol, solver, state


def davila_figures(runs: dict[str, str], directory: str) -> None:
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  loaded = {k: _policy_and_distribution(v) for k, v in runs.items()}
  labels = dict(COLUMNS)
  # Saving policies by earnings state, at each run's own typical cross-section.
  any_econ = next(iter(loaded.values()))[1].economy
  n_e = any_econ.chain.n_e
  fig, axes = plt.subplots(1, n_e, figsize=(4 * n_e, 3.5), squeeze=False)
  for j, (key, (sol, solver, state)) in enumerate(loaded.items()):
    econ = solver.economy
    agg = econ.aggregates(state)[:, 0].numpy()
    b = int(np.argmin(np.abs(agg - agg.mean())))
    ref = base.State(state.x[b:b + 1], state.e[b:b + 1], state.z[b:b + 1])
    grid = np.linspace(0, 300, 200)
    for e in range(n_e):
      own = base.State(tf.constant(grid[None, :, None], state.x.dtype), tf.fill([1, 200], e),
                       ref.z)
      aggs = econ.aggregates(ref)
      c = econ.consumption(own, solver.policy.conditional_policy(own, ref), aggs)
      saving = econ.cash(own, aggs) - c
      axes[0, e].plot(grid, saving.numpy()[0], color=figures._colors(j),  # pylint: disable=protected-access
                      label=labels[key])
      axes[0, e].set(title=f'e = {econ.params.e_values[e]:g}', xlabel='assets a',
                     ylabel="next assets a'")
  axes[0, 0].legend(fontsize=7)
  figures.save(fig, directory, 'davila_saving_policy')
  for name, fn in (('wealth', lambda econ, s: s.x[..., 0]),
                   ('labor_share', lambda econ, s: econ.labor_share(s, econ.aggregates(s)))):
    fig, ax = plt.subplots(figsize=(6, 4))
    for j, (key, (sol, solver, state)) in enumerate(loaded.items()):
      v = fn(solver.economy, state).numpy().ravel()
      hi = np.percentile(v, 99)
      ax.hist(v[v <= hi], bins=60, density=True, histtype='step',
              color=figures._colors(j), label=labels[key])  # pylint: disable=protected-access
    ax.set(xlabel=name.replace('_', ' '), ylabel='density',
           title=f'{name.replace("_", " ")} distribution (final simulated cross-sections)')
    ax.legend(fontsize=7)
    figures.save(fig, directory, f'davila_{name}')


INVESTMENT_KEYS = ('objective', 'nu', 'n_agents', 'polish_iterations', 'euler_mse_test',
                   'euler_abs_p50', 'policy_abs_error', 'policy_rel_error', 'seconds')


def investment_table(runs: list[str]) -> pd.DataFrame:
  """One row per investment-economy run: the headline keys of its summary.json."""
  rows = []
  for run in runs:
    s = workdir_lib.read_summary(run)
    validation = os.path.join(run, 'validation.csv')
    if os.path.exists(validation):  # the full validation row: percentiles too
      s = {**pd.read_csv(validation).iloc[0].to_dict(), **s}
    rows.append({'run': os.path.basename(os.path.normpath(run)),
                 **{k: s.get(k, np.nan) for k in INVESTMENT_KEYS}})
  return pd.DataFrame(rows).set_index('run')


def investment_figures(runs: list[str], directory: str) -> None:
  """Mean investment across firms along the common test paths, one line per run."""
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, ax = plt.subplots(figsize=(6.5, 4))
  exact_drawn = False
  for j, run in enumerate(runs):
    s = workdir_lib.read_summary(run)
    with np.load(os.path.join(run, 'paths.npz')) as f:
      u = f['policy'].mean(axis=2)  # [T, paths]
      exact = f['exact_policy'].mean(axis=2) if 'exact_policy' in f else None
    t = np.arange(u.shape[0])
    label = f"nu = {s['nu']:g} ({s['objective']}, N = {s['n_agents']})"
    ax.plot(t, u.mean(axis=1), color=figures._colors(j), label=label)  # pylint: disable=protected-access
    ax.fill_between(t, np.percentile(u, 2.5, axis=1), np.percentile(u, 97.5, axis=1),
                    color=figures._colors(j), alpha=0.15)  # pylint: disable=protected-access
    if exact is not None and not exact_drawn:
      ax.plot(t, exact.mean(axis=1), 'k:', label='exact LQ policy (nu = 1)')
      exact_drawn = True
  ax.set(xlabel='period', ylabel='investment u (mean over firms)',
         title='investment along equilibrium test paths (mean, 2.5-97.5 percentiles)')
  ax.legend(fontsize=7)
  figures.save(fig, directory, 'investment_paths_by_nu')


_RUNS = {key: flags.DEFINE_string(key, None, f'workdir of the {label} run')
         for key, label in COLUMNS}
_INVESTMENT_RUNS = flags.DEFINE_list('runs', [], 'investment: comma-separated workdirs')
_OUT = flags.DEFINE_string('out', 'runs/report', 'output directory')


def main(argv):
  if len(argv) != 2 or argv[1] not in ('davila', 'investment'):
    raise SystemExit('deepham: usage: python -m deepham.report davila --market=DIR ... '
                     '--out=DIR, or python -m deepham.report investment --runs=DIR,... --out=DIR')
  os.makedirs(_OUT.value, exist_ok=True)
  if argv[1] == 'investment':
    if not _INVESTMENT_RUNS.value:
      raise SystemExit('deepham: investment: give the runs as --runs=DIR,DIR,...')
    table = investment_table(_INVESTMENT_RUNS.value)
    table.to_csv(os.path.join(_OUT.value, 'investment_table.csv'))
    with open(os.path.join(_OUT.value, 'investment_table.md'), 'w') as f:
      f.write(markdown(table, fmt='{:.4g}'))
    print(table.to_string(float_format=lambda v: f'{v:.4g}'))
    investment_figures(_INVESTMENT_RUNS.value, os.path.join(_OUT.value, 'figures'))
    return
  runs = {k: f.value for k, f in _RUNS.items() if f.value}
  table = davila_table(runs)
  table.to_csv(os.path.join(_OUT.value, 'davila_table.csv'))
  with open(os.path.join(_OUT.value, 'davila_table.md'), 'w') as f:
    f.write(markdown(table))
  print(table.to_string(float_format=lambda v: f'{v:.3f}'))
  davila_figures(runs, os.path.join(_OUT.value, 'figures'))


if __name__ == '__main__':
  app.run(lambda argv: cli.run_guarded(lambda: main(argv), None), flags_parser=cli.parse_flags)
