"""A deepham economy as a PettingZoo ParallelEnv: the N agents of one path act at once.

Game mode: agents 'agent_0', ..., 'agent_{N-1}'; agent i observes obs_i (core.py: its own
features, the exogenous features and the fixed moments of the cross-section), acts with
a_i in [-1, 1]^n_actions (core.py: the network output the economy maps to its action) and is
rewarded with its period utility. Planner mode (config.mode == 'planner'): one agent 'planner'
who observes every agent's obs_i, a matrix [N, obs_size] (row i that of agent i: the whole
cross-section, and the common part once per row), sets every agent's action, a matrix
[N, n_actions], and is rewarded with the mean utility. `state()` is the planner's observation
in either mode (for centralised critics).

Nothing ends an episode but its horizon (truncation) or, a safeguard, a state or utility that
is not finite (termination; that period's rewards are the economy's, not finite). Feasible
actions can leave an economy's domain: in KS, if every household consumes all its cash,
capital is zero and prices are not defined.
"""

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from deepham.rl import core


class EconomyParallelEnv(ParallelEnv):
  """One simulated path of an economy as a parallel multi-agent environment (module docstring).

  Args:
    config: a deepham config; its economy, mode, network.n_fixed_moments and dtype are read.
    horizon: periods of an episode (truncation after them).
    burn_in: periods under the economy's initial rule before an episode starts.
    output_scale: network output o = output_scale * action (core.py).
  """
  metadata = {'name': 'deepham_parallel_v0', 'render_modes': []}

  def __init__(self, config, horizon: int = core.HORIZON, burn_in: int = 0,
               output_scale: float = core.OUTPUT_SCALE):
    self.path = core.Path(config, horizon, burn_in, output_scale)
    self.economy = self.path.economy
    self.metadata = dict(self.metadata, name=f'deepham_{config.economy.name}_v0')
    self.render_mode = None
    n, n_a, n_obs = self.path.n_agents, self.economy.n_actions, self.path.obs_size
    matrix_obs = spaces.Box(-np.inf, np.inf, (n, n_obs), np.float32)
    if self.path.planner:
      self.possible_agents = ['planner']
      obs = {'planner': matrix_obs}
      act = {'planner': spaces.Box(-1.0, 1.0, (n, n_a), np.float32)}
    else:
      self.possible_agents = [f'agent_{i}' for i in range(n)]
      obs = {a: spaces.Box(-np.inf, np.inf, (n_obs,), np.float32) for a in self.possible_agents}
      act = {a: spaces.Box(-1.0, 1.0, (n_a,), np.float32) for a in self.possible_agents}
    self.observation_spaces, self.action_spaces = obs, act
    self.state_space = matrix_obs
    self.agents = []
    self._rng = None

  def observation_space(self, agent):
    return self.observation_spaces[agent]

  def action_space(self, agent):
    return self.action_spaces[agent]

  def _observations(self) -> dict:
    obs = self.path.observe()
    if self.path.planner:
      return {'planner': obs}
    return {agent: obs[i] for i, agent in enumerate(self.possible_agents)}

  def state(self) -> np.ndarray:
    """[N, obs_size]: every agent's observation (the planner's)."""
    return self.path.observe()

  def reset(self, seed: int | None = None, options: dict | None = None):
    """A fresh starting cross-section and shock seed; `seed` makes the episode reproducible
    (without it, episodes continue the generator of the last seeded reset)."""
    del options
    if seed is not None or self._rng is None:
      self._rng = np.random.default_rng(seed)
    self.path.reset(self._rng)
    self.agents = list(self.possible_agents)
    return self._observations(), {agent: {} for agent in self.agents}

  def step(self, actions: dict):
    """Every agent's action at once; an agent missing from `actions` (none should be) follows
    the economy's initial rule."""
    path, n_a = self.path, self.economy.n_actions
    if not self.agents:
      raise RuntimeError('step() after the episode ended: call reset().')
    if path.planner:
      a = actions['planner']
    else:
      missing = [agent for agent in self.possible_agents if agent not in actions]
      fill = self.rule_actions() if missing else {}
      a = np.stack([np.asarray(actions[agent] if agent in actions else fill[agent],
                               np.float64).reshape(n_a) for agent in self.possible_agents])
    utility, finite = path.step(path.actions(a))
    if path.planner:
      rewards = {'planner': float(np.mean(utility))}
    else:
      rewards = {agent: float(utility[i]) for i, agent in enumerate(self.possible_agents)}
    obs = self._observations()
    terminated = {agent: not finite for agent in self.agents}
    truncated = {agent: path.truncated for agent in self.agents}
    infos = {agent: {'period': path.t} for agent in self.agents}
    if not finite or path.truncated:
      self.agents = []
    return obs, rewards, terminated, truncated, infos

  def rule_actions(self, policy=None) -> dict:
    """The actions, per agent, that reproduce `policy(state, aggregates) -> [B, N, n_actions]`
    in the economy's units (default: its initial rule; a deepham PolicyNetwork fits) at the
    current state: a baseline, or the other agents' play for a learner."""
    a = self.path.env_actions(self.path.rule(policy))
    if self.path.planner:
      return {'planner': a}
    return {agent: a[i] for i, agent in enumerate(self.possible_agents)}

  def render(self):
    return None

  def close(self):
    pass
