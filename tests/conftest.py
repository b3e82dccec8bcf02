"""Shared fixtures: economies and a reduced-grid Krusell-Smith solution, built once per session."""

import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')

import pytest  # pylint: disable=g-import-not-at-top

from deepham.conventional import krusell_smith  # pylint: disable=g-import-not-at-top
from deepham.economies import ks  # pylint: disable=g-import-not-at-top

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED_KS = os.path.join(REPO, 'data', 'ks_benchmark', 'ks_solution.npz')

# A coarse grid: converges in seconds, too coarse for accuracy figures.
SMALL_KS_METHOD = krusell_smith.KSMethodParams(n_k=80, n_K=5, t_sim=600, t_discard=100,
                                               n_fine=600, t_den_haan=1500, tol_alm=1e-6,
                                               tol_egm=1e-8)


@pytest.fixture(scope='session')
def ks_params():
  return ks.KSParams()


@pytest.fixture(scope='session')
def small_ks_solution(ks_params):
  return krusell_smith.solve(ks_params, SMALL_KS_METHOD)


@pytest.fixture(scope='session')
def tiny_run(tmp_path_factory):
  """A tiny DeepHAM KS run (seconds): (workdir, summary)."""
  from configs import ks_game  # pylint: disable=g-import-not-at-top
  from deepham import main  # pylint: disable=g-import-not-at-top
  workdir = str(tmp_path_factory.mktemp('tiny'))
  summary = main.run(ks_game.get_config('tiny'), workdir, 'solve')
  return workdir, summary


def probe_economy(economy_cls, params, n_paths):
  """`economy_cls` with zero perturbations added to actions and to the price aggregates, so that
  a loss's gradient with respect to them can be read."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  class Probe(economy_cls):

    def __init__(self):
      super().__init__(params)
      self.d_action = tf.Variable(tf.zeros([n_paths, params.n_agents, 1]))
      self.d_aggregate = tf.Variable(tf.zeros([n_paths, 1]))
      self.active = False  # only while the objective is measured

    def aggregates(self, state):
      agg = super().aggregates(state)
      return agg + self.d_aggregate if self.active else agg

    def transition(self, state, action, aggregates, shocks):
      if self.active:
        action = action + self.d_action
      return super().transition(state, action, aggregates, shocks)

  return Probe()


def check_gradient_isolation(config, economy_cls, params_cls, mode, price_taking, others,
                             prices):
  """Asserts which perturbations (other agents' actions, price aggregates) reach the loss."""
  config.mode = mode
  config.policy.price_taking = price_taking
  config.policy.t_unroll = 8
  n = config.policy.batch_size
  probe = probe_economy(economy_cls, params_cls.from_config(config.economy), n)
  check_probe_gradients(config, probe, probe.d_aggregate, others, prices)


def check_probe_gradients(config, probe, d_price, others, prices):
  """Asserts which of the probe economy's zero perturbations reach the one-tape objective:
  `probe.d_action` (agent 0's always; the others' iff `others`) and `d_price` (iff `prices`).
  The probe perturbs only while `probe.active`."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from deepham import train  # pylint: disable=g-import-not-at-top
  n = config.policy.batch_size
  s = train.Solver(config, economy=probe)
  s.phases.burn_in()
  batch = s.pool.next_batch()
  probe.active = True
  with tf.GradientTape() as tape:
    value, _ = s.objective.full(batch, s.objective.draw_shocks(n, s.state.seed(3, 0), tf.float32))
  g_action, g_price = tape.gradient(value, [probe.d_action, d_price])
  assert float(tf.reduce_max(tf.abs(g_action[:, 0]))) > 0
  assert (float(tf.reduce_max(tf.abs(g_action[:, 1:]))) > 0) == others
  assert (g_price is not None and float(tf.reduce_max(tf.abs(g_price))) > 0) == prices


def check_fast_game_matches_one_tape(solver):
  """Asserts that the two-pass price-taking gradient equals one tape's, on a pool batch."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  solver.phases.burn_in()
  batch = solver.pool.next_batch()
  seed = solver.state.seed(3, 0)
  solver.trainer.fast = True
  loss_fast, g_fast, _ = solver.trainer.loss_and_gradient(batch, seed)
  solver.trainer.fast = False
  loss_full, g_full, _ = solver.trainer.loss_and_gradient(batch, seed)
  np.testing.assert_allclose(loss_fast.numpy(), loss_full.numpy(), rtol=1e-5)
  for a, b in zip(g_fast, g_full):
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=2e-3, atol=1e-5 * np.abs(b).max())
  return g_fast
