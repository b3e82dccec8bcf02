"""Figures (PNG and PDF) written under a run's workdir/figures."""

import os

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np

_STATES = (('bad', 'unemployed'), ('bad', 'employed'), ('good', 'unemployed'),
           ('good', 'employed'))


def save(fig, directory: str, name: str) -> None:
  os.makedirs(directory, exist_ok=True)
  fig.tight_layout()
  for ext in ('png', 'pdf'):
    fig.savefig(os.path.join(directory, f'{name}.{ext}'), dpi=150)
  plt.close(fig)


def ks_solution_figures(sol, directory: str) -> None:
  """Consumption policy and value of a conventional KS solution at the mean of K."""
  k = sol.k_grid.points
  keep = k <= 150
  K_mean = sol.stats.get('mean_K', 0.5 * (sol.K_grid.x_min + sol.K_grid.x_max))
  j = int(np.clip(np.searchsorted(sol.K_grid.points, K_mean) - 1, 0, sol.K_grid.n - 2))
  w = (K_mean - sol.K_grid.points[j]) / (sol.K_grid.points[j + 1] - sol.K_grid.points[j])
  fig, axes = plt.subplots(1, 2, figsize=(10, 4))
  for z in range(2):
    for e in range(2):
      label = '%s, %s' % _STATES[2 * z + e]
      for ax, table in zip(axes, (sol.consumption, sol.value)):
        y = (1 - w) * table[z, e, j] + w * table[z, e, j + 1]
        ax.plot(k[keep], y[keep], label=label)
  axes[0].set(xlabel='individual capital k', ylabel='consumption c',
              title=f'Krusell-Smith method: policy at K = {K_mean:.2f}')
  axes[1].set(xlabel='individual capital k', ylabel='value V',
              title='value under the ALM')
  axes[0].legend()
  save(fig, directory, 'ks_policy')
