"""Solve or validate an economy: python run.py --config=configs/NAME.py [--config.a.b=v ...].

python run.py --workdir=DIR [--action=validate] resumes (or validates) the run in DIR with the
config it was started with (its config.json).
"""

import logging
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # hide TensorFlow's start-up chatter

from absl import flags  # pylint: disable=g-import-not-at-top
from ml_collections import config_flags

from deepham import cli
from deepham import main as deepham_main
from deepham import workdir as workdir_lib

_CONFIG = cli.define_config_flag('config')
_WORKDIR = flags.DEFINE_string('workdir', None,
                               'Output directory; default runs/<config>_<timestamp>.')
_ACTION = flags.DEFINE_enum('action', 'solve', deepham_main.ACTIONS,
                            "'solve' (resumes an unfinished run in --workdir) or 'validate' "
                            '(re-validates a finished run in --workdir).')
_OVERWRITE = flags.DEFINE_bool('overwrite', False,
                               'Delete the deepham run found in --workdir (only the files a '
                               'deepham run writes) and start afresh.')


def main(argv):
  if len(argv) > 1:
    raise SystemExit(f'deepham: unexpected arguments {argv[1:]}; every option is a --flag.')
  # TensorFlow logs a line per checkpoint ("Sharding callback duration") through absl: drop it.
  logging.getLogger('absl').addFilter(
      lambda record: not record.pathname.endswith('functional_saver.py'))
  if _CONFIG.value is None:  # the run in --workdir, with its own config
    if not _WORKDIR.value:
      raise SystemExit('deepham: --config is required, unless --workdir names a run to resume '
                       'or validate with its own config.')
    workdir = _WORKDIR.value
    config = lambda: workdir_lib.stored_config(workdir)  # pylint: disable=unnecessary-lambda-assignment
  else:
    workdir = _WORKDIR.value or workdir_lib.default_workdir(
        config_flags.get_config_filename(flags.FLAGS['config']))
    config = lambda: _CONFIG.value  # pylint: disable=unnecessary-lambda-assignment
  cli.run_guarded(
      lambda: deepham_main.run(config(), workdir, _ACTION.value, _OVERWRITE.value), workdir)


if __name__ == '__main__':
  cli.main(main, required=())
