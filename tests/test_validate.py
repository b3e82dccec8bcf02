"""Validation: Bellman errors on closed forms, perturbed policies, and the report (issue 4)."""

import logging
import os

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from deepham import main
from deepham import validation
from deepham.economies import base
from deepham.economies import brock_mirman
from deepham.economies import ks
from deepham.solver import simulate
from deepham.validation import bellman


class _ClosedForm:
  """Brock-Mirman value of saving `rate` forever, through the validation value interface."""

  def __init__(self, econ, rate):
    self.econ, self.rate = econ, rate

  def raw(self, dist):
    return dist[..., :0]  # the value does not depend on the others

  def evaluate(self, own, mean_raw):
    return self.econ.closed_form_value(own, self.rate)


def _method(econ, rate):
  share = 1 - rate
  policy = lambda state, aggs: tf.fill(tf.concat([tf.shape(state.e), [1]], 0),
                                       tf.constant(share, state.x.dtype))
  return validation.Method('exact', f'save {rate:.3f}', policy, _ClosedForm(econ, rate),
                           lambda own, ref: policy(own, None))


@pytest.fixture(scope='module')
def bm():
  econ = brock_mirman.BrockMirman(brock_mirman.BMParams(n_agents=5, k_spread=0.8))
  states = simulate.as_state(econ.initial_state(40, np.random.default_rng(0)), tf.float64)
  return econ, states


def test_bellman_error_of_the_exact_solution_is_zero(bm):
  econ, states = bm
  ab = econ.params.alpha * econ.params.beta
  errs = validation.bellman_errors(econ, _method(econ, ab), states)
  assert np.max(np.abs(errs['expectation'])) < 1e-10
  assert np.max(np.abs(errs['optimality'])) < 1e-9


def test_perturbed_policy_has_zero_expectation_error_and_positive_optimality_error(bm):
  """A policy evaluated with its own exact value function satisfies the Bellman expectation
  equation; its optimality error grows with its distance from the optimum."""
  econ, states = bm
  ab = econ.params.alpha * econ.params.beta
  previous = 0.0
  for gap in (0.02, 0.05, 0.1):
    errs = validation.bellman_errors(econ, _method(econ, ab + gap), states)
    assert np.max(np.abs(errs['expectation'])) < 1e-10
    opt = np.abs(errs['optimality']).mean()
    assert opt > previous + 1e-5
    previous = opt


def test_gini():
  assert validation.gini(np.ones((3, 10))).max() < 1e-12
  one_rich = np.zeros(100)
  one_rich[0] = 1.0
  np.testing.assert_allclose(validation.gini(one_rich), 0.99, atol=1e-12)
  x = np.random.default_rng(0).exponential(size=200_000)  # Gini of an exponential is 1/2
  np.testing.assert_allclose(validation.gini(x), 0.5, atol=0.005)


def test_report_holds_computed_rows_and_published_ones_only_for_their_economy(tiny_run,
                                                                              caplog):
  """The tiny run (N = 8) lists both methods by the same procedure; the published Table 2 (N = 50)
  is listed only for the economy it was computed for."""
  workdir, summary = tiny_run
  table = pd.read_csv(os.path.join(workdir, 'validation.csv'), index_col='method')
  for row in ('DeepHAM (this run)', 'KS method (same procedure)', 'DeepHAM (original procedure)',
              'KS method (original procedure)'):
    assert row in table.index
  assert np.isfinite(summary['bellman_error']['deepham']['optimality_mean_original_procedure'])
  assert not any('(published)' in row for row in table.index)
  for method in ('deepham', 'ks'):
    for key in ('optimality_mean', 'optimality_std', 'expectation_mean',
                'euler_error_log10_mean'):
      assert np.isfinite(summary['bellman_error'][method][key])
    assert summary['euler_error_log10_mean'][method] < 0
  published = {r['method']: r['optimality_mean'] for r in validation.report.published_rows(
      ks.KrusellSmith(ks.KSParams(n_agents=50)))}
  np.testing.assert_allclose(published['KS method (published)'], 0.0253)
  assert 'DeepHAM, 1 generalized moment (published)' in published
  # The printed table, re-validating the finished run.
  with caplog.at_level(logging.INFO):
    from configs import ks_game  # pylint: disable=g-import-not-at-top
    again = main.run(ks_game.get_config('tiny'), workdir, 'validate')
  text = caplog.text
  for row in ('DeepHAM (this run)', 'KS method (same procedure)'):
    assert row in text
  assert again['bellman_error'] == summary['bellman_error']


def test_monte_carlo_outcome_probabilities_approach_the_exact_ones(ks_params):
  """The published procedure's sampled P(z'|z) has the exact chain as its limit."""
  from deepham.economies import ks  # pylint: disable=g-import-not-at-top
  econ = ks.KrusellSmith(ks_params)
  states = simulate.as_state(econ.initial_state(200, np.random.default_rng(0)), tf.float64)
  exact = econ.exogenous_outcomes(states).numpy()
  sampled = bellman._outcome_probs(econ, states, 20_000, tf.constant([1, 2], tf.int64))  # pylint: disable=protected-access
  np.testing.assert_allclose(sampled.numpy().sum(-1), 1.0, atol=1e-12)
  np.testing.assert_allclose(sampled.numpy(), exact, atol=0.02)
  noisy = bellman._outcome_probs(econ, states, 100, tf.constant([1, 2], tf.int64)).numpy()  # pylint: disable=protected-access
  assert np.abs(noisy - exact).max() > 0.01  # 100 draws: the sampling error the paper carries


def test_probe_agents_at_the_cross_sections_own_states_have_their_euler_errors(ks_params):
  """A probe agent placed at agent j's own state, in agent j's cross-section, is agent j: the
  common-state evaluation gives it agent j's Euler error, for the KS method and DeepHAM."""
  from deepham import conventional  # pylint: disable=g-import-not-at-top
  from deepham.economies import ks  # pylint: disable=g-import-not-at-top
  from tests import test_solver  # pylint: disable=g-import-not-at-top
  econ = ks.KrusellSmith(ks.KSParams(n_agents=6))
  states = test_solver._random_cross_sections(econ, 5, k_max=80.0)  # pylint: disable=protected-access
  bench = conventional.load_benchmark(econ, 'data/ks_benchmark/ks_solution.npz')
  s = test_solver._solver()  # pylint: disable=protected-access
  for method in (validation.Method('ks', 'KS', bench.policy, bench, bench.conditional_policy),
                 validation.Method('deepham', 'DeepHAM', s.policy, s.value,
                                   s.policy.conditional_policy)):
    own = validation.euler_errors_of(econ, method, states)
    probe = validation.probe_euler_errors(econ, method, states, states)
    np.testing.assert_allclose(probe, own, rtol=1e-4, atol=1e-7)
    assert np.isfinite(own).mean() > 0.5


def test_wealth_bins_cover_every_state_once():
  x = np.random.default_rng(0).exponential(40.0, (50, 20))
  euler = np.where(x < 1.0, np.nan, 1e-3)  # the poorest at the constraint
  rows = validation.euler_by_wealth(euler, x, validation.wealth_edges(40.0))
  assert sum(r['n_states'] for r in rows) == x.size
  assert rows[0]['k_low'] == 0 and rows[0]['k_high'] == 1.0 and rows[0]['constrained_share'] == 1
  assert all(r['euler_error_log10_max'] == -3 for r in rows if 'euler_error_log10_max' in r)


def test_path_statistics_count_households_at_the_constraint(ks_params):
  econ = ks.KrusellSmith(ks_params)
  T, B, N = 3, 2, 50
  x = np.full((T, B, N, 1), 40.0)
  x[:, :, :5] = 0.0  # a tenth at the constraint
  x[:, :, 5:10] = 0.3  # a tenth near it (below 1% of mean wealth)
  states = base.State(tf.constant(x), tf.zeros((T, B, N), tf.int32), tf.zeros((T, B), tf.int32))
  path = simulate.Path(aggregates=tf.reduce_mean(states.x, axis=2), z=states.z,
                       utility=tf.zeros((T, B, N), tf.float64), state=None, states=states)
  stats = validation.path_statistics(econ, path, burn=0)
  assert stats['share_at_floor'] == pytest.approx(0.1)
  assert stats['share_near_floor'] == pytest.approx(0.2)
  assert stats['wealth_min'] == 0.0 and stats['wealth_max'] == 40.0
