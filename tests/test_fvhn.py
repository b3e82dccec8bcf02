"""The financial-frictions economy (Fernández-Villaverde, Hurtado & Nuño;
deepham/economies/fvhn.py): its equations, its common aggregate state, the expectation over its
continuous aggregate shock that validation and time iteration take by quadrature, and its
conventional benchmarks (issue 22)."""

import numpy as np
import pytest
import tensorflow as tf

import deepham
from configs import jfv as jfv_config
from deepham import economies
from deepham import errors
from deepham import main
from deepham import train
from deepham import conventional
from deepham.conventional import fvhn_ks
from deepham.conventional import jfv_stationary
from deepham.economies import base
from deepham.economies import fvhn
from deepham.solver import explore
from deepham.solver import probes
from deepham.solver import simulate
from deepham.validation import bellman
from deepham.validation import euler as euler_lib
from deepham.validation import methods as methods_lib


def _economy(**overrides):
  config = jfv_config.get_config()
  config.economy.update({'n_agents': 6, **overrides})
  return economies.make(config.economy)


def _state(econ, n_paths=4, seed=0):
  return simulate.as_state(econ.initial_state(n_paths, np.random.default_rng(seed)), tf.float64)


def test_the_stationary_expert_keeps_its_net_worth_at_the_continuum_prices():
  """Without aggregate shocks N is stationary where alpha K^(alpha-1) - delta = rho_hat: there
  N' = N for any split of K into B and N, and r = rho_hat and w are the continuum solver's."""
  econ = _economy(sigma=0.0)
  K, r_dss, w_dss = jfv_stationary.JFVParams().prices()
  for B in (0.5, 2.0, 3.0):
    N = K - B
    np.testing.assert_allclose(econ.next_net_worth(B, N, 0.0), N, rtol=1e-12)
    r, w = econ.prices(B, N)
    np.testing.assert_allclose([r, w], [r_dss, w_dss], rtol=1e-12)
  # With less capital the expert earns more than it discounts and N grows; with more, it shrinks.
  assert econ.next_net_worth(2.0, K - 2.1, 0.0) > K - 2.1
  assert econ.next_net_worth(2.0, K - 1.9, 0.0) < K - 1.9


def test_budget_identity_and_a_common_net_worth():
  """a' = (1 + r dt) a + w z dt - C for every household, N' the same for all of them and equal
  to the law of motion at the aggregates and the draw of omega."""
  econ = _economy()
  p = econ.params
  state = _state(econ)
  shocks = econ.draw_shocks(4, tf.constant([3, 4], tf.int64), tf.float64)
  share = tf.random.stateless_uniform([4, 6, 1], [1, 2], 0.05, 0.9, tf.float64)
  aggs = econ.aggregates(state)
  x_next, utility = econ.transition(state, share, aggs, shocks)
  B, N = aggs.numpy()[:, :1], aggs.numpy()[:, 1:]
  r, w = econ.prices(B, N)
  a = state.x.numpy()[..., 0]
  z = np.asarray(p.z_values)[state.e.numpy()]
  cash = (1 + r * p.dt) * a + w * z * p.dt
  spend = share.numpy()[..., 0] * cash
  np.testing.assert_allclose(x_next.numpy()[..., 0], cash - spend, rtol=1e-12)
  n_next = econ.next_net_worth(B, N, shocks.aggregate_noise.numpy()[:, :1])
  np.testing.assert_allclose(x_next.numpy()[..., 1], np.broadcast_to(n_next, a.shape),
                             rtol=1e-12)
  np.testing.assert_allclose(utility.numpy(), -p.dt / (spend / p.dt), rtol=1e-12)  # gamma = 2
  # Simulated on, N stays common: every household's second state is the path's N.
  path = simulate.Simulator(econ, lambda s, a: econ.initial_action(s, a), jit_compile=False
                            ).path(state, tf.constant([0, 1], tf.int64), 30, keep_states=True)
  x = path.states.x.numpy()
  np.testing.assert_array_equal(x[..., 1], np.broadcast_to(x[..., :1, 1], x[..., 1].shape))


def test_quadrature_gives_the_moments_of_the_net_worth_shock():
  """The expectation nodes integrate N' exactly in its mean and variance: E N' is N' at
  omega = 0 and the variance is (K sigma sqrt(dt))^2."""
  econ = _economy()
  p = econ.params
  nodes = probes.expectation_nodes(econ)
  assert len(nodes) == p.n_quadrature
  weights = np.array([w for w, _ in nodes])
  omega = np.array([v[0] for _, v in nodes])
  np.testing.assert_allclose(weights.sum(), 1.0, rtol=1e-14)
  B, N = 2.0, 1.7
  n_next = econ.next_net_worth(B, N, omega)
  mean = weights @ n_next
  np.testing.assert_allclose(mean, econ.next_net_worth(B, N, 0.0), rtol=1e-14)
  np.testing.assert_allclose(weights @ (n_next - mean) ** 2, ((B + N) * p.sigma) ** 2 * p.dt,
                             rtol=1e-12)
  # Without the shock there is one node and no aggregate innovation at all.
  assert probes.expectation_nodes(_economy(sigma=0.0)) == [(1.0, None)]


def test_euler_expectation_by_quadrature_matches_monte_carlo():
  """The Euler errors' expectation over omega by the economy's 5-node quadrature equals the
  mean over many draws of omega, within their sampling error (validation/euler.py,
  solver/probes.py: the generic expectation over a continuous aggregate shock)."""
  econ = _economy(sigma=0.05)  # a larger shock than the calibration's: a visible effect
  state = _state(econ, n_paths=3)
  rule = lambda s, a=None: econ.initial_action(s, econ.aggregates(s) if a is None else a)
  method = methods_lib.Method('rule', 'rule', rule, None, None)
  aggs = econ.aggregates(state)
  action = rule(state, aggs)
  by_quadrature = econ.euler_target(state, action, aggs, _outcomes(econ, state, action, rule))
  omega = np.random.default_rng(1).standard_normal(400)
  targets = np.stack([econ.euler_target(state, action, aggs, _outcomes(
      econ, state, action, rule, [(1.0, np.array([o]))])).numpy() for o in omega])
  # The target is u'^-1(beta E[...]): compare the expectations inside, through u'.
  mu_q = econ.marginal_utility(by_quadrature).numpy()
  mu_mc = econ.marginal_utility(tf.constant(targets)).numpy()  # one draw each
  se = mu_mc.std(0) / np.sqrt(len(mu_mc))
  assert np.all(np.abs(mu_mc.mean(0) - mu_q) < 4 * se + 1e-12)
  assert np.all(mu_mc.std(0) > 0)  # the shock moves the target
  # The same numbers through validation's own routine.
  err, _ = euler_lib.euler_chunk(econ, method, state)
  c = econ.consumption(state, action, aggs).numpy()
  np.testing.assert_allclose(err.numpy(), np.abs(1 - by_quadrature.numpy() / c), rtol=1e-10)


def _outcomes(econ, state, action, rule, nodes=None):
  """(probability, next state, next aggregates, next action) over the discrete outcomes and the
  nodes (default: the economy's quadrature), everyone following `rule`."""
  aggs = econ.aggregates(state)
  probs = econ.exogenous_outcomes(state)
  out = []
  for weight, node in nodes or probes.expectation_nodes(econ):
    x_next, _ = econ.transition(state, action, aggs, probes.node_shocks(state, node))
    for m, nxt in econ.outcome_states(x_next, state.z):
      next_aggs = econ.aggregates(nxt)
      out.append((weight * probs[..., m], nxt, next_aggs, rule(nxt, next_aggs)))
  return out


def test_explored_and_probe_agents_keep_their_cross_sections_net_worth():
  econ = _economy()
  state = _state(econ)
  N = state.x.numpy()[:, :1, 1]
  wide = explore.explore_agents(state, econ.state_floor, 1.0, 2.0, tf.constant([1, 1], tf.int64),
                                econ.n_common_states)
  assert not np.allclose(wide.x.numpy()[..., 0], state.x.numpy()[..., 0])
  np.testing.assert_array_equal(wide.x.numpy()[..., 1], np.broadcast_to(N, (4, 6)))
  own = probes.draw_probes(state, econ.state_floor, econ.chain.n_e, 7, 2.0,
                           tf.constant([2, 2], tf.int64), econ.n_common_states)
  np.testing.assert_array_equal(own.x.numpy()[..., 1], np.broadcast_to(N, (4, 7)))


def test_bad_parameters_are_refused_with_the_field_named():
  for field, value in (('sigma', -0.1), ('lambda1', 6.0), ('z1', 1.2), ('n_quadrature', 0)):
    with pytest.raises(errors.ConfigError, match=rf'economy\.{field}'):
      _economy(**{field: value})


def test_tiny_solve_validates_by_bellman_errors_with_quadrature(tmp_path):
  """A tiny solve with the aggregate shock runs to the end and its validation measures Bellman
  and Euler errors (the expectation over omega by quadrature); its paths keep N common."""
  config = jfv_config.get_config('tiny')
  config.validation.original_procedure = False  # its rows repeat the work on fewer draws
  summary = main.run(config, str(tmp_path), 'solve')
  entry = summary['bellman_error']['deepham']
  assert np.isfinite(entry['optimality_mean']) and np.isfinite(entry['euler_error_log10_mean'])
  solution = deepham.load(str(tmp_path))
  econ = solution.economy
  assert isinstance(econ, fvhn.FVHN)
  # Reported per unit of time, as the DeepHAM code and its Table 4 do: value units / dt.
  method = methods_lib.methods_for(solution.view)[0]
  states = base.State(*[f[:2] for f in solution.view.distribution])
  per_time = bellman.bellman_errors(econ, method, states, 9, 5)['optimality']
  econ.bellman_error_unit = 1.0
  per_step = bellman.bellman_errors(econ, method, states, 9, 5)['optimality']
  np.testing.assert_allclose(per_time, per_step / econ.params.dt, rtol=1e-6)
  assert 'DeepHAM, 1 generalized moment (published)' not in open(
      tmp_path / 'validation.csv').read()  # N = 8: Table 4 is for N = 50
  # The control variate needs discrete shocks only: refused with the shock, allowed without.
  config.value.control_variate = True
  with pytest.raises(errors.ConfigError, match=r'value\.control_variate'):
    main.run(config, str(tmp_path / 'cv'), 'solve')
  dss = jfv_config.get_config('tiny,dss')
  dss.value.control_variate = True
  main.check(dss)
  (tmp_path / 'dss').mkdir()
  solver = train.Solver(dss)
  solver.attach(str(tmp_path / 'dss'))
  train.train(solver, str(tmp_path / 'dss'))
  assert np.isfinite(float(solver.state.value_loss))  # the control-variate fit ran


def test_stationary_benchmark_keeps_the_continuum_at_its_steady_state():
  """The conventional method without aggregate shocks (conventional/jfv_stationary.Benchmark):
  its policy is the stationary HJB's consumption, and in a large economy started from the
  continuum's stationary distribution B and N stay near the continuum's (finite N and the
  discrete step move them by a little)."""
  econ = _economy(sigma=0.0, n_agents=2000)
  bench = conventional.load_benchmark(econ, '')
  sol = bench.solution
  # Its consumption at grid points, against the HJB's c(a, z) dt over cash on hand.
  rng = np.random.default_rng(0)
  idx = rng.choice(len(sol.a), size=(1, 2000), p=sol.mass.sum(1))
  e = (rng.uniform(size=(1, 2000)) < sol.mass[idx, 1] / sol.mass[idx].sum(-1)).astype(np.int32)
  x = np.stack([sol.a[idx], np.full((1, 2000), sol.N)], -1)
  state = base.State(tf.constant(x), tf.constant(e), tf.zeros([1], tf.int32))
  aggs = econ.aggregates(state)
  np.testing.assert_allclose(aggs.numpy()[0], [sol.B, sol.N], rtol=0.02)
  share = bench.policy(state, aggs).numpy()[0, :, 0]
  cash = econ.cash(state, aggs).numpy()[0]
  spend = np.minimum(sol.c[idx[0], e[0]] * econ.params.dt, cash)
  np.testing.assert_allclose(share * cash, spend, rtol=1e-9)
  path = simulate.Simulator(econ, bench.policy, jit_compile=False).path(
      state, tf.constant([0, 1], tf.int64), 200)
  B = path.aggregates.numpy()[:, 0, 0]
  assert abs(B[-50:].mean() / sol.B - 1) < 0.05, (B[-50:].mean(), sol.B)
  # With the shock the benchmark is the KS-type method's, from its file.
  with pytest.raises(errors.ConfigError, match='no FVHN KS-type solution'):
    conventional.load_benchmark(_economy(), '/nonexistent/fvhn_ks.npz')


def test_ks_type_household_problem_is_the_stationary_one_at_stationary_prices():
  """With a vanishing shock, the PLM B' = B and (B, N) at the continuum's stationary point, prices
  are constant forever: the EGM policy is then the stationary HJB's, up to the time step (the
  discrete-time problem with dt = 0.2 against the continuous-time one): within 1%."""
  econ = _economy(sigma=1e-6)
  st = jfv_stationary.solve_stationary(jfv_stationary.JFVParams(n_a=4001))
  options = fvhn_ks.Options(n_a=120, n_B=3, B_range=(st.B - 0.5, st.B + 0.5), n_N=3,
                            N_range=(st.N - 0.5, st.N + 0.5))
  solver = fvhn_ks.Solver(econ, options)
  c, _ = solver.egm(np.array([0.0, 1.0, 0.0]))
  a = solver.a
  inside = (a > 0.1) & (a < 15)
  for z in (0, 1):
    hjb = np.interp(a, st.a, st.c[:, z])
    np.testing.assert_allclose(c[z, 1, 1][inside], hjb[inside], rtol=0.01)


def test_ks_type_solution_value_and_benchmark_are_consistent(tmp_path):
  """A small KS-type solve: its value satisfies the Bellman equation of its policy at grid
  states (an independent interpolation), it stores and loads, and as a benchmark in the
  N-household economy it reads its tables at grid states and refuses another calibration."""
  econ = _economy()
  options = fvhn_ks.Options(n_a=40, n_B=3, n_N=5, periods=300, burn=50, outer_max=2,
                            egm_tol=1e-7, value_tol=1e-8)
  solver = fvhn_ks.Solver(econ, options)
  sol = solver.solve()
  p = econ.params
  # Bellman equation of the policy at a few grid states.
  c, v = sol.consumption, sol.value
  B_next = np.exp(sol.plm[0] + sol.plm[1] * np.log(solver.B) + sol.plm[2] * np.log(solver.N))
  nodes, weights = econ.aggregate_quadrature()
  for z, j, k, i in ((0, 1, 2, 5), (1, 0, 4, 20), (1, 2, 1, 39)):
    B, N, a = solver.B[j, k], solver.N[j, k], solver.a[i]
    r, w = econ.prices(B, N)
    a_next = (1 + r * p.dt) * a + w * p.z_values[z] * p.dt - c[z, j, k, i] * p.dt
    ev = 0.0
    for omega, wq in zip(nodes[:, 0], weights):
      N_next = econ.next_net_worth(B, N, omega)
      for zn in (0, 1):
        ev += wq * solver.P[z, zn] * _trilinear(sol, v[zn], B_next[j, k], N_next, a_next)
    rhs = p.dt * (-1 / c[z, j, k, i]) + p.beta * ev
    np.testing.assert_allclose(v[z, j, k, i], rhs, rtol=1e-6)
  path = str(tmp_path / 'ks.npz')
  sol.save(path)
  bench = conventional.load_benchmark(econ, path)
  assert bench.key == 'ks_type'
  # At a grid state the benchmark's consumption and value are the tables'.
  j, k = 1, 2
  x = np.stack([np.broadcast_to(sol.B_grid.points[j], (1, 6)),
                np.full((1, 6), sol.N_grid.points[k])], -1)
  x[0, :3, 0] = solver.a[[3, 10, 30]]
  x[0, 3:, 0] = 2 * sol.B_grid.points[j] - x[0, :3, 0]  # mean a = B_j
  e = np.array([[0, 1, 0, 1, 0, 1]], np.int32)
  state = base.State(tf.constant(x), tf.constant(e), tf.zeros([1], tf.int32))
  aggs = econ.aggregates(state)
  np.testing.assert_allclose(aggs.numpy()[0], [sol.B_grid.points[j], sol.N_grid.points[k]])
  spend = (bench.policy(state, aggs)[..., 0] * econ.cash(state, aggs)).numpy()[0, :3]
  np.testing.assert_allclose(spend, c[[0, 1, 0], j, k, [3, 10, 30]] * p.dt, rtol=1e-9)
  value = bench.evaluate(state, tf.reduce_mean(bench.raw(x), axis=1, keepdims=True))
  np.testing.assert_allclose(value.numpy()[0, :3], v[[0, 1, 0], j, k, [3, 10, 30]], rtol=1e-9)
  with pytest.raises(errors.ConfigError, match='rho_hat'):
    conventional.load_benchmark(_economy(rho_hat=0.045), path)


def _trilinear(sol, table, B, N, a):
  """table [nB, nN, na] at (B, N, a): bilinear in (B, N) clamped, linear in a."""
  iB, wB = sol.B_grid.locate(np.array(B))
  iN, wN = sol.N_grid.locate(np.array(N))
  ia, wa = sol.a_grid.locate(np.array(a))
  wB, wN = np.clip(wB, 0, 1), np.clip(wN, 0, 1)
  f = lambda j, k: (1 - wa) * table[j, k, ia] + wa * table[j, k, ia + 1]
  return ((1 - wB) * ((1 - wN) * f(iB, iN) + wN * f(iB, iN + 1))
          + wB * ((1 - wN) * f(iB + 1, iN) + wN * f(iB + 1, iN + 1)))


def test_the_benchmark_program_solves_and_reloads_both_economies(tmp_path):
  """python run.py --config=configs/jfv_benchmark.py: without aggregate shocks the stationary
  equilibrium (mean_B, mean_N the continuum's), with them the KS-type solution (here on small
  grids and a short simulation); 'validate' reloads what 'solve' stored."""
  from configs import jfv_benchmark  # pylint: disable=g-import-not-at-top
  config = jfv_benchmark.get_config()
  config.economy.aggregate_shocks = False
  summary = main.run(config, str(tmp_path / 'dss'), 'solve')
  st = jfv_stationary.solve_stationary(jfv_stationary.JFVParams(n_a=4001))
  assert summary['mean_B'] == pytest.approx(st.B, rel=1e-9)
  assert summary['mean_N'] == pytest.approx(st.N, rel=1e-9)
  assert main.run(config, str(tmp_path / 'dss'), 'validate')['mean_B'] == summary['mean_B']
  config = jfv_benchmark.get_config()
  config.jfv_method.update(dict(n_a=40, n_B=3, n_N=5, periods=300, burn=50, outer_max=2))
  summary = main.run(config, str(tmp_path / 'sss'), 'solve')
  assert summary['method'] == 'jfv_benchmark' and summary['outer_iterations'] == 2
  assert 1.0 < summary['mean_B'] < 3.0 and 1.0 < summary['mean_N'] < 3.0
  bench = conventional.load_benchmark(_economy(), str(tmp_path / 'sss' / 'jfv_solution.npz'))
  assert bench.key == 'ks_type'
  config.jfv_method.damping = 1.5
  with pytest.raises(errors.ConfigError, match='damping'):
    main.run(config, str(tmp_path / 'bad'), 'solve')


def test_shipped_ks_type_solution_rests_at_the_reference_stochastic_steady_state():
  """The shipped KS-type solution (data/jfv_benchmark, made by configs/jfv_benchmark.py): its
  law of motion fits, and without shocks its continuum comes to rest within 2% of the DeepHAM
  code's stochastic steady state (B = 1.99036, N = 1.68378)."""
  econ = _economy()
  sol = fvhn_ks.Solution.load(conventional.resolve('data/jfv_benchmark/jfv_solution.npz'))
  assert sol.meta['converged'] and sol.meta['history'][-1]['r2'] > 0.9999
  B, N = fvhn_ks.Solver(econ).simulate(sol.consumption, np.zeros(3000), *econ.params.start)
  np.testing.assert_allclose([B[-1], N[-1]], [fvhn.SSS_B, fvhn.SSS_N], rtol=0.02)
  assert conventional.load_benchmark(econ, 'data/jfv_benchmark/jfv_solution.npz').key == 'ks_type'
