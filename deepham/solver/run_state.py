"""The state of one DeepHAM run and its checkpoints.

A RunState holds what a run learns and where it stands: the networks and their input
statistics, the objective with the optimisers that train for it, the simulated distribution and
the pool of initial cross-sections, the counters and the elapsed time. All of it is one
tf.train.Checkpoint, whose object graph (the names passed to it and the objects under them) is
what a workdir's checkpoints hold; `attach` restores the newest of them, so rerunning with the
same workdir resumes. The phases that advance it are in phases.py and pool.py; train.py is the
loop.
"""

import os
import shutil
import tempfile
import time

from absl import logging
import ml_collections
import numpy as np
import tensorflow as tf

from deepham import economies
from deepham import errors
from deepham import solution
from deepham.economies import base
from deepham.solver import config_checks
from deepham.solver import distribute
from deepham.solver import networks
from deepham.solver import objectives
from deepham.solver import policy as policy_lib
from deepham.solver import probes
from deepham.solver import simulate
from deepham.solver import time_iteration as time_iteration_lib
from deepham.solver import trainer as trainer_lib
from deepham.solver import value as value_lib

# Purposes of stateless seeds: [config.seed, purpose * 2^32 + counter].
BURN, VALUE, POOL, STEP, VALID, FINAL, SHUFFLE, POLISH, EXPLORE, TIME_ITERATION = range(10)


def _net_kwargs(net_cfg) -> dict:
  return dict(widths=tuple(net_cfg.width), act=net_cfg.activation,
              n_fixed=net_cfg.n_fixed_moments, n_generalized=net_cfg.n_generalized_moments,
              gm_widths=tuple(net_cfg.gm_width), gm_grid=net_cfg.gm_grid)


def _state_variables(n_paths: int, n_agents: int, n_x: int, dtype, name: str) -> base.State:
  return base.State(
      x=tf.Variable(tf.zeros([n_paths, n_agents, n_x], dtype), trainable=False, name=name + '_x'),
      e=tf.Variable(tf.zeros([n_paths, n_agents], tf.int32), trainable=False, name=name + '_e'),
      z=tf.Variable(tf.zeros([n_paths], tf.int32), trainable=False, name=name + '_z'))


def assign(variables: base.State, state: base.State) -> None:
  for var, val in zip(variables, state):
    var.assign(val)


def read(variables: base.State) -> base.State:
  return base.State(*[tf.convert_to_tensor(v) for v in variables])


def _checkpoints_newest_first(directory: str, listed) -> list[str]:
  """Checkpoint prefixes in `directory`: those the index file lists and any other ckpt-N found
  on disk (an index file may be lost or stale), newest first."""
  found = {os.path.join(directory, f[:-len('.index')]) for f in os.listdir(directory)
           if f.startswith('ckpt-') and f.endswith('.index')} if os.path.isdir(directory) else set()
  number = lambda p: int(p.rsplit('-', 1)[1]) if p.rsplit('-', 1)[1].isdigit() else -1
  return sorted(found | set(listed), key=number, reverse=True)


class RunState:
  """Networks, optimisers, simulated distribution, pool and counters of one DeepHAM run."""

  def __init__(self, config: ml_collections.ConfigDict, economy: base.Economy | None = None):
    self.economy = economy or economies.make(config.economy)
    config_checks.check(config, self.economy)
    self.config = config
    self.dtype = tf.as_dtype(config.dtype)
    # run.strategy (distribute.py): the policy step's batch split among its replicas; under
    # mirrored the networks and their optimisers are mirrored variables.
    self.strategy = distribute.make(config.run.strategy, config.run.logical_cpus)
    distribute.check_batch(self.strategy, config.policy.batch_size)
    self.chief = distribute.is_chief(config.run.strategy)
    with self.variable_scope():
      self._build_learners(config)
    econ, dtype, pc = self.economy, self.dtype, config.policy
    n_paths, n = config.init.n_paths, econ.n_agents
    self.pool_size = n_paths * (pc.pool_last // pc.pool_every)
    self.distribution = _state_variables(n_paths, n, econ.n_x, dtype, 'distribution')
    self.pool = _state_variables(self.pool_size, n, econ.n_x, dtype, 'pool')
    counter = lambda name, v=0: tf.Variable(v, dtype=tf.int64, trainable=False, name=name)
    self.burned = counter('burned')
    self.round = counter('round')
    self.value_round = counter('value_round', -1)
    self.step = counter('step')
    self.pool_cursor = counter('pool_cursor', self.pool_size)  # empty: refresh before use
    self.pool_refreshes = counter('pool_refreshes')
    self.elapsed = tf.Variable(0.0, dtype=tf.float64, trainable=False, name='elapsed')
    self.value_loss = tf.Variable(float('nan'), dtype=tf.float64, trainable=False)
    tracked = dict(
        policy=self.policy, value=self.value, normalizer=self.normalizer,
        policy_optimizer=self.trainer.optimizer, value_optimizer=self.fitter.optimizer,
        distribution=list(self.distribution), pool=list(self.pool), burned=self.burned,
        round=self.round, value_round=self.value_round, step=self.step,
        pool_cursor=self.pool_cursor, pool_refreshes=self.pool_refreshes, elapsed=self.elapsed,
        value_loss=self.value_loss)
    # policy.polish_steps: L-BFGS after the Adam rounds: on the Euler loss over a fixed sample,
    # or (the utility objective of a price-taking game) policy.polish_rounds best responses on
    # fixed samples; its record is checkpointed only where it is used, because restoring asserts
    # that every tracked object is in the checkpoint, and runs without a polish write none.
    self.polish_steps = pc.polish_steps
    self.polish_record = tf.Variable([-1.0, float('nan'), float('nan')], dtype=tf.float64,
                                     trainable=False, name='polish_record')
    if self.polish_steps:
      tracked['polish_record'] = self.polish_record  # iterations (-1: not yet), loss before, after
    # policy.time_iterations (solver/time_iteration.py), checkpointed likewise only where used.
    self.time_iterations_done = counter('time_iterations_done')
    if self.time_iteration is not None:
      tracked.update(time_iterations_done=self.time_iterations_done,
                     time_iteration_optimizer=self.time_iteration.optimizer)
    self.checkpoint = tf.train.Checkpoint(**tracked)
    self.manager = None
    self._t0, self._seconds_before = time.time(), 0.0

  def _build_learners(self, config: ml_collections.ConfigDict) -> None:
    """The networks, the objective and the optimisers that train them."""
    econ, dtype = self.economy, self.dtype
    rng = np.random.default_rng(config.seed)
    # The policy and the value networks each read the floor features or not; the normalizer
    # computes them if either does.
    floor_policy, floor_value = config.network.floor_features, config.value.floor_features
    self.normalizer = networks.Normalizer(econ, dtype, name='normalizer',
                                          floor_features=floor_policy or floor_value)
    net_kwargs = _net_kwargs(config.network)
    # policy_own_state=False: the policy sees the cross-section alone (configs/investment_lq.py).
    self.policy = policy_lib.PolicyNetwork(
        econ, self.normalizer, net_kwargs, rng, dtype,
        use_own=config.network.policy_own_state, floor=floor_policy,
        observation_mask=config.network.observation_mask)
    # value.width: hidden layers of the value networks, () = those of the policy network.
    value_widths = tuple(config.value.width) or net_kwargs['widths']
    self.value = value_lib.ValueEnsemble(econ, self.normalizer, config.value.n_nets,
                                         dict(net_kwargs, widths=value_widths), rng, dtype,
                                         floor=floor_value)
    pc = config.policy
    # Agents 0..G-1 of each policy batch's paths carry the objective's gradient (a game's
    # optimising agents); 1 in a planner's step and under the Euler objective.
    game = config.mode == 'game' and pc.objective == 'utility'
    self.optimising_agents = (pc.game_agents or econ.n_agents) if game else 1
    if pc.objective == 'euler':
      self.objective = objectives.EulerObjective(econ, self.policy, pc.euler_loss)
    else:
      self.objective = objectives.UtilityObjective(econ, self.policy, self.value, config.mode,
                                                   pc.price_taking, pc.t_unroll,
                                                   self.optimising_agents)
    lr = pc.learning_rate
    if pc.learning_rate_end != pc.learning_rate:  # exponential decay over all policy steps
      lr = tf.keras.optimizers.schedules.ExponentialDecay(
          pc.learning_rate, pc.rounds * pc.steps_per_round,
          pc.learning_rate_end / pc.learning_rate)
    # policy.euler_weight: the squared Euler errors of probe agents over the explored region
    # added to the utility objective's loss (solver/probes.py).
    penalty = (probes.EulerPenalty(econ, self.policy, pc.euler_probes, pc.explore_reach)
               if pc.euler_weight else None)
    self.trainer = trainer_lib.PolicyTrainer(self.objective, lr, pc.adam_beta1, pc.adam_beta2,
                                             fast=pc.fast_game, jit=config.run.jit,
                                             penalty=penalty, penalty_weight=pc.euler_weight,
                                             strategy=self.strategy)
    self.time_iterations = pc.time_iterations if time_iteration_lib.applies(config) else 0
    if pc.time_iterations and not self.time_iterations:
      logging.info('policy.time_iterations=%d is idle here: time iteration solves a price '
                   "taker's Euler equation (mode='game', price_taking, the utility objective).",
                   pc.time_iterations)
    self.time_iteration = None
    if self.time_iterations:
      self.time_iteration = time_iteration_lib.TimeIteration(
          econ, self.policy, pc.time_iteration_learning_rate, pc.time_iteration_batch,
          pc.time_iteration_probes, pc.explore_reach, pc.time_iteration_damping,
          pc.time_iteration_damping_far)
    # XLA cannot update variables mirrored on several devices: there the value fit is a plain
    # graph.
    self.fitter = value_lib.ValueFitter(
        self.value, config.value.learning_rate, config.value.batch_size, config.value.adam_beta1,
        config.value.adam_beta2,
        jit=config.run.jit and not distribute.mirrors_variables(self.strategy),
        learning_rate_end=config.value.learning_rate_end)

  def variable_scope(self):
    """Where optimisers of the networks are made (the strategy's scope if it mirrors them).
    Everything else runs outside it: there a mirrored variable reads as its first copy, and an
    update (assign, an optimiser's step) updates every copy."""
    return distribute.variable_scope(self.strategy)

  def seed(self, purpose: int, counter) -> tf.Tensor:
    return tf.constant([self.config.seed, purpose * 2**32 + int(counter)], tf.int64)

  # --- checkpoints -------------------------------------------------------------------------------
  def attach(self, workdir: str) -> bool:
    """Uses workdir/checkpoints; restores the newest readable checkpoint there. True if one was
    found. A checkpoint cut short (a kill while it was written, a full disk) is passed over for
    the one before it, with a warning; if none can be read, the run stops with a message."""
    directory = os.path.join(workdir, 'checkpoints')
    try:
      self.manager = tf.train.CheckpointManager(self.checkpoint, directory, max_to_keep=2)
    except (tf.errors.OpError, ValueError) as exc:  # an unreadable index file `checkpoint`
      if not self.chief:
        raise errors.WorkdirError(f'{directory}/checkpoint is unreadable ({exc}); the chief '
                                  'worker rebuilds it: start the chief first.') from exc
      logging.warning('%s/checkpoint is unreadable (%s); it lists the checkpoints only, and is '
                      'rebuilt from the ckpt-* files', directory, exc)
      os.remove(os.path.join(directory, 'checkpoint'))
      self.manager = tf.train.CheckpointManager(self.checkpoint, directory, max_to_keep=2)
    candidates = _checkpoints_newest_first(directory, self.manager.checkpoints)
    failures = []
    for path in candidates:
      try:
        self.checkpoint.restore(path).assert_existing_objects_matched()
      except Exception as exc:  # pylint: disable=broad-except  (TF raises several kinds here)
        failures.append(f'{os.path.basename(path)}: {str(exc).splitlines()[0][:120]}')
        logging.warning('checkpoint %s cannot be read (%s); trying an earlier one', path,
                        failures[-1])
        continue
      logging.info('resumed from %s (round %d, policy step %d)', path, int(self.round),
                   int(self.step))
      self._t0, self._seconds_before = time.time(), float(self.elapsed)
      return True
    if failures:
      raise errors.WorkdirError(
          f'no checkpoint in {directory} can be read ({"; ".join(failures)}). Restore them, '
          'or start this run afresh with --overwrite.')
    return False

  def seconds(self) -> float:
    """Wall time spent on this run, over every session that worked on it."""
    return self._seconds_before + time.time() - self._t0

  def save(self) -> None:
    """A checkpoint in workdir/checkpoints. A non-chief worker of a multi_worker run writes its
    copy to a temporary directory and deletes it: saving is collective (every worker takes
    part), but the workdir is the chief's."""
    self.elapsed.assign(self.seconds())
    if self.chief:
      self.manager.save()
      return
    scratch = tempfile.mkdtemp(prefix='deepham_worker_')
    try:
      self.checkpoint.write(os.path.join(scratch, 'ckpt'))
    finally:
      shutil.rmtree(scratch, ignore_errors=True)

  # --- where the run stands ----------------------------------------------------------------------
  def finished(self) -> bool:
    """True once every round is done, and the final value fit (if the objective uses values)
    and the polish and time iteration (if there are any)."""
    pc = self.config.policy
    return (int(self.round) >= pc.rounds
            and (pc.objective != 'utility' or int(self.value_round) >= pc.rounds)
            and (not self.polish_steps or self.polished())
            and int(self.time_iterations_done) >= self.time_iterations)

  def polished(self) -> bool:
    return float(self.polish_record[0]) >= 0

  def fresh_start(self, n: int, n_paths: int | None = None) -> base.State:
    """The economy's starting cross-section, draw n (draw 0 starts the burn-in), of n_paths
    paths (default init.n_paths)."""
    rng = np.random.default_rng([self.config.seed, n])
    return simulate.as_state(
        self.economy.initial_state(n_paths or self.config.init.n_paths, rng), self.dtype)

  def start_state(self, n: int) -> base.State:
    """Where training simulations start: the distribution, or (init.restart) a fresh draw."""
    return self.fresh_start(n + 1) if self.config.init.restart else read(self.distribution)

  def view(self) -> solution.RunView:
    """What validation, figures and studies read of the run (deepham/solution.py: RunView),
    with the distribution as it is now."""
    return solution.RunView(economy=self.economy, config=self.config, dtype=self.dtype,
                            policy=self.policy, value=self.value, normalizer=self.normalizer,
                            distribution=read(self.distribution), fresh_start=self.fresh_start)
