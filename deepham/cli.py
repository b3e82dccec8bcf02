"""The command line of run.py: flags in, a run out, and one line for anything that goes wrong.

Every error a user can cause (a config file that is missing or does not load, an unknown field
or variant, a value of the wrong type or out of range, a workdir that cannot be used) ends in
one line `deepham: ...` that names what is wrong, and exit status 1; an error deepham did not
foresee ends the same way, with its traceback written to a file the line names.
"""

import ast
import importlib.util
import os
import sys
import tempfile
import traceback

from absl import app
from absl import flags
from absl import logging
import ml_collections
from ml_collections import config_flags
from ml_collections.config_flags import tuple_parser

from deepham import errors

# Errors whose message is meant for the user as it stands.
USER_ERRORS = (errors.ConfigError, errors.WorkdirError, errors.NonFiniteError, FileNotFoundError)


class ConfigFileParser(flags.ArgumentParser):
  """Loads `--config=PATH[:ARG]` (get_config() or get_config(ARG)), with an error that names
  the file and what went wrong in place of a traceback. It stands in for ml_collections' own
  config-file parser, whose errors carry a traceback; overrides are still parsed by
  ml_collections."""

  def __init__(self, name: str, lock_config: bool = True):
    self.name = name
    self._lock_config = lock_config

  def flag_type(self):
    return 'config object'

  def parse(self, path):
    spec, _, arg = path.partition(':')
    if not os.path.isfile(spec):
      raise errors.ConfigError(f'there is no config file {spec!r}.')
    try:
      module_spec = importlib.util.spec_from_file_location(f'{self.name}_config', spec)
      module = importlib.util.module_from_spec(module_spec)
      module_spec.loader.exec_module(module)
    except SyntaxError as exc:
      raise errors.ConfigError(f'{spec}, line {exc.lineno}: syntax error ({exc.msg}).') from exc
    except Exception as exc:  # pylint: disable=broad-except
      raise errors.ConfigError(f'{spec} does not load: {_one_line(exc)}') from exc
    get_config = getattr(module, 'get_config', None)
    if not callable(get_config):
      raise errors.ConfigError(f'{spec} defines no get_config() function.')
    try:
      config = get_config(arg) if arg else get_config()
    except errors.ConfigError:
      raise
    except TypeError as exc:
      if arg:
        raise errors.ConfigError(f'{spec} takes no variants (got :{arg}).') from exc
      raise errors.ConfigError(f'{spec}: get_config() failed: {_one_line(exc)}') from exc
    except Exception as exc:  # pylint: disable=broad-except
      raise errors.ConfigError(f'{spec}: get_config() failed: {_one_line(exc)}') from exc
    if not isinstance(config, ml_collections.ConfigDict):
      raise errors.ConfigError(f'{spec}: get_config() must return an ml_collections.ConfigDict; '
                               f'it returned {type(config).__name__}.')
    if self._lock_config:
      config.lock()
    return config


class StrictTupleParser(tuple_parser.TupleParser):
  """Overrides of tuple fields must be tuples: ml_collections would read `--config.network.
  width=24` as (24,), one hidden layer, where (24, 24) may have been meant."""

  def parse(self, argument):
    if isinstance(argument, str):
      try:
        literal = ast.literal_eval(argument.strip())
      except (ValueError, SyntaxError):
        literal = None
      if not isinstance(literal, (tuple, list)):
        raise ValueError(f"a tuple is expected, e.g. '(24,)' or '(24, 24)'; got {argument!r}")
    return super().parse(argument)


def define_config_flag(name: str = 'config', help_string: str = 'Path to configs/NAME.py.'):
  """A config-file flag (overridable as --NAME.a.b=v) that loads with `ConfigFileParser`."""
  config_flags.register_flag_parser_for_type(tuple, StrictTupleParser())
  handle = config_flags.DEFINE_config_file(name, None, help_string, lock_config=True)
  flags.FLAGS[name].parser = ConfigFileParser(name=name, lock_config=True)
  return handle


def _one_line(exc: BaseException) -> str:
  """An exception's message on one line (KeyError's repr quotes dropped)."""
  text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
  text = str(text)
  if 'Traceback (most recent call last)' in text:  # a formatted traceback: its last line
    text = [line for line in text.splitlines() if line.strip()][-1]
  parts = [p.strip() for p in text.splitlines() if p.strip()]
  return ' '.join(parts) if parts else type(exc).__name__


def parse_flags(argv):
  """absl's flag parsing, with every failure as one line `deepham: ...` and exit status 1."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as exc:
    message = _one_line(exc)
    if message.startswith('flag --'):
      message = message[len('flag '):]
    sys.exit(f'deepham: {message}')
  except KeyError as exc:  # an override of a field the config does not have
    field = str(exc.args[0]).splitlines()[0].strip("'\"") if exc.args else '?'
    where = next((a.split('=')[0] for a in argv[1:] if f'.{field}' in a.split('=')[0]), None)
    sys.exit(f'deepham: {where or "a --config override"}: the config has no field {field!r}'
             + ''.join(f'. {line.strip()}' for line in str(exc.args[0]).splitlines()[1:]))
  except Exception as exc:  # pylint: disable=broad-except
    sys.exit(f'deepham: the command line could not be read: {_one_line(exc)}')


def error_log(workdir: str | None) -> str:
  """Where an unexpected error's traceback goes: error.log in a workdir that holds a deepham
  run, otherwise (or in a non-chief task of a cluster, which writes nothing in the chief's
  workdir) a new file in the temporary directory."""
  from deepham.solver import distribute  # pylint: disable=g-import-not-at-top
  if (workdir and os.path.isfile(os.path.join(workdir, 'config.json'))
      and distribute.is_chief('multi_worker')):
    path = os.path.join(workdir, 'error.log')
  else:
    fd, path = tempfile.mkstemp(prefix='deepham-error-', suffix='.log')
    os.close(fd)
  with open(path, 'w') as f:
    f.write(traceback.format_exc())
  return path


def run_guarded(fn, workdir: str | None) -> None:
  """Calls fn(); a user error, an interruption or an unexpected error becomes one line."""
  try:
    fn()
  except USER_ERRORS as exc:
    sys.exit(f'deepham: {_one_line(exc)}')
  except KeyboardInterrupt:
    sys.exit('deepham: interrupted; the same command resumes from the last checkpoint.')
  except Exception as exc:  # pylint: disable=broad-except
    path = error_log(workdir)
    logging.error('unexpected error; traceback in %s', path)
    sys.exit(f'deepham: unexpected error, {type(exc).__name__}: {_one_line(exc)} '
             f'(traceback in {path})')


def main(program, required=('config',)):
  """app.run with `parse_flags` as the flag parser."""
  for name in required:
    flags.mark_flag_as_required(name)
  app.run(program, flags_parser=parse_flags)
