"""The conventional Krusell-Smith solver (the benchmark every DeepHAM KS run is compared with).

python run.py --config=configs/ks_benchmark.py --workdir=DIR writes DIR/ks_solution.npz; the copy
shipped in data/ks_benchmark/ is made by exactly this command.
"""

import ml_collections

from configs import common
from deepham.conventional import krusell_smith


def get_config():
  config = ml_collections.ConfigDict()
  config.method = 'krusell_smith'
  config.economy = common.ks_economy()
  m = krusell_smith.KSMethodParams()
  config.ks_method = ml_collections.ConfigDict(dict(
      n_k=m.n_k, k_max=m.k_max, k_power=m.k_power,  # individual capital grid
      n_K=m.n_K, K_min=m.K_min, K_max=m.K_max,  # aggregate capital grid
      simulation=m.simulation,  # 'histogram' (continuum, Young 2010) | 'panel' (households)
      n_households=m.n_households,  # panel only
      n_fine=m.n_fine,  # histogram grid points
      t_sim=m.t_sim, t_discard=m.t_discard,  # periods per ALM regression, and burn-in
      damping=m.damping,  # weight of the new ALM estimate
      tol_alm=m.tol_alm, max_iter=m.max_iter, tol_egm=m.tol_egm,
      t_den_haan=m.t_den_haan,  # periods of the accuracy simulation
      seed=m.seed,
  ))
  return config
