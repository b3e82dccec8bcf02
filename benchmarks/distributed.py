"""The policy step and a short solve on 1 and 2 devices (run.strategy, solver/distribute.py).

python benchmarks/distributed.py [--devices=1,2] [--steps=20] [--solve_steps=200] [--variant=tiny]

Each device count runs in its own process (logical CPU devices are set up before TensorFlow
starts): 1 is the default strategy, n > 1 MirroredStrategy over n logical CPU devices (on a
machine with GPUs, over its GPUs instead). One JSON line per count: seconds per policy step of
the default KS config, and the wall time of a short solve (one round of --solve_steps policy
steps, validation included). On a CPU the logical devices share the same cores, so expect no
speed-up: the figures show what the replicas cost; the speed-up needs GPUs or hosts.
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags

from benchmarks import child

_DEVICES = flags.DEFINE_list('devices', ['1', '2'], 'Device counts to measure.')
_STEPS = flags.DEFINE_integer('steps', 20, 'Timed policy steps after the compiling one.')
_SOLVE_STEPS = flags.DEFINE_integer('solve_steps', 200, 'Policy steps of the short solve.')
_VARIANT = flags.DEFINE_string('variant', None, 'Variant of configs/ks_game.py (e.g. tiny).')

_CHILD = '''
import shutil, tempfile, time
from configs import ks_game
from benchmarks import common
from deepham import main as deepham_main
from deepham.solver import distribute

def config():
  c = ks_game.get_config({variant!r})
  if {devices} > 1:
    c.run.strategy, c.run.logical_cpus = 'mirrored', {devices}
  return c

distribute.make(config().run.strategy, config().run.logical_cpus)
step = common.policy_step(config(), {steps})
short = config()
short.policy.rounds, short.policy.steps_per_round = 1, {solve_steps}
short.run.log_every = short.run.checkpoint_every = {solve_steps}
workdir = tempfile.mkdtemp(prefix='deepham_distributed_')
start = time.time()
deepham_main.run(short, workdir, 'solve')
seconds = time.time() - start
shutil.rmtree(workdir)
print(json.dumps(dict(benchmark='distributed', replicas={devices},
                      strategy=config().run.strategy,
                      seconds_per_step=step['seconds_per_step'],
                      compile_seconds=step['compile_seconds'],
                      short_solve_seconds=seconds, short_solve_steps={solve_steps},
                      **common.machine())))
'''


def main(argv):
  del argv
  for devices in _DEVICES.value:
    result, stderr = child.run(_CHILD.format(devices=int(devices), steps=_STEPS.value,
                                             solve_steps=_SOLVE_STEPS.value,
                                             variant=_VARIANT.value))
    if result is None:
      sys.exit(f'distributed benchmark with {devices} devices failed:\n{stderr}')
    print(json.dumps(result), flush=True)


if __name__ == '__main__':
  app.run(main)
