"""One solve on several devices or hosts, with tf.distribute (`run.strategy`).

  default       one device: TensorFlow's default strategy, no replicas
  mirrored      MirroredStrategy over this machine's GPUs; without GPUs, over `run.logical_cpus`
                logical CPU devices (which exist for tests and benchmarks: they share the cores)
  multi_worker  MultiWorkerMirroredStrategy across processes or hosts: the cluster is read from
                TF_CONFIG, or under SLURM (no TF_CONFIG) from SLURM's variables

What is split is the policy step, the solve's dominant cost: each replica unrolls its rows of the
batch of initial cross-sections (each row a path of N agents), with the shocks those rows get in
a one-device step, and the replicas' gradients are averaged before one Adam update. The
objectives are means over rows of equal-sized shards, so the averaged gradient is the one-device
gradient up to the order of the floating-point sums. Everything else (the simulations, the value
fits, time iteration, the polish) runs whole on every host: the same computation with the same
seeds, so every worker holds the same numbers.

Variables: under mirrored, the networks and their optimisers are mirrored variables (the
replicas' compiled passes read their own device's copy; XLA cannot update such variables, so
the value fit is a plain graph there). Under multi_worker each process drives one device (one
task per GPU, as SLURM's resolver sets up) and holds plain variables; the strategy only averages
the gradients across the workers. A checkpoint holds one copy either way, so a run checkpointed
under one strategy resumes under another.

Under multi_worker every process runs the whole program; the chief (task 0, or the task of type
'chief') owns the workdir: it writes checkpoints, metrics and the summary, and validates. The
other workers read the chief's checkpoints when they resume and write nothing there.
"""

import contextlib
import json
import os

import tensorflow as tf

from deepham import errors

STRATEGIES = ('default', 'mirrored', 'multi_worker')

_made: dict = {}  # one strategy per process: a second MultiWorkerMirroredStrategy fails


def _local_devices(logical_cpus: int) -> list[str] | None:
  """MirroredStrategy's devices: None (its default: the GPUs, else the CPU) or, without GPUs and
  with logical_cpus > 1, that many logical CPU devices."""
  if tf.config.list_physical_devices('GPU') or logical_cpus <= 1:
    return None
  cpu = tf.config.list_physical_devices('CPU')[0]
  wanted = [tf.config.LogicalDeviceConfiguration()] * logical_cpus
  try:
    if len(tf.config.get_logical_device_configuration(cpu) or []) != logical_cpus:
      tf.config.set_logical_device_configuration(cpu, wanted)
  except RuntimeError as exc:
    raise errors.ConfigError(
        f'run.logical_cpus={logical_cpus} needs a fresh process: TensorFlow had already set up '
        'its devices when the strategy was made.') from exc
  return [f'/cpu:{i}' for i in range(logical_cpus)]


def _cluster_resolver():
  if 'TF_CONFIG' not in os.environ and 'SLURM_JOB_ID' in os.environ:
    return tf.distribute.cluster_resolver.SlurmClusterResolver()
  return tf.distribute.cluster_resolver.TFConfigClusterResolver()


def make(name: str, logical_cpus: int = 0) -> tf.distribute.Strategy:
  """The strategy `run.strategy` names, made once per process."""
  if name not in STRATEGIES:
    raise errors.ConfigError(f'run.strategy must be one of {list(STRATEGIES)}; got {name!r}.')
  key = (name, logical_cpus if name == 'mirrored' else 0)
  if key not in _made:
    if name == 'default':
      _made[key] = tf.distribute.get_strategy()
    elif name == 'mirrored':
      _made[key] = tf.distribute.MirroredStrategy(_local_devices(logical_cpus))
    else:
      if 'TF_CONFIG' not in os.environ and 'SLURM_JOB_ID' not in os.environ:
        raise errors.ConfigError("run.strategy='multi_worker' needs a cluster: set TF_CONFIG "
                                 '(docs/distributed.md) or run under SLURM.')
      strategy = tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=_cluster_resolver())
      if len(strategy.extended.worker_devices) != 1:
        raise errors.ConfigError(
            f"run.strategy='multi_worker' drives one device per process; this one sees "
            f'{len(strategy.extended.worker_devices)}: start one task per GPU (SLURM: '
            '--ntasks-per-node equal to the GPUs per node; elsewhere CUDA_VISIBLE_DEVICES).')
      _made[key] = strategy
  return _made[key]


def mirrors_variables(strategy: tf.distribute.Strategy) -> bool:
  """Whether the networks are mirrored variables of `strategy` (several local devices)."""
  return (isinstance(strategy, tf.distribute.MirroredStrategy)
          and strategy.num_replicas_in_sync > 1)


def variable_scope(strategy: tf.distribute.Strategy):
  """Where the networks and the optimisers that train them are made."""
  return strategy.scope() if mirrors_variables(strategy) else contextlib.nullcontext()


def is_chief(strategy_name: str) -> bool:
  """Whether this process owns the workdir: always, except for the non-chief workers of a
  multi_worker run (read from TF_CONFIG or SLURM_PROCID, so that it is known before TensorFlow
  starts)."""
  if strategy_name != 'multi_worker':
    return True
  if 'TF_CONFIG' in os.environ:
    try:
      task = json.loads(os.environ['TF_CONFIG']).get('task', {})
      cluster = json.loads(os.environ['TF_CONFIG']).get('cluster', {})
    except ValueError as exc:
      raise errors.ConfigError(f'TF_CONFIG is not JSON ({exc}).') from exc
    kind, index = task.get('type', 'worker'), int(task.get('index', 0))
    return kind == 'chief' or (kind == 'worker' and index == 0 and 'chief' not in cluster)
  return int(os.environ.get('SLURM_PROCID', '0')) == 0


def replicated(strategy: tf.distribute.Strategy | None) -> bool:
  """Whether steps under `strategy` go through replicas (more than one, or several workers)."""
  return strategy is not None and (strategy.num_replicas_in_sync > 1 or isinstance(
      strategy, tf.distribute.MultiWorkerMirroredStrategy))


def rows(tree, index, count, axis: int = 0):
  """The index-th of `count` equal blocks of every tensor in `tree` along `axis`."""
  def part(t):
    size = tf.shape(t)[axis] // count
    return tf.gather(t, tf.range(index * size, (index + 1) * size), axis=axis)
  return tf.nest.map_structure(part, tree)


def check_batch(strategy: tf.distribute.Strategy, batch_size: int) -> None:
  n = strategy.num_replicas_in_sync
  if batch_size % n:
    raise errors.ConfigError(f'policy.batch_size={batch_size} must be a multiple of the '
                             f'{n} replicas of run.strategy.')
