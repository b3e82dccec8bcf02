"""The sweep runner (deepham/sweep.py): grids, the results tables, and a killed solve on Ray."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from configs import ks_game
from deepham import errors
from deepham import sweep
from tests import conftest


def test_grids_expand_to_the_cartesian_product_of_checked_configs(tmp_path):
  grid = sweep.parse_grid(['seed=0:3', 'economy.n_agents=10,50', 'network.activation=tanh'])
  assert grid == [('seed', [0, 1, 2]), ('economy.n_agents', [10, 50]),
                  ('network.activation', ['tanh'])]
  solves = sweep.plan(ks_game.get_config('tiny'), grid, str(tmp_path))
  assert len(solves) == 6
  assert solves[1].name == 'seed=0__economy.n_agents=50__network.activation=tanh'
  assert solves[1].config.economy.n_agents == 50 and solves[1].config.seed == 0
  assert solves[1].workdir == os.path.join(str(tmp_path), solves[1].name)


@pytest.mark.parametrize('spec, message', [
    ('seed', "--grid must be 'field=a:b'"), ('seed=a:b', 'needs integers'),
    ('seed=3:3', 'has no values'), ('economy.nagents=1,2', "no field 'nagents'"),
    ('econ.n_agents=1', "no section 'econ'"), ('economy.n_agents=0,5', 'economy.n_agents')])
def test_a_bad_grid_is_refused_before_any_solve_starts(spec, message, tmp_path):
  with pytest.raises(errors.ConfigError, match=message):
    sweep.plan(ks_game.get_config('tiny'), sweep.parse_grid([spec]), str(tmp_path))
  assert not os.listdir(tmp_path)


def test_over_seeds_gives_the_mean_and_std_of_each_figure():
  table = pd.DataFrame(dict(name=list('abcd'), seed=[0, 1, 0, 1], n=[10, 10, 50, 50],
                            status=['done'] * 4, mean_K=[1.0, 3.0, 5.0, 9.0]))
  out = sweep.over_seeds(table, ['seed', 'n']).set_index('n')
  assert list(out['n_solves']) == [2, 2]
  np.testing.assert_allclose(out['mean_K'], [2.0, 7.0])
  np.testing.assert_allclose(out['mean_K_std'], [np.sqrt(2), np.sqrt(8)])


def _workers():
  out = subprocess.run(['pgrep', '-f', 'ray::_solve_task'], capture_output=True, text=True)
  return [int(p) for p in out.stdout.split()]


@pytest.mark.slow  # four tiny solves as Ray tasks, one killed and retried: 15 minutes on 2 cores
def test_a_killed_solve_is_retried_resumes_and_ends_as_the_others(tmp_path):
  """Four tiny solves that differ only in how often they log (identical numbers): one worker
  is killed mid-solve; Ray retries it, it resumes from its checkpoint, and all four end with the
  same figures. The same command again skips them all."""
  out = str(tmp_path / 'sweep')
  cmd = [sys.executable, '-m', 'deepham.sweep', '--config=configs/ks_game.py:tiny',
         '--grid=run.log_every=2,3,4,6', f'--out={out}']
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  proc = subprocess.Popen(cmd, cwd=conftest.REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
  killed, deadline = None, time.time() + 600
  while killed is None and proc.poll() is None and time.time() < deadline:
    started = [d for d in (os.listdir(out) if os.path.isdir(out) else [])
               if os.path.isdir(os.path.join(out, d, 'checkpoints'))
               and not os.path.exists(os.path.join(out, d, 'summary.json'))]
    workers = _workers()
    if started and workers:
      os.kill(workers[0], signal.SIGKILL)
      killed = workers[0]
    time.sleep(0.5)
  stdout, stderr = proc.communicate(timeout=900)
  assert killed is not None, 'no solve was running to kill'
  assert proc.returncode == 0, stderr[-3000:]
  table = pd.read_csv(os.path.join(out, 'results.csv'))
  assert list(table['status']) == ['done'] * 4
  for key in ('mean_K', 'final_validation_utility', 'bellman_error.deepham.optimality_mean'):
    np.testing.assert_allclose(table[key], table[key].iloc[0], rtol=1e-6)
  for name in table['name']:  # each solve's log, its first attempt's and the resumed one's
    with open(os.path.join(out, name, 'log.txt')) as f:
      assert 'finished in' in f.read()
  again = subprocess.run(cmd, cwd=conftest.REPO, env=env, capture_output=True, text=True,
                         timeout=300)
  assert again.returncode == 0 and '4 done, 0 failed' in again.stdout
  assert '4 finished before, 0 to run' in again.stderr
