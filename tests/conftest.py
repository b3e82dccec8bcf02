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
