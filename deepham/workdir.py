"""Everything a run writes lives under its workdir, and only there.

  config.json      the full configuration, written first
  summary.json     headline figures as plain numbers (keys are stable: scripts read them)
  metrics.csv      one row per logging interval (solvers that train)
  validation.csv   the accuracy table; paths.npz its simulated paths and errors
  euler_by_wealth.csv  Euler errors by wealth, on each method's states and on common states
  *_solution.npz   a conventional solver's solution
  checkpoints/     TF checkpoints; a rerun with the same workdir resumes from the last one
  tensorboard/     TensorBoard summaries
  figures/         PNG and PDF figures
  log.txt          the run's log (every solve and validation appends to it)
  error.log        the traceback of an unexpected error, if one ended the run
  .deepham.lock    held by the process working in the workdir (its PID inside)

`OWNED_FILES` and `OWNED_FOLDERS` list these names: the one list `--overwrite` consults, and nothing outside it
is ever deleted. A workdir is used by one process at a time (`Lock`).
"""

import contextlib
import csv
import datetime
import fcntl
import fnmatch
import json
import logging as std_logging
import math
import os
import shutil
import socket

from absl import logging
import ml_collections

from deepham import errors

# What a deepham run writes into its workdir: file-name patterns, and for folders the patterns
# of what they may contain. `--overwrite` deletes these and nothing else.
LOG_FILE = 'log.txt'
OWNED_FILES = ('config.json', 'summary.json', 'metrics.csv', 'validation.csv',
               'euler_by_wealth.csv', 'paths.npz', '*_solution.npz', LOG_FILE, 'error.log',
               '*.tmp', '*.tmp.npz')
OWNED_FOLDERS = {
    'checkpoints': ('checkpoint', 'checkpoint.tmp*', 'ckpt-*'),
    'tensorboard': ('events.out.tfevents.*',),
    'figures': ('*.png', '*.pdf'),
}
LOCK_FILE = '.deepham.lock'

# Config sections and fields that do not change what a solve computes: a workdir may be reused
# with them changed (to re-validate a finished run with more paths, or to resume a run on other
# devices).
_NOT_IDENTITY = ('validation', 'run.strategy', 'run.logical_cpus')


def default_workdir(config_path: str | None) -> str:
  name = os.path.splitext(os.path.basename(config_path or 'run'))[0]
  stamp = datetime.datetime.now().strftime('%Y-%m-%d_%H-%M-%S')
  return os.path.join('runs', f'{name}_{stamp}')


# Fields added to the configs since runs were first written, with the value every run before
# them used: `upgrade` fills them into an older config.json, so that such a run still resumes,
# validates and loads. (method, dotted field, value[, economy: only that economy's runs]); one
# line per field added; a callable value is computed from the run's config (a dict), for a field
# that split off from an older one. The oldest format (tests/data/oldest_config.json) has none
# of them.
_ADDED_FIELDS = (
    ('deepham', 'network.policy_own_state', True),
    ('deepham', 'init.imitation_spread', 0.0),
    ('deepham', 'value.width', []),  # (): the policy's widths
    ('deepham', 'value.control_variate', False),
    ('deepham', 'value.tail', False),
    ('deepham', 'value.method', 'monte_carlo'),
    ('deepham', 'value.td_lambda', 0.9),
    ('deepham', 'value.final_every', 0),
    ('deepham', 'value.final_epochs', 0),
    ('deepham', 'value.learning_rate_end', None),  # a constant rate
    ('deepham', 'policy.euler_loss', 'square'),
    ('deepham', 'policy.polish_steps', 0),
    ('deepham', 'policy.polish_states', 0),
    ('deepham', 'policy.polish_rounds', 1),
    ('deepham', 'validation.euler_draws', 64),
    ('deepham', 'validation.quadrature', 9),
    ('deepham', 'policy.explore_share', 0.0),
    ('deepham', 'policy.explore_reach', 2.0),
    ('deepham', 'value.explore_share', 0.0),
    ('deepham', 'network.floor_features', False),
    ('deepham', 'policy.euler_weight', 0.0),
    ('deepham', 'policy.euler_probes', 16),
    ('deepham', 'run.strategy', 'default'),
    ('deepham', 'run.logical_cpus', 0),
    ('deepham', 'policy.game_agents', 1),
    ('deepham', 'economy.human_wealth', 0.0, 'ks'),
    ('krusell_smith', 'economy.human_wealth', 4.0, 'ks'),  # the conventional solver ignores it
    # Before it, network.floor_features gave the floor features to the value networks too.
    ('deepham', 'policy.time_iterations', 0),
    ('deepham', 'policy.time_iteration_steps', 1000),
    ('deepham', 'policy.time_iteration_batch', 64),
    ('deepham', 'policy.time_iteration_states', 3840),
    ('deepham', 'policy.time_iteration_probes', 32),
    ('deepham', 'policy.time_iteration_learning_rate', 3e-4),
    ('deepham', 'policy.time_iteration_damping', 1.0),
    ('deepham', 'policy.time_iteration_learning_rate_end', None),
    ('deepham', 'policy.time_iteration_damping_far', None),
    ('deepham', 'value.floor_features',
     lambda c: bool(c.get('network', {}).get('floor_features', False))),
    ('deepham', 'network.observation_mask', []),  # every agent sees everything
)


def upgrade(config_dict: dict) -> dict:
  """An older run's config (as read from its config.json) with the fields added since filled
  in as that run used them; the current format is returned unchanged."""
  out = json.loads(json.dumps(config_dict))
  for method, path, value, *economy in _ADDED_FIELDS:
    if out.get('method') != method or economy and _economy_name(out) != economy[0]:
      continue
    node, field = _parent(out, path)
    if node is not None and field not in node:
      node[field] = value(out) if callable(value) else value
  return out


def _economy_name(config_dict: dict):
  section = config_dict.get('economy')
  return section.get('name') if isinstance(section, dict) else None


def _parent(config_dict: dict, path: str):
  """(the dict holding a dotted field, or None if a section is missing; the field's name)."""
  *sections, field = path.split('.')
  node = config_dict
  for section in sections:
    node = node.get(section) if isinstance(node, dict) else None
  return (node if isinstance(node, dict) else None), field


def _identity(config_dict: dict) -> dict:
  out = json.loads(json.dumps(config_dict))
  for path in _NOT_IDENTITY:
    node, field = _parent(out, path)
    if node is not None:
      node.pop(field, None)
  return out


def _to_dict(config: ml_collections.ConfigDict) -> dict:
  return json.loads(config.to_json_best_effort(sort_keys=True))


def ensure_directory(workdir: str) -> None:
  """Creates `workdir` (and its parents) if needed; a path that cannot be a directory fails."""
  if os.path.lexists(workdir) and not os.path.isdir(workdir):
    raise errors.WorkdirError(f'--workdir={workdir} is an existing file, not a directory; '
                              'choose another --workdir.')
  try:
    os.makedirs(workdir, exist_ok=True)
  except OSError as exc:
    raise errors.WorkdirError(f'--workdir={workdir} cannot be created ({exc.strerror}); choose '
                              'another --workdir.') from exc
  if not os.access(workdir, os.W_OK | os.X_OK):
    raise errors.WorkdirError(f'--workdir={workdir} is not writable; choose another --workdir.')


def _matches(name: str, patterns) -> bool:
  return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _foreign(workdir: str) -> list[str]:
  """What `workdir` holds that a deepham run does not write (folders with a trailing /)."""
  out = []
  for name in sorted(os.listdir(workdir)):
    path = os.path.join(workdir, name)
    if name == LOCK_FILE:
      continue
    if os.path.isdir(path) and not os.path.islink(path):
      patterns = OWNED_FOLDERS.get(name)
      if patterns is None:
        out.append(name + '/')
        continue
      for entry in sorted(os.listdir(path)):
        sub = os.path.join(path, entry)
        if not (_matches(entry, patterns) and os.path.isfile(sub) and not os.path.islink(sub)):
          out.append(f'{name}/{entry}' + ('/' if os.path.isdir(sub) else ''))
    elif os.path.islink(path) or not (os.path.isfile(path) and _matches(name, OWNED_FILES)):
      out.append(name)
  return out


def _listing(names: list[str]) -> str:
  return ', '.join(names[:5]) + (f' and {len(names) - 5} more' if len(names) > 5 else '')


def _protected(workdir: str) -> str | None:
  """Why `workdir` may never be emptied (the current or a home directory, /, or a folder that
  contains the deepham package), or None."""
  real = os.path.realpath(workdir)
  package = os.path.realpath(os.path.dirname(os.path.abspath(__file__)))
  if real == os.path.realpath(os.getcwd()):
    return 'it is the current directory'
  if real == os.path.realpath(os.path.expanduser('~')) or real == os.path.realpath(
      os.environ.get('HOME', '~')):
    return 'it is a home directory'
  if real == os.path.realpath(os.sep):
    return 'it is the root directory'
  if os.path.commonpath([real, package]) == real:
    return 'it contains the deepham package'
  return None


def clear_run(workdir: str) -> None:
  """Deletes the deepham run in `workdir` (what `OWNED_FILES` and `OWNED_FOLDERS` name).

  Refused, with a message that names what is there, unless the directory holds a deepham run
  (a config.json naming a program of deepham.main) and nothing that deepham does not write.
  """
  from deepham import main  # pylint: disable=g-import-not-at-top  (main imports this module)
  reason = _protected(workdir)
  if reason:
    raise errors.WorkdirError(f'--overwrite refuses to empty {workdir}: {reason}. Choose '
                              'another --workdir.')
  entries = sorted(e for e in os.listdir(workdir) if e != LOCK_FILE)
  if not entries:
    return
  foreign = _foreign(workdir)
  if foreign:
    raise errors.WorkdirError(
        f'--overwrite deletes only what deepham writes, and {workdir} also holds '
        f'{_listing(foreign)}; nothing was deleted. Choose another --workdir, or move those '
        'out first.')
  method = None
  try:
    with open(os.path.join(workdir, 'config.json')) as f:
      method = json.load(f).get('method')
  except (OSError, ValueError, AttributeError):
    pass
  if method not in main.METHODS:
    raise errors.WorkdirError(
        f'--overwrite deletes only deepham runs, and {workdir} has no readable config.json '
        'naming a deepham method; nothing was deleted. Delete it yourself or choose another '
        '--workdir.')
  for e in entries:
    path = os.path.join(workdir, e)
    if os.path.isdir(path):
      shutil.rmtree(path)
    else:
      os.remove(path)
  logging.info('--overwrite: deleted the earlier run in %s (%s)', workdir, ', '.join(entries))


def prepare(workdir: str, config: ml_collections.ConfigDict, overwrite: bool = False) -> bool:
  """Writes config.json into the (existing) `workdir`; returns True if it holds an earlier run
  of the same config to resume.

  A workdir whose config.json differs from `config` (outside `_NOT_IDENTITY`), or that
  holds files of its own and no deepham run, is refused unless `overwrite`, which deletes the
  earlier run (`clear_run`: only what deepham wrote) and starts afresh.
  """
  ensure_directory(workdir)
  path = os.path.join(workdir, 'config.json')
  new = _to_dict(config)
  if overwrite:
    clear_run(workdir)
  elif os.path.exists(path):
    old = _read_config(path, ' Restore it to resume that run, or choose another --workdir.')
    _refuse_other_run(workdir, old, new, 'Use another --workdir, or pass --overwrite to delete '
                      'that run and start afresh.')
    return True
  else:
    foreign = _foreign(workdir)
    if foreign:
      raise errors.WorkdirError(
          f'{workdir} is not empty and holds no deepham run (it has {_listing(foreign)}); a run '
          'writes config.json, checkpoints/, figures/ and more there. Choose a new or empty '
          '--workdir.')
    remains = sorted(e for e in os.listdir(workdir) if e != LOCK_FILE)
    if remains:  # checkpoints of an unknown config must not be resumed under this one
      raise errors.WorkdirError(
          f'{workdir} holds {_listing(remains)} but no config.json, so what config they belong '
          'to is unknown. Delete them yourself or choose another --workdir.')
  _atomic_write(path, json.dumps(new, indent=2, sort_keys=True))
  return False


@contextlib.contextmanager
def log_file(workdir: str):
  """Within the block, every log line at INFO or above is also appended to workdir/log.txt, so
  that a run started where its console is lost (a sweep's worker, a batch job) keeps its log."""
  handler = std_logging.FileHandler(os.path.join(workdir, LOG_FILE), mode='a')
  handler.setLevel(std_logging.INFO)
  handler.setFormatter(logging.PythonFormatter())
  logger = logging.get_absl_logger()
  level = logger.level
  if logger.getEffectiveLevel() > std_logging.INFO:  # absl's flags unparsed (a library call)
    logger.setLevel(std_logging.INFO)
  logger.addHandler(handler)
  try:
    yield
  finally:
    logger.removeHandler(handler)
    logger.setLevel(level)
    handler.close()


class Lock:
  """Exclusive use of a workdir by one process: an advisory lock on workdir/.deepham.lock,
  which holds the owner's PID and host. The operating system releases the lock when its owner
  dies, however it dies, so a lock file left by a killed process is recognised as stale."""

  def __init__(self, workdir: str):
    self.path = os.path.join(workdir, LOCK_FILE)
    self._file = None

  def __enter__(self) -> 'Lock':
    f = open(self.path, 'a+')  # pylint: disable=consider-using-with
    try:
      fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
      f.seek(0)
      owner = f.read().strip() or 'another process'
      f.close()
      raise errors.WorkdirError(
          f'{os.path.dirname(self.path)} is in use by {owner}; wait for it to finish or stop '
          'it, or choose another --workdir.') from exc
    f.seek(0)
    f.truncate()
    f.write(f'process {os.getpid()} on {socket.gethostname()}\n')
    f.flush()
    self._file = f
    return self

  def __exit__(self, *exc) -> None:
    with contextlib.suppress(OSError):
      os.remove(self.path)  # still holding the lock: no other process can be inside
    self._file.close()
    self._file = None


def _differences(a, b, prefix=''):
  if isinstance(a, dict) and isinstance(b, dict):
    for key in set(a) | set(b):
      yield from _differences(a.get(key), b.get(key), f'{prefix}{key}.')
  elif a != b:
    yield prefix.rstrip('.')


def load_config(workdir: str) -> dict:
  """The config.json of the run in `workdir`, as a dict; a missing or unreadable one fails
  with a message that names it."""
  path = os.path.join(workdir, 'config.json')
  if not os.path.isdir(workdir):
    raise errors.WorkdirError(f'{workdir} is not a directory holding a run.')
  if not os.path.exists(path):
    raise errors.WorkdirError(f'{workdir} holds no run (no config.json).')
  return _read_config(path)


def _read_config(path: str, advice: str = '') -> dict:
  """A config.json, upgraded to the current format; an unreadable one fails naming it."""
  try:
    with open(path) as f:
      config = json.load(f)
    if not isinstance(config, dict):
      raise ValueError('not a JSON object')
  except (OSError, ValueError) as exc:
    raise errors.WorkdirError(f'{path} is not a readable config ({exc}).{advice}') from exc
  return upgrade(config)


def stored_config(workdir: str) -> ml_collections.ConfigDict:
  """The config of the run in `workdir` (upgraded to the current format), as a ConfigDict."""
  return ml_collections.ConfigDict(load_config(workdir))


def check_same_run(workdir: str, config: ml_collections.ConfigDict) -> None:
  """Refuses unless `workdir` holds a run of `config` (outside `_NOT_IDENTITY`)."""
  stored = load_config(workdir)
  if stored.get('method') != config.method:
    raise errors.WorkdirError(f"{workdir} holds a '{stored.get('method')}' run, not "
                              f"'{config.method}'.")
  _refuse_other_run(workdir, stored, _to_dict(config),
                    'Validate it with the config it was solved with (only validation.*, '
                    'run.strategy and run.logical_cpus may change).')


def _refuse_other_run(workdir: str, stored: dict, new: dict, advice: str) -> None:
  """Raises, naming the differing fields, unless the two configs are the same run's."""
  old, new = _identity(stored), _identity(new)
  if old != new:
    diff = sorted(_differences(old, new))
    raise errors.WorkdirError(
        f'{workdir} holds a run with a different config (differs in: '
        f'{", ".join(diff[:8])}{", ..." if len(diff) > 8 else ""}). {advice}')


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
  """Appends rows to workdir/metrics.csv (or `name`); on resume keeps the rows up to the
  restored step (the column `key`).

  Rows past the restored step (written after the last checkpoint by a process that was then
  stopped) are dropped, since the resumed run writes them again; so are rows that cannot be
  read (a line cut short by a kill), with a warning: every step then appears once.
  """

  def __init__(self, workdir: str, fields: tuple[str, ...], resume_step: int | None = None,
               name: str = 'metrics.csv', key: str = 'step'):
    self.path = os.path.join(workdir, name)
    self.fields = fields
    rows, bad = [], 0
    if resume_step is not None and os.path.exists(self.path):
      seen = set()
      with open(self.path, newline='') as f:
        for r in csv.DictReader(f):
          try:
            step = int(float(r[key]))
            ok = all(r.get(k) is not None for k in fields)
          except (TypeError, ValueError, KeyError):
            ok = False
          if not ok:
            bad += 1
          elif step <= resume_step and step not in seen:
            seen.add(step)
            rows.append({k: r[k] for k in fields})
    if bad:
      logging.warning('%s: %d unreadable row(s) dropped', self.path, bad)
    tmp = self.path + '.tmp'
    with open(tmp, 'w', newline='') as f:
      w = csv.DictWriter(f, fieldnames=fields)
      w.writeheader()
      w.writerows(rows)
    os.replace(tmp, self.path)

  def write(self, row: dict) -> None:
    _check_finite({k: v for k, v in row.items() if isinstance(v, float)}, 'metrics')
    with open(self.path, 'a', newline='') as f:
      csv.DictWriter(f, fieldnames=self.fields).writerow(row)
