"""The tiny Krusell-Smith config used by the tests: trains end to end in seconds on a CPU."""

from configs import ks_game


def get_config(arg: str | None = None):
  return ks_game.get_config('tiny' + (f',{arg}' if arg else ''))
