"""Many solves of one config on Ray: the cartesian product of config overrides.

    python -m deepham.sweep --config=configs/ks_game.py --grid='seed=0:5' \
        --grid='economy.n_agents=10,50,100' --out=DIR [--address=auto] [--cpus=1] [--gpus=0]

A --grid is `field=a:b` (the integers a .. b-1) or `field=v1,v2,...` (a list; each value read as
a Python literal, else as a string); the solves are every combination. Each solve is a Ray task
in its own worker process, with the CPUs and GPUs asked for, in its own workdir DIR/<overrides>.
Without --address a local Ray instance uses this machine; with one (e.g. `auto`) the sweep joins
a running cluster, whose nodes need deepham installed.

Fault tolerance comes from the workdirs: a task whose worker dies is retried by Ray and resumes
from the solve's last checkpoint; the same command again skips finished solves and resumes the
others. DIR/results.csv has one row per solve (its overrides, status, every number of its
summary.json, flattened with dots), DIR/over_seeds.csv the mean and std of each over `seed` for
every other combination of overrides, as papers report them.
"""

import ast
import dataclasses
import itertools
import json
import os
import time

from absl import logging
import ml_collections
import numpy as np
import pandas as pd

from deepham import errors
from deepham import progress as progress_lib

SUMMARY = 'summary.json'


def parse_grid(specs) -> list[tuple[str, list]]:
  """[(field, values)] from --grid strings 'field=a:b' or 'field=v1,v2,...'."""
  grid = []
  for spec in specs:
    field, sep, values = str(spec).partition('=')
    field = field.strip()
    if not sep or not field or not values:
      raise errors.ConfigError(f"--grid must be 'field=a:b' or 'field=v1,v2,...'; got {spec!r}.")
    if ':' in values and ',' not in values:
      lo, _, hi = values.partition(':')
      try:
        items = list(range(int(lo), int(hi)))
      except ValueError:
        raise errors.ConfigError(f'--grid {spec!r}: a range a:b needs integers.') from None
    else:
      items = [_literal(v.strip()) for v in values.split(',')]
    if not items:
      raise errors.ConfigError(f'--grid {spec!r} has no values.')
    if field in [f for f, _ in grid]:
      raise errors.ConfigError(f'--grid names {field} twice.')
    grid.append((field, items))
  return grid


def _literal(text: str):
  try:
    return ast.literal_eval(text)
  except (ValueError, SyntaxError):
    return text


@dataclasses.dataclass
class Solve:
  name: str
  overrides: dict
  workdir: str
  config: ml_collections.ConfigDict
  status: str = 'pending'  # pending | running | done | failed
  summary: dict | None = None
  error: str = ''
  seconds: float = float('nan')


def plan(config: ml_collections.ConfigDict, grid, out: str) -> list[Solve]:
  """One Solve per combination of the grid's values, each config checked before any starts."""
  from deepham import main  # pylint: disable=g-import-not-at-top
  fields = [f for f, _ in grid]
  solves = []
  for values in itertools.product(*[v for _, v in grid]):
    overrides = dict(zip(fields, values))
    cfg = ml_collections.ConfigDict(config.to_dict())
    for field, value in overrides.items():
      _set(cfg, field, value)
    main.check(cfg)
    name = '__'.join(f'{f}={_tag(v)}' for f, v in overrides.items()) or 'solve'
    solves.append(Solve(name, overrides, os.path.join(out, name), cfg))
  return solves


def _set(config, field: str, value) -> None:
  *sections, key = field.split('.')
  node = config
  for section in sections:
    if not isinstance(node, ml_collections.ConfigDict) or section not in node:
      raise errors.ConfigError(f'--grid {field}: the config has no section {section!r}.')
    node = node[section]
  if key not in node:
    raise errors.ConfigError(f'--grid {field}: the config has no field {key!r}.')
  try:
    node[key] = value
  except (TypeError, ValueError) as exc:
    raise errors.ConfigError(f'--grid {field}={value!r}: {exc}') from exc


def _tag(value) -> str:
  text = str(value)
  return ''.join(ch if ch.isalnum() or ch in '.-_' else '_' for ch in text)


def finished(solve: Solve) -> bool:
  """Whether the solve's workdir holds a finished run of its config."""
  from deepham import workdir as workdir_lib  # pylint: disable=g-import-not-at-top
  if not os.path.isfile(os.path.join(solve.workdir, SUMMARY)):
    return False
  workdir_lib.check_same_run(solve.workdir, solve.config)  # refuses another sweep's run
  return True


def _solve_task(config_json: str, workdir: str, cpus: int) -> dict:
  """Runs one solve in a Ray worker process (a fresh one for every task)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if cpus:
    tf.config.threading.set_intra_op_parallelism_threads(cpus)
    tf.config.threading.set_inter_op_parallelism_threads(cpus)
  from deepham import main  # pylint: disable=g-import-not-at-top
  config = ml_collections.ConfigDict(json.loads(config_json))
  start = time.time()
  summary = main.run(config, workdir, 'solve')
  return dict(summary=summary, seconds=time.time() - start)


def run(config: ml_collections.ConfigDict, grid, out: str, address: str | None = None,
        cpus: int = 1, gpus: float = 0, retries: int = 3, poll_seconds: float = 5.0
        ) -> pd.DataFrame:
  """Runs the sweep (skipping finished solves) and writes and returns its results table."""
  import ray  # pylint: disable=g-import-not-at-top
  solves = plan(config, grid, out)
  todo = []
  for s in solves:
    if finished(s):
      s.status = 'done'
      with open(os.path.join(s.workdir, SUMMARY)) as f:
        s.summary = json.load(f)
      s.seconds = s.summary.get('seconds', float('nan'))
    else:
      todo.append(s)
  logging.info('sweep: %d solves, %d finished before, %d to run, in %s', len(solves),
               len(solves) - len(todo), len(todo), out)
  if todo:
    if address:
      ray.init(address=address, log_to_driver=False)
    else:
      ray.init(include_dashboard=False, log_to_driver=False)
    try:
      task = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=retries, max_calls=1)(
          _solve_task)
      pending = {}
      for s in todo:
        os.makedirs(s.workdir, exist_ok=True)
        pending[task.remote(s.config.to_json(), s.workdir, cpus)] = s
        s.status = 'running'
      _wait(ray, pending, len(todo), poll_seconds)
    finally:
      ray.shutdown()
  table = results_table(solves)
  os.makedirs(out, exist_ok=True)
  table.to_csv(os.path.join(out, 'results.csv'), index=False)
  over_seeds(table, [f for f, _ in grid]).to_csv(os.path.join(out, 'over_seeds.csv'),
                                                 index=False)
  return table


def _wait(ray, pending: dict, total: int, poll_seconds: float) -> None:
  prog = progress_lib.Progress('sweep', total, every=0.0, unit='solves')
  done = failed = 0
  while pending:
    ready, _ = ray.wait(list(pending), num_returns=1, timeout=poll_seconds)
    for ref in ready:
      s = pending.pop(ref)
      try:
        out = ray.get(ref)
        s.status, s.summary, s.seconds = 'done', out['summary'], out['seconds']
        done += 1
      except Exception as exc:  # pylint: disable=broad-except  (the solve's own error)
        s.status, s.error = 'failed', _one_line(exc)
        failed += 1
        logging.warning('sweep: %s failed: %s', s.name, s.error)
      prog.update(done + failed, f'{done} done, {len(pending)} running, {failed} failed')


def _one_line(exc: BaseException) -> str:
  """The solve's own error (Ray wraps it: `cause`) on one line."""
  from deepham import cli  # pylint: disable=g-import-not-at-top
  return cli._one_line(getattr(exc, 'cause', None) or exc)  # pylint: disable=protected-access


def _flatten(d: dict, prefix: str = '') -> dict:
  out = {}
  for k, v in d.items():
    key = f'{prefix}{k}'
    if isinstance(v, dict):
      out.update(_flatten(v, f'{key}.'))
    elif isinstance(v, (int, float, str, bool)) or v is None:
      out[key] = v
  return out


def results_table(solves: list[Solve]) -> pd.DataFrame:
  rows = []
  for s in solves:
    row = dict(name=s.name, **s.overrides, status=s.status, seconds=s.seconds, error=s.error)
    if s.summary:
      row.update({k: v for k, v in _flatten(s.summary).items() if k not in row})
    rows.append(row)
  return pd.DataFrame(rows)


def over_seeds(table: pd.DataFrame, fields: list[str]) -> pd.DataFrame:
  """Mean and std (columns `<figure>` and `<figure>_std`) of every numeric figure over the
  finished solves of each combination of the overrides other than `seed`."""
  done = table[table['status'] == 'done']
  keys = [f for f in fields if f != 'seed']
  numeric = [c for c in done.columns if c not in fields and c != 'name'
             and pd.api.types.is_numeric_dtype(done[c])]
  groups = done.groupby(keys, sort=False) if keys else [((), done)]
  rows = []
  for key, part in groups:
    key = key if isinstance(key, tuple) else (key,)
    row = dict(zip(keys, key), n_solves=len(part))
    for c in numeric:
      values = part[c].to_numpy(dtype=float)
      row[c] = float(np.nanmean(values)) if np.isfinite(values).any() else float('nan')
      row[f'{c}_std'] = float(np.nanstd(values, ddof=1)) if np.isfinite(values).sum() > 1 \
          else float('nan')
    rows.append(row)
  return pd.DataFrame(rows)


def _cli() -> None:
  """python -m deepham.sweep: flags in, results.csv and over_seeds.csv out."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  from deepham import cli  # pylint: disable=g-import-not-at-top
  config = cli.define_config_flag('config')
  grid = flags.DEFINE_multi_string('grid', [], "'field=a:b' or 'field=v1,v2,...'; repeatable.")
  out = flags.DEFINE_string('out', None, 'Directory of the sweep: one workdir per solve.')
  address = flags.DEFINE_string('address', None, "A Ray cluster to join (e.g. 'auto'); default: "
                                'a local Ray instance on this machine.')
  cpus = flags.DEFINE_integer('cpus', 1, 'CPUs per solve (its TensorFlow threads).')
  gpus = flags.DEFINE_float('gpus', 0.0, 'GPUs per solve.')
  retries = flags.DEFINE_integer('retries', 3, 'Retries of a solve whose worker dies.')

  def main(argv):
    if len(argv) > 1:
      raise SystemExit(f'deepham: unexpected arguments {argv[1:]}; every option is a --flag.')
    if not out.value:
      raise SystemExit('deepham: --out is required (the directory of the sweep).')

    def program():
      table = run(config.value, parse_grid(grid.value), out.value, address.value, cpus.value,
                  gpus.value, retries.value)
      counts = table['status'].value_counts().to_dict()
      print(f'sweep: {counts.get("done", 0)} done, {counts.get("failed", 0)} failed; '
            f'{os.path.join(out.value, "results.csv")}')
      if counts.get('failed'):
        raise SystemExit(1)
    cli.run_guarded(program, None)

  cli.main(main, required=('config',))


if __name__ == '__main__':
  _cli()
