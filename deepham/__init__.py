"""deepham: global solutions of heterogeneous-agent models with aggregate shocks (DeepHAM).

    python run.py --config=configs/ks_game.py          # solve, validate, report
    solution = deepham.load('runs/ks_game_...')         # the trained policy and value
"""

__version__ = '0.1.0'


def load(workdir: str):
  """The trained policy and value of a DeepHAM run: see deepham.solution.Solution."""
  from deepham import solution  # pylint: disable=g-import-not-at-top
  return solution.load(workdir)
