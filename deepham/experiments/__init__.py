"""Experiments on a solved economy: impulse responses and distribution experiments.

    table = deepham.experiments.irf('runs/ks_game_...', shock='z=1->0', horizon=40)
    table = deepham.experiments.redistribute('runs/ks_game_...', 'rich_to_poor=0.5')
    python -m deepham.experiments irf --workdir=DIR [--shock=z=1->0] [--horizon=40]
    python -m deepham.experiments redistribute --workdir=DIR --transform=rich_to_poor=0.5

Each runs every method of the run's validation on the same draws (DeepHAM, the conventional
benchmark where the economy has one, the economy's reference policy where it has one), each from
its own ergodic distribution, and returns a tidy DataFrame (variable, horizon, mean, lower,
upper, baseline, method: responses.py); `accuracy(table)` gives the accuracy of each method on
the states along its shocked paths (kept in `table.attrs['accuracy']` as plain columns, so that
tables can be concatenated: pandas compares the attrs of what it concatenates). With save=True
the tables go to WORKDIR/experiments/ as CSV, with a figure (PNG and PDF).
"""

import os

from absl import logging
import numpy as np
import pandas as pd
import tensorflow as tf

from deepham import errors
from deepham.economies import base
from deepham.experiments import plots
from deepham.experiments import responses as responses_lib
from deepham.experiments import transforms as transforms_lib
from deepham.solver import probes
from deepham.validation import bellman as bellman_lib
from deepham.validation import euler as euler_lib
from deepham.validation import methods as methods_lib

# Horizons at which the accuracy along the shocked paths is measured (those below the horizon).
ACCURACY_HORIZONS = (0, 1, 2, 4, 8, 16, 32, 64)
# Cross-sections per horizon whose every agent enters the Bellman errors along the paths (the
# maximisation over the action costs far more than an Euler error).
BELLMAN_SECTIONS = 32


def irf(workdir: str, shock: str | None = None, horizon: int = 40, n_states: int = 1000,
        seed: int = 0, save: bool = True, overwrite: bool = False,
        states_from: str | None = None) -> pd.DataFrame:
  """Generalized impulse responses to `shock` (responses.parse_shock: None, the economy's
  default aggregate shock; 'z=I->J'; 'noise=V'; 'zero') of the run in `workdir`.

  Each method starts from cross-sections of its own ergodic distribution; with `states_from`
  (a method's key: 'deepham', 'ks', ...) every method starts from that method's, so that the
  methods' responses differ by their policies alone and not by where their distributions put
  the households."""
  solution = _load(workdir)
  impulse = responses_lib.parse_shock(solution.economy, shock)
  return _experiment(solution, workdir, impulse, 'irf', horizon, n_states, seed, save,
                     overwrite, states_from)


def redistribute(workdir: str, transform, horizon: int = 40, n_states: int = 1000,
                 seed: int = 0, save: bool = True, overwrite: bool = False,
                 name: str | None = None, states_from: str | None = None) -> pd.DataFrame:
  """Responses to an unanticipated change of the cross-section at t = 0: `transform` is a
  shipped one by name (transforms.parse: 'rich_to_poor=S', 'transfer=V', 'destroy=S') or any
  function State -> State (then `name` labels its files); `states_from` as for `irf`."""
  solution = _load(workdir)
  if callable(transform):
    label = name or getattr(transform, '__name__', 'transform')
  else:
    label, transform = transforms_lib.parse(transform)
  impulse = responses_lib.Impulse(label, state=transform)
  return _experiment(solution, workdir, impulse, 'redistribute', horizon, n_states, seed, save,
                     overwrite, states_from)


def _load(workdir: str):
  from deepham import solution as solution_lib  # pylint: disable=g-import-not-at-top
  if not os.path.isdir(workdir):
    raise errors.WorkdirError(f'workdir {workdir!r} does not exist.')
  return solution_lib.load(workdir)


def methods_of(view) -> list[methods_lib.Method]:
  """The methods of a run's validation, and the economy's reference policy if it has one;
  DeepHAM without a value where the run trained none (the Euler objective)."""
  methods = methods_lib.methods_for(view)
  if view.config.policy.objective != 'utility':  # its value networks were never fitted
    methods = [m._replace(value=None) if m.key == 'deepham' else m for m in methods]
  reference = view.economy.reference_policy()
  if reference is not None:
    methods.append(methods_lib.Method('reference', 'reference policy',
                                      lambda state, aggregates=None: reference(state), None,
                                      None))
  return methods


def _experiment(solution, workdir, impulse, kind, horizon, n_states, seed, save, overwrite,
                states_from=None):
  for arg, value in (('horizon', horizon), ('n_states', n_states)):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
      raise errors.ConfigError(f'{arg} must be a positive integer; got {value!r}.')
  view = solution.view
  econ = view.economy
  methods = methods_of(view)
  keys = [m.key for m in methods]
  if states_from is not None and states_from not in keys:
    raise errors.ConfigError(f'states_from must be one of {keys} (the methods of this run), '
                             f'or None; got {states_from!r}.')
  out_dir = os.path.join(workdir, 'experiments')
  tag = _file_tag(kind, impulse.name, horizon, n_states, seed)
  if states_from is not None:
    tag += f'_from_{states_from}'
  files = [os.path.join(out_dir, f'{tag}{suffix}') for suffix in
           ('.csv', '_accuracy.csv', '.png', '.pdf')]
  if save and not overwrite:
    existing = [f for f in files if os.path.exists(f)]
    if existing:
      raise errors.WorkdirError(f'{existing[0]} exists; pass overwrite=True (--overwrite) to '
                                'replace it, or another seed, horizon or number of states.')
  starts = {}
  for m in methods:
    if states_from is not None and m.key != states_from:
      continue
    logging.info('%s: %d cross-sections from the ergodic distribution of %s', kind, n_states,
                 m.label)
    starts[m.key] = responses_lib.ergodic_states(econ, m.policy, view.distribution, n_states,
                                                 seed, impulse.condition,
                                                 jit=view.config.run.jit)
    if impulse.state is not None:
      transforms_lib.check(econ, starts[m.key], impulse.state(starts[m.key]))
  if states_from is not None:
    starts = {m.key: starts[states_from] for m in methods}
  table, paths = responses_lib.responses(econ, methods, starts, impulse, horizon, seed,
                                         keep_paths=True)
  accuracy = path_accuracy(econ, methods, paths, horizon)
  table.attrs['accuracy'] = accuracy.to_dict('list')
  table.attrs['impulse'] = impulse.name
  if save:
    os.makedirs(out_dir, exist_ok=True)
    table.to_csv(files[0], index=False)
    accuracy.to_csv(files[1], index=False)
    plots.responses_figure(table, econ, f'{kind}: {impulse.name}', files[2:])
    logging.info('%s: wrote %s', kind, ', '.join(files))
  return table


def accuracy(table: pd.DataFrame) -> pd.DataFrame:
  """The accuracy along the shocked paths of an experiment's table (`path_accuracy`)."""
  return pd.DataFrame(table.attrs['accuracy'])


def _file_tag(kind, name, horizon, n_states, seed) -> str:
  safe = ''.join(ch if ch.isalnum() or ch in '._=' else '_' for ch in name.replace('->', 'to'))
  return f'{kind}_{safe}_h{horizon}_n{n_states}_s{seed}'


def path_accuracy(economy: base.Economy, methods, paths: dict, horizon: int) -> pd.DataFrame:
  """The accuracy of each method on the states of its shocked paths, at ACCURACY_HORIZONS below
  `horizon`: Euler errors (log10 mean and max over unconstrained households) where the economy
  defines them; Bellman errors (value units: optimality mean and 99th percentile, expectation
  mean) at every agent of the first BELLMAN_SECTIONS cross-sections where validation measures
  the economy by them and the method has a value; and den Haan's statistic (mean and max over
  paths of 100 |ln K_forecast - ln K|, the aggregate path the method's agents expect against
  the simulated one) where the method has a law of motion."""
  rows = {}
  horizons = [h for h in ACCURACY_HORIZONS if h < horizon]
  gather = lambda states, sections: base.State(*[
      tf.reshape(tf.gather(f, horizons)[:, :sections], tf.concat([[-1], tf.shape(f)[2:]], 0))
      for f in states])  # those cross-sections of every horizon, one batch
  bellman_measured = (not economy.has_euler_residual
                      and probes.has_expectation_nodes(economy))
  for m in methods:
    if m.key not in paths:
      continue
    p = paths[m.key]
    states = p.shocked_states
    S = int(states.z.shape[1])
    if economy.has_euler_errors and m.conditional_policy is not None:
      err = euler_lib.euler_errors_of(economy, m, gather(states, S))
      for i, t in enumerate(horizons):
        summary = euler_lib.log10_summary(err[i * S:(i + 1) * S])
        if summary:
          rows.setdefault((m.key, t), {}).update(summary)
    if bellman_measured and m.value is not None:
      n = min(S, BELLMAN_SECTIONS)
      err = bellman_lib.bellman_errors(economy, m, gather(states, n))
      for i, t in enumerate(horizons):
        opt = np.abs(err['optimality'][i * n:(i + 1) * n])
        rows.setdefault((m.key, t), {}).update(
            bellman_optimality_mean=float(opt.mean()),
            bellman_optimality_p99=float(np.percentile(opt, 99)),
            bellman_expectation_mean=float(np.abs(err['expectation'][i * n:(i + 1) * n]).mean()))
    if m.aggregate_forecast is not None:
      K = p.quantities[economy.aggregate_names[0]][1]  # [T, B] on the shocked paths
      forecast = m.aggregate_forecast(K[0], states.z.numpy())
      gap = 100 * np.abs(np.log(forecast) - np.log(K))
      for t in horizons:
        rows.setdefault((m.key, t), {}).update(den_haan_mean_pct=float(gap[t].mean()),
                                               den_haan_max_pct=float(gap[t].max()))
  return pd.DataFrame([dict(method=k, horizon=t, **v) for (k, t), v in rows.items()])
