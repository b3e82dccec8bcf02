"""Conventional solvers: the benchmarks DeepHAM solutions are compared with."""

import os

from deepham import errors

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def resolve(path: str) -> str:
  """A data path as given, or relative to the deepham checkout when not found from here."""
  if os.path.isabs(path) or os.path.exists(path):
    return path
  candidate = os.path.join(_REPO, path)
  return candidate if os.path.exists(candidate) else path


def _ks(economy, path):
  from deepham.conventional import ks_solution  # pylint: disable=g-import-not-at-top
  return ks_solution.Benchmark(ks_solution.KSSolution.load(path), economy)


def _aiyagari(economy, path):
  from deepham.conventional import aiyagari  # pylint: disable=g-import-not-at-top
  return aiyagari.Benchmark(aiyagari.AiyagariSolution.load(path), economy)


def _fvhn(economy, path):
  """Without aggregate shocks the stationary HJB solution, solved from the economy's parameters
  in a fraction of a second (`path` unused); with them the KS-type solution stored at `path`."""
  if economy.sigma == 0:
    from deepham.conventional import jfv_stationary  # pylint: disable=g-import-not-at-top
    return jfv_stationary.Benchmark(economy)
  from deepham.conventional import fvhn_ks  # pylint: disable=g-import-not-at-top
  return fvhn_ks.Benchmark(fvhn_ks.Solution.load(path), economy)


def _without_aggregate_shocks(economy) -> bool:
  return not economy.params.aggregate_shocks


# economy name (economies.REGISTRY) -> (loader(economy, path) -> Benchmark, serves(economy):
# whether the benchmark solves that economy, rather than only giving it a starting rule).
# A Benchmark has .key (its summary.json key), .name, .policy, .conditional_policy, .raw and
# .evaluate (the value, as validation reads it), and .aggregate_forecast: (K0 [B], z [T, B]) ->
# the aggregate path [T, B] its agents expect (den Haan's statistic), or None.
REGISTRY = {
    'ks': (_ks, lambda economy: True),
    'davila': (_aiyagari, _without_aggregate_shocks),  # the stationary equilibrium
    'fvhn': (_fvhn, lambda economy: True),
}


def load_benchmark(economy, path: str, initial_rule: bool = False):
  """The conventional solution of `economy` stored at `path` (an object with .policy, .value).

  initial_rule=True also accepts a solution of a neighbouring economy whose policy serves only as
  the solver's starting rule: the stationary (Aiyagari) solution starts the Davila economy with
  aggregate shocks.
  """
  from deepham import economies  # pylint: disable=g-import-not-at-top
  name = economies.name_of(economy)
  if name in REGISTRY:
    load, serves = REGISTRY[name]
    if initial_rule or serves(economy):
      return load(economy, resolve(path))
  raise errors.ConfigError(f'no conventional benchmark is available for economy '
                           f'{type(economy).__name__}; use init.policy=\'economy\'.')
