"""The contract every registered economy keeps with the solver: it builds from its shipped
config, simulates, keeps its states finite and feasible, and each capability it declares
(economies/base.py, "optional capabilities") works."""

import numpy as np
import pytest
import tensorflow as tf

from configs import brock_mirman, covarrubias, davila, investment_lq, jfv, ks_game
from deepham import economies
from deepham import validation
from deepham.economies import base
from deepham.solver import simulate

# The shipped config of each registered economy and its field for the number of agents (a new
# economy adds its line here).
CONFIGS = {'ks': (ks_game, 'n_agents'), 'brock_mirman': (brock_mirman, 'n_agents'),
           'investment': (investment_lq, 'n_agents'), 'davila': (davila, 'n_agents'),
           'covarrubias': (covarrubias, 'n_households'), 'fvhn': (jfv, 'n_agents')}


def test_every_registered_economy_has_a_config_here():
  assert set(CONFIGS) == set(economies.REGISTRY)


def _initial_rule(econ):
  def rule(state, aggregates=None):
    return econ.initial_action(state, econ.aggregates(state) if aggregates is None else aggregates)
  return rule


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_economy_keeps_its_contract(name):
  module, size = CONFIGS[name]
  config = module.get_config()
  config.economy[size] = 6
  econ = economies.make(config.economy)
  assert economies.name_of(econ) == name
  start = simulate.as_state(econ.initial_state(5, np.random.default_rng(0)), tf.float64)
  rule = _initial_rule(econ)
  periods = 40
  path = simulate.Simulator(econ, rule, jit_compile=False).path(
      start, tf.constant([0, 1], tf.int64), periods, keep_states=True)
  x = path.states.x.numpy()
  assert x.shape == (periods, 5, 6, econ.n_x) and np.all(np.isfinite(x))
  assert np.all(np.isfinite(path.utility.numpy()))
  assert path.aggregates.shape[-1] == len(econ.aggregate_names)
  if econ.sets_prices:  # the prices come after the state's aggregates
    last = base.State(*[f[-1] for f in path.states])
    cleared = econ.clear_markets(last, rule(last), econ.aggregates(last)).numpy()
    np.testing.assert_allclose(cleared[:, :len(econ.aggregate_names)],
                               econ.aggregates(last).numpy())
    assert np.all(np.isfinite(cleared))
  if econ.state_floor is not None:
    assert np.all(x >= np.asarray(econ.state_floor) - 1e-9)
  low, high = econ.action_bounds
  last = base.State(*[f[-1] for f in path.states])
  for level in np.linspace(-30, 30, 13):  # any output, at the states the path reached
    raw = tf.fill(tf.concat([tf.shape(last.e), [econ.n_actions]], 0),
                  tf.constant(level, tf.float64))
    action = econ.action_from_output(raw, last, econ.aggregates(last)).numpy()
    assert np.all((action >= low - 1e-12) & (action <= high + 1e-12))

  stats = validation.path_statistics(econ, path, burn=10)
  headline = econ.headline(stats)
  assert all(np.isscalar(v) for v in headline.values())
  states = base.State(*[tf.reshape(f[-1], tf.concat([[-1], tf.shape(f)[2:]], 0))
                        for f in path.states])
  if econ.has_euler_residual:
    nodes, weights = econ.aggregate_quadrature(3)
    assert nodes.shape == (len(weights), econ.n_aggregate_noise)
    assert np.isclose(weights.sum(), 1.0)
    res = validation.euler_residuals(econ, rule, states, 2, 3)
    assert res.shape[:2] == (5, 6) and np.all(np.isfinite(res))
  else:
    with pytest.raises(NotImplementedError):
      econ.euler_residual(states, rule(states), [])
  reference = econ.reference_policy()
  if reference is not None:
    a = reference(states).numpy()
    assert a.shape == (5, 6, econ.n_actions) and np.all(np.isfinite(a))
  if isinstance(econ, base.ConsumptionSavings):  # consumption never exceeds cash on hand
    aggs = econ.aggregates(states)
    c = econ.consumption(states, rule(states), aggs).numpy()
    assert np.all((c > 0) & (c <= econ.cash(states, aggs).numpy() + 1e-9))
