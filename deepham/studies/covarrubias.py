"""The households x capital-goods economy across runs (docs/covarrubias.md): the steady state
from the closed form and from the simulation, Euler residuals, welfare, market against planner.

write(runs, out) puts covarrubias_table.csv/.md (one row per run), covarrubias_pairs.csv/.md
(planner minus market welfare for every economy solved both ways) and figures (capital paths per
good; each run's policy by own capital and TFP) in `out`.
"""

import os

import numpy as np
import pandas as pd
import tensorflow as tf

from deepham import figures
from deepham import workdir as workdir_lib
from deepham.economies import base
from deepham.studies import common

KEYS = ('mode', 'formulation', 'n_households', 'n_goods', 'tfp_risk',
        'steady_state_K_closed_form', 'steady_state_K_simulated', 'euler_abs_mean',
        'euler_abs_p50', 'euler_abs_p99', 'welfare', 'seconds')
ECONOMY = ('n_households', 'n_goods', 'tfp_risk')  # what a market and a planner run share


def _name(run: str) -> str:
  return os.path.basename(os.path.normpath(run))


def table(runs: list[str]) -> pd.DataFrame:
  """One row per run: its summary keys and the simulated steady state's relative gap."""
  rows = []
  for run in runs:
    s = workdir_lib.read_summary(run)
    if s.get('economy') != 'covarrubias':
      raise SystemExit(f'deepham: {run} is not a covarrubias run.')
    row = {'run': _name(run), **{k: s.get(k, np.nan) for k in KEYS}}
    row['K_gap'] = row['steady_state_K_simulated'] / row['steady_state_K_closed_form'] - 1
    rows.append(row)
  return pd.DataFrame(rows).set_index('run')


def pairs(runs: pd.DataFrame) -> pd.DataFrame:
  """Planner minus market welfare, for every economy (N^h, N^c, TFP risk) with a run of the
  planner formulation and a competitive-equilibrium run of the market formulation."""
  rows = []
  for key, group in runs.groupby(list(ECONOMY)):
    market = group[(group.formulation == 'market') & (group['mode'] == 'game')]
    planner = group[group.formulation == 'planner']
    if len(market) and len(planner):
      m, p = market.iloc[0], planner.iloc[0]
      rows.append(dict(zip(ECONOMY, key), welfare_market=m.welfare, welfare_planner=p.welfare,
                       welfare_gap=p.welfare - m.welfare, K_market=m.steady_state_K_simulated,
                       K_planner=p.steady_state_K_simulated))
  return pd.DataFrame(rows)


def capital_figure(runs: list[str], directory: str) -> None:
  """Mean capital per good along the test paths from the spread start, over the closed-form
  steady state (dotted), one panel per run."""
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, axes = plt.subplots(1, len(runs), figsize=(3.2 * len(runs), 3), squeeze=False)
  for ax, run in zip(axes[0], runs):
    s = workdir_lib.read_summary(run)
    with np.load(os.path.join(run, 'paths.npz')) as f:
      k = f['aggregates'] if 'aggregates' in f else f['mean_x'][..., None]  # [T, paths, N^c]
    t = np.arange(k.shape[0])
    for j in range(min(k.shape[-1], 10)):
      ax.plot(t, k[:, :, j].mean(axis=1), color=figures.colors(j), lw=1, label=f'good {j + 1}')
    ax.axhline(s['steady_state_K_closed_form'], color='k', ls=':', lw=1, label='closed form')
    ax.set(xlabel='period', title=f"{s['formulation']}, N^h={s['n_households']}, "
           f"N^c={s['n_goods']}")
  axes[0][0].set_ylabel('mean capital per household')
  axes[0][0].legend(fontsize=6)
  figures.save(fig, directory, 'capital_paths')


def policy_figure(run: str, directory: str) -> None:
  """Total spending share of one household against its capital of good 1 (its other goods at
  the steady state), in every TFP state, in the steady-state cross-section."""
  import deepham  # pylint: disable=g-import-not-at-top
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  view = deepham.load(run).view
  econ, dtype = view.economy, view.dtype
  k_ss = econ.steady_state_K
  grid = np.linspace(0.5, 1.5, 41) * k_ss
  reference = base.State(tf.fill([len(grid), econ.n_agents, econ.n_goods],
                                 tf.constant(k_ss, dtype)),
                         tf.zeros([len(grid), econ.n_agents], tf.int32),
                         tf.zeros([len(grid)], tf.int32))
  fig, ax = plt.subplots(figsize=(5, 3.5))
  for e, level in enumerate(econ.e_values):
    own_x = np.full((len(grid), 1, econ.n_goods), k_ss)
    own_x[:, 0, 0] = grid
    own = base.State(tf.constant(own_x, dtype), tf.fill([len(grid), 1], e), reference.z)
    shares = view.policy.conditional_policy(own, reference).numpy()[:, 0, :econ.n_goods]
    ax.plot(grid, shares.sum(axis=-1), color=figures.colors(e), label=f'TFP {level:g}')
  ax.axvline(k_ss, color='k', ls=':', lw=1)
  ax.set(xlabel='own capital of good 1', ylabel='total spending share',
         title=f'{_name(run)}: policy in the steady-state cross-section')
  ax.legend(fontsize=7)
  figures.save(fig, directory, f'policy_{_name(run)}')


def write(runs: list[str], out: str) -> None:
  """The tables (printed, and written as CSV and Markdown) and figures of `runs` in `out`."""
  runs_table = table(runs)
  pair_table = pairs(runs_table)
  runs_table.to_csv(os.path.join(out, 'covarrubias_table.csv'))
  pair_table.to_csv(os.path.join(out, 'covarrubias_pairs.csv'), index=False)
  with open(os.path.join(out, 'covarrubias_table.md'), 'w') as f:
    f.write(common.markdown(runs_table, fmt='{:.4g}'))
  with open(os.path.join(out, 'covarrubias_pairs.md'), 'w') as f:
    f.write(common.markdown(pair_table, fmt='{:.4g}'))
  print(runs_table.to_string(float_format=lambda v: f'{v:.4g}'))
  if len(pair_table):
    print(pair_table.to_string(float_format=lambda v: f'{v:.4g}'))
  directory = os.path.join(out, 'figures')
  capital_figure(runs, directory)
  for run in runs:
    policy_figure(run, directory)
