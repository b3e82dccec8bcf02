"""run.py: flags in, clear errors out."""

import os
import subprocess
import sys

import pytest

from tests import conftest


def _run(*args):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  return subprocess.run([sys.executable, 'run.py', *args], cwd=conftest.REPO, env=env,
                        capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize('override, message', [
    ('--config.economy.betta=0.9', 'betta'),  # typo: ml_collections suggests the field
    ('--config.economy.n_agents=many', 'n_agents'),  # wrong type
])
def test_bad_overrides_fail_with_ml_collections_message(override, message, tmp_path):
  out = _run('--config=configs/ks_tiny.py', override, f'--workdir={tmp_path}')
  assert out.returncode != 0
  assert message in out.stderr


def test_impossible_value_names_the_field(tmp_path):
  out = _run('--config=configs/ks_tiny.py', '--config.economy.beta=1.5', f'--workdir={tmp_path}')
  assert out.returncode != 0
  assert 'deepham: economy.beta must lie in (0, 1)' in out.stderr
  assert 'Traceback' not in out.stderr
  assert not os.path.exists(tmp_path / 'config.json')  # nothing written for a bad config
