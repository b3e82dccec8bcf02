"""Solve or validate an economy: python run.py --config=configs/NAME.py [--config.a.b=v ...]."""

import logging
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # hide TensorFlow's start-up chatter

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
from ml_collections import config_flags

from deepham import errors
from deepham import main as deepham_main
from deepham import workdir as workdir_lib

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Path to configs/NAME.py.',
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None,
                               'Output directory; default runs/<config>_<timestamp>.')
_ACTION = flags.DEFINE_enum('action', 'solve', deepham_main.ACTIONS,
                            "'solve' (resumes an unfinished run in --workdir) or 'validate' "
                            '(re-validates a finished run in --workdir).')
_OVERWRITE = flags.DEFINE_bool('overwrite', False,
                               'Delete a different run found in --workdir and start afresh.')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  # TensorFlow logs a line per checkpoint ("Sharding callback duration") through absl: drop it.
  logging.getLogger('absl').addFilter(
      lambda record: not record.pathname.endswith('functional_saver.py'))
  workdir = _WORKDIR.value or workdir_lib.default_workdir(
      config_flags.get_config_filename(flags.FLAGS['config']))
  try:
    deepham_main.run(_CONFIG.value, workdir, _ACTION.value, _OVERWRITE.value)
  except (errors.ConfigError, errors.WorkdirError, errors.NonFiniteError,
          FileNotFoundError) as exc:
    sys.exit(f'deepham: {exc}')


if __name__ == '__main__':
  flags.mark_flags_as_required(['config'])
  app.run(main)
