"""The stationary (DSS) solver of the Fernández-Villaverde, Hurtado and Nuño (2023) economy."""

import dataclasses

import numpy as np
import pytest

from deepham import errors
from deepham.conventional import jfv_stationary as jfv

# Grid limit of B: second-order Richardson extrapolation of this solver on 32001, 64001 and 128001
# points on [0, 20] (2.0137540, 2.0137554 from the pairs); uncertain in the sixth digit.
B_LIMIT = 2.013756


@pytest.fixture(scope='module')
def params():
  return jfv.JFVParams()


@pytest.fixture(scope='module')
def original(params):
  """The original grid (501 points on [0, 20]), the default."""
  return jfv.solve_stationary(params)


@pytest.fixture(scope='module')
def fine(params):
  """8001 points on [0, 20]: da = 0.0025, B within 0.4% of its grid limit."""
  return jfv.solve_stationary(dataclasses.replace(params, n_a=8001))


def test_reproduces_the_deepham_reference_point(params, original):
  """DeepHAM's k_dss and N_dss come from the same scheme on the same grid. Our HJB iteration runs
  to its fixed point (1e-10); the original stops at a change of 1e-6 in V, which moves B by 7e-6
  relative. With the original's rule the reference is reproduced to rounding."""
  assert original.B == pytest.approx(jfv.DEEPHAM_B, rel=1e-5)
  assert original.N == pytest.approx(jfv.DEEPHAM_N, rel=1e-5)
  early = jfv.solve_stationary(dataclasses.replace(params, hjb_tol=1e-6))
  assert early.B == pytest.approx(jfv.DEEPHAM_B, rel=1e-11)
  assert early.N == pytest.approx(jfv.DEEPHAM_N, rel=1e-11)


def test_the_reference_is_seven_percent_below_the_grid_limit(params):
  """The upwind scheme is first order in da: B(da) ~ B - 4 da, so the original's da = 0.04 leaves
  B 7.0% low (and N 8.5% high). Richardson extrapolation from 4001/8001 points recovers the limit
  to ~1e-4; the halving of successive differences shows the first order."""
  limit = jfv.grid_limit(dataclasses.replace(params, n_a=4001))
  assert limit.B == pytest.approx(B_LIMIT, rel=2e-4)
  assert limit.B_coarse < limit.B_fine < limit.B  # B rises as the grid is refined
  coarser = jfv.solve_stationary(dataclasses.replace(params, n_a=2001)).B
  ratio = (limit.B_fine - limit.B_coarse) / (limit.B_coarse - coarser)
  assert ratio == pytest.approx(0.5, abs=0.05)
  assert jfv.DEEPHAM_B / B_LIMIT - 1 == pytest.approx(-0.0705, abs=1e-3)
  assert jfv.DEEPHAM_N / limit.N - 1 == pytest.approx(0.0845, abs=1e-3)


def test_prices_make_the_expert_stationary(params, original):
  """alpha K^(alpha-1) - delta = rho_hat: dN/dt = 0 with sigma = 0; r = rho_hat; w = F_L."""
  s, p = original, params
  assert p.alpha * s.K ** (p.alpha - 1) - p.delta == pytest.approx(p.rho_hat, rel=1e-12)
  assert s.r == pytest.approx(p.rho_hat, rel=1e-12)
  assert s.w == pytest.approx((1 - p.alpha) * s.K ** p.alpha, rel=1e-12)
  assert s.K == pytest.approx(s.B + s.N, rel=1e-14)
  assert s.N > 0
  dN = (p.alpha * s.K ** (p.alpha - 1) - p.delta - p.rho_hat) * s.N
  assert abs(dN) < 1e-14


def test_hjb_is_solved(original, fine):
  for s in (original, fine):
    assert s.converged
    assert s.hjb_residual < 1e-10  # |V| ~ 20
    assert np.all(np.isfinite(s.V))


def test_density_is_a_probability(original, fine):
  for s in (original, fine):
    assert np.all(s.g >= 0)
    assert np.sum(s.g * s.da[:, None]) == pytest.approx(1, abs=1e-12)
    assert s.mass == pytest.approx(s.g * s.da[:, None])
    assert s.B == pytest.approx(np.sum(s.a[:, None] * s.mass), rel=1e-12)


def test_productivity_marginal_is_the_markov_chain_stationary_law(params, fine):
  """Integrating the KFE over a: lambda1 m(z1) = lambda2 m(z2), so m = (l2, l1) / (l1 + l2)."""
  expected = np.array([params.lambda2, params.lambda1]) / (params.lambda1 + params.lambda2)
  np.testing.assert_allclose(fine.mass.sum(axis=0), expected, rtol=1e-10)
  assert fine.mass.sum(axis=0) @ params.z == pytest.approx(1, rel=1e-10)  # L = E z = 1


def test_borrowing_limit(params, fine):
  """r < rho (ADLLM, Prop. 2): low-z households dissave at every a > 0, consume their income at
  a = 0 and pile up there (a point mass); high-z households save at a = 0 and hold no mass."""
  s = fine
  assert np.all(s.s[0] >= 0)  # state constraint
  assert s.c[0, 0] == pytest.approx(s.w * params.z1, rel=1e-12)
  assert np.all(s.s[1:, 0] < 0)
  assert s.s[0, 1] > 0
  assert s.mass[0, 0] > 10 * s.mass[1, 0]
  # As da falls the low-z point mass converges (~3e-4) while the high-z mass at a = 0 vanishes
  # like da (it is a density times da).
  coarse = jfv.solve_stationary(dataclasses.replace(params, n_a=2001))
  assert s.mass[0, 0] == pytest.approx(coarse.mass[0, 0], rel=0.2)
  assert 0.15 < s.mass[0, 1] / coarse.mass[0, 1] < 0.35  # da / 4: 0.21 measured


def test_consumption_increases_with_wealth_and_productivity(original, fine):
  for s in (original, fine):
    assert np.all(np.diff(s.c, axis=0) > 0)
    assert np.all(s.c[:, 1] > s.c[:, 0])
    assert np.all(np.diff(s.V, axis=0) > 0)


def test_kfe_matches_the_two_state_closed_form(params, fine):
  """For a > 0 the KFE gives zero net flow across every wealth level, s1 g1 + s2 g2 = 0, hence
  (s2 g2)' = -(lambda2 / s2 + lambda1 / s1) s2 g2 and s2 g2 = C exp(-int lambda2/s2 + lambda1/s1):
  given the policy, g has a closed form. The discrete chain has zero net flow exactly; the closed
  form holds up to the scheme's O(da) error."""
  s, da = fine, fine.a[1] - fine.a[0]
  up, down = np.maximum(s.s, 0) / da, np.maximum(-s.s, 0) / da
  net = (s.mass[:-1] * up[:-1] - s.mass[1:] * down[1:]).sum(axis=1)
  gross = (s.mass[:-1] * up[:-1]).sum(axis=1)
  assert np.max(np.abs(net)) < 1e-12 * np.max(gross)
  i = np.flatnonzero((s.a >= 1) & (s.a <= 6))
  f = s.s[i, 1] * s.g[i, 1]
  assert np.all(s.s[i, 0] * s.g[i, 0] / f == pytest.approx(-1, abs=5e-3))
  rate = -(params.lambda2 / s.s[i, 1] + params.lambda1 / s.s[i, 0])
  closed = np.log(f[0]) + np.concatenate([[0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) * da)])
  assert np.max(np.abs(np.log(f) - closed)) < 0.06  # measured 0.042; 0.085 at 4001 points


def test_bond_supply_rises_with_the_interest_rate(params, original):
  """Partial equilibrium at the equilibrium wage: households hold more bonds the closer r is to
  rho, the force that makes B large and sensitive here."""
  supply = []
  for r in (0.03, 0.045, params.rho_hat):
    hh = jfv.solve_household(r, original.w, params)
    g = jfv.stationary_distribution(hh)
    supply.append(np.sum(hh.a[:, None] * g * jfv.cell_widths(hh.a)[:, None]))
  assert supply[-1] == pytest.approx(original.B, rel=1e-12)
  assert supply[0] < supply[1] < supply[2]


def test_top_of_the_grid_does_not_bind(params, original):
  """At the same da, a_max = 30 instead of 20 leaves B unchanged: no mass reaches the top."""
  wider = jfv.solve_stationary(dataclasses.replace(params, n_a=751, a_max=30.0))
  assert wider.B == pytest.approx(original.B, rel=1e-10)
  assert original.mass[original.a > 15].sum() < 1e-8


def test_log_utility(params):
  s = jfv.solve_stationary(dataclasses.replace(params, gamma=1.0))
  assert s.converged and s.hjb_residual < 1e-10
  assert 0 < s.B < s.K


@pytest.mark.parametrize('field, value', [
    ('z1', 1.0), ('z1', 0.0), ('rho_hat', 0.05), ('rho_hat', 0.06), ('rho_hat', 0.0),
    ('gamma', 0.0), ('rho', -0.01), ('alpha', 1.0), ('delta', -0.1), ('lambda1', 0.0),
    ('lambda2', -1.0), ('sigma', 0.014), ('n_a', 10), ('n_a', 100.5), ('a_max', 0.0),
    ('hjb_step', 0.0), ('hjb_tol', 0.0), ('max_iter', 0),
])
def test_bad_parameters_raise_config_error_naming_the_field(field, value):
  with pytest.raises(errors.ConfigError, match=rf'^jfv\.{field} '):
    jfv.JFVParams(**{field: value})
