"""The conventional Krusell-Smith solver (the benchmark of every DeepHAM KS run)."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from deepham.conventional import krusell_smith
from deepham.conventional import ks_solution
from deepham.economies import ks
from tests import conftest


def _grid_states(sol, k_max=150.0):
  """Every grid point (z, eps, j, i) with k <= k_max, flattened: arrays of shape [M]."""
  z, e, j, i = np.meshgrid(np.arange(2), np.arange(2), np.arange(sol.K_grid.n),
                           np.arange(sol.k_grid.n), indexing='ij')
  keep = sol.k_grid.points[i] <= k_max
  return z[keep], e[keep], j[keep], i[keep]


def _next_states(sol, z, e, j, i):
  """k', K' (ALM) at grid points, and the transition probabilities P[(z,e) -> (z',e')]."""
  kp = sol.savings[z, e, j, i]
  K = sol.K_grid.points[j]
  Kp = np.exp(sol.alm[z, 0] + sol.alm[z, 1] * np.log(K))
  P = ks.KSParams(**{k: (tuple(map(tuple, v)) if k == 'transition' else
                         (tuple(v) if isinstance(v, list) else v))
                     for k, v in sol.economy.items()}).chain.joint().reshape(2, 2, 2, 2)
  return kp, Kp, P


def _at(sol, name, k, K, z, e):
  col = lambda a, dt=tf.float64: tf.constant(np.asarray(a)[:, None], dt)
  return sol.interpolate(name, col(k), col(K), col(z, tf.int32), col(e, tf.int32)).numpy()[:, 0]


def test_reduced_grid_solve_converges(small_ks_solution):
  stats = small_ks_solution.stats
  assert stats['converged']
  assert min(stats['r2'].values()) >= 0.999
  assert 35 < stats['mean_K'] < 45


def test_policy_satisfies_the_euler_equation_on_the_grid(small_ks_solution):
  """1/c = beta E[R' / c'] wherever k' > 0, up to interpolation error of c' off the grid."""
  sol = small_ks_solution
  econ = ks.KrusellSmith(ks.KSParams())
  z, e, j, i = _grid_states(sol)
  kp, Kp, P = _next_states(sol, z, e, j, i)
  c = sol.consumption[z, e, j, i]
  emu = 0
  for zp in range(2):
    Rp, _ = econ.prices(Kp, np.full_like(z, zp))
    for ep in range(2):
      cp = _at(sol, 'consumption', kp, Kp, np.full_like(z, zp), np.full_like(e, ep))
      emu = emu + P[z, e, zp, ep] * Rp / cp
  c_implied = 1 / (econ.beta * emu)
  interior = kp > 1e-6
  err = np.abs(1 - c_implied[interior] / c[interior])
  assert interior.sum() > 0.8 * len(kp)
  assert np.max(err) < 2e-3, np.max(err)
  assert np.mean(err) < 2e-4, np.mean(err)
  # At the borrowing limit the Euler inequality holds: 1/c >= beta E[R'/c'].
  assert np.all(1 / c[~interior] >= emu[~interior] * econ.beta * (1 - 1e-6))


def test_value_satisfies_its_bellman_equation_on_the_grid(small_ks_solution):
  sol = small_ks_solution
  z, e, j, i = _grid_states(sol)
  kp, Kp, P = _next_states(sol, z, e, j, i)
  ev = 0
  for zp in range(2):
    for ep in range(2):
      vp = _at(sol, 'value', kp, Kp, np.full_like(z, zp), np.full_like(e, ep))
      ev = ev + P[z, e, zp, ep] * vp
  rhs = np.log(sol.consumption[z, e, j, i]) + 0.99 * ev
  np.testing.assert_allclose(sol.value[z, e, j, i], rhs, rtol=1e-9)


def test_value_is_increasing_and_concave_in_k(small_ks_solution):
  v = small_ks_solution.value
  assert np.all(np.diff(v, axis=-1) > 0)
  dv = np.diff(v, axis=-1) / np.diff(small_ks_solution.k_grid.points)
  assert np.all(np.diff(dv[..., 5:], axis=-1) < 1e-9)


def test_shipped_solution_meets_the_reference_figures():
  """Published reference for this calibration: mean K 39.5-40.5, R^2 > 0.9999, slope ~0.96."""
  sol = ks_solution.KSSolution.load(conftest.SHIPPED_KS)
  assert min(sol.stats['r2'].values()) >= 0.9999
  assert 39.5 <= sol.stats['mean_K'] <= 40.5
  for state in ('bad', 'good'):
    assert 0.95 < sol.stats['alm'][state][1] < 0.975


@pytest.mark.slow  # a full-grid solve; the reduced-grid test checks convergence
def test_fresh_solve_reproduces_the_shipped_solution():
  shipped = ks_solution.KSSolution.load(conftest.SHIPPED_KS)
  fresh = krusell_smith.solve(ks.KSParams(), krusell_smith.KSMethodParams())
  np.testing.assert_allclose(fresh.alm, shipped.alm, atol=1e-6)
  np.testing.assert_allclose(fresh.savings, shipped.savings, atol=1e-5)
  np.testing.assert_allclose(fresh.value, shipped.value, atol=1e-5)
  assert abs(fresh.stats['mean_K'] - shipped.stats['mean_K']) < 1e-4


def test_solution_file_round_trip_and_corrupt_file(tmp_path, small_ks_solution):
  path = str(tmp_path / 'sol.npz')
  small_ks_solution.save(path)
  back = ks_solution.KSSolution.load(path)
  np.testing.assert_array_equal(back.savings, small_ks_solution.savings)
  assert back.stats == small_ks_solution.stats
  bad = tmp_path / 'bad.npz'
  bad.write_bytes(b'not a zip file')
  with pytest.raises(Exception, match='bad.npz'):
    ks_solution.KSSolution.load(str(bad))
  with pytest.raises(FileNotFoundError, match='configs/ks_benchmark.py'):
    ks_solution.KSSolution.load(str(tmp_path / 'missing.npz'))


@pytest.mark.slow
def test_panel_and_histogram_simulations_agree():
  """Stochastic households (shared N-agent simulation) vs the continuum histogram."""
  hist = ks_solution.KSSolution.load(conftest.SHIPPED_KS)
  panel = krusell_smith.solve(ks.KSParams(), dataclasses.replace(
      krusell_smith.KSMethodParams(), simulation='panel'))
  assert min(panel.stats['r2'].values()) >= 0.9999
  np.testing.assert_allclose(panel.alm[:, 1], hist.alm[:, 1], atol=3e-3)
  assert abs(panel.stats['mean_K'] - hist.stats['mean_K']) < 0.2
