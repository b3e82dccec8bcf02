"""Tables and figures that combine several runs: the command line of the studies (deepham/studies).

python -m deepham.report davila --market=DIR --planner=DIR [--market_agg=DIR]
    [--planner_agg=DIR] --out=DIR

writes davila_table.csv and davila_table.md (the paper's Table 5 from our runs, with the
published figures beside them) and figures (saving policies by earnings state, wealth and
labor-share distributions) to --out.

python -m deepham.report investment --runs=DIR,DIR,... --out=DIR

writes investment_table.csv/.md (objective, nu, N, test Euler MSE, policy errors, seconds of
each investment-economy run) and the figure of investment along the common test paths, one line
per run (the runs validate on the same seeded paths from X0).

python -m deepham.report covarrubias --runs=DIR,DIR,... --out=DIR

writes covarrubias_table.csv/.md (steady state from the closed form and the simulation, Euler
residuals, welfare, seconds of each run), covarrubias_pairs.csv/.md (planner minus market welfare
of each economy solved both ways) and figures (capital paths per good, policies by own capital
and TFP).
"""

import os

from absl import app
from absl import flags

from deepham import cli
from deepham.studies import covarrubias
from deepham.studies import davila
from deepham.studies import investment

_RUNS = {key: flags.DEFINE_string(key, None, f'workdir of the {label} run')
         for key, label in davila.COLUMNS}
_RUN_LIST = flags.DEFINE_list('runs', [], 'investment, covarrubias: comma-separated workdirs')
_OUT = flags.DEFINE_string('out', 'runs/report', 'output directory')


def _davila(out: str) -> None:
  davila.write({k: f.value for k, f in _RUNS.items() if f.value}, out)


def _run_list(study: str) -> list[str]:
  if not _RUN_LIST.value:
    raise SystemExit(f'deepham: {study}: give the runs as --runs=DIR,DIR,...')
  return _RUN_LIST.value


def _investment(out: str) -> None:
  investment.write(_run_list('investment'), out)


def _covarrubias(out: str) -> None:
  covarrubias.write(_run_list('covarrubias'), out)


# The studies by name: each reads its own flags and writes to --out. A new study is a module in
# deepham/studies, its flags above, and a line here.
STUDIES = {'davila': _davila, 'investment': _investment, 'covarrubias': _covarrubias}


def main(argv):
  if len(argv) != 2 or argv[1] not in STUDIES:
    raise SystemExit('deepham: usage: python -m deepham.report davila --market=DIR ... '
                     '--out=DIR, or python -m deepham.report investment|covarrubias '
                     '--runs=DIR,... --out=DIR')
  os.makedirs(_OUT.value, exist_ok=True)
  STUDIES[argv[1]](_OUT.value)


if __name__ == '__main__':
  app.run(lambda argv: cli.run_guarded(lambda: main(argv), None), flags_parser=cli.parse_flags)
