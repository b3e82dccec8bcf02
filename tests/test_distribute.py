"""One solve on several devices or processes (run.strategy, deepham/solver/distribute.py)."""

import json
import os
import socket
import subprocess
import sys
import types

import numpy as np
import pandas as pd
import pytest

from configs import ks_game
from deepham import errors
from deepham.solver import config_checks
from deepham.solver import distribute

ROOT = os.path.join(os.path.dirname(__file__), '..')
_QUIET = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')


def test_the_mirrored_step_is_the_one_device_step():
  """On 2 logical CPU devices, in float64: the loss, the gradient (each replica on half of the
  batch, with the shocks those rows get in the whole batch) and the weights after one Adam step
  equal one device's to rounding, for the three objectives; the replicas' copies stay equal, and
  a checkpoint written under the strategy restores without it. (In float32 the gradient agrees
  to about 5e-5 relative in the KS game: the unroll's sums amplify float32 rounding.)"""
  out = subprocess.run([sys.executable, os.path.join(ROOT, 'tests', 'mirrored_check.py'),
                        'float64'], capture_output=True, text=True, env=_QUIET, timeout=600,
                       check=False)
  assert out.returncode == 0, out.stderr[-3000:]
  rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith('{')]
  assert [r['case'] for r in rows] == ['game (fast passes)', 'planner (one tape)',
                                       'euler objective']
  for r in rows:
    assert r['gradient_norm'] > 1e-3, r  # a gradient worth comparing
    for key in ('loss', 'gradient', 'end_aggregates', 'weights_after_step'):
      assert r[key] < 1e-10, (r['case'], key, r[key])
    assert r['replica_copies_differ'] == 0 and r['restored_without_strategy'] == 0, r


def _solve(workdir: str, *overrides: str, env=None) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, os.path.join(ROOT, 'run.py'),
                         '--config=configs/ks_tiny.py', f'--workdir={workdir}', *overrides],
                        cwd=ROOT, env=env or _QUIET, capture_output=True, text=True, timeout=600,
                        check=False)


@pytest.fixture(scope='module')
def one_device(tmp_path_factory) -> dict[str, pd.DataFrame]:
  """metrics.csv and time_iteration.csv of the tiny KS solve on one device."""
  workdir = str(tmp_path_factory.mktemp('one_device'))
  out = _solve(workdir)
  assert out.returncode == 0, out.stderr[-3000:]
  return {name: pd.read_csv(os.path.join(workdir, name)) for name in _TABLES}


# (columns, rtol): an Euler error is a difference of nearly equal consumptions (1 - c*/c), so
# the policy's float32 rounding, which the reduction order changes, shows in it tenfold.
_TABLES = {'metrics.csv': (('policy_loss', 'value_loss', 'validation_utility', 'mean_K'), 1e-5),
           'time_iteration.csv': (('agents_euler_log10_mean', 'probes_euler_log10_max',
                                   'fit_loss_end'), 2e-4)}


def _same_metrics(workdir: str, one: dict[str, pd.DataFrame]) -> None:
  """The run's metrics (policy steps and time iterations) equal the one-device run's to
  float32 rounding (amplified in the Euler errors)."""
  for name, (columns, rtol) in _TABLES.items():
    table = pd.read_csv(os.path.join(workdir, name))
    assert len(table) > 0 and list(table.iloc[:, 0]) == list(one[name].iloc[:, 0]), name
    for column in columns:
      np.testing.assert_allclose(table[column], one[name][column], rtol=rtol,
                                 err_msg=f'{name}: {column}')


@pytest.mark.slow  # three tiny solves in subprocesses: 5 minutes; the step's equality is in the default suite
def test_a_mirrored_solve_is_the_one_device_solve_and_resumes_without_it(tmp_path, one_device):
  """The whole tiny solve (burn-in, imitation, value fits, policy steps, time iteration,
  validation) on 2 logical CPU devices gives the one-device metrics; the finished run then
  reopens under the default strategy (run.strategy is not part of a run's identity)."""
  workdir = str(tmp_path / 'mirrored')
  out = _solve(workdir, '--config.run.strategy=mirrored', '--config.run.logical_cpus=2')
  assert out.returncode == 0, out.stderr[-3000:]
  _same_metrics(workdir, one_device)
  again = _solve(workdir)
  assert again.returncode == 0, again.stderr[-3000:]
  _same_metrics(workdir, one_device)


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


@pytest.mark.slow  # two worker processes and a one-device solve: 4 minutes
def test_two_workers_train_one_solve_together(tmp_path, one_device):
  """Two processes on localhost (loopback ports) under MultiWorkerMirroredStrategy train the
  tiny KS config as one solve: each unrolls half of every batch. The chief writes the workdir
  (checkpoints included), the other worker nothing there; the metrics equal a one-process solve's
  to float32 rounding."""
  ports = [_free_port(), _free_port()]
  workdir = str(tmp_path / 'together')
  cmd = [sys.executable, os.path.join(ROOT, 'run.py'), '--config=configs/ks_tiny.py',
         '--config.run.strategy=multi_worker', f'--workdir={workdir}']
  procs = []
  for index in range(2):
    tf_config = dict(cluster=dict(worker=[f'localhost:{p}' for p in ports]),
                     task=dict(type='worker', index=index))
    procs.append(subprocess.Popen(cmd, cwd=ROOT, env=dict(_QUIET, TF_CONFIG=json.dumps(tf_config)),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
  logs = [p.communicate(timeout=600)[0] for p in procs]
  assert [p.returncode for p in procs] == [0, 0], '\n'.join(log[-2000:] for log in logs)
  assert 'a worker of the solve' in logs[1]
  listing = set(os.listdir(workdir))
  assert {'summary.json', 'metrics.csv', 'checkpoints', 'config.json'} <= listing
  assert 'error.log' not in listing
  assert any(f.startswith('ckpt-') for f in os.listdir(os.path.join(workdir, 'checkpoints')))

  _same_metrics(workdir, one_device)
  with open(os.path.join(workdir, 'summary.json')) as f:
    summary = json.load(f)
  assert summary['policy_steps'] == int(one_device['metrics.csv'].step.iloc[-1])


def test_bad_strategies_are_refused_with_the_field_named(monkeypatch):
  config = ks_game.get_config('tiny')
  config.run.strategy = 'horovod'
  with pytest.raises(errors.ConfigError, match=r"run.strategy must be one of \['default'"):
    config_checks.check(config)
  config = ks_game.get_config('tiny')
  config.run.strategy, config.policy.euler_weight = 'mirrored', 1.0
  with pytest.raises(errors.ConfigError, match='policy.euler_weight'):
    config_checks.check(config)
  monkeypatch.delenv('TF_CONFIG', raising=False)
  monkeypatch.delenv('SLURM_JOB_ID', raising=False)
  with pytest.raises(errors.ConfigError, match='needs a cluster: set TF_CONFIG'):
    distribute.make('multi_worker')
  with pytest.raises(errors.ConfigError, match='policy.batch_size=10 must be a multiple of the 4'):
    distribute.check_batch(types.SimpleNamespace(num_replicas_in_sync=4), 10)


@pytest.mark.parametrize('tf_config, chief', [
    ({'cluster': {'worker': ['a:1', 'b:2']}, 'task': {'type': 'worker', 'index': 0}}, True),
    ({'cluster': {'worker': ['a:1', 'b:2']}, 'task': {'type': 'worker', 'index': 1}}, False),
    ({'cluster': {'chief': ['a:1'], 'worker': ['b:2']}, 'task': {'type': 'worker', 'index': 0}},
     False),
    ({'cluster': {'chief': ['a:1'], 'worker': ['b:2']}, 'task': {'type': 'chief', 'index': 0}},
     True)])
def test_the_chief_owns_the_workdir(tf_config, chief, monkeypatch):
  monkeypatch.setenv('TF_CONFIG', json.dumps(tf_config))
  assert distribute.is_chief('multi_worker') is chief
  assert distribute.is_chief('default') is True
