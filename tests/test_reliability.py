"""What a user's mistakes and accidents do: nothing of theirs is deleted, every bad input ends in
one line that names it, impossible values fail before any work, and interrupted or damaged runs
recover or stop with a message."""

import csv
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from configs import ks_game
from deepham import cli
from deepham import errors
from deepham import main
from deepham import train
from deepham import workdir as workdir_lib
from deepham.solver import config_checks
from tests import conftest


def _deepham_run(directory, config=None):
  """A directory holding what a (tiny) deepham run writes, without running it."""
  config = config or ks_game.get_config('tiny')
  workdir_lib.prepare(str(directory), config)
  for sub, name in (('checkpoints', 'ckpt-1.index'), ('figures', 'policy.png'),
                    ('tensorboard', 'events.out.tfevents.1.vm')):
    os.makedirs(directory / sub, exist_ok=True)
    (directory / sub / name).write_text('x')
  (directory / 'summary.json').write_text('{}')
  return config


# --- --overwrite deletes only what deepham wrote -------------------------------------------------
def test_overwrite_never_deletes_a_directory_that_holds_no_deepham_run(tmp_path):
  thesis = tmp_path / 'mythesis'
  thesis.mkdir()
  (thesis / 'thesis.tex').write_text('three years of work')
  with pytest.raises(errors.WorkdirError, match='thesis.tex'):
    workdir_lib.prepare(str(thesis), ks_game.get_config('tiny'), overwrite=True)
  assert (thesis / 'thesis.tex').read_text() == 'three years of work'
  with pytest.raises(errors.WorkdirError, match='holds no deepham run'):  # nor writes into it
    workdir_lib.prepare(str(thesis), ks_game.get_config('tiny'))
  assert sorted(os.listdir(thesis)) == ['thesis.tex']


def test_overwrite_keeps_a_run_with_foreign_files_whole(tmp_path):
  _deepham_run(tmp_path)
  (tmp_path / 'figures' / 'my_plot.svg').write_text('mine')
  (tmp_path / 'notes.txt').write_text('mine')
  before = sorted(os.listdir(tmp_path))
  with pytest.raises(errors.WorkdirError, match=r'figures/my_plot\.svg, notes\.txt'):
    workdir_lib.prepare(str(tmp_path), ks_game.get_config('tiny,n10'), overwrite=True)
  assert sorted(os.listdir(tmp_path)) == before
  assert (tmp_path / 'figures' / 'policy.png').exists()


def test_overwrite_deletes_exactly_a_deepham_run(tmp_path):
  _deepham_run(tmp_path)
  other = ks_game.get_config('tiny,n10')
  assert not workdir_lib.prepare(str(tmp_path), other, overwrite=True)  # a fresh start
  assert sorted(os.listdir(tmp_path)) == ['config.json']
  assert workdir_lib.load_config(str(tmp_path))['economy']['n_agents'] == 10


def test_overwrite_needs_a_config_naming_a_deepham_method(tmp_path):
  _deepham_run(tmp_path)
  (tmp_path / 'config.json').write_text('{"method": "my_own_tool"}')
  with pytest.raises(errors.WorkdirError, match='nothing was deleted'):
    workdir_lib.prepare(str(tmp_path), ks_game.get_config('tiny'), overwrite=True)
  assert (tmp_path / 'checkpoints' / 'ckpt-1.index').exists()


def test_overwrite_refuses_the_current_home_root_and_package_directories(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  (tmp_path / 'config.json').write_text('{"method": "deepham"}')  # even one that looks like a run
  for directory in ('.', os.path.expanduser('~'), '/', conftest.REPO,
                    os.path.join(conftest.REPO, 'deepham')):
    with pytest.raises(errors.WorkdirError, match='refuses to empty'):
      workdir_lib.clear_run(directory)
  assert (tmp_path / 'config.json').exists()


def test_checkpoints_without_a_config_are_not_resumed(tmp_path):
  _deepham_run(tmp_path)
  os.remove(tmp_path / 'config.json')
  with pytest.raises(errors.WorkdirError, match='no config.json'):
    workdir_lib.prepare(str(tmp_path), ks_game.get_config('tiny'))


# --- one line for every bad input ----------------------------------------------------------------
def _run_py(*args, cwd=conftest.REPO):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  return subprocess.run([sys.executable, os.path.join(conftest.REPO, 'run.py'), *args], cwd=cwd,
                        env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize('args, message', [
    (('--config=configs/ks_tiny.py', '--config.polcy.steps=1'),
     "--config.polcy.steps: the config has no field 'polcy'. Did you mean \"policy\""),
    (('--config=configs/ks_game.py:nope',), "unknown variant 'nope'; choose from"),
    (('--config=configs/ks_tiny.py', '--config.network.width=24'), 'a tuple is expected'),
    (('--config=configs/ks_tiny.py', '--config.seed=-1'), 'seed must be a non-negative integer'),
])
def test_bad_command_lines_end_in_one_line(args, message, tmp_path):
  out = _run_py(*args, f'--workdir={tmp_path}/run')
  assert out.returncode == 1, out.stderr
  assert 'Traceback' not in out.stderr
  last = out.stderr.strip().splitlines()[-1]
  assert last.startswith('deepham: ') and message in last, last
  assert not os.path.exists(tmp_path / 'run' / 'config.json')


def test_a_workdir_that_is_a_file_is_refused(tmp_path):
  (tmp_path / 'afile').write_text('mine')
  out = _run_py('--config=configs/ks_tiny.py', f'--workdir={tmp_path}/afile')
  assert out.returncode == 1 and 'Traceback' not in out.stderr
  assert out.stderr.strip().splitlines()[-1].startswith('deepham: --workdir=')
  assert (tmp_path / 'afile').read_text() == 'mine'


@pytest.mark.parametrize('text, message', [
    (None, 'there is no config file'),
    ('def get_config(:\n  pass\n', 'line 1: syntax error'),
    ('x = 1\n', 'defines no get_config()'),
    ('def get_config():\n  return {"a": 1}\n', 'must return an ml_collections.ConfigDict'),
    ('def get_config():\n  raise KeyError("boom")\n', 'get_config() failed: boom'),
    ('import ml_collections\ndef get_config():\n  return ml_collections.ConfigDict()\n',
     'takes no variants'),
])
def test_config_files_that_do_not_load_are_named(text, message, tmp_path):
  path = tmp_path / 'my_config.py'
  if text is not None:
    path.write_text(text)
  spec = str(path) + (':v' if message == 'takes no variants' else '')
  with pytest.raises(errors.ConfigError, match=message.replace('(', r'\(').replace(')', r'\)')):
    cli.ConfigFileParser('config').parse(spec)


@pytest.mark.parametrize('path, value, message', [
    ('seed', -1, 'seed must be a non-negative integer'),
    ('network.gm_grid', -3, 'network.gm_grid must be 0'),
    ('validation.n_paths', 0, 'validation.n_paths must be a positive integer'),
    ('validation.periods', 5, 'validation.periods must be at least 2 and more than '
                              'validation.burn'),
    ('validation.n_states', 0, 'validation.n_states must be between 1'),
    ('validation.n_grid', 1, 'validation.n_grid must be an integer >= 3'),
    ('network.width', (), 'network.width must be a tuple of positive integers'),
    ('policy.fast_game', None, 'policy.fast_game must be True or False'),
    ('init.policy', 'benchmark', None),  # the shipped benchmark file exists: accepted
])
def test_impossible_values_fail_before_anything_runs(path, value, message):
  config = ks_game.get_config('tiny')
  section, _, field = path.rpartition('.')
  (config[section] if section else config)[field] = value
  if message is None:
    main.check(config)
    return
  with pytest.raises(errors.ConfigError, match=message.replace('.', r'\.')):
    main.check(config)


def test_brock_mirman_initial_spread_is_checked():
  from configs import brock_mirman  # pylint: disable=g-import-not-at-top
  config = brock_mirman.get_config()
  config.economy.k_spread = -1.0
  with pytest.raises(errors.ConfigError, match='economy.k_spread'):
    main.check(config)


def test_every_field_of_the_shipped_configs_is_in_the_table():
  """configs/base.py declares exactly the table's fields; the configs set no others (in the
  sections the solver reads), and they all pass."""
  from configs import base, brock_mirman, covarrubias, davila, investment_lq  # pylint: disable=g-import-not-at-top
  declared = base.get_config()
  sections = [s for s in declared if hasattr(declared[s], 'keys')]
  assert ({f'{s}.{f}' for s in sections for f in declared[s]}
          | {s for s in declared if s not in sections and s != 'method'}
          == set(config_checks.FIELDS) | {'economy.name'})  # a name economies.make checks
  for config in (ks_game.get_config(), ks_game.get_config('tiny'), brock_mirman.get_config(),
                 davila.get_config(), investment_lq.get_config(),
                 investment_lq.get_config('tiny'), covarrubias.get_config(),
                 covarrubias.get_config('planner,risk')):
    main.check(config)
    for section in ('network', 'init', 'value', 'policy', 'run', 'validation'):
      for field in config[section]:
        assert f'{section}.{field}' in config_checks.FIELDS, f'{section}.{field}'


def test_unexpected_errors_and_interruptions_end_in_one_line(tmp_path):
  (tmp_path / 'config.json').write_text('{}')

  def broken():
    raise RuntimeError('something deep inside')

  with pytest.raises(SystemExit) as exit_info:
    cli.run_guarded(broken, str(tmp_path))
  message = str(exit_info.value.code)
  assert message.startswith('deepham: unexpected error, RuntimeError: something deep inside')
  assert 'RuntimeError' in (tmp_path / 'error.log').read_text()

  def interrupted():
    raise KeyboardInterrupt

  with pytest.raises(SystemExit, match='interrupted; the same command resumes'):
    cli.run_guarded(interrupted, str(tmp_path))


# --- one process per workdir ---------------------------------------------------------------------
def test_a_second_process_on_a_workdir_is_refused_until_the_first_dies(tmp_path):
  holder = subprocess.Popen(
      [sys.executable, '-c', 'import sys, time; from deepham import workdir\n'
       'with workdir.Lock(sys.argv[1]):\n  print("locked", flush=True); time.sleep(60)',
       str(tmp_path)], cwd=conftest.REPO, stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == 'locked'
    with pytest.raises(errors.WorkdirError, match=f'in use by process {holder.pid}'):
      with workdir_lib.Lock(str(tmp_path)):
        pass
    holder.send_signal(signal.SIGKILL)  # dies without cleaning up: its lock file stays
    holder.wait()
    assert (tmp_path / workdir_lib.LOCK_FILE).exists()
    with workdir_lib.Lock(str(tmp_path)):  # recognised as stale
      assert str(os.getpid()) in (tmp_path / workdir_lib.LOCK_FILE).read_text()
    assert not (tmp_path / workdir_lib.LOCK_FILE).exists()
  finally:
    holder.kill()


# --- damaged runs --------------------------------------------------------------------------------
def test_resumed_metrics_have_every_step_once(tmp_path):
  fields = ('step', 'round', 'loss')
  path = tmp_path / 'metrics.csv'
  path.write_text('step,round,loss\n3,1,0.5\n6,1,0.4\n6,1,0.4\n9,2,0.3\n12,2\n15,2,0.')
  workdir_lib.MetricsWriter(str(tmp_path), fields, resume_step=9)
  with open(path) as f:
    assert [int(r['step']) for r in csv.DictReader(f)] == [3, 6, 9]


def test_a_truncated_checkpoint_falls_back_to_the_one_before(tiny_run, tmp_path):
  workdir = str(tmp_path / 'run')
  shutil.copytree(tiny_run[0], workdir)
  directory = os.path.join(workdir, 'checkpoints')
  data = sorted(f for f in os.listdir(directory) if f.endswith('.data-00000-of-00001'))
  newest = max(data, key=lambda f: int(f.split('-')[1].split('.')[0]))
  with open(os.path.join(directory, newest), 'r+b') as f:
    f.truncate(100)
  solver = train.Solver(ks_game.get_config('tiny'))
  assert solver.attach(workdir) and int(solver.state.step) == 12  # the checkpoint before the newest
  for f in data:  # every checkpoint damaged: a message, not a traceback
    with open(os.path.join(directory, f), 'r+b') as fh:
      fh.truncate(100)
  with pytest.raises(errors.WorkdirError, match='no checkpoint in .* can be read'):
    train.Solver(ks_game.get_config('tiny')).attach(workdir)


def test_validate_with_another_config_is_refused(tiny_run):
  with pytest.raises(errors.WorkdirError, match='economy.n_agents'):
    main.run(ks_game.get_config('tiny,n10'), tiny_run[0], 'validate')


# --- older runs ----------------------------------------------------------------------------------
OLDEST_CONFIG = os.path.join(conftest.REPO, 'tests', 'data', 'oldest_config.json')


def test_the_oldest_config_format_upgrades_to_every_declared_field():
  """A config.json from before the fields of workdir._ADDED_FIELDS existed gets each of them,
  with the value such runs used, and then has exactly the fields of configs/base.py."""
  import json  # pylint: disable=g-import-not-at-top
  from configs import base  # pylint: disable=g-import-not-at-top
  with open(OLDEST_CONFIG) as f:
    oldest = json.load(f)
  upgraded = workdir_lib.upgrade(oldest)
  assert upgraded['value']['width'] == [] and upgraded['value']['control_variate'] is False
  assert upgraded['network']['policy_own_state'] is True
  assert upgraded['economy']['human_wealth'] == 0.0  # a KS field: the share of cash on hand
  other = workdir_lib.upgrade({'method': 'deepham', 'economy': {'name': 'davila'}})
  assert 'human_wealth' not in other['economy']
  # value.floor_features split off network.floor_features, which used to cover both networks.
  assert upgraded['value']['floor_features'] is False
  floored = workdir_lib.upgrade({'method': 'deepham', 'network': {'floor_features': True},
                                 'value': {}})
  assert floored['value']['floor_features'] is True

  def fields(d, prefix=''):
    return {f'{prefix}{k}' for k, v in d.items() if not isinstance(v, dict)} | {
        f for k, v in d.items() if isinstance(v, dict) and k != 'economy'
        for f in fields(v, f'{prefix}{k}.')}
  assert fields(upgraded) == fields(json.loads(base.get_config().to_json_best_effort()))
  import ml_collections  # pylint: disable=g-import-not-at-top
  config_checks.check(ml_collections.ConfigDict(upgraded))


def test_a_run_of_the_oldest_format_resumes_validates_and_loads(tmp_path):
  """python run.py --workdir=DIR (no --config) resumes a run with the config it was started
  with; here one written in the oldest format, started before any checkpoint."""
  import deepham  # pylint: disable=g-import-not-at-top
  workdir = tmp_path / 'old_run'
  workdir.mkdir()
  shutil.copy(OLDEST_CONFIG, workdir / 'config.json')
  out = _run_py(f'--workdir={workdir}')
  assert out.returncode == 0, out.stderr[-3000:]
  assert os.path.isfile(workdir / 'summary.json')
  # (the solve validated it; re-validating with another validation config is refused)
  out = _run_py(f'--workdir={workdir}', '--action=validate', '--config.validation.n_paths=2')
  assert out.returncode == 1 and 'deepham: ' in out.stderr.strip().splitlines()[-1]
  solution = deepham.load(str(workdir))
  assert solution.config.value.width == []  # as the run was solved: the policy's widths


CHECKPOINT_VARIABLES = os.path.join(conftest.REPO, 'tests', 'data', 'checkpoint_variables.json')


@pytest.mark.parametrize('variant', ['ks_tiny', 'ks_tiny_time_iteration', 'inv_tiny'])
def test_the_checkpoint_holds_the_variables_existing_workdirs_hold(variant, tmp_path):
  """Every variable name of the checkpoint's object graph, with its shape, as in the checkpoints
  of existing workdirs (tests/data/checkpoint_variables.json: the KS tiny config as it was before
  floor features and time iteration, as it is since, which adds their counter and optimiser,
  and the investment one, whose polish adds polish_record): restoring matches objects by these
  names."""
  import json  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from configs import investment_lq  # pylint: disable=g-import-not-at-top
  with open(CHECKPOINT_VARIABLES) as f:
    expected = json.load(f)[variant]
  config = (investment_lq if variant == 'inv_tiny' else ks_game).get_config('tiny')
  if variant == 'ks_tiny':
    config.network.floor_features = config.value.floor_features = False
    config.policy.time_iterations = 0
  path = train.Solver(config).state.checkpoint.write(str(tmp_path / 'ckpt'))
  written = {name: shape for name, shape in tf.train.list_variables(path)
             if name != '_CHECKPOINTABLE_OBJECT_GRAPH'}
  assert written == expected
