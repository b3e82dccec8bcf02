"""Davila, Hong, Krusell & Rios-Rull (2012): identities, the Aiyagari benchmark, planner vs game."""

import os

import numpy as np
import pytest
import tensorflow as tf

from configs import davila as davila_config
from deepham.conventional import aiyagari
from deepham.economies import base
from deepham.economies import davila
from deepham.economies import markov
from deepham.solver import simulate
from tests import conftest


def test_stationary_shares_and_aggregate_labor():
  p = davila.DavilaParams()
  np.testing.assert_allclose(markov.stationary(np.asarray(p.transition)), [0.498, 0.443, 0.059],
                             atol=1e-3)
  np.testing.assert_allclose(p.L, [5.574], atol=1e-3)
  shocks = davila.DavilaParams(aggregate_shocks=True)
  np.testing.assert_allclose(shocks.L, [3.623, 7.525], atol=1e-3)  # (bad, good)
  chain = shocks.chain
  np.testing.assert_allclose(chain.P_z, [[0.875, 0.125], [0.125, 0.875]])
  # The move of e into a good period uses the good matrix, whatever the current state.
  for z in (0, 1):
    np.testing.assert_allclose(chain.P_e[z, 1], np.asarray(p.transition_good))
    np.testing.assert_allclose(chain.P_e[z, 0], np.asarray(p.transition_bad))


@pytest.mark.parametrize('shocks', [False, True])
def test_budget_and_marginal_product_prices(shocks):
  econ = davila.Davila(davila.DavilaParams(n_agents=20, aggregate_shocks=shocks))
  state = simulate.as_state(econ.initial_state(5, np.random.default_rng(0)), tf.float64)
  share = tf.constant(np.random.default_rng(1).uniform(0.05, 0.95, (5, 20, 1)))
  K = econ.aggregates(state)
  nxt, u = econ.step(state, share, K, econ.draw_shocks(5, [0, 0], tf.float64))
  r, w = econ.prices(K, state.z[:, None])
  e = np.asarray(econ.params.e_values)[state.e.numpy()]
  c = -1 / u.numpy()  # sigma = 2: u = -1/c
  resources = (1 + r.numpy()) * state.x.numpy()[..., 0] + w.numpy() * e
  np.testing.assert_allclose(nxt.x.numpy()[..., 0] + c, resources, rtol=1e-12)
  L = tf.constant(econ.params.L, tf.float64)
  L = tf.gather(L, state.z)[:, None]
  with tf.GradientTape(persistent=True) as tape:
    tape.watch([K, L])
    Y = econ.production(K, state.z[:, None], L)
  np.testing.assert_allclose(tape.gradient(Y, K).numpy(), (r + econ.params.delta).numpy(),
                             rtol=1e-12)
  np.testing.assert_allclose(tape.gradient(Y, L).numpy(), w.numpy(), rtol=1e-12)


def test_aiyagari_on_a_coarse_grid_converges_and_clears_the_market():
  sol = aiyagari.solve(davila.DavilaParams(), aiyagari.AiyagariMethodParams(n_a=120, n_fine=800))
  assert abs(sol.stats['market_clearing_error']) < 1e-6
  assert abs(sol.stats['K'] / 30.5 - 1) < 0.05  # reference: K about 30.5, r about 4.1%
  assert abs(sol.stats['r_pct'] - 4.1) < 0.3
  # The savings policy respects the borrowing limit and the budget.
  assert np.all(sol.savings >= -1e-12)


def test_shipped_aiyagari_solution_meets_the_targets():
  """Market without aggregate shocks: K within 2% of 30.635 (Han, Yang & E, Table 5)."""
  path = os.path.join(conftest.REPO, 'data', 'davila', 'aiyagari_solution.npz')
  sol = aiyagari.AiyagariSolution.load(path)
  assert abs(sol.stats['K'] / 30.635 - 1) < 0.02
  assert abs(sol.stats['r_pct'] - 4.097) < 0.1
  assert abs(sol.stats['wealth_gini'] - 0.864) < 0.02
  assert abs(sol.stats['consumption_gini'] - 0.615) < 0.02


@pytest.mark.parametrize('mode, others, prices', [('game', False, False),
                                                  ('planner', True, True)])
def test_planner_gradient_reaches_every_agent_and_the_prices(mode, others, prices):
  conftest.check_gradient_isolation(davila_config.get_config('tiny'), davila.Davila,
                                    davila.DavilaParams, mode, True, others, prices)


def test_tiny_runs_write_table_keys_and_the_report_combines_them(tmp_path):
  """Too small to test accuracy: the four settings run and the report puts them together."""
  from deepham import main  # pylint: disable=g-import-not-at-top
  from deepham.studies import common  # pylint: disable=g-import-not-at-top
  from deepham.studies import davila as davila_study  # pylint: disable=g-import-not-at-top
  runs = {}
  for key, mode, shocks in (('market', 'game', False), ('planner_agg', 'planner', True)):
    config = davila_config.get_config('tiny')
    config.mode = mode
    config.economy.aggregate_shocks = shocks
    runs[key] = str(tmp_path / key)
    summary = main.run(config, runs[key], 'solve')
    for k in ('mode', 'aggregate_shocks', 'K', 'r', 'wealth_gini', 'consumption_gini',
              'seconds'):
      assert k in summary, k
    assert summary['aggregate_shocks'] == shocks and summary['mode'] == mode
    assert 0 <= summary['wealth_gini'] <= 1 and 0 <= summary['consumption_gini'] <= 1
  table = davila_study.davila_table(runs)
  assert table.loc['aggregate capital', 'no aggregate shock: market (published)'] == 30.635
  assert 'aggregate shock: constrained optimum (deepham)' in table.columns
  md = common.markdown(table)
  assert md.count('\n') == len(table) + 2
  davila_study.davila_figures(runs, str(tmp_path / 'figures'))
  assert os.path.exists(tmp_path / 'figures' / 'davila_saving_policy.png')


def test_stationary_solution_starts_but_does_not_benchmark_the_aggregate_shock_economy():
  """With aggregate shocks the Aiyagari policy is a starting rule, not a solution to compare."""
  from deepham import conventional  # pylint: disable=g-import-not-at-top
  from deepham import errors  # pylint: disable=g-import-not-at-top
  econ = davila.Davila(davila.DavilaParams(n_agents=6, aggregate_shocks=True))
  path = os.path.join(conftest.REPO, 'data', 'davila', 'aiyagari_solution.npz')
  with pytest.raises(errors.ConfigError, match='no conventional benchmark'):
    conventional.load_benchmark(econ, path)
  rule = conventional.load_benchmark(econ, path, initial_rule=True).policy
  state = simulate.as_state(econ.initial_state(3, np.random.default_rng(0)), tf.float64)
  share = rule(state, econ.aggregates(state)).numpy()
  assert share.shape == (3, 6, 1) and np.all((share > 0) & (share <= 1))


def test_labor_share_lies_in_the_unit_interval_also_when_r_is_negative():
  """At the constrained optimum (K about 120) r < 0; the share of labor in factor income stays
  in (0, 1], and equals one for a household without assets."""
  econ = davila.Davila(davila.DavilaParams(n_agents=10))
  state = simulate.as_state(econ.initial_state(4, np.random.default_rng(0)), tf.float64)
  state = base.State(state.x * 4.0, state.e, state.z)  # K about 120
  aggs = econ.aggregates(state)
  assert float(tf.reduce_max(econ.prices(aggs, state.z[:, None])[0])) < 0
  share = econ.labor_share(state, aggs).numpy()
  assert np.all((share > 0) & (share <= 1))
  poor = base.State(state.x * 0.0, state.e, state.z)
  np.testing.assert_allclose(econ.labor_share(poor, aggs).numpy(), 1.0)
