"""How fast time iteration (Coleman's operator) converges, by wealth, in the KS household problem.

The KS household at fixed prices (capital at its mean, 39.5; productivity 1; the employment
chain averaged over the aggregate states), solved on a grid by the endogenous-grid form of
Coleman's operator, the operator the solver's time iteration applies to its network. Started
from the converged policy with the consumption of the rich 5% too high above k = 20 (what the
KS default run's Adam phase leaves, docs/results.md), it prints for each damping:
  - the error left in each wealth band after 60 and 240 iterations (relative, max over the band);
  - the empirical contraction rate per iteration far out (k 60-150).
A rich household's consumption function converges at about beta per undamped iteration (the
one-period Euler equation ties the level of its consumption to its own level next period), so
damping 0.5 leaves most of a level error in place after a few hundred iterations.

python benchmarks/coleman_rate.py      (last line: JSON)
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from benchmarks import common  # pylint: disable=g-import-not-at-top
from deepham.economies import ks
from deepham.economies import markov

BANDS = ((0, 1), (1, 5), (5, 20), (20, 60), (60, 150))


def household(p: ks.KSParams, K: float = 39.5):
  """Grid of assets, cash on hand [2, n], the gross return, employment chain and income."""
  chain = markov.ExogenousChain.from_joint(p.transition, 2, 2)
  P_e = 0.5 * (chain.P_e[0, 0] + chain.P_e[1, 1])  # P(e' | e), the aggregate state staying
  u = float(np.mean(p.unemployment))
  L = p.l_bar * (1 - u)
  R = 1 - p.delta + p.alpha * (K / L) ** (p.alpha - 1)
  w = (1 - p.alpha) * (K / L) ** p.alpha
  tau = p.mu * u / (p.l_bar * (1 - u))
  income = np.array([p.mu * w, (1 - tau) * w * p.l_bar])
  k = np.concatenate([np.linspace(0, 5, 80), np.geomspace(5.05, 2000, 320)])
  return k, R * k[None] + income[:, None], R, P_e


def coleman(c, k, cash, R, P_e, beta):
  """One application of Coleman's operator (log utility) by endogenous grid points."""
  c_today = 1.0 / (beta * R * (P_e @ (1.0 / c)))  # consumption when k' = k[i]
  cash_endo = c_today + k[None]
  out = np.empty_like(c)
  for e in range(2):
    slope = (c_today[e, -1] - c_today[e, -2]) / (cash_endo[e, -1] - cash_endo[e, -2])
    inside = np.interp(cash[e], cash_endo[e], c_today[e])
    beyond = c_today[e, -1] + slope * (cash[e] - cash_endo[e, -1])
    out[e] = np.where(cash[e] <= cash_endo[e, 0], cash[e],
                      np.where(cash[e] > cash_endo[e, -1], beyond, inside))
  return out


def band_errors(c, ref, k):
  err = np.abs(c / ref - 1)
  return {f'k_{lo}_{hi}': float(err[:, (k >= lo) & (k < hi)].max()) for lo, hi in BANDS}


def main():
  p = ks.KSParams()
  k, cash, R, P_e = household(p)
  step = lambda c: coleman(c, k, cash, R, P_e, p.beta)
  ref = 0.5 * cash
  for _ in range(30000):
    ref = step(ref)
  start = ref * np.where(k >= 20, 1.05, 1.0)[None]
  out = dict(benchmark='coleman_rate', beta_R=float(p.beta * R))
  far = (k >= 60) & (k < 150)
  for damping in (0.5, 1.0):
    c, prev_gap = start.copy(), None
    for i in range(1, 241):
      c = c + damping * (step(c) - c)
      gap = float(np.abs(c / ref - 1)[:, far].max())
      if i == 100:
        rate = gap / prev_gap
      prev_gap = gap
      if i in (60, 240):
        out[f'damping_{damping}_after_{i}'] = band_errors(c, ref, k)
    out[f'damping_{damping}_rate_far'] = rate
  common.emit(out)


if __name__ == '__main__':
  main()
