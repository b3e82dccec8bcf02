"""Brock and Mirman (1972, JET): the closed-form test economy, and the shortest example economy.

N agents, each with its own technology, and no interaction (no prices, no idiosyncratic risk):

    c + k' = z k^alpha     (full depreciation),     u = log c,     z in z_values, Markov.

The optimal policy saves the share alpha * beta of output whatever z is, and the value function
is V(k, z) = A(z) + alpha / (1 - alpha beta) log k, where A solves a linear system in the
aggregate states (`value_intercepts`).
The action is the consumption share of output.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from deepham import errors
from deepham.economies import base
from deepham.economies import markov
from deepham.economies import params


@dataclasses.dataclass(frozen=True)
class BMParams(params.Params):
  n_agents: int = 2
  beta: float = 0.9
  alpha: float = 0.36
  z_values: tuple = (0.95, 1.05)
  z_transition: tuple = ((0.9, 0.1), (0.1, 0.9))
  k_spread: float = 0.5  # initial capital uniform in k_ss * (1 -/+ k_spread)

  def __post_init__(self):
    params.check_agents_and_beta(self)
    params.require(0 < self.alpha < 1, 'alpha', 'lie in (0, 1)', self.alpha)
    params.require(0 <= self.k_spread < 1, 'k_spread', 'lie in [0, 1) (initial capital is '
                   'uniform in k_ss (1 -/+ k_spread))', self.k_spread)
    z = np.asarray(self.z_values)
    markov.check_stochastic(self.z_transition, 'economy.z_transition')
    if np.any(z <= 0) or np.shape(self.z_transition) != (len(z), len(z)):
      raise errors.ConfigError('economy.z_values must be positive, one per row of '
                               'economy.z_transition.')


class BrockMirman(base.Economy):
  """Independent Brock-Mirman agents; action = consumption share of output."""
  action_name = 'consumption share'
  aggregate_names = ('K',)
  state_names = ('k',)

  def __init__(self, params: BMParams):
    self.params = params
    self.n_agents, self.beta = params.n_agents, params.beta
    P_z = np.asarray(params.z_transition)
    self.chain = markov.ExogenousChain.independent(P_z, np.ones((len(P_z), 1, 1)))
    self.action_bounds = (1e-6, 1.0)

  @property
  def k_ss(self) -> float:
    p = self.params
    return (p.alpha * p.beta) ** (1 / (1 - p.alpha))

  def output(self, k, z):
    return base.take(self.params.z_values, z, k) * k ** self.params.alpha

  def initial_state(self, n_paths, rng):
    z, e = self.chain.draw_initial(n_paths, self.n_agents, rng)
    s = self.params.k_spread
    k = self.k_ss * rng.uniform(1 - s, 1 + s, (n_paths, self.n_agents, 1))
    return base.State(x=k, e=e, z=z)

  def aggregates(self, state):
    return tf.reduce_mean(state.x, axis=1)

  def action_from_output(self, raw, state, aggregates):
    del state, aggregates
    return tf.clip_by_value(tf.sigmoid(raw), self.action_bounds[0], 1.0)

  def transition(self, state, action, aggregates, shocks):
    y = self.output(state.x[..., 0], state.z[:, None])
    c = action[..., 0] * y
    return (y - c)[..., None], tf.math.log(c)

  def initial_action(self, state, aggregates):
    return tf.fill(tf.concat([tf.shape(state.e), [1]], 0), tf.constant(0.5, state.x.dtype))

  def agent_features(self, state):
    return state.x

  def exogenous_features(self, state):
    return base.take(self.params.z_values, state.z, state.x)[:, None]

  # --- closed form -------------------------------------------------------------------------------
  def optimal_share(self) -> float:
    """Consumption share of output, 1 - alpha beta."""
    return 1 - self.params.alpha * self.params.beta

  def value_intercepts(self, saving_rate: float | None = None) -> np.ndarray:
    """A(z) with V(k, z) = A(z) + alpha / (1 - alpha beta) log k for the policy that saves
    `saving_rate` of output (default: the optimal alpha beta); solves A = a + beta P A."""
    p = self.params
    s = p.alpha * p.beta if saving_rate is None else saving_rate
    b = p.alpha / (1 - p.alpha * p.beta)
    z = np.asarray(p.z_values)
    # log c = log(1-s) + log z + alpha log k;  log k' = log(s) + log z + alpha log k.
    a = np.log(1 - s) + np.log(z) + p.beta * b * (np.log(s) + np.log(z))
    P = np.asarray(p.z_transition)
    return np.linalg.solve(np.eye(len(z)) - p.beta * P, a)

  def closed_form_value(self, state: base.State, saving_rate: float | None = None) -> tf.Tensor:
    """[B, N] value of saving `saving_rate` of output forever (default: optimal, V*)."""
    p = self.params
    A = base.take(self.value_intercepts(saving_rate), state.z, state.x)[:, None]
    return A + p.alpha / (1 - p.alpha * p.beta) * tf.math.log(state.x[..., 0])
