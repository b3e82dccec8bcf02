"""Errors deepham raises on purpose, each with a message meant for the user."""


class ConfigError(ValueError):
  """A configuration value is impossible; the message names the field and what is allowed."""


class WorkdirError(RuntimeError):
  """A workdir cannot be used as asked (it holds another run, or not a finished one)."""


class NonFiniteError(FloatingPointError):
  """A loss or state became NaN or infinite; the run stops with its last good checkpoint kept."""
