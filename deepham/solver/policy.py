"""The policy network: each agent's action from its own state, the aggregate state and
permutation-invariant summaries (moments) of the cross-section.

The objectives it is trained on are in objectives.py, the Adam step in trainer.py, the L-BFGS
polish in polish.py and the warm start in imitation.py.
"""

import numpy as np
import tensorflow as tf

from deepham.economies import base
from deepham.solver import networks


class PolicyNetwork(tf.Module):
  """action_i = economy.action_from_output(rho(own_i, exo, moments), ...); equivariant in
  agents (within each information type).

  observation_mask [N] (1/0 per agent position, or None): agents with 0 see their own state,
  the exogenous state and the fixed moments, not the generalized moments (an incomplete-
  information exercise; networks.SymmetricNet). Types are by position in every cross-section:
  a state of agents 0..G-1 (a game's optimising agents) takes the mask's first G entries.
  Probe agents placed into a cross-section (`conditional_policy`) are of the informed type.
  """

  def __init__(self, economy: base.Economy, normalizer: networks.Normalizer, net_kwargs: dict,
               rng: np.random.Generator, dtype, name='policy', use_own: bool = True,
               floor: bool = True, observation_mask=None):
    super().__init__(name=name)
    self.economy, self.normalizer = economy, normalizer
    self.floor = floor  # whether it reads the normalizer's floor features (if it has them)
    self.mask = (None if observation_mask is None or not len(observation_mask) else
                 np.asarray(observation_mask, bool))
    self.net = networks.SymmetricNet(normalizer.own_size(floor), normalizer.n_exo,
                                     normalizer.n_dist,
                                     economy.n_actions, rng=rng, dtype=dtype, name='net',
                                     use_own=use_own, partial_information=self.mask is not None,
                                     **net_kwargs)

  def informed(self, agents: int | None) -> tf.Tensor | None:
    """Which of agents 0..agents-1 of a cross-section see the generalized moments [agents]
    (None: all of them; agents=None: probe agents, informed)."""
    if self.mask is None or agents is None:
      return None
    return tf.constant(self.mask[:agents])

  def act(self, state: base.State, moments: tf.Tensor, aggregates: tf.Tensor,
          agents: int | None = None) -> tf.Tensor:
    """Actions of the agents `state` in a cross-section with these moments and aggregates
    (those of `economy.aggregates`; `clear_markets`' prices after them are left out). agents:
    `state` holds agents 0..agents-1 of their cross-sections (their information types); None:
    probe agents (informed)."""
    aggregates = aggregates[:, :len(self.economy.aggregate_names)]
    return self.economy.action_from_output(self.output(state, moments, agents), state,
                                           aggregates)

  def output(self, state: base.State, moments: tf.Tensor, agents: int | None = None) -> tf.Tensor:
    """The network's output [B, N, n_actions] before the economy maps it to actions."""
    n = self.normalizer
    return self.net(n.own(state, self.floor), n.exo(state), moments, self.informed(agents))

  def conditional_policy(self, own: base.State, reference: base.State) -> tf.Tensor:
    """Actions of probe agents `own` [B, G] living in the cross-section `reference` [B, N]."""
    return self.act(own, self.net.moments(self.normalizer.dist(reference)),
                    self.economy.aggregates(reference))

  def __call__(self, state: base.State, aggregates=None, stop_dist_gradient=False) -> tf.Tensor:
    """Action [B, N, n_actions]; the signature of a simulation policy. With
    stop_dist_gradient the actions depend on the parameters and on each agent's own state, not
    on the cross-section through its moments and aggregates (a price taker's)."""
    dist = self.normalizer.dist(state)
    if aggregates is None:
      aggregates = self.economy.aggregates(state)
    if stop_dist_gradient:
      dist, aggregates = tf.stop_gradient(dist), tf.stop_gradient(aggregates)
    return self.act(state, self.net.moments(dist), aggregates, agents=state.x.shape[1])
