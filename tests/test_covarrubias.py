"""The households x capital-goods economy (deepham/economies/covarrubias.py): its steady state
against value-function iteration, its market, its symmetries, its Euler residuals, bad input."""

import os

import numpy as np
import pytest
import tensorflow as tf

from configs import covarrubias as config_lib
from deepham import economies
from deepham import errors
from deepham.economies import base
from deepham.economies import covarrubias
from deepham.solver import simulate


def _economy(**kw) -> covarrubias.Covarrubias:
  return covarrubias.Covarrubias(covarrubias.CovarrubiasParams(**kw))


def _state(econ, k, e=None, B=None):
  k = np.asarray(k, np.float64)
  B, N = k.shape[:2]
  e = np.zeros((B, N), np.int32) if e is None else np.asarray(e, np.int32)
  return base.State(tf.constant(k), tf.constant(e), tf.zeros([B], tf.int32))


def _steady_state_action(econ, state):
  """The steady state's spending shares, equal across goods, and the consumption share."""
  s = econ.steady_state_share
  row = np.append(np.full(econ.n_goods, s / econ.n_goods), 1 - s)
  return tf.constant(np.broadcast_to(row, tuple(state.e.shape) + (econ.n_actions,)).copy())


def _random_action(econ, B, seed=0):
  raw = np.random.default_rng(seed).normal(0, 1, (B, econ.n_agents, econ.n_actions))
  return econ.action_from_output(tf.constant(raw), None, None)  # the map ignores the state


def _symmetric_vfi_steady_state(econ, n_grid=801) -> float:
  """Steady-state K of the symmetric planner problem by value-function iteration on a grid:
  every household holds K of every good and buys I units of each, at a total cost of
  N^c (phi / 2) (N^h I)^2, shared equally. An independent check of the closed form."""
  p = econ.params
  k_ss = econ.steady_state_K
  grid = np.linspace(0.6 * k_ss, 1.4 * k_ss, n_grid)
  invest = grid[None, :] - (1 - p.delta) * grid[:, None]  # [K, K']
  cost = p.n_goods * 0.5 * p.phi * p.n_households * np.maximum(invest, 0) ** 2
  c = grid[:, None] ** p.alpha - cost
  u = np.where((invest >= 0) & (c > 0), np.log(np.maximum(c, 1e-300)), -np.inf)
  v = np.zeros(n_grid)
  for _ in range(2000):
    v_new = np.max(u + p.beta * v[None, :], axis=1)
    if np.max(np.abs(v_new - v)) < 1e-12:
      break
    v = v_new
  policy = grid[np.argmax(u + p.beta * v[None, :], axis=1)]
  crossing = np.argmin(np.abs(policy - grid))
  return float(grid[crossing])


@pytest.mark.parametrize('n_households, n_goods', [(1, 1), (4, 1), (2, 2), (3, 5)])
def test_closed_form_steady_state_matches_value_function_iteration(n_households, n_goods):
  econ = _economy(n_households=n_households, n_goods=n_goods)
  k_vfi = _symmetric_vfi_steady_state(econ)
  assert abs(k_vfi / econ.steady_state_K - 1) < 0.002  # the grid's spacing is 0.1%


@pytest.mark.parametrize('formulation', covarrubias.FORMULATIONS)
@pytest.mark.parametrize('n_households, n_goods', [(1, 1), (4, 1), (2, 2), (10, 10)])
def test_steady_state_is_a_fixed_point_with_zero_euler_residual(formulation, n_households,
                                                                n_goods):
  econ = _economy(n_households=n_households, n_goods=n_goods, formulation=formulation)
  k = econ.steady_state_K
  state = _state(econ, np.full((2, n_households, n_goods), k))
  action = _steady_state_action(econ, state)
  aggs = econ.clear_markets(state, action, econ.aggregates(state))
  k_next, _ = econ.transition(state, action, aggs, None)
  np.testing.assert_allclose(k_next.numpy(), k, rtol=1e-12)
  nxt = base.State(k_next, state.e, state.z)
  outcome = (1.0, nxt, econ.clear_markets(nxt, action, econ.aggregates(nxt)), action)
  res = econ.euler_residual(state, action, [outcome]).numpy()
  assert res.shape == (2, n_households, n_goods)
  np.testing.assert_allclose(res, 0.0, atol=1e-12)
  # The market's and the planner's steady states use the same resources: same consumption.
  c = econ.consumption(state, action, aggs).numpy()
  other = _economy(n_households=n_households, n_goods=n_goods,
                   formulation=[f for f in covarrubias.FORMULATIONS if f != formulation][0])
  a2 = _steady_state_action(other, state)
  c2 = other.consumption(state, a2, other.clear_markets(state, a2, other.aggregates(state)))
  np.testing.assert_allclose(c, c2.numpy(), rtol=1e-12)


def test_euler_residual_is_zero_only_at_the_optimal_saving():
  # Off the optimum (10% more spending at the steady state, same next action) the residual is
  # non-zero, of the sign of too much investment: marginal cost above the discounted return.
  econ = _economy(n_households=4, n_goods=1)
  state = _state(econ, np.full((1, 4, 1), econ.steady_state_K))
  shares = econ.steady_state_share * 1.1
  action = tf.constant(np.tile([shares, 1 - shares], (1, 4, 1)))
  aggs = econ.clear_markets(state, action, econ.aggregates(state))
  k_next, _ = econ.transition(state, action, aggs, None)
  nxt = base.State(k_next, state.e, state.z)
  ss = _steady_state_action(econ, nxt)
  res = econ.euler_residual(state, action, [(1.0, nxt, econ.clear_markets(
      nxt, ss, econ.aggregates(nxt)), ss)]).numpy()
  assert np.all(res > 0.01)


@pytest.mark.parametrize('formulation', covarrubias.FORMULATIONS)
def test_market_clears_and_paths_stay_feasible_under_any_policy(formulation):
  econ = _economy(n_households=5, n_goods=3, formulation=formulation, tfp_risk=True,
                  aggregate_tfp_values=(0.95, 1.05))
  rng = np.random.default_rng(0)
  start = simulate.as_state(econ.initial_state(6, rng), tf.float64)

  def wild(state, aggregates):  # shares far from any optimum, changing every period
    raw = 3 * tf.sin(17 * tf.reduce_sum(state.x, -1, keepdims=True)
                     + tf.range(econ.n_actions, dtype=state.x.dtype))
    return econ.action_from_output(raw, state, aggregates)

  path = simulate.Simulator(econ, wild, jit_compile=False).path(
      start, tf.constant([0, 1], tf.int64), 60, keep_states=True)
  x = path.states.x.numpy()
  assert np.all(x > 0) and np.all(np.isfinite(path.utility.numpy()))
  assert np.all(path.consumption.numpy() > 0)
  for t in (0, 30, 59):
    state = base.State(*[f[t] for f in path.states])
    m = econ.market(state, wild(state, None))
    np.testing.assert_allclose(tf.reduce_sum(m['I'], axis=1).numpy(), m['I_produced'].numpy(),
                               rtol=1e-12)
    # What households spend, less the rebate, is what producing the units costs.
    cost = 0.5 * econ.params.phi * tf.reduce_sum(m['I_produced'] ** 2, axis=-1)
    net = tf.reduce_sum(m['S'], axis=-1) - econ.n_agents * m['T'][:, 0]
    np.testing.assert_allclose(net.numpy(), cost.numpy(), rtol=1e-12)


def test_relabelling_households_and_goods_permutes_the_economy():
  econ = _economy(n_households=4, n_goods=3, tfp_risk=True)
  rng = np.random.default_rng(3)
  state = simulate.as_state(econ.initial_state(2, rng), tf.float64)
  action = _random_action(econ, 2)
  h, g = np.array([2, 0, 3, 1]), np.array([1, 2, 0])
  g_action = np.append(g, econ.n_goods)  # the consumption share stays last

  def step(s, a):
    aggs = econ.clear_markets(s, a, econ.aggregates(s))
    k, u = econ.transition(s, a, aggs, None)
    return k.numpy(), u.numpy(), aggs.numpy()

  k, u, aggs = step(state, action)
  ph = base.State(tf.gather(state.x, h, axis=1), tf.gather(state.e, h, axis=1), state.z)
  k_h, u_h, aggs_h = step(ph, tf.gather(action, h, axis=1))
  np.testing.assert_allclose(k_h, k[:, h], rtol=1e-12)
  np.testing.assert_allclose(u_h, u[:, h], rtol=1e-12)
  np.testing.assert_allclose(aggs_h, aggs, rtol=1e-12)
  pg = base.State(tf.gather(state.x, g, axis=2), state.e, state.z)
  k_g, u_g, _ = step(pg, tf.gather(action, g_action, axis=2))
  np.testing.assert_allclose(k_g, k[..., g], rtol=1e-12)
  np.testing.assert_allclose(u_g, u, rtol=1e-12)


@pytest.mark.parametrize('field, value', [
    ('n_goods', 0), ('n_households', 0), ('phi', 0.0), ('phi', -1.0),
    ('initial_shares', (0.6, 0.5)), ('initial_shares', (0.1,)), ('formulation', 'anarchy'),
    ('tfp_values', (0.9, -1.0)), ('tfp_stay', 1.5)])
def test_bad_parameters_name_the_field(field, value):
  config = config_lib.get_config()
  config.economy.n_goods = 2
  config.economy[field] = value
  with pytest.raises(errors.ConfigError, match=rf'economy\.{field}'):
    economies.make(config.economy)


def test_planner_variant_sets_mode_and_formulation():
  config = config_lib.get_config('planner,hc2')
  assert config.mode == 'planner' and config.economy.formulation == 'planner'
  econ = economies.make(config.economy)
  assert (econ.n_agents, econ.n_goods, econ.n_actions) == (2, 2, 3)


def test_tiny_market_and_planner_solve_and_report(tmp_path):
  from deepham import main  # pylint: disable=g-import-not-at-top
  from deepham.studies import covarrubias as study  # pylint: disable=g-import-not-at-top
  runs = []
  for variant in ('tiny', 'planner,tiny'):
    workdir = str(tmp_path / variant.replace(',', '_'))
    summary = main.run(config_lib.get_config(variant), workdir, 'solve')
    for key in ('steady_state_K_closed_form', 'steady_state_K_simulated', 'welfare',
                'euler_abs_p99'):
      assert np.isfinite(summary[key]), key
    runs.append(workdir)
  assert summary['formulation'] == 'planner' and summary['mode'] == 'planner'
  out = str(tmp_path / 'report')
  os.makedirs(out)
  study.write(runs, out)
  pairs = study.pairs(study.table(runs))
  assert len(pairs) == 1 and np.isfinite(pairs.welfare_gap[0])
  for name in ('covarrubias_table.csv', 'covarrubias_pairs.md', 'figures/capital_paths.png',
               'figures/policy_tiny.png'):
    assert os.path.exists(os.path.join(out, name)), name


def _utility_solver(arg='tiny', **policy):
  from deepham import train  # pylint: disable=g-import-not-at-top
  config = config_lib.get_config(arg)
  config.policy.objective = 'utility'
  config.policy.update(policy)
  return config, train.Solver(config)


def test_fast_game_equals_one_tape_with_prices_set_by_this_periods_spending():
  # Pass 1 records the prices everyone's spending sets (clear_markets); pass 3 moves agent 0
  # alone in them: the same objective and gradient as one tape over the whole economy.
  from tests import conftest  # pylint: disable=g-import-not-at-top
  conftest.check_fast_game_matches_one_tape(_utility_solver(t_unroll=6)[1])


@pytest.mark.parametrize('mode, price_taking, others, prices', [
    ('game', True, False, False),
    ('game', False, True, True),  # agent 0's spending moves the prices it pays
    ('planner', True, True, True),
])
def test_price_takers_get_no_gradient_through_the_prices_they_set(mode, price_taking, others,
                                                                  prices):
  config = config_lib.get_config('tiny')
  config.policy.objective = 'utility'
  config.mode, config.policy.price_taking, config.policy.t_unroll = mode, price_taking, 6
  params = covarrubias.CovarrubiasParams.from_config(config.economy)
  n = config.policy.batch_size

  class Probe(covarrubias.Covarrubias):
    """Zero perturbations of the actions and of the cleared prices, to read gradients."""

    def __init__(self):
      super().__init__(params)
      self.d_action = tf.Variable(tf.zeros([n, self.n_agents, self.n_actions]))
      self.d_price = tf.Variable(tf.zeros([n, 2 * self.n_goods + 1]))
      self.active = False

    def clear_markets(self, state, action, aggregates):
      if self.active:
        action = action + self.d_action
      cleared = super().clear_markets(state, action, aggregates)
      return cleared + self.d_price if self.active else cleared

    def transition(self, state, action, aggregates, shocks):
      if self.active:
        action = action + self.d_action
      return super().transition(state, action, aggregates, shocks)

  probe = Probe()
  from tests import conftest  # pylint: disable=g-import-not-at-top
  conftest.check_probe_gradients(config, probe, probe.d_price, others, prices)


@pytest.mark.slow  # two default-length solves, about 2.5 minutes each on 2 cores
@pytest.mark.parametrize('variant', ['h4', 'planner,h4'])
def test_trained_deterministic_policy_reaches_the_closed_form_steady_state(tmp_path, variant):
  from deepham import main  # pylint: disable=g-import-not-at-top
  summary = main.run(config_lib.get_config(variant), str(tmp_path), 'solve')
  # From capital spread +-50% around it (the initial rule's shares are not the steady state's).
  assert abs(summary['steady_state_K_simulated'] / summary['steady_state_K_closed_form']
             - 1) < 0.005
  # The mean over every household, good and period of the test paths; the first periods from
  # the spread start hold the largest residuals (p99 figures in docs/covarrubias.md).
  assert summary['euler_abs_mean'] < 1e-3 and summary['euler_abs_p99'] < 1e-2
  with np.load(tmp_path / 'paths.npz') as f:
    assert np.all(f['aggregates'] > 0) and np.all(f['final_x'] > 0)


def _masked_solver(mask=(1, 1, 0), **policy):
  """A tiny market whose households with a 0 in `mask` see no generalized moments; every
  household an optimising agent."""
  from deepham import train  # pylint: disable=g-import-not-at-top
  config = config_lib.get_config('tiny')
  config.network.observation_mask = mask
  config.policy.update(dict(objective='utility', game_agents=0, **policy))
  return config, train.Solver(config)


def test_uninformed_households_do_not_see_the_generalized_moments():
  _, solver = _masked_solver((1, 1, 0))
  pol, econ = solver.policy, solver.economy
  k = np.random.default_rng(0).uniform(1.0, 3.0, (5, 3, econ.n_goods)).astype(np.float32)
  as_state = lambda x: base.State(tf.constant(x), tf.zeros([5, 3], tf.int32),
                                  tf.zeros([5], tf.int32))
  state = as_state(k)
  before = pol(state).numpy()
  basis = pol.net.moments.basis
  for w in basis.weights + basis.biases:  # another basis: other generalized moments
    w.assign_add(tf.fill(w.shape, 0.3))
  after = pol(state).numpy()
  assert np.max(np.abs(after[:, 2] - before[:, 2])) < 1e-12  # household 2: uninformed
  assert np.min(np.max(np.abs(after[:, :2] - before[:, :2]), axis=(1, 2))) > 1e-4
  # The informed households act as in a network without the mask; probes are informed.
  moments = pol.net.moments(pol.normalizer.dist(state))
  plain = econ.action_from_output(
      pol.net(pol.normalizer.own(state, pol.floor), pol.normalizer.exo(state), moments),
      state, econ.aggregates(state)).numpy()
  np.testing.assert_allclose(after[:, :2], plain[:, :2], rtol=1e-6)
  np.testing.assert_allclose(pol.conditional_policy(state, state).numpy(), plain, rtol=1e-6)
  # Equivariance within a type: swapping the two informed households swaps their actions.
  swapped = pol(as_state(k[:, [1, 0, 2]])).numpy()
  np.testing.assert_allclose(swapped, after[:, [1, 0, 2]], rtol=1e-5, atol=1e-7)


def test_with_an_observation_mask_the_fast_game_equals_one_tape_and_both_types_learn(tmp_path):
  from deepham import main  # pylint: disable=g-import-not-at-top
  from tests import conftest  # pylint: disable=g-import-not-at-top
  conftest.check_fast_game_matches_one_tape(_masked_solver(t_unroll=6)[1])
  config, _ = _masked_solver((1, 0, 1))
  summary = main.run(config, str(tmp_path), 'solve')
  for key in ('welfare_informed', 'welfare_uninformed', 'euler_abs_mean_informed',
              'euler_abs_mean_uninformed'):
    assert np.isfinite(summary[key]), key
  _, solver = _masked_solver((1, 0, 1))
  solver.state.attach(str(tmp_path))
  assert np.max(np.abs(solver.policy.net.b_uninformed.numpy())) > 0  # it got gradient


@pytest.mark.parametrize('overrides, field', [
    (dict(mask=(1, 0)), 'network.observation_mask'),  # one per household
    (dict(mask=(1, 0, 2)), 'network.observation_mask'),
    (dict(objective='euler'), 'policy.objective'),
    (dict(game_agents=1), 'network.observation_mask'),  # agent 0 alone: one type learns
    (dict(n_generalized_moments=0), 'network.observation_mask'),
])
def test_bad_observation_masks_name_the_field(overrides, field):
  from deepham import train  # pylint: disable=g-import-not-at-top
  config = config_lib.get_config('tiny')
  config.network.observation_mask = overrides.get('mask', (1, 0, 1))
  config.network.n_generalized_moments = overrides.get('n_generalized_moments', 1)
  config.policy.objective = overrides.get('objective', 'utility')
  config.policy.game_agents = overrides.get('game_agents', 0)
  with pytest.raises(errors.ConfigError, match=field.replace('.', r'\.')):
    train.Solver(config)


def test_partial_information_variant_is_valid():
  config = config_lib.get_config('partial')
  from deepham.solver import config_checks  # pylint: disable=g-import-not-at-top
  config_checks.check(config, economies.make(config.economy))
  assert tuple(config.network.observation_mask) == (1, 1, 0, 0)


def test_under_tfp_risk_the_cross_section_summaries_see_the_households_tfp():
  """Next period's prices depend on everyone's output: under TFP risk the distribution inputs
  carry each household's TFP beside its capital (and the value's control variate, which holds
  them fixed over next period's draws, is refused); without risk they are capital alone."""
  from deepham import train  # pylint: disable=g-import-not-at-top
  k = np.full((1, 4, 1), 2.0)
  plain, risky = _economy(n_households=4), _economy(n_households=4, tfp_risk=True)
  assert plain.distribution_inputs(_state(plain, k)).shape[-1] == 1
  low, high = (risky.distribution_inputs(_state(risky, k, e=[[0, 0, e, 0]])).numpy()
               for e in (0, 1))
  np.testing.assert_array_equal(low[..., 0], high[..., 0])
  assert low[0, 2, 1] < high[0, 2, 1]  # household 2's TFP, the others' unchanged
  np.testing.assert_array_equal(low[0, [0, 1, 3], 1], high[0, [0, 1, 3], 1])
  config = config_lib.get_config('tiny')
  config.economy.tfp_risk = True
  with pytest.raises(errors.ConfigError, match=r'value\.control_variate'):
    train.Solver(config)
  config.value.control_variate = False
  train.Solver(config)
