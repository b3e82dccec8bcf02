"""The benchmark scripts run and print their JSON line (timings are never asserted)."""

import json
import os
import subprocess
import sys

import pytest

from tests import conftest


@pytest.mark.slow  # child processes for each N
def test_scaling_script_prints_one_figure_line_per_n():
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  out = subprocess.run([sys.executable, 'benchmarks/scaling.py', '--n_agents=4',
                        '--variant=tiny', '--steps=1', '--periods=20'],
                       cwd=conftest.REPO, env=env, capture_output=True, text=True, timeout=300)
  assert out.returncode == 0, out.stderr[-2000:]
  lines = [json.loads(l) for l in out.stdout.splitlines() if l.startswith('{')]
  assert len(lines) == 1
  result = lines[0]
  assert 'error' not in result, result.get('error')
  assert result['n_agents'] == 4
  for key in ('seconds_per_step', 'compile_seconds', 'ms_per_period', 'peak_memory_gb'):
    assert result[key] > 0, key


@pytest.mark.slow  # a tiny solve and two validations in subprocesses: minutes
def test_gm_grid_accuracy_script_validates_a_run_both_ways(tmp_path):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  run = subprocess.run([sys.executable, 'run.py', '--config=configs/ks_tiny.py',
                        f'--workdir={tmp_path}'], cwd=conftest.REPO, env=env,
                       capture_output=True, text=True, timeout=600)
  assert run.returncode == 0, run.stderr[-2000:]
  out = subprocess.run([sys.executable, 'benchmarks/gm_grid_accuracy.py',
                        f'--workdir={tmp_path}'], cwd=conftest.REPO, env=env,
                       capture_output=True, text=True, timeout=600)
  assert out.returncode == 0, out.stderr[-2000:]
  result = json.loads([l for l in out.stdout.splitlines() if l.startswith('{')][-1])
  assert result['gm_grid'] > 0
  # The grid interpolates the basis to far better than the Bellman error's size.
  assert abs(result['grid_optimality_mean'] - result['exact_optimality_mean']) < (
      0.01 * result['exact_optimality_mean'])


def _json_lines(script: str, *flags_: str) -> list[dict]:
  """The JSON lines a benchmark script prints (it must exit cleanly)."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  out = subprocess.run([sys.executable, script, *flags_], cwd=conftest.REPO, env=env,
                       capture_output=True, text=True, timeout=600)
  assert out.returncode == 0, out.stderr[-2000:]
  return [json.loads(l) for l in out.stdout.splitlines() if l.startswith('{')]


def test_irf_script_times_both_methods():
  result = _json_lines('benchmarks/irf.py', '--config=configs/ks_game.py:tiny', '--states=8',
                       '--horizon=3')[-1]
  assert result['shock'] == 'z=1->0' and result['states'] == 8
  for key in ('deepham_response_seconds', 'ks_response_seconds', 'seconds'):
    assert result[key] > 0, key


@pytest.mark.slow  # two subprocesses, each a short solve: 3 minutes
def test_distributed_script_measures_one_and_two_devices():
  rows = _json_lines('benchmarks/distributed.py', '--variant=tiny', '--steps=2',
                     '--solve_steps=4')
  assert [(r['replicas'], r['strategy'], len(r['devices'])) for r in rows] == [
      (1, 'default', 1), (2, 'mirrored', 2)]
  for r in rows:
    assert r['seconds_per_step'] > 0 and r['short_solve_seconds'] > 0
