"""The DeepHAM solver: symmetry, gradient isolation, closed forms, checkpoints (issue: solver)."""

import os

import numpy as np
import pytest
import tensorflow as tf

import deepham
from configs import brock_mirman as bm_config
from configs import ks_game
from deepham import errors
from deepham import main
from deepham import train
from deepham import workdir as workdir_lib
from deepham.economies import base
from deepham.economies import brock_mirman
from deepham.economies import ks
from deepham.solver import networks
from deepham.solver import policy as policy_lib
from deepham.solver import pool as pool_lib
from deepham.solver import run_state
from deepham.solver import simulate
from deepham.solver import trainer as trainer_lib
from deepham.solver import value as value_lib
from tests import conftest


def _solver(arg='tiny', **overrides):
  config = ks_game.get_config(arg)
  for path, v in overrides.items():
    section, field = path.split('__')
    config[section][field] = v
  return train.Solver(config)


def _random_cross_sections(econ, n_paths, seed=0, k_max=120.0):
  rng = np.random.default_rng(seed)
  z, e = econ.chain.draw_initial(n_paths, econ.n_agents, rng)
  x = rng.uniform(0.5, k_max, (n_paths, econ.n_agents, 1))
  return simulate.as_state(base.State(x, e, z), tf.float32)


@pytest.fixture(scope='module')
def gm_solver():
  """A tiny KS solver with fixed and generalized moments and input statistics from a burn-in."""
  s = _solver('tiny,gm2', network__n_fixed_moments=4)
  s.phases.burn_in()
  return s


def test_moments_are_permutation_invariant_and_policy_equivariant(gm_solver):
  s = gm_solver
  state = _random_cross_sections(s.economy, 6)
  perm = np.random.default_rng(1).permutation(s.economy.n_agents)
  shuffled = base.State(tf.gather(state.x, perm, axis=1), tf.gather(state.e, perm, axis=1),
                        state.z)
  for net in [s.policy.net] + s.value.nets:
    m1 = net.moments(s.normalizer.dist(state))
    m2 = net.moments(s.normalizer.dist(shuffled))
    assert m1.shape[-1] == 6  # means of k, ..., k^4, two generalized moments
    np.testing.assert_allclose(m1.numpy(), m2.numpy(), rtol=1e-5, atol=1e-6)
  a1, a2 = s.policy(state).numpy(), s.policy(shuffled).numpy()
  np.testing.assert_allclose(a1[:, perm], a2, rtol=1e-5, atol=1e-7)
  v1, v2 = s.value(state).numpy(), s.value(shuffled).numpy()
  np.testing.assert_allclose(v1[:, perm], v2, rtol=1e-5)


@pytest.mark.parametrize('n_fixed, n_generalized, gm_grid, tol', [
    (0, 1, 0, 1e-11), (1, 0, 0, 1e-11), (2, 2, 0, 1e-11), (4, 1, 0, 1e-11),
    (0, 1, 2048, 1e-4)])  # on a grid, the knots move with the statistics
def test_refitting_input_statistics_keeps_every_network_the_same(n_fixed, n_generalized, gm_grid,
                                                                 tol):
  """The standardisation is affine, so new statistics with re-parametrised first layers (and,
  for powers, the binomial expansion of the moments) leave every function unchanged."""
  config = ks_game.get_config('tiny')
  config.dtype = 'float64'
  config.network.update(dict(n_fixed_moments=n_fixed, n_generalized_moments=n_generalized,
                             gm_grid=gm_grid))
  s = train.Solver(config)
  rng = np.random.default_rng(0)
  z, e = s.economy.chain.draw_initial(8, s.economy.n_agents, rng)
  states = lambda lo, hi: simulate.as_state(base.State(
      rng.uniform(lo, hi, (8, s.economy.n_agents, 1)), e, z), tf.float64)
  nets = [s.policy.net] + s.value.nets
  s.normalizer.fit(states(0, 100))  # the first statistics (as after a burn-in)
  test = states(10, 90)
  before = s.policy(test).numpy(), s.value(test).numpy()
  assert before[1].std() > 1e-3  # the value varies across agents: the check is not vacuous
  s.normalizer.fit(states(20, 150), nets)
  np.testing.assert_allclose(s.policy(test).numpy(), before[0], atol=tol)
  np.testing.assert_allclose(s.value(test).numpy(), before[1], atol=tol)


@pytest.mark.parametrize('game_agents', [1, 0])
def test_fast_game_gives_the_same_objective_and_gradient_as_one_tape(game_agents):
  g_fast = conftest.check_fast_game_matches_one_tape(
      _solver('tiny', policy__t_unroll=12, policy__game_agents=game_agents))
  assert max(float(tf.reduce_max(tf.abs(g))) for g in g_fast) > 0


def test_every_agent_optimising_is_the_mean_of_single_optimisers():
  """Price takers: the objective of G optimising agents is the mean of G one-agent objectives
  (each agent in turn moved to position 0 of the same cross-sections and shocks), and so is its
  gradient."""
  s = _solver('tiny', policy__t_unroll=8, policy__game_agents=0)
  s.phases.burn_in()
  batch = s.pool.next_batch()
  n, objective, variables = s.economy.n_agents, s.objective, s.trainer.variables
  assert objective.agents == n
  shocks = objective.draw_shocks(int(batch.z.shape[0]), s.state.seed(3, 0), tf.float32)
  with tf.GradientTape() as tape:
    value, _ = objective.full(batch, shocks)
  g_many = tape.gradient(value, variables)
  objective.agents = 1
  values, grads = [], []
  for i in range(n):
    order = np.roll(np.arange(n), -i)  # agent i first
    rolled = base.State(*[tf.gather(f, order, axis=1) for f in batch[:2]], batch.z)
    rolled_shocks = base.Shocks(shocks.u_z, tf.gather(shocks.u_e, order, axis=2),
                                tf.gather(shocks.agent_noise, order, axis=2),
                                shocks.aggregate_noise)
    with tf.GradientTape() as tape:
      v, _ = objective.full(rolled, rolled_shocks)
    values.append(float(v))
    grads.append(tape.gradient(v, variables))
  np.testing.assert_allclose(float(value), np.mean(values), rtol=1e-5)
  assert np.std(values) > 1e-3 * abs(np.mean(values))  # the agents differ: not vacuous
  for k, g in enumerate(g_many):
    mean = np.mean([gr[k].numpy() for gr in grads], axis=0)
    np.testing.assert_allclose(g.numpy(), mean, rtol=2e-3, atol=1e-5 * np.abs(mean).max())


@pytest.mark.parametrize('mode, price_taking, others, prices', [
    ('game', True, False, False),
    ('game', False, True, True),  # the optimising agent's 1/N impact passes through
    ('planner', True, True, True),
])
def test_gradient_isolation(mode, price_taking, others, prices):
  """Game: no gradient from other agents' actions nor (price taking) from the aggregates that
  set prices; planner: both carry gradient."""
  conftest.check_gradient_isolation(ks_game.get_config('tiny'), ks.KrusellSmith, ks.KSParams,
                                    mode, price_taking, others, prices)


@pytest.mark.slow  # a full Brock-Mirman solve; the investment economy's exact LQ policy is the default closed-form check
def test_brock_mirman_saving_rate_is_alpha_beta(tmp_path):
  """Brock and Mirman (1972): log utility, full depreciation; the optimal saving rate of output
  is alpha * beta whatever the state. DeepHAM's learned rate is within 1% of it."""
  config = bm_config.get_config()
  config.validation.n_states = 2
  main.run(config, str(tmp_path), 'solve')
  sol = deepham.load(str(tmp_path))
  d = sol.distribution()
  econ = sol.economy
  saving = 1 - sol.policy(d['x'], d['e'], d['z'])[..., 0]
  ab = econ.params.alpha * econ.params.beta
  assert np.max(np.abs(saving - ab)) / ab < 0.01, (saving.min(), saving.max(), ab)


def _bm_values_under_optimal_policy(config, n_paths: int, horizon: int):
  """Brock-Mirman economy and its value data (one window of `horizon` periods per path)
  simulated under the optimal saving rate."""
  econ = brock_mirman.BrockMirman(brock_mirman.BMParams.from_config(config.economy))
  optimal = lambda state, aggs: tf.fill(tf.concat([tf.shape(state.e), [1]], 0),
                                        tf.constant(econ.optimal_share(), state.x.dtype))
  sim = simulate.Simulator(econ, optimal)
  start = simulate.as_state(econ.initial_state(n_paths, np.random.default_rng(0)), tf.float64)
  data, _ = value_lib.simulate_values(sim, start, [0, 0], 0, horizon, horizon, horizon)
  return econ, data


def test_value_regression_recovers_the_brock_mirman_value():
  """Regression on simulated lifetime utility under the optimal policy recovers
  V(k) = A + alpha / (1 - alpha beta) log k (deterministic technology, so each target is V
  itself up to beta^200 = 7e-10: what is tested is the regression)."""
  config = bm_config.get_config()
  config.economy.update(dict(k_spread=0.8, z_values=(1.0,), z_transition=((1.0,),)))
  econ, data = _bm_values_under_optimal_policy(config, 4096, 200)
  norm = networks.Normalizer(econ, tf.float64)
  norm.fit(data.states)
  ens = value_lib.ValueEnsemble(econ, norm, 1, dict(widths=(24, 24), act='tanh', n_fixed=0,
                                                    n_generalized=0, gm_widths=(4,)),
                                np.random.default_rng(0), tf.float64)
  value_lib.ValueFitter(ens, 3e-3, 64).fit(data, 200, seed=0)
  test = simulate.as_state(econ.initial_state(64, np.random.default_rng(9)), tf.float64)
  exact = econ.closed_form_value(test).numpy()
  err = np.abs(ens(test).numpy() - exact)
  scale = exact.max() - exact.min()
  assert err.mean() < 0.005 * scale and err.max() < 0.025 * scale, (err.mean(), err.max(), scale)


class _ClosedFormValue:
  """Brock-Mirman value of saving `rate` of output forever, through the value interface of
  validation and of the martingale correction (raw contributions, evaluate)."""

  def __init__(self, econ, rate=None):
    self.econ, self.rate = econ, rate

  def raw(self, dist):
    return dist[..., :0]

  def evaluate(self, own, mean_raw):
    return self.econ.closed_form_value(own, self.rate)


def _bm_optimal_simulator(econ, control=None):
  optimal = lambda state, aggs: tf.fill(tf.concat([tf.shape(state.e), [1]], 0),
                                        tf.constant(econ.optimal_share(), state.x.dtype))
  correction = None if control is None else value_lib.martingale_correction(econ, control)
  return simulate.Simulator(econ, optimal, utility_correction=correction)


def test_control_variate_with_the_exact_value_leaves_no_noise():
  """With the exact value as control, u_t - beta (V_{t+1} - E_t V_{t+1}) = V_t - beta V_{t+1},
  so a W-period target is V(s_0) - beta^W V(s_W) exactly, whatever the shocks; without the
  correction the aggregate shocks spread the targets around it."""
  econ = brock_mirman.BrockMirman(brock_mirman.BMParams(n_agents=4, k_spread=0.8))
  start = simulate.as_state(econ.initial_state(256, np.random.default_rng(0)), tf.float64)
  W = 40
  plain, end = value_lib.simulate_values(_bm_optimal_simulator(econ), start, [0, 0], 0, W, W, W)
  exact_cv = _bm_optimal_simulator(econ, _ClosedFormValue(econ))
  corrected, end_cv = value_lib.simulate_values(exact_cv, start, [0, 0], 0, W, W, W)
  np.testing.assert_array_equal(end.x.numpy(), end_cv.x.numpy())  # same path
  closed = (econ.closed_form_value(start) - econ.beta**W * econ.closed_form_value(end)).numpy()
  np.testing.assert_allclose(corrected.targets.numpy(), closed, rtol=0, atol=1e-10)
  assert np.std(plain.targets.numpy() - closed) > 0.01
  # With the tail beta^W V(s_W) as well, each target is the value itself.
  with_tail, _ = value_lib.simulate_values(exact_cv, start, [0, 0], 0, W, W, W,
                                           tail=econ.closed_form_value)
  np.testing.assert_allclose(with_tail.targets.numpy(), econ.closed_form_value(start).numpy(),
                             rtol=0, atol=1e-10)


def test_control_variate_has_conditional_mean_zero_with_any_value():
  """The correction is unbiased whatever value function it uses (here that of a wrong saving
  rate): from one state, its mean over many draws of next period is zero within sampling error,
  while its draws are not zero."""
  econ = brock_mirman.BrockMirman(brock_mirman.BMParams(n_agents=3, k_spread=0.8))
  one = econ.initial_state(1, np.random.default_rng(1))
  n = 20000
  start = simulate.as_state(base.State(np.repeat(one.x, n, 0), np.repeat(one.e, n, 0),
                                       np.repeat(one.z, n, 0)), tf.float64)
  plain = _bm_optimal_simulator(econ).advance(start, [3, 0], 1).discounted_utility.numpy()
  wrong = _bm_optimal_simulator(econ, _ClosedFormValue(econ, 0.2))
  cv = wrong.advance(start, [3, 0], 1).discounted_utility.numpy() - plain  # the correction
  se = cv.std(axis=0) / np.sqrt(n)
  assert np.all(cv.std(axis=0) > 0.01), cv.std(axis=0)
  assert np.all(np.abs(cv.mean(axis=0)) < 4 * se), (cv.mean(axis=0), se)


def test_control_variate_is_refused_where_shocks_are_continuous():
  from configs import investment_lq  # pylint: disable=g-import-not-at-top
  config = investment_lq.get_config('tiny')
  config.value.control_variate = True
  with pytest.raises(errors.ConfigError, match='value.control_variate'):
    train.Solver(config)


def test_value_learning_rate_decays_within_each_fit():
  """value.learning_rate_end: each fit's rate falls exponentially from learning_rate to it."""
  econ, data = _bm_values_under_optimal_policy(bm_config.get_config(), 64, 40)
  norm = networks.Normalizer(econ, tf.float64)
  norm.fit(data.states)
  ens = value_lib.ValueEnsemble(econ, norm, 1, dict(widths=(8,), act='tanh', n_fixed=0,
                                                    n_generalized=0, gm_widths=(4,)),
                                np.random.default_rng(0), tf.float64)
  fitter = value_lib.ValueFitter(ens, 1e-3, 16, learning_rate_end=1e-5)
  seen = []
  epoch = fitter._epoch  # pylint: disable=protected-access
  fitter._epoch = lambda *a: (seen.append(float(fitter.optimizer.learning_rate)), epoch(*a))[1]  # pylint: disable=protected-access
  for _ in range(2):  # every fit starts again at learning_rate
    fitter.fit(data, 3, seed=0)
  np.testing.assert_allclose(seen, [1e-3, 1e-4, 1e-5] * 2, rtol=1e-5)


def test_the_first_value_fit_rises_with_own_wealth_beyond_the_burn_in_range():
  """The burn-in under KS's constant-share rule keeps every household between about 20 and 43;
  a first value fitted there alone extrapolated to a U shape (V(0) above V(15)), which rewarded
  the first round's policy for ending its unroll poor and split one seed's distribution in two.
  With the config's value.explore_share and init.imitation_spread the first value must rise
  with own wealth from the constraint to twice the burn-in's largest wealth."""
  s = _solver('n10', init__n_paths=64, init__t_burn=2000, value__epochs=60)
  s.phases.burn_in()
  s.phases.fit_value('round 1')
  state = run_state.read(s.state.distribution)
  k_max = float(tf.reduce_max(state.x))
  grid = np.array([0, 1, 2, 5, 10, 15, 20, 30, 40, 50, 60, 70, 2 * k_max])
  x = state.x.numpy()
  for e in (0, 1):
    v = []
    for k in grid:
      x[:, 0, 0] = k
      own = base.State(tf.constant(x), tf.fill(tf.shape(state.e), tf.constant(e, state.e.dtype)),
                       state.z)
      v.append(float(tf.reduce_mean(s.value(own)[:, 0])))
    assert np.all(np.diff(v) > 0), (e, np.round(v, 2))


def test_first_value_fit_starts_at_the_targets_scale():
  """Lifetime utilities sit far from zero relative to their spread (KS: mean 104, std 2.8).
  The first fit must not carry the untrained networks' function over (that started the
  outputs 37 standard deviations off, and 200 KS epochs ended at a standardized MSE of 329);
  later fits must keep the function (a refit continues from the last one)."""
  econ, data = _bm_values_under_optimal_policy(bm_config.get_config(), 512, 40)
  t = data.targets.numpy()
  data = value_lib.ValueData(data.states, tf.constant(100.0 + (t - t.mean()) / t.std()))
  norm = networks.Normalizer(econ, tf.float64)
  norm.fit(data.states)
  ens = value_lib.ValueEnsemble(econ, norm, 2, dict(widths=(24, 24), act='tanh', n_fixed=0,
                                                    n_generalized=0, gm_widths=(4,)),
                                np.random.default_rng(0), tf.float64)
  fitter = value_lib.ValueFitter(ens, 1e-4, 128, adam_beta1=0.99, adam_beta2=0.99)
  first = fitter.fit(data, 2, seed=0, keep_function=False)
  assert first['train_mse'] < 3, first  # standardized: of the order of the targets' variance
  before = ens(data.states).numpy()
  fitter.fit(data, 0, seed=1)  # re-standardising alone keeps the value function
  np.testing.assert_allclose(ens(data.states).numpy(), before, rtol=1e-12)


def test_tiny_run_writes_every_workdir_file(tiny_run):
  """Too small to test accuracy: it checks the plumbing end to end."""
  workdir, summary = tiny_run
  for name in ('config.json', 'metrics.csv', 'summary.json', 'validation.csv', 'paths.npz',
               'checkpoints/checkpoint', 'figures/policy.png', 'figures/policy.pdf',
               'figures/aggregate_path.png', 'figures/generalized_moment.png'):
    assert os.path.exists(os.path.join(workdir, name)), name
  assert os.listdir(os.path.join(workdir, 'tensorboard'))
  with open(os.path.join(workdir, 'log.txt')) as f:
    log = f.read()
  assert 'value fit' in log and 'finished in' in log  # the run's log, outside the console too
  for key in ('mode', 'n_agents', 'mean_K', 'std_K', 'final_validation_utility', 'seconds',
              'policy_steps'):
    assert key in summary, key
  assert summary['policy_steps'] == 12 and summary['mode'] == 'game'
  import pandas as pd  # pylint: disable=g-import-not-at-top
  metrics = pd.read_csv(os.path.join(workdir, 'metrics.csv'))
  assert list(metrics.step) == [3, 6, 9, 12]
  assert np.all(np.isfinite(metrics.drop(columns=['value_loss']).to_numpy()))


def test_interrupted_run_resumes_and_ends_as_an_uninterrupted_one(tiny_run, tmp_path,
                                                                  monkeypatch):
  workdir_full, summary_full = tiny_run
  workdir = str(tmp_path)
  original = pool_lib.Pool.next_batch
  calls = {'n': 0}

  def interrupted(self):
    calls['n'] += 1
    if calls['n'] == 8:  # during step 8, after the checkpoint at step 6
      raise KeyboardInterrupt
    return original(self)

  monkeypatch.setattr(pool_lib.Pool, 'next_batch', interrupted)
  with pytest.raises(KeyboardInterrupt):
    main.run(ks_game.get_config('tiny'), workdir, 'solve')
  monkeypatch.setattr(pool_lib.Pool, 'next_batch', original)
  solver = train.Solver(ks_game.get_config('tiny'))
  assert solver.attach(workdir) and int(solver.state.step) == 6  # resumes, does not start over
  summary = main.run(ks_game.get_config('tiny'), workdir, 'solve')
  assert summary['policy_steps'] == 12
  for key in ('final_validation_utility', 'mean_K', 'std_K'):
    np.testing.assert_allclose(summary[key], summary_full[key], rtol=1e-6)
  a = deepham.load(workdir).view.policy.trainable_variables
  b = deepham.load(workdir_full).view.policy.trainable_variables
  for va, vb in zip(a, b):
    np.testing.assert_allclose(va.numpy(), vb.numpy(), rtol=1e-6, atol=1e-7)
  with open(os.path.join(workdir, 'log.txt')) as f:
    log = f.read()  # both attempts' lines: the resumed run appends
  assert log.count('deepham deepham (solve)') == 2 and log.count('finished in') == 1


def test_load_evaluates_policy_and_value_on_arrays(tiny_run):
  workdir, _ = tiny_run
  sol = deepham.load(workdir)
  x = np.linspace(1, 80, 2 * sol.n_agents).reshape(2, -1)
  e = np.ones_like(x, dtype=int)
  share = sol.policy(x, e, [0, 1])
  v = sol.value(x, e, [0, 1])
  assert share.shape == (2, sol.n_agents, 1) and np.all((share > 0) & (share <= 1))
  assert v.shape == (2, sol.n_agents) and np.all(np.isfinite(v))


def test_a_workdir_holding_another_config_is_refused(tiny_run):
  workdir, _ = tiny_run
  other = ks_game.get_config('tiny')
  other.policy.learning_rate = 1e-3
  with pytest.raises(errors.WorkdirError, match='policy.learning_rate'):
    main.run(other, workdir, 'solve')


def test_validate_needs_a_finished_run(tmp_path):
  config = ks_game.get_config('tiny')
  workdir_lib.prepare(str(tmp_path), config)  # a config, no checkpoint
  with pytest.raises(errors.WorkdirError, match='does not hold a finished'):
    main.run(config, str(tmp_path), 'validate')


def test_non_finite_loss_stops_cleanly(tmp_path, monkeypatch):
  original = trainer_lib.PolicyTrainer._step

  def poisoned(self, state, seed):
    loss, end, finite = original(self, state, seed)
    return loss * np.nan, end, tf.constant(False)

  monkeypatch.setattr(trainer_lib.PolicyTrainer, '_step', poisoned)
  with pytest.raises(errors.NonFiniteError, match='last good checkpoint'):
    main.run(ks_game.get_config('tiny'), str(tmp_path), 'solve')
  assert os.path.exists(tmp_path / 'checkpoints' / 'checkpoint')
  assert not os.path.exists(tmp_path / 'summary.json')
  with open(tmp_path / 'metrics.csv') as f:
    assert 'nan' not in f.read().lower()


@pytest.mark.parametrize('path, value, field', [
    ('economy.n_agents', 0, 'economy.n_agents'),
    ('economy.beta', 1.2, 'economy.beta'),
    ('economy.name', 'nonexistent', 'economy.name'),
    ('mode', 'anarchy', 'mode'),
    ('policy.batch_size', 0, 'policy.batch_size'),
    ('policy.t_unroll', -3, 'policy.t_unroll'),
    ('value.epochs', 0, 'value.epochs'),
    ('network.width', (24, 0), 'network.width'),
    ('value.window', 150, 'value.window'),
    ('dtype', 'float16', 'dtype'),
    ('policy.euler_loss', 'cube', 'policy.euler_loss'),
    ('value.final_every', 7, 'value.final_every'),
    ('value.final_epochs', -1, 'value.final_epochs'),
    ('value.width', (48, 0), 'value.width'),
    ('value.learning_rate_end', -1.0, 'value.learning_rate_end'),
    ('policy.game_agents', -1, 'policy.game_agents'),
    ('policy.game_agents', 9, 'policy.game_agents'),  # the tiny economy has 8 agents
    ('policy.time_iteration_damping_far', 1.5, 'policy.time_iteration_damping_far'),
])
def test_bad_config_names_the_field(path, value, field):
  config = ks_game.get_config('tiny')
  node = config
  parts = path.split('.')
  for p in parts[:-1]:
    node = node[p]
  node[parts[-1]] = value
  with pytest.raises(errors.ConfigError, match=field.replace('.', r'\.')):
    train.Solver(config)


def _hidden_widths(net) -> list[int]:
  return [int(net.b0.shape[0])] + [int(b.shape[0]) for b in net.head.biases[:-1]]


def test_value_networks_take_their_own_width():
  """value.width sets the value networks' hidden layers; () keeps network.width."""
  same = _solver(value__width=())
  assert _hidden_widths(same.value.nets[0]) == list(same.config.network.width)
  s = _solver(value__width=(7, 5, 3))
  assert all(_hidden_widths(net) == [7, 5, 3] for net in s.value.nets)
  assert _hidden_widths(s.policy.net) == list(s.config.network.width)
  assert s.value(_random_cross_sections(s.economy, 3)).shape == (3, s.economy.n_agents)


def test_the_final_value_fit_uses_its_own_data_and_epochs(monkeypatch):
  """value.final_every / final_epochs apply to the fit after the last policy round only."""
  s = _solver(value__final_every=10, value__final_epochs=5)
  s.phases.burn_in()
  calls = []
  simulate_values, fit = value_lib.simulate_values, s.fitter.fit

  def spy_simulate(*args, **kwargs):
    calls.append(('every', args[-1]))
    return simulate_values(*args, **kwargs)

  def spy_fit(data, epochs, **kwargs):
    calls.append(('epochs', epochs, int(data.targets.shape[0])))
    return fit(data, epochs, **kwargs)

  monkeypatch.setattr(value_lib, 'simulate_values', spy_simulate)
  monkeypatch.setattr(s.fitter, 'fit', spy_fit)
  s.phases.fit_value('a round')
  s.phases.fit_value('final policy', final=True)
  (_, every_round), (_, epochs_round, n_round), (_, every_final), (_, epochs_final, n_final) = calls
  assert (every_round, epochs_round, every_final, epochs_final) == (20, 3, 10, 5)
  vc, paths = s.config.value, s.config.init.n_paths
  assert n_round == paths * ((vc.horizon - vc.window) // 20 + 1)  # a target every 20 periods
  assert n_final == paths * ((vc.horizon - vc.window) // 10 + 1)  # ... every 10


@pytest.mark.parametrize('agents', [1, 3])
def test_exploration_moves_only_the_optimising_agents_within_the_region(agents):
  from deepham.solver import explore  # pylint: disable=g-import-not-at-top
  econ = ks.KrusellSmith(ks.KSParams(n_agents=10))
  state = _random_cross_sections(econ, 4000, k_max=60.0)
  out = explore.explore_batch(state, econ.state_floor, 0.25, 2.0, tf.constant([3, 4], tf.int64),
                              agents)
  x0, x1 = state.x.numpy()[..., 0], out.x.numpy()[..., 0]
  moved = x0[:, :agents] != x1[:, :agents]
  assert np.all(np.abs(moved.mean(axis=0) - 0.25) < 0.03)  # each optimising agent alike
  np.testing.assert_array_equal(x0[:, agents:], x1[:, agents:])  # everyone else stays
  mine = x1[:, :agents][moved]
  assert mine.min() >= 0 and mine.max() <= 2 * x0.max()
  k = mine / (2 * x0.max())  # u^2 with u uniform: P(k < q) = sqrt(q)
  assert abs(np.mean(k < 0.0625) - 0.25) < 0.04


def test_value_exploration_moves_a_share_of_all_agents():
  from deepham.solver import explore  # pylint: disable=g-import-not-at-top
  econ = ks.KrusellSmith(ks.KSParams(n_agents=10))
  state = _random_cross_sections(econ, 2000, k_max=60.0)
  out = explore.explore_agents(state, econ.state_floor, 0.1, 2.0, tf.constant([5, 6], tf.int64))
  x0, x1 = state.x.numpy()[..., 0], out.x.numpy()[..., 0]
  moved = x0 != x1
  assert abs(moved.mean() - 0.1) < 0.01
  assert abs(moved[:, 0].mean() - moved[:, 5].mean()) < 0.03  # no agent singled out
  assert x1[moved].min() >= 0 and x1[moved].max() <= 2 * x0.max()
  np.testing.assert_array_equal(state.e.numpy(), out.e.numpy())
  np.testing.assert_array_equal(state.z.numpy(), out.z.numpy())


@pytest.mark.parametrize('field', ['policy.explore_share', 'value.explore_share'])
def test_exploration_needs_a_state_floor(field):
  config = bm_config.get_config()
  section, key = field.split('.')
  config[section][key] = 0.5
  with pytest.raises(errors.ConfigError, match=field):
    main.check(config)


def test_floor_features_add_log_distance_to_the_constraint_and_survive_restandardising():
  econ = ks.KrusellSmith(ks.KSParams(n_agents=10))
  state = _random_cross_sections(econ, 64, k_max=60.0)
  norm = networks.Normalizer(econ, tf.float32, floor_features=True)
  raw = norm.own_features(state).numpy()
  assert norm.n_own == 3
  np.testing.assert_allclose(raw[..., 2], np.log1p(state.x.numpy()[..., 0]), rtol=1e-6)
  norm.fit(state)
  policy = policy_lib.PolicyNetwork(econ, norm, dict(widths=(8, 8), act='tanh', n_fixed=0,
                                                     n_generalized=1, gm_widths=(4,)),
                                    np.random.default_rng(0), tf.float32)
  before = policy(state).numpy()
  norm.fit(_random_cross_sections(econ, 64, seed=3, k_max=20.0), [policy.net])
  np.testing.assert_allclose(policy(state).numpy(), before, rtol=2e-4, atol=1e-6)
  with pytest.raises(ValueError, match='state_floor'):
    networks.Normalizer(brock_mirman.BrockMirman(brock_mirman.BMParams()), tf.float32,
                       floor_features=True)


def test_a_network_without_floor_features_shares_a_normalizer_that_has_them():
  """policy floor=False beside value floor=True (network.floor_features off,
  value.floor_features on): the policy reads the economy's features alone, and both keep their
  functions when the shared statistics are refitted."""
  econ = ks.KrusellSmith(ks.KSParams(n_agents=10))
  state = _random_cross_sections(econ, 64, k_max=60.0)
  norm = networks.Normalizer(econ, tf.float32, floor_features=True)
  norm.fit(state)
  kwargs = dict(widths=(8, 8), act='tanh', n_fixed=0, n_generalized=1, gm_widths=(4,))
  policy = policy_lib.PolicyNetwork(econ, norm, kwargs, np.random.default_rng(0), tf.float32,
                                    floor=False)
  value = value_lib.ValueEnsemble(econ, norm, 2, kwargs, np.random.default_rng(1), tf.float32)
  assert policy.net.w_own.shape[0] == norm.n_plain == 2
  assert value.nets[0].w_own.shape[0] == norm.n_own == 3
  np.testing.assert_allclose(norm.own(state, floor=False).numpy(),
                             norm.own(state).numpy()[..., :2])
  p_before, v_before = policy(state).numpy(), value(state).numpy()
  norm.fit(_random_cross_sections(econ, 64, seed=3, k_max=20.0), [policy.net] + value.nets)
  np.testing.assert_allclose(policy(state).numpy(), p_before, rtol=2e-4, atol=1e-6)
  np.testing.assert_allclose(value(state).numpy(), v_before, rtol=2e-4, atol=1e-4)


def test_probe_euler_errors_of_a_constant_share_policy_match_a_direct_computation():
  """A price taker in a cross-section: the cross-section moves on under the policy (K' is its
  agents' mean saving, whatever the probe does), the probe's own saving sets its cash next
  period, and the error is 1 - min(cash, c_Euler) / c over the four outcomes (z', e')."""
  from deepham.solver import probes  # pylint: disable=g-import-not-at-top
  econ = ks.KrusellSmith(ks.KSParams(n_agents=10))
  cs = simulate.as_state(base.State(*[np.asarray(f) for f in _random_cross_sections(
      econ, 6, k_max=80.0)]), tf.float64)
  probe_k = np.array([0.0, 0.0, 5.0, 5.0, 60.0, 60.0])
  own = base.State(tf.constant(np.tile(probe_k, (6, 1))[..., None]),
                   tf.constant(np.tile([0, 1, 0, 1, 0, 1], (6, 1)), tf.int32), cs.z)
  const = lambda share: lambda s, a=None: tf.fill(tf.concat([tf.shape(s.e), [1]], 0),
                                                  tf.constant(share, tf.float64))
  others = 0.05  # the cross-section saves most of its wealth: K' stays near K
  for share in (0.3, 0.99):
    err, _ = probes.euler_errors(econ, const(others), lambda o, r, f=const(share): f(o), own, cs)
    p, z = econ.params, cs.z.numpy()
    K = cs.x.numpy()[..., 0].mean(1)
    K_next = ((1 - others) * econ.wealth(cs.x.numpy()[..., 0], cs.e.numpy(), K[:, None],
                                         z[:, None])).mean(1)
    cash = econ.wealth(probe_k[None], own.e.numpy(), K[:, None], z[:, None])
    k_next = (1 - share) * cash
    emu = 0
    for zp in (0, 1):
      for ep in (0, 1):
        prob = econ.exogenous_outcomes(own).numpy()[..., 2 * zp + ep]
        R, _ = econ.prices(K_next, np.full_like(z, zp))
        c_next = share * econ.wealth(k_next, np.full_like(k_next, ep), K_next[:, None],
                                     np.full((6, 1), zp))
        emu = emu + prob * R[:, None] / c_next
    c = share * cash
    expected = np.abs(1 - np.minimum(1 / (p.beta * emu), cash) / c)
    np.testing.assert_allclose(err.numpy(), expected, rtol=1e-9)
    if share == 0.99:  # the poor unemployed would borrow: the error is the share of cash saved
      np.testing.assert_allclose(err.numpy()[:, 0], 1 / share - 1, rtol=1e-9)


def test_the_euler_penalty_trains_toward_the_kuhn_tucker_conditions():
  """Adam on the penalty alone lowers it on probes it has not seen, mostly by raising the
  consumption of the poorest (all of whom save too much under the first policy)."""
  from deepham.solver import probes  # pylint: disable=g-import-not-at-top
  s = _solver(policy__euler_weight=1.0)
  s.phases.burn_in()
  penalty = probes.EulerPenalty(s.economy, s.policy, 32, 2.0)
  cs = run_state.read(s.state.distribution)
  variables = list(s.policy.trainable_variables)
  opt = tf.keras.optimizers.Adam(3e-3)
  held_out = lambda: float(penalty(cs, tf.constant([99, 1], tf.int64)))
  before = held_out()
  for i in range(60):
    with tf.GradientTape() as tape:
      loss = penalty(cs, tf.constant([i, 0], tf.int64))
    opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
  assert held_out() < 0.5 * before


# The Euler penalty and time iteration both use a price taker's Euler equation.
EULER_FIELDS = [('euler_weight', 1.0), ('time_iterations', 2)]


@pytest.mark.parametrize('field, value', EULER_FIELDS)
@pytest.mark.parametrize('override', [dict(mode='planner'), dict(price_taking=False)])
def test_outside_a_price_taking_game_the_penalty_is_refused_and_time_iteration_idle(
    override, field, value):
  config = ks_game.get_config('tiny')
  config.policy[field] = value
  if 'mode' in override:
    config.mode = override['mode']
  else:
    config.policy.price_taking = override['price_taking']
  if field == 'time_iterations':
    main.check(config)  # idle there: a game config stays valid with mode=planner, price impact
    assert train.Solver(config).state.time_iteration is None
    return
  with pytest.raises(errors.ConfigError, match=f'policy.{field}'):
    main.check(config)


def test_several_optimising_agents_need_price_taking():
  config = ks_game.get_config('tiny')
  config.policy.game_agents = 0
  config.policy.price_taking = False
  with pytest.raises(errors.ConfigError, match='policy.game_agents'):
    main.check(config)
  config.mode = 'planner'  # every agent's utility is the planner's objective: the field is idle
  main.check(config)


@pytest.mark.parametrize('field, value', EULER_FIELDS)
def test_the_euler_penalty_needs_euler_errors(field, value):
  config = bm_config.get_config()
  config.mode = 'game'  # its agents do not interact: game and planner coincide
  config.policy[field] = value
  with pytest.raises(errors.ConfigError, match=f'policy.{field}'):
    main.check(config)


@pytest.mark.parametrize('n_paths', [1, 3])
def test_a_path_ends_where_advance_ends_with_the_same_seed(n_paths):
  """path (which records every period) and advance (which does not) step the same economy with
  the same shocks, for any number of paths, one included."""
  econ = ks.KrusellSmith(ks.KSParams(n_agents=8))
  start = simulate.as_state(econ.initial_state(n_paths, np.random.default_rng(0)), tf.float32)
  sim = simulate.Simulator(econ, econ.initial_action, jit_compile=False)
  seed = tf.constant([0, 1], tf.int64)
  path = sim.path(start, seed, 7, keep_states=True)
  chunk = sim.advance(start, seed, 7)
  assert path.states.x.shape == (7, n_paths, 8, 1)
  np.testing.assert_allclose(path.state.x.numpy(), chunk.state.x.numpy(), rtol=1e-6)
  np.testing.assert_array_equal(path.state.e.numpy(), chunk.state.e.numpy())


def _bm_start(econ, n_paths, seed=0, repeat=1):
  one = econ.initial_state(n_paths, np.random.default_rng(seed))
  return simulate.as_state(base.State(*[np.repeat(f, repeat, 0) for f in one]), tf.float64)


def test_td_lambda_targets_are_the_lambda_return_recursion():
  """value.method='td_lambda': lambda = 1 gives the Monte Carlo targets bit for bit, lambda = 0
  the `every`-step TD targets U_0 + beta^every V(s_1), and any lambda the recursion
  G_m = U_m + beta^every ((1 - lambda) V(s_{m+1}) + lambda G_{m+1}), G_end = V(s_end)."""
  econ = brock_mirman.BrockMirman(brock_mirman.BMParams(n_agents=3, k_spread=0.8))
  start = _bm_start(econ, 8)
  wrong = lambda s: econ.closed_form_value(s, 0.2)  # any value function
  sim = _bm_optimal_simulator(econ)
  every, window, horizon = 5, 20, 30
  targets = {lam: value_lib.simulate_values(sim, start, [1, 0], 0, horizon, window, every,
                                            tail=wrong, td_lambda=lam)[0].targets.numpy()
             for lam in (0.0, 0.3, 1.0)}
  monte_carlo = value_lib.simulate_values(sim, start, [1, 0], 0, horizon, window, every,
                                          tail=wrong)[0].targets.numpy()
  np.testing.assert_array_equal(targets[1.0], monte_carlo)
  _, chunks = sim.snapshots(start, [1, 0], horizon, every)
  U = [c.discounted_utility.numpy() for c in chunks]
  V = [wrong(c.state).numpy() for c in chunks]  # V at the end of each chunk
  b = econ.beta**every
  per = window // every
  for lam in (0.0, 0.3):
    expected = []
    for c in range(len(chunks) - per + 1):
      g = V[c + per - 1]
      for m in reversed(range(c, c + per)):
        g = U[m] + b * (g if m == c + per - 1 else (1 - lam) * V[m] + lam * g)
      expected.append(g)
    np.testing.assert_allclose(targets[lam], np.concatenate(expected), rtol=1e-12)
  np.testing.assert_allclose(targets[0.0][:8], U[0] + b * V[0], rtol=1e-12)


def test_td_lambda_trades_noise_for_the_value_functions_error():
  """From one state, many draws: with the exact value every lambda's target has mean V*(s_0)
  (within sampling error) and the noise falls with lambda; with a wrong value (that of saving
  20%) the mean moves away from V*(s_0) as lambda falls (the bias TD pays for its lower
  variance) while Monte Carlo's stays unbiased."""
  econ = brock_mirman.BrockMirman(brock_mirman.BMParams(n_agents=2, k_spread=0.8))
  start = _bm_start(econ, 1, seed=2, repeat=4000)
  sim = _bm_optimal_simulator(econ)
  exact = econ.closed_form_value(start).numpy()[0]
  wrong = lambda s: econ.closed_form_value(s, 0.2)

  def targets(value, lam):
    data, _ = value_lib.simulate_values(sim, start, [4, 0], 0, 40, 40, 4, tail=value,
                                        td_lambda=lam)
    return data.targets.numpy()[:4000]  # the targets of the starting state

  stds = []
  for lam in (0.0, 0.5, 1.0):
    g = targets(econ.closed_form_value, lam)
    se = g.std(0) / np.sqrt(len(g))
    assert np.all(np.abs(g.mean(0) - exact) < 4 * se + 1e-12), (lam, g.mean(0), exact, se)
    stds.append(g.std(0).mean())
  assert stds[0] < stds[1] < stds[2] and stds[0] < 0.85 * stds[2], stds
  bias = {lam: np.abs(targets(wrong, lam).mean(0) - exact).mean() for lam in (0.0, 1.0)}
  assert bias[0.0] > 10 * bias[1.0] and bias[0.0] > 0.05, bias


def test_td_lambda_config_is_checked_and_runs(monkeypatch):
  config = ks_game.get_config('tiny')
  config.value.update(dict(method='td_lambda', tail=False))
  with pytest.raises(errors.ConfigError, match=r'value\.tail'):
    train.Solver(config)
  config.value.update(dict(tail=True, td_lambda=1.5))
  with pytest.raises(errors.ConfigError, match=r'value\.td_lambda'):
    train.Solver(config)
  config.value.method = 'td'
  with pytest.raises(errors.ConfigError, match=r'value\.method'):
    train.Solver(config)
  config.value.update(dict(method='td_lambda', td_lambda=0.5))
  # In a run: the first value fit is Monte Carlo (no fitted value yet), later ones TD(0.5).
  solver = train.Solver(config)
  solver.phases.burn_in()
  used = []
  original = value_lib.simulate_values

  def spy(*args, **kwargs):
    used.append(kwargs['td_lambda'])
    return original(*args, **kwargs)

  monkeypatch.setattr(value_lib, 'simulate_values', spy)
  solver.phases.fit_value('first')
  solver.phases.fit_value('second')
  assert used == [1.0, 0.5]
  assert np.isfinite(float(solver.state.value_loss))
