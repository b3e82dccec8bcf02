"""Davila, Hong, Krusell & Rios-Rull (2012), Table 5: the market and the constrained optimum,
without and with aggregate shocks, from our runs with the published figures beside them
(docs/davila.md).

write(runs, out) puts davila_table.csv and davila_table.md (the table) and figures (saving
policies by earnings state, wealth and labor-share distributions) in `out`.
"""

import json
import os

import numpy as np
import pandas as pd
import tensorflow as tf

import deepham
from deepham import conventional
from deepham import figures
from deepham import workdir as workdir_lib
from deepham.economies import base
from deepham.studies import common

# The table's columns: (key of the run, as the report's flag names it; label).
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


def davila_figures(runs: dict[str, str], directory: str) -> None:
  """Saving policies by earnings state, and the wealth and labor-share distributions, of `runs`
  (COLUMNS key -> workdir), one line per run."""
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  loaded = {k: deepham.load(v).view for k, v in runs.items()}
  labels = dict(COLUMNS)
  # Saving policies by earnings state, at each run's own typical cross-section.
  any_econ = next(iter(loaded.values())).economy
  n_e = any_econ.chain.n_e
  fig, axes = plt.subplots(1, n_e, figsize=(4 * n_e, 3.5), squeeze=False)
  for j, (key, view) in enumerate(loaded.items()):
    econ, state = view.economy, view.distribution
    agg = econ.aggregates(state)[:, 0].numpy()
    b = int(np.argmin(np.abs(agg - agg.mean())))
    ref = base.State(state.x[b:b + 1], state.e[b:b + 1], state.z[b:b + 1])
    grid = np.linspace(0, 300, 200)
    for e in range(n_e):
      own = base.State(tf.constant(grid[None, :, None], state.x.dtype), tf.fill([1, 200], e),
                       ref.z)
      aggs = econ.aggregates(ref)
      c = econ.consumption(own, view.policy.conditional_policy(own, ref), aggs)
      saving = econ.cash(own, aggs) - c
      axes[0, e].plot(grid, saving.numpy()[0], color=figures.colors(j), label=labels[key])
      axes[0, e].set(title=f'e = {econ.params.e_values[e]:g}', xlabel='assets a',
                     ylabel="next assets a'")
  axes[0, 0].legend(fontsize=7)
  figures.save(fig, directory, 'davila_saving_policy')
  for name, fn in (('wealth', lambda econ, s: s.x[..., 0]),
                   ('labor_share', lambda econ, s: econ.labor_share(s, econ.aggregates(s)))):
    fig, ax = plt.subplots(figsize=(6, 4))
    for j, (key, view) in enumerate(loaded.items()):
      v = fn(view.economy, view.distribution).numpy().ravel()
      hi = np.percentile(v, 99)
      ax.hist(v[v <= hi], bins=60, density=True, histtype='step',
              color=figures.colors(j), label=labels[key])
    ax.set(xlabel=name.replace('_', ' '), ylabel='density',
           title=f'{name.replace("_", " ")} distribution (final simulated cross-sections)')
    ax.legend(fontsize=7)
    figures.save(fig, directory, f'davila_{name}')


def write(runs: dict[str, str], out: str) -> None:
  """The table (printed, and written as CSV and Markdown) and figures of `runs` (COLUMNS key ->
  workdir) in `out`."""
  table = davila_table(runs)
  table.to_csv(os.path.join(out, 'davila_table.csv'))
  with open(os.path.join(out, 'davila_table.md'), 'w') as f:
    f.write(common.markdown(table))
  print(table.to_string(float_format=lambda v: f'{v:.3f}'))
  davila_figures(runs, os.path.join(out, 'figures'))
