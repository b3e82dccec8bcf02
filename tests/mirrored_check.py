"""The policy step on 2 logical CPU devices against one device; run by test_distribute.py in a
fresh process (logical devices must be set up before TensorFlow starts).

python tests/mirrored_check.py [float64|float32]  prints one JSON line per objective: the
relative differences (norms over all variables) of the loss, of the gradient and of the weights
after one Adam step, and of a checkpoint written under the mirrored strategy and restored
without one.
"""

import json
import os
import sys
import tempfile

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

import numpy as np  # pylint: disable=g-import-not-at-top

from configs import investment_lq
from configs import ks_tiny
from deepham import train
from deepham.solver import distribute
from deepham.solver import run_state

DTYPE = sys.argv[1] if len(sys.argv) > 1 else 'float64'


def _euler():
  config = investment_lq.get_config('tiny')
  config.policy.objective = 'euler'
  return config


CASES = {
    'game (fast passes)': lambda: ks_tiny.get_config(),
    'planner (one tape)': lambda: ks_tiny.get_config('planner'),
    'euler objective': _euler,
}


def _rel(a, b) -> float:
  a = np.concatenate([np.ravel(x) for x in a])
  b = np.concatenate([np.ravel(x) for x in b])
  return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def _weights(st):
  return [v.numpy() for v in st.policy.trainable_variables]


def _initialised(config) -> run_state.RunState:
  """The run's state after its burn-in: the policy network holds the economy's initial rule (an
  untrained network may consume everything, and a cross-section without capital has no
  prices)."""
  solver = train.Solver(config)
  solver.phases.burn_in()
  return solver.state


def main():
  distribute.make('mirrored', 2)  # before anything else touches the devices
  for name, make_config in CASES.items():
    single_cfg, mirrored_cfg = make_config(), make_config()
    single_cfg.dtype = mirrored_cfg.dtype = DTYPE
    mirrored_cfg.run.strategy, mirrored_cfg.run.logical_cpus = 'mirrored', 2
    single, mirrored = _initialised(single_cfg), _initialised(mirrored_cfg)
    assert mirrored.strategy.num_replicas_in_sync == 2
    batch = single.fresh_start(7, single_cfg.policy.batch_size)
    for st in (single, mirrored):
      st.normalizer.fit(batch)
    seed = single.seed(run_state.STEP, 3)
    loss_1, grads_1, end_1 = single.trainer.loss_and_gradient(batch, seed)
    loss_2, grads_2, end_2 = mirrored.trainer.distributed_loss_and_gradient(batch, seed)
    out = dict(case=name, loss=_rel([loss_2.numpy()], [loss_1.numpy()]),
               gradient=_rel([g.numpy() for g in grads_2], [g.numpy() for g in grads_1]),
               end_aggregates=_rel([end_2.numpy()], [end_1.numpy()]),
               gradient_norm=float(np.sqrt(sum(np.sum(g.numpy()**2) for g in grads_1))))
    single.trainer.step(batch, seed)
    mirrored.trainer.step(batch, seed)
    out['weights_after_step'] = _rel(_weights(mirrored), _weights(single))
    copies = [c.numpy() for c in mirrored.policy.trainable_variables[0].values]
    out['replica_copies_differ'] = float(np.max(np.abs(copies[0] - copies[1])))
    with tempfile.TemporaryDirectory() as tmp:
      path = mirrored.checkpoint.write(os.path.join(tmp, 'ckpt'))
      fresh = run_state.RunState(single_cfg)
      fresh.checkpoint.read(path).assert_existing_objects_matched()
      out['restored_without_strategy'] = _rel(_weights(fresh), _weights(mirrored))
    print(json.dumps(out), flush=True)


if __name__ == '__main__':
  main()
