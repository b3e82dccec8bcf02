"""Every registered economy as a standard reinforcement-learning environment.

  env = deepham.rl.parallel_env(config)  # PettingZoo ParallelEnv: the N agents of one path
  env = deepham.rl.gym_env(config)       # Gymnasium Env: agent 0 (the others follow a policy)

With config.mode == 'planner' both have one agent, the planner, who sets every action. What an
agent observes and how its action maps to the economy's (the network's output space, mapped by
the economy's `action_from_output`) is in core.py; the environments in multi_agent.py and
single_agent.py. Needs the `rl` extra: pip install -e '.[rl]'.

A model-free learner on these environments, PPO with parameter sharing across agents: ppo.py
(`ppo.train`), and on the command line python -m deepham.rl.train_ppo --config=....
"""

try:
  import gymnasium  # pylint: disable=unused-import
  import pettingzoo  # pylint: disable=unused-import
except ImportError as exc:  # an optional dependency: say how to get it
  raise ImportError(f'deepham.rl needs gymnasium and pettingzoo ({exc}); install them with '
                    "pip install -e '.[rl]'.") from exc

# pylint: disable=g-import-not-at-top
from deepham.rl.core import HORIZON, OUTPUT_SCALE, env_actions, observations
from deepham.rl.multi_agent import EconomyParallelEnv
from deepham.rl.single_agent import EconomyEnv


def parallel_env(config, horizon: int = HORIZON, burn_in: int = 0,
                 output_scale: float = OUTPUT_SCALE) -> EconomyParallelEnv:
  """A PettingZoo ParallelEnv of `config`'s economy (multi_agent.py); episodes of `horizon`
  periods from a starting cross-section drawn as deepham's is, after `burn_in` periods of the
  economy's initial rule."""
  return EconomyParallelEnv(config, horizon, burn_in, output_scale)


def gym_env(config, policy=None, horizon: int = HORIZON, burn_in: int = 0,
            output_scale: float = OUTPUT_SCALE) -> EconomyEnv:
  """A Gymnasium Env of `config`'s economy for one learner (single_agent.py): agent 0, the
  others following `policy(state, aggregates)` (default: the economy's initial rule), or the
  planner in planner mode."""
  return EconomyEnv(config, policy, horizon, burn_in, output_scale)
