"""The Krusell-Smith economy: calibration, shocks, budget, prices (issue: foundation)."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from deepham import errors
from deepham import economies
from deepham.conventional import krusell_smith
from deepham.economies import base
from deepham.economies import ks
from deepham.solver import simulate


def test_transition_rows_sum_to_one_and_factorise(ks_params):
  joint = np.asarray(ks_params.transition)
  np.testing.assert_allclose(joint.sum(axis=1), 1.0, atol=1e-6)
  chain = ks_params.chain
  np.testing.assert_allclose(chain.P_z.sum(axis=1), 1.0, atol=1e-12)
  np.testing.assert_allclose(chain.P_e.sum(axis=-1), 1.0, atol=1e-12)
  np.testing.assert_allclose(chain.joint(), joint, atol=1e-6)
  np.testing.assert_allclose(np.diag(chain.P_z), 0.875, atol=1e-6)


def test_long_simulation_reproduces_unemployment_and_persistence(ks_params):
  """Shocks from the exact conditional chain: u = 0.10 / 0.04 and P(z' = z) = 0.875."""
  econ = ks.KrusellSmith(ks_params)
  n_paths, n_agents, horizon = 16, 2000, 1500
  econ.n_agents = n_agents
  rng = np.random.default_rng(0)
  z, e = econ.chain.draw_initial(n_paths, n_agents, rng)
  state = simulate.as_state(base.State(np.zeros((n_paths, n_agents, 1)), e, z), tf.float64)

  @tf.function
  def run(state):
    unemployed = tf.zeros([2], tf.float64)
    counts = tf.zeros([2], tf.float64)
    stay = tf.zeros([], tf.float64)
    for t in tf.range(horizon):
      shocks = econ.draw_shocks(n_paths, simulate.period_seed([1, 2], t), tf.float64)
      e_next, z_next = econ.next_exogenous(state, shocks)
      u_share = 1 - tf.reduce_mean(tf.cast(e_next, tf.float64), axis=1)
      onehot = tf.one_hot(z_next, 2, dtype=tf.float64)
      unemployed += tf.reduce_sum(onehot * u_share[:, None], axis=0)
      counts += tf.reduce_sum(onehot, axis=0)
      stay += tf.reduce_mean(tf.cast(z_next == state.z, tf.float64))
      state = base.State(state.x, e_next, z_next)
    return unemployed / counts, stay / horizon

  u_rate, persistence = run(state)
  np.testing.assert_allclose(u_rate.numpy(), [0.10, 0.04], atol=2e-3)
  assert abs(persistence.numpy() - 0.875) < 0.01


def _random_state(econ, n_paths, rng):
  k = rng.uniform(0, 120, (n_paths, econ.n_agents, 1))
  z, e = econ.chain.draw_initial(n_paths, econ.n_agents, rng)
  return simulate.as_state(base.State(k, e, z), tf.float64)


def test_budget_identity_and_prices_on_simulated_paths(ks_params):
  """k' + c = R k + (1 - tau) w l_bar eps + mu w (1 - eps) along a simulated path."""
  econ = ks.KrusellSmith(ks_params)
  p = ks_params
  rng = np.random.default_rng(1)
  state = _random_state(econ, 6, rng)
  for t in range(20):
    share = tf.constant(rng.uniform(0.01, 0.99, (6, econ.n_agents, 1)))
    K = econ.aggregates(state)
    shocks = econ.draw_shocks(6, simulate.period_seed([3, 4], t), tf.float64)
    nxt, util = econ.step(state, share, K, shocks)
    k, eps, z = state.x[..., 0].numpy(), state.e.numpy(), state.z.numpy()
    Kn = k.mean(axis=1, keepdims=True)
    Z = np.where(z == 0, 0.99, 1.01)[:, None]
    u = np.where(z == 0, 0.10, 0.04)[:, None]
    L = p.l_bar * (1 - u)
    R = 1 - p.delta + Z * p.alpha * (Kn / L) ** (p.alpha - 1)
    w = Z * (1 - p.alpha) * (Kn / L) ** p.alpha
    tau = p.mu * u / (p.l_bar * (1 - u))
    resources = R * k + (1 - tau) * w * p.l_bar * eps + p.mu * w * (1 - eps)
    c = np.exp(util.numpy())
    np.testing.assert_allclose(nxt.x[..., 0].numpy() + c, resources, rtol=1e-12)
    np.testing.assert_allclose(c / resources, share[..., 0].numpy(), rtol=1e-12)
    assert np.all(nxt.x.numpy() >= 0)
    state = nxt


def test_aggregate_capital_is_mean_of_k(ks_params):
  econ = ks.KrusellSmith(ks_params)
  state = _random_state(econ, 4, np.random.default_rng(2))
  np.testing.assert_allclose(econ.aggregates(state).numpy()[:, 0],
                             state.x.numpy()[..., 0].mean(axis=1), rtol=1e-14)


def test_prices_are_marginal_products(ks_params):
  """R - 1 + delta = dY/dK and w = dY/dL, by automatic differentiation."""
  econ = ks.KrusellSmith(ks_params)
  for z in (0, 1):
    K = tf.constant([[35.0], [40.0], [45.0]], tf.float64)
    L = tf.constant(ks_params.L[z], tf.float64) * tf.ones_like(K)
    zz = tf.fill([3, 1], z)
    with tf.GradientTape(persistent=True) as tape:
      tape.watch([K, L])
      Y = econ.production(K, zz, L)
    R, w = econ.prices(K, zz)
    np.testing.assert_allclose(tape.gradient(Y, K).numpy(), (R - 1 + ks_params.delta).numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(tape.gradient(Y, L).numpy(), w.numpy(), rtol=1e-12)


def test_numpy_and_tensorflow_equations_agree(ks_params):
  """The conventional solver evaluates the same equations on NumPy arrays."""
  econ = ks.KrusellSmith(ks_params)
  K, z = np.array([[33.0], [41.0]]), np.array([[0], [1]])
  k, eps = np.array([[0.0, 10.0, 80.0], [5.0, 40.0, 120.0]]), np.array([[0, 1, 1], [1, 0, 1]])
  np_w = econ.wealth(k, eps, K, z)
  tf_w = econ.wealth(tf.constant(k), tf.constant(eps, tf.float64), tf.constant(K),
                     tf.constant(z))
  np.testing.assert_allclose(np_w, tf_w.numpy(), rtol=1e-15)


def test_simulation_matches_a_numpy_reference_from_the_same_shocks(ks_params):
  """The compiled N-agent simulation equals a step-by-step NumPy re-implementation."""
  econ = ks.KrusellSmith(ks_params)
  econ.n_agents = 20
  rng = np.random.default_rng(5)
  state0 = _random_state(econ, 3, rng)
  share = 0.07
  policy = lambda s, agg: tf.fill(tf.concat([tf.shape(s.e), [1]], 0), tf.constant(share,
                                                                                   tf.float64))
  sim = simulate.Simulator(econ, policy, jit_compile=False)
  path = sim.path(state0, [7, 8], 30)
  k, e, z = state0.x.numpy()[..., 0], state0.e.numpy(), state0.z.numpy()
  cdf_z = np.cumsum(econ.chain.P_z, axis=1)[:, 0]
  cdf_e = np.cumsum(econ.chain.P_e, axis=-1)[..., 0]
  for t in range(30):
    np.testing.assert_allclose(path.aggregates[t, :, 0].numpy(), k.mean(axis=1), rtol=1e-13)
    np.testing.assert_array_equal(path.z[t].numpy(), z)
    shocks = econ.draw_shocks(3, simulate.period_seed([7, 8], t), tf.float64)
    wealth = econ.wealth(k, e, k.mean(axis=1, keepdims=True), z[:, None])
    c = share * wealth
    np.testing.assert_allclose(path.utility[t].numpy(), np.log(c), rtol=1e-12)
    k = wealth - c
    z_next = (shocks.u_z.numpy() > cdf_z[z]).astype(int)
    e = (shocks.u_e.numpy() > cdf_e[z[:, None], z_next[:, None], e]).astype(int)
    z = z_next
  np.testing.assert_allclose(path.state.x.numpy()[..., 0], k, rtol=1e-12)


@pytest.mark.parametrize('field, kwargs', [
    ('economy.beta', dict(beta=1.0)),
    ('economy.beta', dict(beta=-0.1)),
    ('economy.alpha', dict(alpha=1.5)),
    ('economy.n_agents', dict(n_agents=0)),
    ('economy.transition', dict(transition=((0.5, 0.35, 0.03125, 0.09375),) + ks.KS_TRANSITION[1:])),
    ('economy.unemployment', dict(unemployment=(0.1, 1.2))),
])
def test_impossible_calibration_names_the_field(field, kwargs):
  with pytest.raises(errors.ConfigError, match=field.replace('.', r'\.')):
    ks.KSParams(**kwargs)


@pytest.mark.parametrize('field, kwargs', [
    ('ks_method.n_k', dict(n_k=-5)),
    ('ks_method.n_K', dict(n_K=0)),
    ('ks_method.damping', dict(damping=0.0)),
    ('ks_method.simulation', dict(simulation='monte-carlo')),
])
def test_impossible_solver_settings_name_the_field(field, kwargs):
  with pytest.raises(errors.ConfigError, match=field.replace('.', r'\.')):
    krusell_smith.KSMethodParams(**kwargs)


def test_unknown_economy_is_refused():
  with pytest.raises(errors.ConfigError, match='economy.name'):
    economies.make({'name': 'nonexistent'})


def test_euler_error_respects_the_borrowing_constraint(ks_params):
  """c_implied = min(cash, u'^-1(beta E[R' u'(c')])): an agent who would borrow if it could has
  the error k'/c (the share of its cash it saves), one who would save has the plain error."""
  econ = ks.KrusellSmith(dataclasses.replace(ks_params, n_agents=2))
  state = simulate.as_state(base.State(np.array([[[0.0], [30.0]]]), np.array([[0, 1]]),
                                       np.array([1])), tf.float64)
  aggs = econ.aggregates(state)
  action = tf.constant([[[0.8], [0.1]]], tf.float64)
  cash = econ.cash(state, aggs).numpy()[0]
  c = 0.8 * cash[0], 0.1 * cash[1]

  def errors_with_next_consumption(c_next):
    # One outcome, certain: next period's consumption c_next, whatever the state.
    nxt_cash = econ.cash(state, aggs)
    share = tf.constant(np.asarray(c_next)[None, :, None], tf.float64) / nxt_cash[..., None]
    err, ok = econ.euler_errors(state, action, aggs, [(tf.ones([1, 2], tf.float64), state, aggs,
                                                       share)])
    return err.numpy()[0], ok.numpy()[0]

  R = float(econ.gross_return(aggs, state.z).numpy()[0, 0])
  # Next-period consumption so high that both would want to consume more than their cash.
  err, ok = errors_with_next_consumption([1e3, 1e3])
  np.testing.assert_allclose(err, [cash[0] / c[0] - 1, cash[1] / c[1] - 1], rtol=1e-12)
  assert ok.all()
  # Next-period consumption that makes the Euler equation hold exactly at c: no error.
  exact = np.array(c) * econ.beta * R
  err, _ = errors_with_next_consumption(exact)
  np.testing.assert_allclose(err, 0.0, atol=1e-12)
  # Above that, within the cash: the plain unit-free error |1 - c_implied / c|.
  err, _ = errors_with_next_consumption(1.1 * exact)
  np.testing.assert_allclose(err, 0.1, rtol=1e-9)


def test_the_policy_map_puts_the_borrowing_constraint_in_a_min(ks_params):
  """c = min(cash, sigmoid(o) (cash + H)) exactly: an agent whose desired consumption exceeds
  its cash consumes its cash and saves exactly 0, with no gradient; elsewhere consumption rises
  with the output. With H = 0 the output is the share of cash (sigmoid)."""
  econ = ks.KrusellSmith(dataclasses.replace(ks_params, n_agents=6, human_wealth=4.0))
  k = np.array([[[0.0], [0.0], [0.5], [3.0], [40.0], [150.0]]])
  state = simulate.as_state(base.State(k, np.array([[0, 1, 0, 0, 1, 1]]), np.array([1])),
                            tf.float64)
  aggs = econ.aggregates(state)
  cash = econ.cash(state, aggs).numpy()[0]
  for level in (-8.0, -2.0, 0.0, 3.0):
    raw = tf.fill([1, 6, 1], tf.constant(level, tf.float64))
    with tf.GradientTape() as tape:
      tape.watch(raw)
      share = econ.action_from_output(raw, state, aggs)
    c = share.numpy()[0, :, 0] * cash
    s = 1 / (1 + np.exp(-level))
    np.testing.assert_allclose(c, np.minimum(cash, s * (cash + 4.0)), rtol=1e-12)
    bound = s * (cash + 4.0) >= cash
    k_next, _ = econ.transition(state, share, aggs, None)
    np.testing.assert_array_equal(k_next.numpy()[0, bound, 0], 0.0)
    grad = tape.gradient(share, raw).numpy()[0, :, 0]
    assert np.all(grad[bound] == 0) and np.all(grad[~bound] > 0)
  assert not np.all(s * (cash + 4.0) >= cash)  # the last level leaves some agents unconstrained
  plain = ks.KrusellSmith(dataclasses.replace(ks_params, n_agents=6, human_wealth=0.0))
  raw = tf.constant(np.linspace(-5, 5, 6)[None, :, None])
  np.testing.assert_allclose(plain.action_from_output(raw, state, aggs).numpy(),
                             tf.sigmoid(raw).numpy(), rtol=1e-12)


def test_a_negative_human_wealth_is_refused():
  with pytest.raises(errors.ConfigError, match=r'economy\.human_wealth'):
    ks.KSParams(human_wealth=-1.0)
