"""PPO (ppo.py) on an economy's ParallelEnv, model-free: python -m deepham.rl.train_ppo
--config=configs/brock_mirman.py [--steps=50000] [--ppo.learning_rate=1e-3] [--workdir=DIR].

Logs progress with an ETA and writes the history (a row per iteration) to
DIR/ppo_history.csv; an existing file is kept (the command stops before training) unless
--overwrite. For Brock-Mirman the policy's saving rate on grids of states is compared with the
closed form alpha*beta after every iteration and at the end, with the first iteration within
--tolerance: history columns saving_rate_max_error (the largest relative error on a grid over
the range episodes start in, k_ss (1 -/+ k_spread)), saving_rate_max_error_near (on
k_ss (1 -/+ 0.1), where the shocks keep capital) and saving_rate_mean (on the first grid).
Other economies: the history only. Timings in the history are wall-clock times.
"""

import csv
import dataclasses
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')  # hide TensorFlow's start-up chatter

# pylint: disable=g-import-not-at-top,g-bad-import-order
from absl import flags
from absl import logging
import ml_collections
from ml_collections import config_flags
import numpy as np

from deepham import cli
from deepham import errors
from deepham import workdir as workdir_lib
from deepham import rl
from deepham.rl import closed_form
from deepham.rl import core
from deepham.rl import ppo

HISTORY = 'ppo_history.csv'

_CONFIG = cli.define_config_flag('config')
try:  # ml_collections applies --ppo.* overrides here, as the flag is defined
  _PPO = config_flags.DEFINE_config_dict(
      'ppo', ml_collections.ConfigDict(dataclasses.asdict(ppo.Options())),
      'PPO options (deepham/rl/ppo.py: Options), e.g. --ppo.learning_rate=1e-3.')
except Exception as exc:  # pylint: disable=broad-except
  # pylint: disable-next=protected-access
  raise SystemExit('deepham: a --ppo.* override is wrong (deepham/rl/ppo.py: Options has the '
                   f'fields and their types): {cli._one_line(exc)}') from exc
_STEPS = flags.DEFINE_integer('steps', 50_000, 'Environment steps (periods of one path).')
_HORIZON = flags.DEFINE_integer('horizon', core.HORIZON, 'Periods of an episode.')
_BURN_IN = flags.DEFINE_integer('burn_in', 0, "Periods of the economy's initial rule before "
                                'an episode starts.')
_SEED = flags.DEFINE_integer('seed', None, 'Seed; default config.seed.')
_TOLERANCE = flags.DEFINE_float('tolerance', 0.02, 'Brock-Mirman: the report says when the '
                                "saving rate's largest relative error first fell below it.")
_WORKDIR = flags.DEFINE_string('workdir', None, 'Output directory; default runs/<config>_ppo_'
                               '<timestamp>.')
_OVERWRITE = flags.DEFINE_bool('overwrite', False, f'Replace an existing {HISTORY}.')


def _run(config, workdir: str) -> None:
  path = os.path.join(workdir, HISTORY)
  if os.path.exists(path) and not _OVERWRITE.value:
    raise errors.WorkdirError(f'{path} exists; choose another --workdir or pass --overwrite.')
  def make_env():
    return rl.parallel_env(config, _HORIZON.value, _BURN_IN.value)
  probe = make_env()
  economy, n_moments, scale = probe.economy, probe.path.n_moments, probe.path.output_scale
  target = None
  if config.economy.name == 'brock_mirman':
    target = economy.params.alpha * economy.params.beta  # Brock and Mirman (1972)
  evaluate = None
  if target is not None:
    def evaluate(policy):
      rates = [closed_form.saving_rates(policy, economy, n_moments, scale, spread=spread)[1]
               for spread in (None, closed_form.NEAR)]
      worst = [float(np.max(np.abs(s - target)) / target) for s in rates]
      return dict(saving_rate_max_error=worst[0], saving_rate_mean=float(rates[0].mean()),
                  saving_rate_max_error_near=worst[1])
  workdir_lib.ensure_directory(workdir)
  seed = config.seed if _SEED.value is None else _SEED.value
  logging.info('PPO on %s (%s mode, %d agents), %d env steps, horizon %d, seed %d; %s',
               config.economy.name, config.mode, economy.n_agents, _STEPS.value, _HORIZON.value,
               seed, path)
  policy, history = ppo.train(make_env, _PPO.value, _STEPS.value, seed, evaluate)
  with open(path, 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=list(history[0]))
    writer.writeheader()
    writer.writerows(history)
  last = history[-1]
  logging.info('done: %d env steps in %.0f s; last return per agent %.5g (discounted %.5g), '
               'action std %.3g', last['env_steps'], last['elapsed_seconds'],
               last['episode_return'], last['discounted_return'], last['std'])
  if target is None:
    logging.info('%s has no closed-form policy to compare with; history in %s',
                 config.economy.name, path)
    return
  _report(policy, history, economy, n_moments, scale, target)
  logging.info('history in %s', path)


def _report(policy, history: list[dict], economy, n_moments: int, scale: float,
            target: float) -> None:
  """Brock-Mirman: the final saving rates on the grid, and when the largest error on each grid
  fell within --tolerance."""
  last = history[-1]
  k, s = closed_form.saving_rates(policy, economy, n_moments, scale)
  for iz, z in enumerate(economy.params.z_values):
    logging.info('z = %.3g: saving rate %s at k/k_ss %s (alpha*beta = %.4f)', z,
                 np.array2string(s[iz], precision=4), np.array2string(k / economy.k_ss,
                                                                      precision=2), target)
  logging.info('saving rate: largest relative error %.3g%%, mean %.4f vs alpha*beta %.4f',
               100 * last['saving_rate_max_error'], last['saving_rate_mean'], target)
  logging.info('k_ss (1 -/+ %g): largest relative error %.3g%%', closed_form.NEAR,
               100 * last['saving_rate_max_error_near'])
  for column, grid in (('saving_rate_max_error', f'k_ss (1 -/+ {k[-1] / economy.k_ss - 1:.2g})'),
                       ('saving_rate_max_error_near', f'k_ss (1 -/+ {closed_form.NEAR})')):
    within = [r[column] <= _TOLERANCE.value for r in history]
    if not any(within):
      logging.info('%s: never within %.3g%% of alpha*beta', grid, 100 * _TOLERANCE.value)
      continue
    # The policy's noise moves the error from iteration to iteration: first and lasting entry.
    hit = history[within.index(True)]
    stays = next((history[i] for i in range(len(history)) if all(within[i:])), None)
    logging.info('%s: within %.3g%% of alpha*beta in %d of %d iterations; first at iteration '
                 '%d (%d env steps, %.0f s); %s', grid, 100 * _TOLERANCE.value, sum(within),
                 len(history), hit['iteration'], hit['env_steps'], hit['elapsed_seconds'],
                 'not at the end' if stays is None else
                 f"within from iteration {stays['iteration']} on ({stays['env_steps']} env "
                 f"steps, {stays['elapsed_seconds']:.0f} s)")


def main(argv):
  if len(argv) > 1:
    raise SystemExit(f'deepham: unexpected arguments {argv[1:]}; every option is a --flag.')
  name = os.path.splitext(config_flags.get_config_filename(flags.FLAGS['config']))[0]
  workdir = _WORKDIR.value or workdir_lib.default_workdir(f'{name}_ppo')
  cli.run_guarded(lambda: _run(_CONFIG.value, workdir), workdir)


if __name__ == '__main__':
  cli.main(main)
