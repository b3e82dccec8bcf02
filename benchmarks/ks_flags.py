"""The flags of the single-config benchmark scripts: --config (default configs/ks_game.py) and
--n_agents. Imported by a script, never by benchmarks/common.py (a child process of scaling.py
defines its own flags)."""

import os

from absl import flags
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file(
    'config', os.path.join(os.path.dirname(__file__), '..', 'configs', 'ks_game.py'),
    'Config to measure (default: configs/ks_game.py).')
_N_AGENTS = flags.DEFINE_integer('n_agents', None, 'Override economy.n_agents.')


def config():
  """The --config, with economy.n_agents set by --n_agents if given."""
  cfg = _CONFIG.value
  if _N_AGENTS.value:
    cfg.economy.n_agents = _N_AGENTS.value
  return cfg
