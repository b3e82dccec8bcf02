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


def load_benchmark(economy, path: str, initial_rule: bool = False):
  """The conventional solution of `economy` stored at `path` (an object with .policy, .value).

  initial_rule=True also accepts a solution of a neighbouring economy whose policy serves only as
  the solver's starting rule: the stationary (Aiyagari) solution starts the Davila economy with
  aggregate shocks.
  """
  from deepham.economies import ks  # pylint: disable=g-import-not-at-top
  if isinstance(economy, ks.KrusellSmith):
    from deepham.conventional import ks_solution  # pylint: disable=g-import-not-at-top
    return ks_solution.Benchmark(ks_solution.KSSolution.load(resolve(path)), economy)
  from deepham.economies import davila  # pylint: disable=g-import-not-at-top
  if isinstance(economy, davila.Davila) and (initial_rule or not economy.params.aggregate_shocks):
    from deepham.conventional import aiyagari  # pylint: disable=g-import-not-at-top
    return aiyagari.Benchmark(aiyagari.AiyagariSolution.load(resolve(path)), economy)
  raise errors.ConfigError(f'no conventional benchmark is available for economy '
                           f'{type(economy).__name__}; use init.policy=\'economy\'.')
