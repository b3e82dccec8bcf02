"""deepham.rl: every registered economy as a PettingZoo and a Gymnasium environment. The API
checkers of both libraries, and economics: rewards are the economy's utilities, the initial
rule played through an environment is deepham's own simulation, and the observation is
equivariant in the agents."""

import warnings

import numpy as np
import pytest
import tensorflow as tf

pytest.importorskip('gymnasium')
pytest.importorskip('pettingzoo')

# pylint: disable=g-import-not-at-top,g-bad-import-order
from gymnasium.utils import env_checker
from pettingzoo import test as pz_test

from configs import brock_mirman, covarrubias, davila, investment_lq, jfv, ks_game
from deepham import economies
from deepham import rl
from deepham.economies import base
from deepham.solver import simulate

# The config of each registered economy and its variant for tests (a new economy adds its line).
CONFIGS = {'ks': (ks_game, 'tiny'), 'davila': (davila, 'tiny'),
           'covarrubias': (covarrubias, 'tiny'), 'investment': (investment_lq, 'tiny'),
           'brock_mirman': (brock_mirman, None), 'fvhn': (jfv, 'tiny')}
MODES = ('game', 'planner')  # every economy's config takes both
CASES = [(name, mode) for name in sorted(CONFIGS) for mode in MODES]
# What the checkers may say of every environment here: observations are unbounded, and an Env
# made without gymnasium.make has no spec to test render modes with.
EXPECTED_WARNINGS = ('observation space minimum value is -infinity',
                     'observation space maximum value is infinity',
                     'Not able to test alternative render modes')


def _config(name, mode):
  module, variant = CONFIGS[name]
  config = module.get_config(variant)
  config.mode = mode
  return config


def _unexpected(caught):
  return [str(w.message) for w in caught
          if not any(text in str(w.message) for text in EXPECTED_WARNINGS)]


def test_every_registered_economy_is_tested():
  assert set(CONFIGS) == set(economies.REGISTRY)


@pytest.mark.parametrize('name,mode', CASES)
def test_api_checkers_pass(name, mode):
  config = _config(name, mode)
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    env = rl.parallel_env(config, horizon=4)
    pz_test.parallel_api_test(env, num_cycles=6)  # two episodes, each to its truncation
    pz_test.parallel_seed_test(lambda: rl.parallel_env(config, horizon=4), num_cycles=6)
    env_checker.check_env(rl.gym_env(config, horizon=4))
  assert not _unexpected(caught)
  obs, _ = env.reset(seed=3)
  for agent in env.agents:
    assert env.observation_space(agent).contains(obs[agent])
  if mode == 'planner':
    assert env.possible_agents == ['planner']
    assert env.action_space('planner').shape == (env.economy.n_agents, env.economy.n_actions)
  else:
    assert len(env.possible_agents) == env.economy.n_agents


def _replay(econ, start, seed, actions, output_scale):
  """Utilities [T, N] of `economy.step` fed the environment's actions [T, N, n_actions] and the
  shocks of periods 0..T-1 of `seed`, from `start`."""
  state, out = start, []
  for t, a in enumerate(actions):
    aggregates = econ.aggregates(state)
    raw = tf.constant(output_scale * np.clip(a, -1, 1)[None], state.x.dtype)
    action = econ.action_from_output(raw, state, aggregates)
    aggregates = econ.clear_markets(state, action, aggregates)
    shocks = econ.draw_shocks(1, simulate.period_seed(seed, t), state.x.dtype)
    state, u = econ.step(state, action, aggregates, shocks)
    out.append(u[0].numpy())
  return np.array(out), state


@pytest.mark.parametrize('name,mode', CASES)
def test_rewards_are_the_economys_utilities(name, mode):
  env = rl.parallel_env(_config(name, mode), horizon=6)
  env.reset(seed=7)
  for agent in env.possible_agents:
    env.action_space(agent).seed(11)
  actions, rewards = [], []
  while env.agents:
    act = {agent: env.action_space(agent).sample() for agent in env.agents}
    _, rew, term, _, _ = env.step(act)
    actions.append(np.stack([act[a] for a in env.possible_agents]).reshape(
        env.economy.n_agents, env.economy.n_actions))
    rewards.append([rew[a] for a in env.possible_agents])
  utility, state = _replay(env.economy, env.path.start_state, env.path.shock_seed, actions,
                           env.path.output_scale)
  expected = utility.mean(axis=1, keepdims=True) if mode == 'planner' else utility
  np.testing.assert_allclose(np.array(rewards), expected, rtol=1e-6, atol=1e-7)
  np.testing.assert_allclose(env.path.state.x.numpy(), state.x.numpy(), rtol=1e-6)
  # Random play may leave an economy's domain (KS: everyone consumes all cash, K = 0, and
  # prices are NaN): then the episode ends there, terminated.
  assert len(rewards) == 6 or (all(term.values()) and not np.all(np.isfinite(rewards[-1])))


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_initial_rule_through_the_envs_is_deepham_simulation(name):
  """The economy's initial rule, played through each environment by its actions in the
  environment's units (an inverted output map), gives the cross-sections and utilities of
  deepham's simulator from the same start and shock seed."""
  periods = 5
  config = _config(name, 'game')
  penv, genv = rl.parallel_env(config, horizon=periods), rl.gym_env(config, horizon=periods)
  penv.reset(seed=5)
  genv.reset(seed=5)
  econ = penv.economy
  # Actions are float32 (the spaces'): float64 economies agree to float32's resolution of a.
  tol = dict(rtol=2e-5, atol=1e-6) if config.dtype == 'float32' else dict(rtol=1e-7, atol=5e-8)
  # Period by period with `advance` (Simulator.path keeps no shape invariant for one path).
  sim = simulate.Simulator(econ, econ.initial_action, jit_compile=False)
  sim_x, sim_u, state = [], [], penv.path.start_state
  for t in range(periods):
    sim_x.append(state.x.numpy()[0])
    chunk = sim.advance(state, penv.path.shock_seed, 1, t0=t)
    state = chunk.state
    sim_u.append(chunk.discounted_utility.numpy()[0])
  np.testing.assert_array_equal(genv.path.start_state.x.numpy(), penv.path.start_state.x.numpy())
  xs, rewards, gym_x, gym_rewards = [], [], [], []
  for _ in range(periods):
    xs.append(penv.path.state.x.numpy()[0])
    gym_x.append(genv.path.state.x.numpy()[0])
    _, rew, _, trunc, _ = penv.step(penv.rule_actions())
    rewards.append([rew[a] for a in penv.possible_agents])
    _, reward, terminated, truncated, _ = genv.step(genv.rule_action())
    gym_rewards.append(reward)
    assert not terminated
  assert truncated and all(trunc.values()) and not penv.agents
  np.testing.assert_allclose(np.array(xs), np.array(sim_x), **tol)
  np.testing.assert_allclose(np.array(gym_x), np.array(sim_x), **tol)
  np.testing.assert_allclose(penv.path.state.x.numpy(), state.x.numpy(), **tol)
  np.testing.assert_array_equal(penv.path.state.e.numpy(), state.e.numpy())
  np.testing.assert_allclose(np.array(rewards), np.array(sim_u), **tol)
  np.testing.assert_allclose(gym_rewards, np.array(sim_u)[:, 0], **tol)

def test_episode_starts_as_the_solver_does():
  """A start is the economy's initial_state, then burn_in periods of its initial rule in
  deepham's simulator; the seed of reset fixes both."""
  config = _config('ks', 'game')
  env = rl.parallel_env(config, horizon=3, burn_in=4)
  env.reset(seed=9)
  econ = env.economy
  rng = np.random.default_rng(9)
  start = simulate.as_state(econ.initial_state(1, rng), tf.float32)
  burn_seed, shock_seed = rng.integers(0, 2**62, size=(2, 2))
  burned = simulate.Simulator(econ, econ.initial_action, jit_compile=False).advance(
      start, tf.constant(burn_seed, tf.int64), 4).state
  np.testing.assert_allclose(env.path.start_state.x.numpy(), burned.x.numpy(), rtol=1e-6)
  np.testing.assert_array_equal(env.path.shock_seed.numpy(), shock_seed)
  assert not np.allclose(burned.x.numpy(), start.x.numpy())


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_relabelling_agents_permutes_observations(name):
  env = rl.parallel_env(_config(name, 'game'), horizon=10)
  env.reset(seed=2)
  for _ in range(3):  # away from a symmetric start
    env.step({agent: env.action_space(agent).sample() for agent in env.agents})
  state = env.path.state
  perm = np.random.default_rng(0).permutation(env.economy.n_agents)
  obs = env.state()
  env.path.state = base.State(tf.gather(state.x, perm, axis=1), tf.gather(state.e, perm, axis=1),
                              state.z)
  np.testing.assert_allclose(env.state(), obs[perm], rtol=1e-6)
  moved = env._observations()  # pylint: disable=protected-access
  for i, j in enumerate(perm):
    np.testing.assert_allclose(moved[f'agent_{i}'], obs[j], rtol=1e-6)
