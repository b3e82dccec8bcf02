"""The figure of an experiment: each reported quantity's response with its 95% band, one line per
method, and the consumption response by wealth decile on impact."""

import os

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np


GROUPS = ('c_decile_', 'c_rank_')  # consumption by wealth group (responses.py)


def _panels(table, economy) -> list[str]:
  """The variables drawn over the horizon: the economy's quantities, then the Ginis."""
  names = list(dict.fromkeys(table['variable']))
  sname = economy.state_names[0]
  single = set(table.groupby('variable')['horizon'].max().loc[lambda s: s == 0].index)
  return [v for v in names if v not in single and not v.startswith(GROUPS + ('c_e', 'c_p',
                                                                            f'{sname}_p'))]


def responses_figure(table, economy, title: str, files) -> None:
  """Writes the figure to each of `files` (PNG, PDF)."""
  panels = _panels(table, economy)
  deciles = [v for v in dict.fromkeys(table['variable']) if v.startswith(GROUPS)]
  n = len(panels) + (1 if deciles else 0)
  cols = min(4, n)
  rows = -(-n // cols)
  fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
  axes = axes.ravel()
  methods = list(dict.fromkeys(table['method']))
  for ax, var in zip(axes, panels):
    for m in methods:
      part = table[(table['variable'] == var) & (table['method'] == m)].sort_values('horizon')
      line, = ax.plot(part['horizon'], part['mean'], label=m)
      ax.fill_between(part['horizon'], part['lower'], part['upper'], color=line.get_color(),
                      alpha=0.2, linewidth=0)
    ax.axhline(0, color='grey', linewidth=0.5)
    ax.set_title(var, fontsize=9)
    ax.set_xlabel('horizon', fontsize=8)
  if deciles:
    ax = axes[len(panels)]
    impact = 0
    for m in methods:
      part = table[(table['horizon'] == impact) & (table['method'] == m)
                   & table['variable'].isin(deciles)]
      order = [deciles.index(v) + 1 for v in part['variable']]
      ax.errorbar(order, part['mean'], yerr=[part['mean'] - part['lower'],
                                             part['upper'] - part['mean']],
                  marker='o', capsize=2, label=m)
    ax.axhline(0, color='grey', linewidth=0.5)
    ax.set_title('consumption on impact, by wealth group', fontsize=9)
    ax.set_xlabel('group of wealth at t = 0 (poorest first)', fontsize=8)
    ax.set_xticks(np.arange(1, len(deciles) + 1))
  for ax in axes[n:]:
    ax.axis('off')
  axes[0].legend(fontsize=7)
  fig.suptitle(title + ' (shocked - baseline, mean and 95% band)', fontsize=10)
  fig.tight_layout()
  for path in files:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=150)
  plt.close(fig)
