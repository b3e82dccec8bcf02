"""A trained DeepHAM solution loaded back from its workdir: `deepham.load(workdir)`."""

import numpy as np
import tensorflow as tf

from deepham import errors
from deepham import workdir as workdir_lib
from deepham.economies import base


class Solution:
  """Policy and value functions of a finished (or checkpointed) run, on NumPy arrays.

  Cross-sections are given as arrays: x [B, N] (or [B, N, n_x]) individual states, e [B, N]
  idiosyncratic states, z [B] aggregate states; N is any number of agents (the networks are
  permutation invariant; the economy's N is `n_agents`).
  """

  def __init__(self, solver):
    self._solver = solver
    self.config = solver.config
    self.economy = solver.economy
    self.n_agents = solver.economy.n_agents

  def state(self, x, e, z) -> base.State:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
      x = x[..., None]
    dtype = self._solver.dtype
    return base.State(tf.constant(x, dtype), tf.constant(np.asarray(e), tf.int32),
                      tf.constant(np.asarray(z), tf.int32))

  def policy(self, x, e, z) -> np.ndarray:
    """Actions [B, N, n_actions] (KS: consumption share of cash on hand)."""
    return self._solver.policy(self.state(x, e, z)).numpy()

  def value(self, x, e, z) -> np.ndarray:
    """Values [B, N] in utility units (the ensemble mean)."""
    return self._solver.value(self.state(x, e, z)).numpy()

  def distribution(self) -> dict:
    """The simulated distribution at the end of training: arrays x, e, z."""
    return {f: np.asarray(v.numpy()) for f, v in zip(base.State._fields,
                                                      self._solver.distribution)}


def load(workdir: str) -> Solution:
  """Loads the trained networks of the DeepHAM run in `workdir`."""
  from deepham import train  # pylint: disable=g-import-not-at-top
  config = workdir_lib.stored_config(workdir)
  method = config.method if 'method' in config else None
  if method != 'deepham':
    raise errors.WorkdirError(f"{workdir} holds a '{method}' run; deepham.load reads DeepHAM "
                              'runs.')
  solver = train.Solver(config)
  if not solver.attach(workdir):
    raise errors.WorkdirError(f'{workdir} holds no checkpoint yet.')
  return Solution(solver)
