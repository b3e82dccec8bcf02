"""Config sections shared by several configs."""

import ml_collections

from deepham import errors
from deepham.economies import ks


def apply_variants(config: ml_collections.ConfigDict, arg: str | None,
                   variants: dict) -> ml_collections.ConfigDict:
  """Applies the variants named in `arg` ('a,b', from --config=FILE:a,b) in order.

  A variant maps a section to the fields it overrides (a dict) or a top-level field to its
  value.
  """
  for name in (arg.split(',') if arg else []):
    if name not in variants:
      raise errors.ConfigError(f'unknown variant {name!r}; choose from {sorted(variants)}.')
    for key, values in variants[name].items():
      if isinstance(values, dict):
        config[key].update(values)
      else:
        config[key] = values
  return config


def ks_economy(n_agents: int = 50) -> ml_collections.ConfigDict:
  """Krusell-Smith (1998) with the JEDC 2010 calibration (deepham/economies/ks.py)."""
  p = ks.KSParams()
  return ml_collections.ConfigDict(dict(
      name='ks',
      n_agents=n_agents,  # households in the finite economy (the conventional solver ignores it)
      beta=p.beta,
      alpha=p.alpha,
      delta=p.delta,
      z_values=p.z_values,  # productivity (bad, good)
      unemployment=p.unemployment,  # unemployment rate (bad, good)
      l_bar=p.l_bar,  # time endowment
      mu=p.mu,  # unemployment benefit, share of the wage
      transition=p.transition,  # joint chain over (z, eps): (bad,u), (bad,e), (good,u), (good,e)
      # Not calibration: the policy's output map c = min(cash, sigmoid(o) (cash + H)), H this
      # (economies/base.py: ConsumptionSavings); the conventional solver ignores it.
      human_wealth=p.human_wealth,
  ))
