"""python -m deepham.experiments irf --workdir=DIR [--shock=z=1->0] [--horizon=40] [--states=1000]
python -m deepham.experiments redistribute --workdir=DIR --transform=rich_to_poor=0.5 [...]
    [--states_from=deepham]   (every method from the same cross-sections: this method's)

Writes WORKDIR/experiments/<experiment>_*.csv (the responses and the accuracy along the paths)
and a figure (PNG, PDF), and prints the responses on impact and at the last horizon.
"""

import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')

from absl import flags  # pylint: disable=g-import-not-at-top
import pandas as pd

from deepham import cli
from deepham import experiments

KINDS = ('irf', 'redistribute')
_WORKDIR = flags.DEFINE_string('workdir', None, 'A finished (or checkpointed) DeepHAM run.')
_SHOCK = flags.DEFINE_string('shock', None, "irf: 'z=I->J', 'z=J', 'noise=V', 'noise[i]=V' or "
                             "'zero'; default: the economy's aggregate shock.")
_TRANSFORM = flags.DEFINE_string('transform', None, "redistribute: 'rich_to_poor=S', "
                                 "'transfer=V' or 'destroy=S'.")
_HORIZON = flags.DEFINE_integer('horizon', 40, 'Periods of each path.')
_STATES = flags.DEFINE_integer('states', 1000, 'Cross-sections drawn from each method\'s '
                               'ergodic distribution.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the draws (the same for every method).')
_STATES_FROM = flags.DEFINE_string('states_from', None, "Start every method from this method's "
                                   "ergodic cross-sections ('deepham', 'ks', ...); default: "
                                   'each from its own.')
_OVERWRITE = flags.DEFINE_bool('overwrite', False, 'Replace the files of the same experiment.')


def main(argv):
  if len(argv) != 2 or argv[1] not in KINDS:
    raise SystemExit(f'deepham: usage: python -m deepham.experiments {{{"|".join(KINDS)}}} '
                     '--workdir=DIR [options]; see --help.')
  kind = argv[1]
  if not _WORKDIR.value:
    raise SystemExit('deepham: --workdir is required.')
  common = dict(horizon=_HORIZON.value, n_states=_STATES.value, seed=_SEED.value,
                overwrite=_OVERWRITE.value, states_from=_STATES_FROM.value)

  def program():
    if kind == 'irf':
      if _TRANSFORM.value:
        raise SystemExit('deepham: --transform belongs to redistribute; irf takes --shock.')
      table = experiments.irf(_WORKDIR.value, shock=_SHOCK.value, **common)
    else:
      if not _TRANSFORM.value:
        raise SystemExit('deepham: redistribute needs --transform (e.g. rich_to_poor=0.5).')
      table = experiments.redistribute(_WORKDIR.value, _TRANSFORM.value, **common)
    print(headline(table).to_string(index=False, float_format='{:.4g}'.format))

  cli.run_guarded(program, _WORKDIR.value)


def headline(table: pd.DataFrame) -> pd.DataFrame:
  """Each variable's response on impact (horizon 0), at horizon 1 and at the last horizon."""
  last = table['horizon'].max()
  keep = table[table['horizon'].isin(sorted({0, min(1, last), last}))]
  wide = keep.pivot_table(index=['variable', 'method'], columns='horizon', values='mean',
                          sort=False)
  wide.columns = [f'h{h}' for h in wide.columns]
  return wide.reset_index()


if __name__ == '__main__':
  cli.main(main, required=())
