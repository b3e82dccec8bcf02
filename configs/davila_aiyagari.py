"""Stationary equilibrium of the Davila et al. (2012) market economy (the conventional benchmark).

python run.py --config=configs/davila_aiyagari.py --workdir=DIR  writes DIR/aiyagari_solution.npz;
the copy in data/davila/ is made by exactly this command.
"""

import ml_collections

from configs import davila as davila_config
from deepham.conventional import aiyagari


def get_config():
  config = ml_collections.ConfigDict()
  config.method = 'aiyagari'
  config.economy = davila_config.davila_economy()
  m = aiyagari.AiyagariMethodParams()
  config.aiyagari = ml_collections.ConfigDict(dict(
      n_a=m.n_a, a_max=m.a_max, a_power=m.a_power,  # household asset grid
      n_fine=m.n_fine,  # distribution grid
      tol_egm=m.tol_egm, tol_market=m.tol_market, max_bisect=m.max_bisect))
  return config
