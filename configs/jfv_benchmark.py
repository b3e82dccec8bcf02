"""The conventional solver of the financial-frictions economy (deepham/economies/fvhn.py), the
benchmark every DeepHAM run of configs/jfv.py is compared with.

python run.py --config=configs/jfv_benchmark.py --workdir=DIR writes DIR/jfv_solution.npz: with
aggregate shocks (the default) the KS-type method's solution (deepham/conventional/fvhn_ks.py);
the copy shipped in data/jfv_benchmark/ is made by exactly this command (about 5 min).
With --config.economy.aggregate_shocks=False the stationary equilibrium by the finite-difference
HJB/KFE method (deepham/conventional/jfv_stationary.py), which validation also solves itself.
"""

import dataclasses

import ml_collections

from configs import jfv
from deepham.conventional import fvhn_ks


def get_config():
  config = ml_collections.ConfigDict()
  config.method = 'jfv_benchmark'
  config.economy = jfv.jfv_economy()
  o = fvhn_ks.Options()
  # Grids, stopping rules and the simulation of the KS-type method (aggregate shocks only).
  config.jfv_method = ml_collections.ConfigDict(
      {f.name: getattr(o, f.name) for f in dataclasses.fields(o)})
  return config
