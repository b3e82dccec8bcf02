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


def test_fields_that_default_to_none_can_be_set_from_the_command_line(tmp_path):
  """A field whose default is None must carry its type (config_dict.placeholder), or
  --config.a.b=v is refused by ml_collections; and such an override reaches the run."""
  from configs import base  # pylint: disable=g-import-not-at-top

  def none_fields(node, prefix=''):
    for key in node.keys():
      value = node[key]
      if hasattr(value, 'keys'):
        yield from none_fields(value, f'{prefix}{key}.')
      elif value is None:
        yield f'{prefix}{key}', node.get_type(key)

  fields = dict(none_fields(base.get_config()))
  assert 'policy.time_iteration_damping_far' in fields
  untyped = [name for name, kind in fields.items() if kind is type(None)]
  assert not untyped, untyped
  out = _run('--config=configs/ks_tiny.py', '--config.policy.time_iteration_damping_far=2.0',
             f'--workdir={tmp_path}')
  assert 'deepham: policy.time_iteration_damping_far must be' in out.stderr.strip().splitlines()[-1]
