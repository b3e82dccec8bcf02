"""A new economy in one file: this one, with its equations, its config and its test. It is
registered at run time, solved with tiny settings, validated and loaded with deepham.load, and
nothing else in the repository knows about it.

The economy: Aiyagari (1994) households with two income states and no aggregate risk, N of them
setting the return on capital through their mean wealth K,

    c + k' = R(K) k + w(K) l_e,   k' >= 0,   u = log c,
    R = 1 - delta + alpha K^(alpha - 1),   w = (1 - alpha) K^alpha   (labor supply mean(l) = 1).
"""

import dataclasses

import numpy as np
import tensorflow as tf

import deepham
from configs import base as base_config
from deepham import economies
from deepham import main
from deepham.economies import base
from deepham.economies import markov
from deepham.economies import params


@dataclasses.dataclass(frozen=True)
class TwoStateParams(params.Params):
  n_agents: int = 8
  beta: float = 0.95
  alpha: float = 0.36
  delta: float = 0.1
  labor: tuple = (0.5, 1.5)  # l_e: low and high labor endowment (mean 1)
  persistence: float = 0.9  # P(e' = e)

  def __post_init__(self):
    params.check_agents_and_beta(self)


class TwoStateAiyagari(base.ConsumptionSavings):
  action_name = 'consumption share'
  aggregate_names = ('K',)

  def __init__(self, params: TwoStateParams):
    self.params, self.n_agents, self.beta = params, params.n_agents, params.beta
    q = params.persistence
    self.chain = markov.ExogenousChain.independent(np.ones((1, 1)), [[[q, 1 - q], [1 - q, q]]])
    self.action_bounds = (1e-6, 1.0)

  def prices(self, K):
    p = self.params
    return 1 - p.delta + p.alpha * K ** (p.alpha - 1), (1 - p.alpha) * K ** p.alpha

  def cash(self, state, aggregates):
    R, w = self.prices(aggregates)
    return R * state.x[..., 0] + w * base.take(self.params.labor, state.e, state.x)

  def gross_return(self, aggregates, z):
    return self.prices(aggregates)[0]

  def marginal_utility(self, c):
    return 1 / c

  def inverse_marginal_utility(self, m):
    return 1 / m

  def initial_state(self, n_paths, rng):
    z, e = self.chain.draw_initial(n_paths, self.n_agents, rng)
    p = self.params
    k_rep = (p.alpha / (1 / p.beta - 1 + p.delta)) ** (1 / (1 - p.alpha))
    return base.State(x=np.full((n_paths, self.n_agents, 1), k_rep), e=e, z=z)

  def aggregates(self, state):
    return tf.reduce_mean(state.x, axis=1)

  def transition(self, state, action, aggregates, shocks):
    cash = self.cash(state, aggregates)
    c = action[..., 0] * cash
    return (cash - c)[..., None], tf.math.log(c)

  def initial_action(self, state, aggregates):
    return tf.fill(tf.concat([tf.shape(state.e), [1]], 0), tf.constant(0.3, state.x.dtype))

  def agent_features(self, state):
    return tf.concat([state.x, tf.cast(state.e, state.x.dtype)[..., None]], axis=-1)


def get_config():
  """The economy's config: the declared defaults, this economy, and tiny solver settings."""
  config = base_config.get_config()
  config.economy = dict(name='two_state_aiyagari', n_agents=8, beta=0.95, alpha=0.36,
                        delta=0.1, labor=(0.5, 1.5), persistence=0.9)
  config.init.update(dict(n_paths=16, t_burn=100, imitation_steps=50))
  config.value.update(dict(n_nets=2, horizon=120, window=60, every=20, epochs=3,
                           batch_size=16, final_every=0, final_epochs=0))
  config.policy.update(dict(t_unroll=10, batch_size=16, rounds=2, steps_per_round=6,
                            pool_periods=40, pool_last=20, pool_every=4, explore_share=0.25))
  config.run.update(dict(log_every=3, checkpoint_every=3, validation_periods=20,
                         final_periods=30))
  config.validation.update(dict(n_paths=4, periods=60, burn=10, n_states=5, n_grid=9,
                                n_golden=10))
  return config


def test_a_new_economy_from_one_file_solves_validates_and_loads(tmp_path):
  economies.register('two_state_aiyagari', TwoStateAiyagari, TwoStateParams)
  try:
    workdir = str(tmp_path / 'run')
    summary = main.run(get_config(), workdir)
    # Validation follows from what the economy offers: discrete shocks (Bellman errors), a
    # consumption-savings problem with a floor (Euler errors by wealth), no benchmark.
    assert set(summary['bellman_error']) == {'deepham'}
    assert np.isfinite(summary['bellman_error']['deepham']['optimality_mean'])
    assert summary['euler_by_wealth']['deepham']
    assert 0 < summary['mean_K'] < 100

    solution = deepham.load(workdir)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, (3, 8))
    e = rng.integers(0, 2, (3, 8))
    z = np.zeros(3, np.int64)
    share = solution.policy(x, e, z)[..., 0]
    assert np.all((share > 0) & (share <= 1))
    order = rng.permutation(8)  # the cross-section is a set: relabelling agents relabels actions
    np.testing.assert_allclose(solution.policy(x[:, order], e[:, order], z)[..., 0],
                               share[:, order], rtol=1e-5)
  finally:
    economies.REGISTRY.pop('two_state_aiyagari', None)
