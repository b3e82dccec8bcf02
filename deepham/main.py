"""The programs `run.py` starts, chosen by `config.method`."""

import os
import time
from typing import Callable, NamedTuple

from absl import logging
import ml_collections
import tensorflow as tf

from deepham import errors
from deepham import workdir as workdir_lib

ACTIONS = ('solve', 'validate')


class Program(NamedTuple):
  check: Callable  # config -> None; raises ConfigError naming the first impossible field
  run: Callable  # (config, workdir, action) -> summary dict
  # config -> whether this process owns the workdir (False: a helper of a solve that another
  # process owns, which writes nothing there)
  owns_workdir: Callable = lambda config: True
  # config -> None: what must precede TensorFlow's start (devices, a multi-worker cluster)
  start: Callable = lambda config: None


def _conventional(method: str, filename: str, parts: Callable, after=None) -> Program:
  """The program of a conventional solver. parts(config) -> (economy params, method params,
  solve(economy params, method params) -> solution, load(path) -> solution), building (and so
  checking) the parameters; the solution is saved as `filename` in the workdir (action
  'validate' loads it instead), its summary goes to summary.json, then after(solution, workdir)
  runs if given."""
  def run(config, workdir: str, action: str) -> dict:
    econ_params, method_params, solve, load = parts(config)
    path = os.path.join(workdir, filename)
    if action == 'validate':
      sol = load(path)
    else:
      sol = solve(econ_params, method_params)
      sol.save(path)
    summary = workdir_lib.update_summary(workdir, dict(method=method, **sol.summary()))
    if after is not None:
      after(sol, workdir)
    return summary
  return Program(parts, run)


def _krusell_smith_parts(config):
  from deepham.conventional import krusell_smith  # pylint: disable=g-import-not-at-top
  from deepham.conventional import ks_solution  # pylint: disable=g-import-not-at-top
  from deepham.economies import ks  # pylint: disable=g-import-not-at-top
  return (ks.KSParams.from_config(config.economy),
          krusell_smith.KSMethodParams.from_config(config.ks_method), krusell_smith.solve,
          ks_solution.KSSolution.load)


def _aiyagari_parts(config):
  """The stationary equilibrium of the Davila et al. market economy."""
  from deepham.conventional import aiyagari  # pylint: disable=g-import-not-at-top
  from deepham.economies import davila  # pylint: disable=g-import-not-at-top
  return (davila.DavilaParams.from_config(config.economy),
          aiyagari.AiyagariMethodParams.from_config(config.aiyagari), aiyagari.solve,
          aiyagari.AiyagariSolution.load)


def _jfv_parts(config):
  """The financial-frictions economy's conventional solution (KS-type with aggregate shocks,
  stationary without)."""
  from deepham.conventional import fvhn_ks  # pylint: disable=g-import-not-at-top
  from deepham.economies import fvhn  # pylint: disable=g-import-not-at-top
  return (fvhn.FVHNParams.from_config(config.economy),
          fvhn_ks.Options.from_config(config.jfv_method), fvhn_ks.solve, fvhn_ks.load)


def _ks_figures(sol, workdir: str) -> None:
  from deepham import figures  # pylint: disable=g-import-not-at-top
  figures.ks_solution_figures(sol, os.path.join(workdir, 'figures'))


def _check_deepham(config) -> None:
  from deepham import economies  # pylint: disable=g-import-not-at-top
  from deepham.solver import config_checks  # pylint: disable=g-import-not-at-top
  config_checks.check(config)
  config_checks.check(config, economies.make(config.economy))


def _deepham(config, workdir: str, action: str) -> dict:
  """DeepHAM: train (resuming from the last checkpoint), then validate."""
  from deepham import train  # pylint: disable=g-import-not-at-top
  return train.run(config, workdir, action)


def _start_deepham(config) -> None:
  """Makes run.strategy's tf.distribute strategy: logical devices and a cluster's collective ops
  must be set up before TensorFlow runs anything."""
  from deepham.solver import config_checks  # pylint: disable=g-import-not-at-top
  from deepham.solver import distribute  # pylint: disable=g-import-not-at-top
  config_checks.check(config)
  distribute.make(config.run.strategy, config.run.logical_cpus)


def _deepham_owns_workdir(config) -> bool:
  """All but the non-chief workers of a run.strategy='multi_worker' solve."""
  from deepham.solver import distribute  # pylint: disable=g-import-not-at-top
  return distribute.is_chief(config.run.strategy)


# The programs run.py starts, by config.method: a new program is a function pair and a line here.
PROGRAMS = {
    'deepham': Program(_check_deepham, _deepham, _deepham_owns_workdir, _start_deepham),
    'krusell_smith': _conventional('krusell_smith', 'ks_solution.npz', _krusell_smith_parts,
                                   after=_ks_figures),
    'aiyagari': _conventional('aiyagari', 'aiyagari_solution.npz', _aiyagari_parts),
    'jfv_benchmark': _conventional('jfv_benchmark', 'jfv_solution.npz', _jfv_parts),
}
METHODS = tuple(PROGRAMS)


def check(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError, naming the field, for any impossible value of `config`."""
  PROGRAMS[config.method].check(config)


def run(config: ml_collections.ConfigDict, workdir: str, action: str = 'solve',
        overwrite: bool = False) -> dict:
  """Runs `config.method` in `workdir`; returns the summary it wrote to summary.json."""
  method = config.method if 'method' in config else None
  if method not in METHODS:
    raise errors.ConfigError(f"method must be one of {list(METHODS)}; got '{method}'.")
  if action not in ACTIONS:
    raise errors.ConfigError(f'action must be one of {list(ACTIONS)}; got {action!r}.')
  program = PROGRAMS[config.method]
  program.start(config)
  check(config)  # before anything is written
  if not program.owns_workdir(config):  # it reads the owner's checkpoints, writes nothing
    logging.info('deepham %s: a worker of the solve in %s (its chief writes there)',
                 config.method, workdir)
    return program.run(config, workdir, action)
  if action == 'validate':
    workdir_lib.check_same_run(workdir, config)
  else:
    workdir_lib.ensure_directory(workdir)
  with workdir_lib.Lock(workdir):
    if action == 'solve':
      workdir_lib.prepare(workdir, config, overwrite=overwrite)
    with workdir_lib.log_file(workdir):
      logging.info('deepham %s (%s) in %s; TensorFlow %s on %s', config.method, action,
                   workdir, tf.__version__, [d.name for d in tf.config.list_logical_devices()])
      start = time.time()
      summary = program.run(config, workdir, action)
      logging.info('finished in %.1f s; summary in %s', time.time() - start,
                   os.path.join(workdir, 'summary.json'))
  return summary
