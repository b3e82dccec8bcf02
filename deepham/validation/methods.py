"""The methods a validation compares (DeepHAM and the conventional benchmark), through one
interface: `policy(state, aggregates)`, and a value function given by per-agent contributions
`raw(dist)` whose cross-sectional mean summarises the distribution and `evaluate(own, mean_raw)`.
Every measure of the package takes a Method, so each is computed the same way for all of them.
"""

from typing import Any, Callable, NamedTuple

from absl import logging

from deepham import conventional


class Method(NamedTuple):
  key: str  # summary.json key: 'deepham', 'ks', ...
  label: str  # table row
  policy: Callable  # (state, aggregates) -> action
  value: Any  # .raw(dist), .evaluate(own, mean_raw)
  conditional_policy: Callable  # (own, reference) -> action of agents `own` in `reference`
  # (first aggregate at t = 0 [B], aggregate states [T, B]) -> the path [T, B] of the first
  # aggregate that the method's agents expect (a conventional method's law of motion), or None.
  aggregate_forecast: Callable | None = None


def methods_for(view) -> list[Method]:
  """DeepHAM (the networks of the run's RunView, deepham/solution.py) and, where one exists,
  the conventional benchmark."""
  methods = [Method('deepham', 'DeepHAM (this run)', view.policy, view.value,
                    view.policy.conditional_policy)]
  try:
    bench = conventional.load_benchmark(view.economy, view.config.init.benchmark)
  except Exception as exc:  # pylint: disable=broad-except
    logging.info('no conventional benchmark in the validation (%s)', exc)
    return methods
  methods.append(Method(bench.key, f'{bench.name} (same procedure)', bench.policy, bench,
                        bench.conditional_policy, bench.aggregate_forecast))
  return methods
