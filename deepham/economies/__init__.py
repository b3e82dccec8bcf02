"""Economies: one file each, registered here by the name configs use (`config.economy.name`)."""

from deepham import errors
from deepham.economies import brock_mirman
from deepham.economies import davila
from deepham.economies import investment
from deepham.economies import ks
from deepham.economies.base import Economy, Shocks, State

# name -> (Economy class, parameter dataclass with from_config)
REGISTRY = {
    'ks': (ks.KrusellSmith, ks.KSParams),
    'brock_mirman': (brock_mirman.BrockMirman, brock_mirman.BMParams),
    'investment': (investment.LucasPrescott, investment.InvestmentParams),
    'davila': (davila.Davila, davila.DavilaParams),
}


def make(cfg) -> Economy:
  """Builds the economy a config section describes; unknown names and bad values fail here."""
  name = cfg.get('name')
  if name not in REGISTRY:
    raise errors.ConfigError(f"economy.name must be one of {sorted(REGISTRY)}; got '{name}'.")
  cls, params_cls = REGISTRY[name]
  return cls(params_cls.from_config(cfg))
