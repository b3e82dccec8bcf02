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


def colors(i):
  """The i-th colour of the cycle: a method or run keeps its colour across figures."""
  return plt.rcParams['axes.prop_cycle'].by_key()['color'][i % 10]


def validation_figures(view, methods, paths, results, burn: int, directory: str) -> None:
  """Aggregate paths, wealth distribution, policies, Bellman errors by decile, and the
  generalized-moment figures of a validated run (its RunView, deepham/solution.py)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from deepham.economies import base  # pylint: disable=g-import-not-at-top
  from deepham.solver import explore  # pylint: disable=g-import-not-at-top
  econ = view.economy
  name = econ.aggregate_names[0]

  fig, ax = plt.subplots(figsize=(8, 3.5))
  for i, m in enumerate(methods):
    series = paths[m.key].aggregates.numpy()[:, 0, 0]
    ax.plot(series, color=colors(i), lw=1, label=m.label)
  ax.set(xlabel='period', ylabel=f'aggregate {name}', title=f'{name} on the same shocks (path 1)')
  ax.legend()
  save(fig, directory, 'aggregate_path')

  fig, ax = plt.subplots(figsize=(6, 4))
  for i, m in enumerate(methods):
    x = paths[m.key].states.x.numpy()[burn:, ..., 0].ravel()
    ax.hist(x, bins=80, density=True, histtype='step', color=colors(i), label=m.label)
  ax.set(xlabel='individual state x (KS: capital k)', ylabel='density',
         title='cross-sectional distribution (pooled over periods and paths)')
  ax.legend()
  save(fig, directory, 'wealth_distribution')

  # Policies at a typical cross-section: the one whose aggregate is closest to its mean.
  ref_path = paths[methods[0].key]
  agg = ref_path.aggregates.numpy()[burn:, :, 0]
  t, b = np.unravel_index(np.argmin(np.abs(agg - agg.mean())), agg.shape)
  t += burn
  reference = base.State(ref_path.states.x[t, b:b + 1], ref_path.states.e[t, b:b + 1],
                         ref_path.states.z[t, b:b + 1])
  x_ref = reference.x.numpy()[0, :, 0]
  grid = np.linspace(0.0, max(np.percentile(x_ref, 99) * 1.5, 1e-3), 200)
  n_z, n_e = econ.chain.n_z, econ.chain.n_e
  fig, axes = plt.subplots(n_z, n_e, figsize=(4 * n_e, 3 * n_z), squeeze=False)
  dtype = reference.x.dtype
  for z in range(n_z):
    for e in range(n_e):
      own = base.State(explore.first_state_at(grid[None, :], reference.x),
                       tf.fill([1, len(grid)], e), tf.constant([z]))
      ax = axes[z, e]
      for i, m in enumerate(methods):
        action = m.conditional_policy(own, reference)
        y = (econ.consumption(own, action, econ.aggregates(reference)).numpy()[0]
             if econ.has_consumption else action.numpy()[0, :, 0])
        ax.plot(grid, y, color=colors(i), label=m.label)
      ax.set(title=f'z = {z}, e = {e}', xlabel='own x',
             ylabel='consumption' if econ.has_consumption else econ.action_name)
  axes[0, 0].legend(fontsize=7)
  fig.suptitle(f'policy at a cross-section with {name} = {agg.mean():.2f}')
  save(fig, directory, 'policy')

  if results:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    width = 0.8 / len(results)
    for i, m in enumerate([m for m in methods if m.key in results]):
      r = results[m.key]
      x, err = r['x'].ravel(), np.abs(r['errors']['optimality']).ravel()
      edges = np.percentile(x, np.linspace(0, 100, 11))
      dec = np.clip(np.searchsorted(edges, x, side='right') - 1, 0, 9)
      # Ties (many agents at the borrowing limit) can leave a decile empty: no bar there.
      means = [err[dec == d].mean() if np.any(dec == d) else np.nan for d in range(10)]
      ax.bar(np.arange(10) + i * width, means, width, color=colors(i), label=m.label)
    ax.set(xlabel='wealth decile', ylabel='mean |Bellman error|',
           title='Bellman optimality error by wealth decile')
    ax.set_xticks(np.arange(10) + 0.4 - width / 2, [str(d + 1) for d in range(10)])
    ax.legend(fontsize=8)
    save(fig, directory, 'bellman_by_decile')

  value = view.value
  if value.nets[0].moments.n_generalized:
    norm = view.normalizer
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    k = np.linspace(0, np.percentile(x_ref, 99) * 1.5, 200)
    d = norm.dist_of(tf.constant(k[:, None], dtype))
    for i, net in enumerate(value.nets):
      q = net.moments.basis(d).numpy()
      for j in range(q.shape[1]):
        axes[0].plot(k, q[:, j], color=colors(i), ls='-' if j == 0 else '--',
                     label=f'value net {i + 1}' + (f', Q{j + 1}' if q.shape[1] > 1 else ''))
    axes[0].set(xlabel='individual x (KS: k)', ylabel='basis Q(x)',
                title='learned generalized-moment basis')
    axes[0].legend(fontsize=7)
    # Value of a fixed agent across simulated cross-sections, against the first net's first GM.
    states = ref_path.states
    sel = np.arange(burn, states.x.shape[0], max((states.x.shape[0] - burn) // 200, 1))
    xs = tf.reshape(tf.gather(states.x, sel), [-1] + states.x.shape[2:].as_list())
    zs = tf.reshape(tf.gather(states.z, sel), [-1])
    es = tf.reshape(tf.gather(states.e, sel), [-1, states.e.shape[2]])
    cross = base.State(xs, es, zs)
    net = value.nets[0]
    gm = net.moments(norm.dist(cross)).numpy()[:, net.moments.n_fixed * norm.n_dist]
    own = base.State(explore.first_state_at(np.full((xs.shape[0], 1), float(agg.mean())), xs),
                     tf.fill([xs.shape[0], 1], econ.chain.n_e - 1), zs)
    mean_raw = tf.reduce_mean(value.raw(econ.distribution_inputs(cross)), axis=1, keepdims=True)
    v = value.evaluate(own, mean_raw).numpy()[:, 0]
    for z in range(econ.chain.n_z):
      pick = zs.numpy() == z
      axes[1].scatter(gm[pick], v[pick], s=4, color=colors(z), label=f'z = {z}')
    axes[1].set(xlabel='generalized moment (value net 1)',
                ylabel=f'V of an agent with x = {agg.mean():.1f}, e = {econ.chain.n_e - 1}',
                title='value against the generalized moment')
    axes[1].legend()
    save(fig, directory, 'generalized_moment')


def euler_figures(arrays: dict, action_name: str, title: str, directory: str) -> None:
  """Euler residual bands and policies along the test trajectories (Euler-residual economies);
  `title` names the parameters (e.g. 'nu = 1')."""
  suffix = f' ({title})' if title else ''
  res = np.abs(arrays['residuals']).mean(axis=2)  # [T, paths]: mean |residual| over firms
  t = np.arange(res.shape[0])
  fig, ax = plt.subplots(figsize=(6, 3.5))
  ax.plot(t, res.mean(axis=1), label='mean over paths')
  ax.fill_between(t, np.percentile(res, 2.5, axis=1), np.percentile(res, 97.5, axis=1),
                  alpha=0.3, label='2.5-97.5 percentiles')
  ax.set(xlabel='period', ylabel='mean |Euler residual| over agents', yscale='log',
         title=f'Euler residuals along test paths{suffix}')
  ax.legend()
  save(fig, directory, 'euler_residuals')

  u = arrays['policy'].mean(axis=2)
  fig, ax = plt.subplots(figsize=(6, 3.5))
  for j in range(min(5, u.shape[1])):
    ax.plot(t, u[:, j], color=colors(j), lw=1, label='learned' if j == 0 else None)
    if 'exact_policy' in arrays:
      ax.plot(t, arrays['exact_policy'].mean(axis=2)[:, j], color='k', ls=':', lw=1,
              label='reference' if j == 0 else None)
  ax.set(xlabel='period', ylabel=f'{action_name} (mean over agents)',
         title=f'policy along equilibrium paths{suffix}')
  ax.legend()
  save(fig, directory, 'policy_paths')
