"""Closed-form checks of policies learned through the environments (ppo.py, train_ppo.py)."""

import numpy as np
import tensorflow as tf

from deepham.economies import base
from deepham.rl import core

# Brock-Mirman: the second grid of the check, k_ss (1 -/+ NEAR), about the range the economy's
# shocks keep capital in (k / k_ss within 0.92 to 1.08 at the default calibration), where most
# periods of an episode are.
NEAR = 0.1


def saving_rates(policy, economy, n_moments: int, output_scale: float,
                 n_grid: int = 9, spread: float | None = None) -> tuple[np.ndarray, np.ndarray]:
  """Brock-Mirman: the deterministic policy's saving rates [n_z, n_grid] (1 - the consumption
  share of output) at capital k [n_grid], in the cross-section of n_grid agents spread evenly
  over k_ss (1 -/+ spread), for each z. Default spread: the economy's initial range k_spread
  (at least 10%), where episodes start."""
  n_z = len(economy.params.z_values)
  spread = max(economy.params.k_spread, 0.1) if spread is None else spread
  k = economy.k_ss * np.linspace(1 - spread, 1 + spread, n_grid)
  state = base.State(tf.constant(np.tile(k, (n_z, 1))[..., None]),
                     tf.zeros((n_z, n_grid), tf.int32), tf.range(n_z, dtype=tf.int32))
  obs = core.observations(economy, state, n_moments).numpy()
  raw = tf.constant(output_scale * policy.act(obs), tf.float64)
  share = economy.action_from_output(raw, state, economy.aggregates(state))
  return k, 1 - share.numpy()[..., 0]
