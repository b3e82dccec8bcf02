"""Stochastic simulation of the Krusell-Smith economy with many households.

It runs deepham's N-agent simulation (the code the DeepHAM solver uses) with N = n_households on
one path, under the conventional solution's savings table. The aggregate path comes from the
simulation's own seeded draws.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from deepham.conventional import ks_solution
from deepham.economies import base
from deepham.economies import ks
from deepham.solver import simulate as simulate_lib


def simulate(econ: ks.KrusellSmith, savings: np.ndarray, k_grid, K_grid, n_periods: int,
             n_households: int, seed: int, k0: float):
  """K_t and z_t for t = 0..n_periods from all households at k0 (float64)."""
  panel_econ = ks.KrusellSmith(dataclasses.replace(econ.params, n_agents=n_households))
  policy = ks_solution.grid_policy(panel_econ, savings, k_grid, K_grid)
  rng = np.random.default_rng(seed)
  z0, e0 = panel_econ.chain.draw_initial(1, n_households, rng)
  z0[:] = 0
  e0 = (rng.random((1, n_households)) >= econ.params.unemployment[0]).astype(np.int32)
  state = base.State(x=np.full((1, n_households, 1), k0), e=e0, z=z0)
  state = simulate_lib.as_state(state, tf.float64)
  sim = simulate_lib.Simulator(panel_econ, policy, jit_compile=False)
  path = sim.path(state, [seed, 0], n_periods + 1)
  return path.aggregates[:, 0, 0].numpy(), path.z[:, 0].numpy()
