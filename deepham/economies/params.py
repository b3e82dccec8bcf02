"""Parameters of an economy: a frozen dataclass, built from its config section and checked.

An economy's parameter class derives from `Params` and is a `dataclasses.dataclass(frozen=True)`;
its `__post_init__` checks the values with `require` (and `check_agents_and_beta` for the two
fields every economy has), so that a bad value ends in one line naming the field.
"""

import dataclasses

from deepham import errors


class Params:
  """Base of the parameter dataclasses: `from_config` and the checks' messages."""

  @classmethod
  def from_config(cls, section):
    """The parameters named in a config section (other fields are the solver's); lists become
    tuples, at every depth, so that the parameters stay hashable like their defaults."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: _frozen(v) for k, v in dict(section).items() if k in names})


def _frozen(value):
  if isinstance(value, (list, tuple)):
    return tuple(_frozen(v) for v in value)
  return value


def require(ok: bool, field: str, rule: str, value) -> None:
  """Unless ok, raises ConfigError 'economy.<field> must <rule>; got <value>.', the rule being
  e.g. 'be positive' or 'lie in (0, 1)'."""
  if not ok:
    raise errors.ConfigError(f'economy.{field} must {rule}; got {value}.')


def check_agents_and_beta(p) -> None:
  """The number of agents is a positive integer and the discount factor lies in (0, 1)."""
  require(int(p.n_agents) == p.n_agents and p.n_agents >= 1, 'n_agents',
          'be a positive integer', p.n_agents)
  require(0 < p.beta < 1, 'beta', 'lie in (0, 1)', p.beta)
