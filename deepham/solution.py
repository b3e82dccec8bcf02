"""A trained DeepHAM solution loaded back from its workdir: `deepham.load(workdir)`.

RunView is what validation, figures and studies read of a run, whether it has just been solved
or is loaded back; Solution wraps one for NumPy arrays.
"""

from typing import Any, Callable, NamedTuple

import ml_collections
import numpy as np
import tensorflow as tf

from deepham import errors
from deepham import workdir as workdir_lib
from deepham.economies import base


class RunView(NamedTuple):
  """A trained run as its readers see it: the economy and config, the networks, the simulated
  distribution, and the economy's starting cross-sections; not the optimisers, counters or
  checkpoints that training uses (solver/run_state.py)."""
  economy: base.Economy
  config: ml_collections.ConfigDict
  dtype: tf.DType
  policy: Any  # solver/policy.py: PolicyNetwork; policy(state) -> actions [B, N, n_actions]
  value: Any  # solver/value.py: ValueEnsemble; value(state) -> values [B, N]
  normalizer: Any  # solver/networks.py: Normalizer, the networks' input statistics
  distribution: base.State  # tensors: the simulated cross-sections [init.n_paths, N, ...]
  fresh_start: Callable[..., base.State]  # (draw, n_paths=None): the starting cross-section


class Solution:
  """Policy and value functions of a finished (or checkpointed) run, on NumPy arrays.

  Cross-sections are given as arrays: x [B, N] (or [B, N, n_x]) individual states, e [B, N]
  idiosyncratic states, z [B] aggregate states; N is any number of agents (the networks are
  permutation invariant; the economy's N is `n_agents`). `view` is the run's RunView, whose
  networks take and return tensors.
  """

  def __init__(self, view: RunView):
    self.view = view
    self.config = view.config
    self.economy = view.economy
    self.n_agents = view.economy.n_agents

  def state(self, x, e, z) -> base.State:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
      x = x[..., None]
    dtype = self.view.dtype
    return base.State(tf.constant(x, dtype), tf.constant(np.asarray(e), tf.int32),
                      tf.constant(np.asarray(z), tf.int32))

  def policy(self, x, e, z) -> np.ndarray:
    """Actions [B, N, n_actions] (KS: consumption share of cash on hand)."""
    return self.view.policy(self.state(x, e, z)).numpy()

  def value(self, x, e, z) -> np.ndarray:
    """Values [B, N] in utility units (the ensemble mean)."""
    return self.view.value(self.state(x, e, z)).numpy()

  def distribution(self) -> dict:
    """The simulated distribution at the end of training: arrays x, e, z."""
    return {f: np.asarray(v.numpy()) for f, v in zip(base.State._fields,
                                                      self.view.distribution)}


def load(workdir: str) -> Solution:
  """Loads the trained networks of the DeepHAM run in `workdir`."""
  from deepham.solver import run_state  # pylint: disable=g-import-not-at-top
  config = workdir_lib.stored_config(workdir)
  method = config.method if 'method' in config else None
  if method != 'deepham':
    raise errors.WorkdirError(f"{workdir} holds a '{method}' run; deepham.load reads DeepHAM "
                              'runs.')
  state = run_state.RunState(config)
  if not state.attach(workdir):
    raise errors.WorkdirError(f'{workdir} holds no checkpoint yet.')
  return Solution(state.view())
