"""Economies: one file each, registered here by the name configs use (`config.economy.name`)."""

from deepham import errors
from deepham.economies import brock_mirman
from deepham.economies import covarrubias
from deepham.economies import davila
from deepham.economies import fvhn
from deepham.economies import investment
from deepham.economies import ks
from deepham.economies.base import Economy, Shocks, State

# name -> (Economy class, parameter dataclass with from_config)
REGISTRY = {
    'ks': (ks.KrusellSmith, ks.KSParams),
    'brock_mirman': (brock_mirman.BrockMirman, brock_mirman.BMParams),
    'investment': (investment.LucasPrescott, investment.InvestmentParams),
    'davila': (davila.Davila, davila.DavilaParams),
    'covarrubias': (covarrubias.Covarrubias, covarrubias.CovarrubiasParams),
    'fvhn': (fvhn.FVHN, fvhn.FVHNParams),
}


def register(name: str, economy_class: type, params_class: type) -> None:
  """Adds an economy under `name` (config.economy.name): its Economy subclass and its parameter
  class, whose from_config(section) builds the parameters from the config's economy section."""
  if not (isinstance(economy_class, type) and issubclass(economy_class, Economy)):
    raise TypeError(f'{economy_class!r} is not a subclass of deepham.economies.base.Economy.')
  if not callable(getattr(params_class, 'from_config', None)):
    raise TypeError(f'{params_class!r} has no from_config(section) classmethod.')
  REGISTRY[name] = (economy_class, params_class)


def name_of(economy: Economy) -> str | None:
  """The registered name of an economy object's class or, for an unregistered subclass, of its
  nearest registered ancestor (None if there is none)."""
  names = {cls: name for name, (cls, _) in REGISTRY.items()}
  return next((names[c] for c in type(economy).__mro__ if c in names), None)


def make(cfg) -> Economy:
  """Builds the economy a config section describes; unknown names and bad values fail here."""
  name = cfg['name'] if 'name' in cfg else None
  if name not in REGISTRY:
    raise errors.ConfigError(f"economy.name must be one of {sorted(REGISTRY)}; got '{name}'.")
  cls, params_cls = REGISTRY[name]
  return cls(params_cls.from_config(cfg))
