"""Config sections shared by several configs."""

import ml_collections

from deepham.economies import ks


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
  ))
