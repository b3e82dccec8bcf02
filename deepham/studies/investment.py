"""The investment economy (Kahou et al.) across runs: objective, nu and N against the test Euler
MSE and the policy error (docs/results.md).

write(runs, out) puts investment_table.csv and investment_table.md (one row per run) and the
figure of investment along the common test paths, one line per run (the runs validate on the same
seeded paths from X0), in `out`.
"""

import os

import numpy as np
import pandas as pd

from deepham import figures
from deepham import workdir as workdir_lib
from deepham.studies import common

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
    ax.plot(t, u.mean(axis=1), color=figures.colors(j), label=label)
    ax.fill_between(t, np.percentile(u, 2.5, axis=1), np.percentile(u, 97.5, axis=1),
                    color=figures.colors(j), alpha=0.15)
    if exact is not None and not exact_drawn:
      ax.plot(t, exact.mean(axis=1), 'k:', label='exact LQ policy (nu = 1)')
      exact_drawn = True
  ax.set(xlabel='period', ylabel='investment u (mean over firms)',
         title='investment along equilibrium test paths (mean, 2.5-97.5 percentiles)')
  ax.legend(fontsize=7)
  figures.save(fig, directory, 'investment_paths_by_nu')


def write(runs: list[str], out: str) -> None:
  """The table (printed, and written as CSV and Markdown) and figure of the workdirs `runs` in
  `out`."""
  table = investment_table(runs)
  table.to_csv(os.path.join(out, 'investment_table.csv'))
  with open(os.path.join(out, 'investment_table.md'), 'w') as f:
    f.write(common.markdown(table, fmt='{:.4g}'))
  print(table.to_string(float_format=lambda v: f'{v:.4g}'))
  investment_figures(runs, os.path.join(out, 'figures'))
