"""Everything a run writes lives under its workdir.

  config.json      the full configuration, written first
  summary.json     headline figures as plain numbers (keys are stable: scripts read them)
  metrics.csv      one row per logging interval (solvers that train)
  checkpoints/     TF checkpoints; a rerun with the same workdir resumes from the last one
  tensorboard/     TensorBoard summaries
  figures/         PNG and PDF figures
"""

import csv
import datetime
import json
import math
import os
import shutil

import ml_collections

from deepham import errors

# Config sections that do not change what a solve computes: a workdir may be reused with them
# changed (to re-validate a finished run with more paths, say).
_NOT_IDENTITY = ('validation',)


def default_workdir(config_path: str | None) -> str:
  name = os.path.splitext(os.path.basename(config_path or 'run'))[0]
  stamp = datetime.datetime.now().strftime('%Y-%m-%d_%H-%M-%S')
  return os.path.join('runs', f'{name}_{stamp}')


def _identity(config_dict: dict) -> dict:
  return {k: v for k, v in config_dict.items() if k not in _NOT_IDENTITY}


def _to_dict(config: ml_collections.ConfigDict) -> dict:
  return json.loads(config.to_json_best_effort(sort_keys=True))


def prepare(workdir: str, config: ml_collections.ConfigDict, overwrite: bool = False) -> bool:
  """Creates `workdir` and writes config.json; returns True if it holds an earlier run to resume.

  A workdir whose config.json differs from `config` (outside the `validation` section) is refused
  unless `overwrite`, which empties it first.
  """
  path = os.path.join(workdir, 'config.json')
  new = _to_dict(config)
  if os.path.exists(path):
    try:
      with open(path) as f:
        old = json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
      raise errors.WorkdirError(f'{path} is not readable JSON ({exc}); pass --overwrite to start '
                                f'afresh in {workdir}.') from exc
    if _identity(old) != _identity(new):
      if not overwrite:
        diff = sorted(_differences(_identity(old), _identity(new)))
        raise errors.WorkdirError(
            f'{workdir} holds a run with a different config (differs in: '
            f'{", ".join(diff[:8])}{", ..." if len(diff) > 8 else ""}). Use another --workdir, '
            f'or pass --overwrite to delete that run and start afresh.')
    elif not overwrite:
      return True
  if overwrite and os.path.isdir(workdir):
    shutil.rmtree(workdir)
  os.makedirs(workdir, exist_ok=True)
  _atomic_write(path, json.dumps(new, indent=2, sort_keys=True))
  return False


def _differences(a, b, prefix=''):
  if isinstance(a, dict) and isinstance(b, dict):
    for key in set(a) | set(b):
      yield from _differences(a.get(key), b.get(key), f'{prefix}{key}.')
  elif a != b:
    yield prefix.rstrip('.')


def load_config(workdir: str) -> dict:
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(path):
    raise errors.WorkdirError(f'{workdir} holds no run (no config.json).')
  with open(path) as f:
    return json.load(f)


def _atomic_write(path: str, text: str) -> None:
  tmp = path + '.tmp'
  with open(tmp, 'w') as f:
    f.write(text)
  os.replace(tmp, path)


def _check_finite(obj, where=''):
  if isinstance(obj, dict):
    for k, v in obj.items():
      _check_finite(v, f'{where}.{k}' if where else str(k))
  elif isinstance(obj, (list, tuple)):
    for i, v in enumerate(obj):
      _check_finite(v, f'{where}[{i}]')
  elif isinstance(obj, float) and not math.isfinite(obj):
    raise errors.NonFiniteError(f'refusing to write a non-finite value at {where}')


def update_summary(workdir: str, figures: dict) -> dict:
  """Merges `figures` into workdir/summary.json (plain numbers only, never NaN)."""
  _check_finite(figures)
  path = os.path.join(workdir, 'summary.json')
  summary = read_summary(workdir) if os.path.exists(path) else {}
  summary.update(figures)
  _atomic_write(path, json.dumps(summary, indent=2, sort_keys=True))
  return summary


def read_summary(workdir: str) -> dict:
  path = os.path.join(workdir, 'summary.json')
  if not os.path.exists(path):
    raise errors.WorkdirError(f'{workdir} holds no summary.json: the run has not finished.')
  with open(path) as f:
    return json.load(f)


class MetricsWriter:
  """Appends rows to workdir/metrics.csv; on resume drops rows past the restored step."""

  def __init__(self, workdir: str, fields: tuple[str, ...], resume_step: int | None = None):
    self.path = os.path.join(workdir, 'metrics.csv')
    self.fields = fields
    rows = []
    if resume_step is not None and os.path.exists(self.path):
      with open(self.path) as f:
        rows = [r for r in csv.DictReader(f) if int(float(r['step'])) <= resume_step]
    with open(self.path, 'w', newline='') as f:
      w = csv.DictWriter(f, fieldnames=fields)
      w.writeheader()
      w.writerows(rows)

  def write(self, row: dict) -> None:
    _check_finite({k: v for k, v in row.items() if isinstance(v, float)}, 'metrics')
    with open(self.path, 'a', newline='') as f:
      csv.DictWriter(f, fieldnames=self.fields).writerow(row)
