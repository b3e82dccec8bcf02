"""Impulse responses and distribution experiments (deepham/experiments): common random numbers,
closed forms, the workdir API and its command line."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from configs import brock_mirman as bm_config
from configs import investment_lq
from deepham import economies
from deepham import errors
from deepham import experiments
from deepham.economies import investment
from deepham.experiments import responses
from deepham.experiments import transforms
from deepham.solver import simulate
from deepham.validation import methods as methods_lib
from tests import conftest
from tests import test_economy_contract as contract


def _rule_method(econ, rule=None, key='rule'):
  """A Method for `rule(state) -> action` (default: the economy's initial rule), no value."""
  if rule is None:
    rule = lambda s: econ.initial_action(s, econ.aggregates(s))
  return methods_lib.Method(key, key, lambda s, a=None: rule(s), None, None)


def _start(econ, n_paths, seed=0):
  return simulate.as_state(econ.initial_state(n_paths, np.random.default_rng(seed)), tf.float64)


@pytest.mark.parametrize('name', sorted(contract.CONFIGS))
@pytest.mark.parametrize('impulse', ['zero', 'identity'])
def test_a_zero_impulse_has_exactly_zero_response(name, impulse):
  """Common random numbers: the shocked path is the baseline, period by period, bit for bit."""
  module, size = contract.CONFIGS[name]
  config = module.get_config()
  config.economy[size] = 10
  econ = economies.make(config.economy)
  imp = (responses.parse_shock(econ, 'zero') if impulse == 'zero'
         else responses.Impulse('identity', state=lambda s: s))
  m = _rule_method(econ)
  table = responses.responses(econ, [m], {m.key: _start(econ, 12)}, imp, horizon=6, seed=3)
  assert set(table['horizon']) == set(range(6))
  assert 'welfare' in set(table['variable'])
  if econ.has_consumption:
    assert {'C', 'c_gini', 'c_decile_1', 'c_decile_10'} <= set(table['variable'])
  for col in ('mean', 'lower', 'upper'):
    assert np.all(table[col].to_numpy() == 0.0), table[table[col] != 0]


def test_brock_mirman_response_matches_the_closed_form():
  """Full depreciation, saving alpha beta of output: log k' = log(alpha beta) + log z + alpha
  log k, so the mean response of log k to z switched high -> low at t = 0 is
  d_{t+1} = rho^t dlog z + alpha d_t, with rho = P(stay) - P(switch) the chain's eigenvalue."""
  config = bm_config.get_config()
  config.economy.n_agents = 2
  econ = economies.make(config.economy)
  p = econ.params
  share = 1 - p.alpha * p.beta
  rule = lambda s: tf.fill(tf.concat([tf.shape(s.e), [1]], 0), tf.constant(share, s.x.dtype))
  m = _rule_method(econ, rule, 'exact')
  imp = responses.parse_shock(econ, None)
  assert imp.name == 'z=1->0'
  starts = {'exact': responses.ergodic_states(econ, m.policy, _start(econ, 500), 2000, 0,
                                              imp.condition, jit=False)}
  assert np.all(starts['exact'].z.numpy() == 1)
  _, paths = responses.responses(econ, [m], starts, imp, horizon=15, keep_paths=True)
  x_base, x_shock = paths['exact'].x
  d = (np.log(x_shock) - np.log(x_base)).mean(-1)  # [T, B]
  P = np.asarray(p.z_transition)
  rho, dz = P[0, 0] - P[1, 0], np.log(p.z_values[0] / p.z_values[1])
  closed = [0.0]
  for t in range(14):
    closed.append(rho**t * dz + p.alpha * closed[-1])
  se = d.std(1, ddof=1) / np.sqrt(d.shape[1])
  assert np.all(np.abs(d.mean(1) - closed) <= 4 * se + 1e-12)
  assert abs(closed[2]) > 10 * se[2]  # the check has power


def test_investment_response_under_the_exact_policy_is_the_linear_closed_form():
  """nu = 1, u = H0 + H1 X: X' = (1 - delta + H1) X + H0 + sigma mean(eps) + eta omega, so
  one more standard deviation of omega in period 0 moves X_t by eta (1 - delta + H1)^(t-1)
  for t >= 1, on every path (the model is linear: no Monte Carlo error)."""
  config = investment_lq.get_config()
  config.economy.n_agents = 8
  econ = economies.make(config.economy)
  p = econ.params
  H0, H1 = investment.lq_policy(p)
  m = _rule_method(econ, econ.reference_policy(), 'exact')
  imp = responses.parse_shock(econ, None)
  assert imp.name == 'noise[0]=1'
  table = responses.responses(econ, [m], {'exact': _start(econ, 16)}, imp, horizon=12)
  X = table[table['variable'] == 'X'].sort_values('horizon')
  closed = np.r_[0.0, p.eta * (1 - p.delta + H1) ** np.arange(11)]
  np.testing.assert_allclose(X['mean'].to_numpy(), closed, rtol=1e-9, atol=1e-15)
  np.testing.assert_allclose(X['upper'] - X['lower'], 0.0, atol=1e-12)  # the same on every path
  u = table[table['variable'] == 'u'].sort_values('horizon')
  np.testing.assert_allclose(u['mean'].to_numpy(), H1 * closed, rtol=1e-9, atol=1e-15)


def test_bad_shocks_and_transforms_are_refused_with_the_argument_named():
  ks_econ = economies.make(contract.CONFIGS['ks'][0].get_config().economy)
  for spec in ('z=2', 'z=1->1', 'noise=1', 'tfp=1', 'z=a'):
    with pytest.raises(errors.ConfigError, match='shock must be one of'):
      responses.parse_shock(ks_econ, spec)
  for spec in ('destroy=1.5', 'rich_to_poor=0', 'transfer=x', 'tax=0.1'):
    with pytest.raises(errors.ConfigError, match='transform must be'):
      transforms.parse(spec)
  m = _rule_method(ks_econ)
  with pytest.raises(errors.ConfigError, match='horizon must be a positive integer'):
    responses.responses(ks_econ, [m], {m.key: _start(ks_econ, 2)},
                        responses.parse_shock(ks_econ, 'zero'), horizon=0)
  start = _start(ks_econ, 2)
  _, levy = transforms.parse('transfer=-1000')
  with pytest.raises(errors.ConfigError, match='below the economy'):
    transforms.check(ks_econ, start, levy(start))


def test_rich_to_poor_keeps_the_mean_and_the_middle():
  econ = economies.make(contract.CONFIGS['ks'][0].get_config().economy)
  start = _start(econ, 4)
  k = np.random.default_rng(1).uniform(0, 80, start.x.shape)
  start = start._replace(x=tf.constant(k))
  after = transforms.rich_to_poor(0.5)(start).x.numpy()[..., 0]
  k = k[..., 0]
  np.testing.assert_allclose(after.mean(1), k.mean(1), rtol=1e-12)
  rank = np.argsort(np.argsort(k, 1), 1)
  n = k.shape[1] // 10
  middle = (rank >= n) & (rank < k.shape[1] - n)
  np.testing.assert_array_equal(after[middle], k[middle])
  assert np.all(after[rank < n] > k[rank < n])


@pytest.fixture(scope='module')
def run_copy(tiny_run, tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('experiments') / 'run')
  shutil.copytree(tiny_run[0], workdir)
  return workdir


def test_irf_of_a_run_beside_the_ks_method_writes_its_files_once(run_copy):
  table = experiments.irf(run_copy, horizon=6, n_states=24)
  assert set(table['method']) == {'deepham', 'ks'}
  assert {'variable', 'horizon', 'mean', 'lower', 'upper', 'method'} <= set(table.columns)
  assert {'K', 'C', 'r', 'w', 'k_gini', 'c_gini', 'c_rank_1of8', 'c_rank_8of8', 'c_e0',
          'welfare'} <= set(table['variable'])  # the tiny run has 8 households
  r0 = table[(table['variable'] == 'r') & (table['horizon'] == 0)]
  assert np.all(r0['mean'] < 0)  # good -> bad lowers the return on impact, for both methods
  K0 = table[(table['variable'] == 'K') & (table['horizon'] == 0)]
  np.testing.assert_array_equal(K0['mean'], 0.0)  # capital is predetermined
  accuracy = experiments.accuracy(table)
  assert set(accuracy['method']) == {'deepham', 'ks'} and set(accuracy['horizon']) == {0, 1, 2, 4}
  ks_rows = accuracy[accuracy['method'] == 'ks']
  assert np.all(ks_rows['den_haan_max_pct'] >= ks_rows['den_haan_mean_pct'])
  assert float(ks_rows[ks_rows['horizon'] == 0]['den_haan_max_pct'].iloc[0]) < 1e-4  # K_0 is given
  # Bellman errors along the paths, for both methods (each has a value function).
  bellman = accuracy[['bellman_optimality_mean', 'bellman_optimality_p99',
                      'bellman_expectation_mean']].to_numpy()
  assert np.all(np.isfinite(bellman)) and np.all(bellman[:, 1] >= bellman[:, 0])
  files = os.listdir(os.path.join(run_copy, 'experiments'))
  assert {'irf_z=1to0_h6_n24_s0.csv', 'irf_z=1to0_h6_n24_s0_accuracy.csv',
          'irf_z=1to0_h6_n24_s0.png', 'irf_z=1to0_h6_n24_s0.pdf'} <= set(files)
  with pytest.raises(errors.WorkdirError, match='overwrite=True'):
    experiments.irf(run_copy, horizon=6, n_states=24)
  again = experiments.irf(run_copy, horizon=6, n_states=24, overwrite=True)
  np.testing.assert_array_equal(again['mean'], table['mean'])  # reproducible with its seed
  assert len(pd.concat([table, again])) == 2 * len(table)  # tables of two runs side by side


def test_methods_started_from_the_same_cross_sections(run_copy):
  """states_from: both methods start from the KS method's ergodic cross-sections (the same
  capital at t = 0, where by default each starts from its own), and a bad key is refused."""
  def k0(table):
    rows = table[(table['variable'] == 'K') & (table['horizon'] == 0)].set_index('method')
    return rows['baseline']
  own = k0(experiments.irf(run_copy, horizon=2, n_states=16, save=False))
  common = k0(experiments.irf(run_copy, horizon=2, n_states=16, save=False, states_from='ks'))
  assert own['deepham'] != own['ks']
  assert common['deepham'] == common['ks'] == own['ks']
  with pytest.raises(errors.ConfigError, match='states_from must be one of'):
    experiments.irf(run_copy, horizon=2, n_states=16, save=False, states_from='kss')


def test_rich_to_poor_leaves_the_ks_method_value_of_the_untouched_unchanged(run_copy):
  """The KS method's value sees the cross-section only through its mean, which the
  redistribution keeps: no effect on the households it does not touch (the seed's point)."""
  table = experiments.redistribute(run_copy, 'rich_to_poor=0.5', horizon=3, n_states=16,
                                   save=False)
  row = table[(table['variable'] == 'value_unshocked') & (table['method'] == 'ks')]
  assert len(row) == 1 and abs(float(row['mean'].iloc[0])) < 1e-4
  assert 'value_unshocked' in set(table[table['method'] == 'deepham']['variable'])


def test_the_command_line_names_a_bad_shock_in_one_line(run_copy):
  out = subprocess.run([sys.executable, '-m', 'deepham.experiments', 'irf',
                        f'--workdir={run_copy}', '--shock=tfp=2', '--horizon=3'],
                       capture_output=True, text=True, cwd=conftest.REPO, timeout=300)
  assert out.returncode == 1
  last = out.stderr.strip().splitlines()[-1]
  assert last.startswith('deepham: shock must be one of') and 'tfp=2' in last
