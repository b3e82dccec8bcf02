"""A deepham economy as a Gymnasium Env for one learner.

Game mode: the learner is agent 0 of one path; it observes obs_0 (core.py), acts with
a in [-1, 1]^n_actions (core.py: the network output the economy maps to its action) and is
rewarded with its period utility. The other N - 1 agents follow `policy(state, aggregates) ->
[B, N, n_actions]` in the economy's units: the economy's initial rule by default, or any
deepham policy (a trained PolicyNetwork, a conventional solution's policy). Planner mode
(config.mode == 'planner'): the learner is the planner of multi_agent.py: it observes
[N, obs_size], acts with [N, n_actions] and is rewarded with the mean utility.

Episodes end as in multi_agent.py: truncated after the horizon, terminated if the state or the
utilities stop being finite. One path per environment; several paths are Gymnasium's vector
environments of this one (gymnasium.vector.SyncVectorEnv).
"""

import gymnasium as gym
from gymnasium import spaces
import numpy as np
import tensorflow as tf

from deepham.rl import core


class EconomyEnv(gym.Env):
  """One simulated path of an economy with one learner (module docstring).

  Args:
    config: a deepham config; its economy, mode, network.n_fixed_moments and dtype are read.
    policy: the other agents' policy (game mode), `policy(state, aggregates)` in the economy's
      units; None: the economy's initial rule.
    horizon: periods of an episode (truncation after them).
    burn_in: periods under the economy's initial rule before an episode starts.
    output_scale: network output o = output_scale * action (core.py).
  """
  metadata = {'render_modes': []}

  def __init__(self, config, policy=None, horizon: int = core.HORIZON, burn_in: int = 0,
               output_scale: float = core.OUTPUT_SCALE):
    self.path = core.Path(config, horizon, burn_in, output_scale)
    self.economy = self.path.economy
    if policy is not None and self.path.planner:
      raise ValueError('a planner sets every action: there is no policy of the others.')
    self.policy = policy
    n, n_a, n_obs = self.path.n_agents, self.economy.n_actions, self.path.obs_size
    if self.path.planner:
      self.observation_space = spaces.Box(-np.inf, np.inf, (n, n_obs), np.float32)
      self.action_space = spaces.Box(-1.0, 1.0, (n, n_a), np.float32)
    else:
      self.observation_space = spaces.Box(-np.inf, np.inf, (n_obs,), np.float32)
      self.action_space = spaces.Box(-1.0, 1.0, (n_a,), np.float32)
    self.render_mode = None

  def _observation(self) -> np.ndarray:
    obs = self.path.observe()
    return obs if self.path.planner else obs[0]

  def reset(self, *, seed: int | None = None, options: dict | None = None):
    """A fresh starting cross-section and shock seed, from the Env's np_random (seeded by
    `seed`)."""
    super().reset(seed=seed)
    del options
    self.path.reset(self.np_random)
    return self._observation(), {'period': 0}

  def step(self, action):
    path = self.path
    if path.planner:
      act = path.actions(action)
    else:  # agent 0 maps its output in the cross-section; the others play their policy
      others = path.rule(self.policy)
      own = path.actions(action, path.agents(slice(0, 1)))
      act = tf.concat([tf.cast(own, others.dtype), others[:, 1:]], axis=1)
    utility, finite = path.step(act)
    reward = float(np.mean(utility)) if path.planner else float(utility[0])
    return self._observation(), reward, not finite, path.truncated, {'period': path.t}

  def rule_action(self, policy=None) -> np.ndarray:
    """The learner's action that reproduces `policy(state, aggregates)` (in the economy's units;
    default: the economy's initial rule) at the current state: agent 0's, or the planner's
    [N, n_actions]."""
    a = self.path.env_actions(self.path.rule(policy))
    return a if self.path.planner else a[0]
