"""The DeepHAM outer loop: simulate the distribution, fit the value, optimise the policy, repeat.

  burn-in   from the economy's starting cross-section, `init.t_burn` periods under the initial
            policy (the economy's simple rule, or a conventional benchmark); the networks' input
            statistics are fitted on the result and the policy network imitates the rule.
  round r   value step: simulate `value.horizon` periods from the current distribution under the
            current policy and regress lifetime utility on the state (the distribution moves
            on); policy step: `policy.steps_per_round` Adam steps on initial cross-sections
            drawn from a pool of simulated states that is refreshed from the distribution.
  finally   a last value fit for the final policy, a simulation for summary statistics, and the
            validation report.

Everything needed to continue is checkpointed (networks, optimiser states, input statistics,
the distribution, the pool, counters, elapsed time); rerunning with the same workdir resumes.
"""

import os
import time

from absl import logging
import ml_collections
import numpy as np
import tensorflow as tf

from deepham import conventional
from deepham import economies
from deepham import errors
from deepham import progress as progress_lib
from deepham import workdir as workdir_lib
from deepham.economies import base
from deepham.solver import config_checks
from deepham.solver import explore
from deepham.solver import imitation
from deepham.solver import networks
from deepham.solver import objectives
from deepham.solver import polish as polish_lib
from deepham.solver import policy as policy_lib
from deepham.solver import probes
from deepham.solver import simulate
from deepham.solver import trainer as trainer_lib
from deepham.solver import value as value_lib

# Purposes of stateless seeds: [config.seed, purpose * 2^32 + counter].
_BURN, _VALUE, _POOL, _STEP, _VALID, _FINAL, _SHUFFLE, _POLISH, _EXPLORE = range(9)


def _net_kwargs(net_cfg) -> dict:
  return dict(widths=tuple(net_cfg.width), act=net_cfg.activation,
              n_fixed=net_cfg.n_fixed_moments, n_generalized=net_cfg.n_generalized_moments,
              gm_widths=tuple(net_cfg.gm_width), gm_grid=net_cfg.gm_grid)


def _state_variables(n_paths: int, n_agents: int, n_x: int, dtype, name: str) -> base.State:
  return base.State(
      x=tf.Variable(tf.zeros([n_paths, n_agents, n_x], dtype), trainable=False, name=name + '_x'),
      e=tf.Variable(tf.zeros([n_paths, n_agents], tf.int32), trainable=False, name=name + '_e'),
      z=tf.Variable(tf.zeros([n_paths], tf.int32), trainable=False, name=name + '_z'))


def _assign(variables: base.State, state: base.State) -> None:
  for var, val in zip(variables, state):
    var.assign(val)


def _read(variables: base.State) -> base.State:
  return base.State(*[tf.convert_to_tensor(v) for v in variables])


def _checkpoints_newest_first(directory: str, listed) -> list[str]:
  """Checkpoint prefixes in `directory`: those the index file lists and any other ckpt-N found
  on disk (an index file may be lost or stale), newest first."""
  found = {os.path.join(directory, f[:-len('.index')]) for f in os.listdir(directory)
           if f.startswith('ckpt-') and f.endswith('.index')} if os.path.isdir(directory) else set()
  number = lambda p: int(p.rsplit('-', 1)[1]) if p.rsplit('-', 1)[1].isdigit() else -1
  return sorted(found | set(listed), key=number, reverse=True)


class Solver:
  """Networks, optimisers, simulated distribution and counters of one DeepHAM run."""

  def __init__(self, config: ml_collections.ConfigDict, economy: base.Economy | None = None):
    self.economy = economy or economies.make(config.economy)
    config_checks.check(config, self.economy)
    self.config = config
    self.dtype = tf.as_dtype(config.dtype)
    econ, dtype = self.economy, self.dtype
    rng = np.random.default_rng(config.seed)
    self.normalizer = networks.Normalizer(econ, dtype, name='normalizer',
                                          floor_features=config.network.floor_features)
    net_kwargs = _net_kwargs(config.network)
    # policy_own_state=False: the policy sees the cross-section alone (configs/investment_lq.py).
    self.policy = policy_lib.PolicyNetwork(
        econ, self.normalizer, net_kwargs, rng, dtype,
        use_own=config.network.policy_own_state)
    # value.width: hidden layers of the value networks, () = those of the policy network.
    value_widths = tuple(config.value.width) or net_kwargs['widths']
    self.value = value_lib.ValueEnsemble(econ, self.normalizer, config.value.n_nets,
                                         dict(net_kwargs, widths=value_widths), rng, dtype)
    pc = config.policy
    if pc.objective == 'euler':
      self.objective = objectives.EulerObjective(econ, self.policy, pc.euler_loss)
    else:
      self.objective = objectives.UtilityObjective(econ, self.policy, self.value, config.mode,
                                                   pc.price_taking, pc.t_unroll)
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
                                             penalty=penalty, penalty_weight=pc.euler_weight)
    self.fitter = value_lib.ValueFitter(self.value, config.value.learning_rate,
                                        config.value.batch_size, config.value.adam_beta1,
                                        config.value.adam_beta2, jit=config.run.jit,
                                        learning_rate_end=config.value.learning_rate_end)
    self.simulator = simulate.Simulator(econ, self.policy, jit_compile=config.run.jit)
    # value.control_variate: value data simulated with the martingale correction of the last
    # fit's value (lower-variance targets with the same conditional mean; value.py).
    self.value_simulator = None
    if config.value.control_variate:
      self.value_simulator = simulate.Simulator(
          econ, self.policy, jit_compile=config.run.jit,
          utility_correction=value_lib.martingale_correction(econ, self.value))
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
        distribution=list(self.distribution), pool=list(self.pool), burned=self.burned, round=self.round,
        value_round=self.value_round, step=self.step, pool_cursor=self.pool_cursor,
        pool_refreshes=self.pool_refreshes, elapsed=self.elapsed, value_loss=self.value_loss)
    # policy.polish_steps: L-BFGS after the Adam rounds: on the Euler loss over a fixed sample,
    # or (the utility objective of a price-taking game) policy.polish_rounds best responses on
    # fixed samples; its record is checkpointed only where it is used, because restoring asserts
    # that every tracked object is in the checkpoint, and runs without a polish write none.
    self.polish_steps = pc.polish_steps
    self.polish_record = tf.Variable([-1.0, float('nan'), float('nan')], dtype=tf.float64,
                                     trainable=False, name='polish_record')
    if self.polish_steps:
      tracked['polish_record'] = self.polish_record  # iterations (-1: not yet), loss before, after
    self.checkpoint = tf.train.Checkpoint(**tracked)
    self.manager = None
    self._t0, self._seconds_before = time.time(), 0.0

  # --- seeds and checkpoints ---------------------------------------------------------------------
  def seed(self, purpose: int, counter) -> tf.Tensor:
    return tf.constant([self.config.seed, purpose * 2**32 + int(counter)], tf.int64)

  def attach(self, workdir: str) -> bool:
    """Uses workdir/checkpoints; restores the newest readable checkpoint there. True if one was
    found. A checkpoint cut short (a kill while it was written, a full disk) is passed over for
    the one before it, with a warning; if none can be read, the run stops with a message."""
    directory = os.path.join(workdir, 'checkpoints')
    try:
      self.manager = tf.train.CheckpointManager(self.checkpoint, directory, max_to_keep=2)
    except (tf.errors.OpError, ValueError) as exc:  # an unreadable index file `checkpoint`
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
    self.elapsed.assign(self.seconds())
    self.manager.save()

  # --- phases ------------------------------------------------------------------------------------
  def initial_policy(self):
    cfg = self.config.init
    if cfg.policy == 'benchmark':
      return conventional.load_benchmark(self.economy, cfg.benchmark, initial_rule=True).policy
    return self.economy.initial_action

  def burn_in(self) -> None:
    cfg, econ = self.config.init, self.economy
    rule = self.initial_policy()
    sim = simulate.Simulator(econ, rule, jit_compile=self.config.run.jit)
    state = self.fresh_start(0)
    n_fit = min(1000, cfg.t_burn)
    logging.info('burn-in: %d periods of %d paths x %d agents under the %s policy', cfg.t_burn,
                 cfg.n_paths, econ.n_agents, cfg.policy)
    if n_fit:
      state = sim.advance(state, self.seed(_BURN, 0), cfg.t_burn - n_fit).state
      snaps, chunks = sim.snapshots(state, self.seed(_BURN, 1), n_fit, max(n_fit // 10, 1))
      sample = base.State(*[tf.concat(f, axis=0) for f in zip(*snaps)])
      state = chunks[-1].state
    else:
      sample = state
    spread = cfg.imitation_spread
    if spread < 0:  # the economy's choice
      spread = econ.imitation_spread
    if spread:  # teach the initial rule on a wider set of states than the narrow starting one
      scale = tf.exp(spread * tf.random.stateless_normal(
          [int(sample.z.shape[0]), 1, 1], self.seed(_BURN, 2), dtype=sample.x.dtype))
      sample = base.State(sample.x * scale, sample.e, sample.z)
    self.normalizer.fit(sample)
    mse = imitation.imitate(self.policy, rule, sample, cfg.imitation_steps,
                            cfg.imitation_batch, cfg.imitation_learning_rate, self.config.seed)
    logging.info('policy network imitates the initial policy: MSE %.3g', mse)
    _assign(self.distribution, state)
    self.burned.assign(1)

  def finished(self) -> bool:
    """True once every round is done, and the final value fit (if the objective uses values)
    and the polish (if there is one)."""
    pc = self.config.policy
    return (int(self.round) >= pc.rounds
            and (pc.objective != 'utility' or int(self.value_round) >= pc.rounds)
            and (not self.polish_steps or self.polished()))

  def polished(self) -> bool:
    return float(self.polish_record[0]) >= 0

  def polish(self) -> None:
    """L-BFGS after the Adam rounds, on the states of a fresh pool simulated under the current
    policy (the first policy.polish_states of them). Euler objective: at most
    policy.polish_steps iterations on the antithetic Euler loss. Utility objective:
    policy.polish_rounds best responses (solver/polish.py: polish_best_response), each on a
    fresh pool with fresh shocks, each of at most policy.polish_steps iterations."""
    pc = self.config.policy
    euler = pc.objective == 'euler'
    rounds = 1 if euler else pc.polish_rounds
    n = pc.polish_states or self.pool_size
    outs = []
    for r in range(rounds):
      self.refresh_pool()
      states = base.State(*[tf.convert_to_tensor(v)[:n] for v in self.pool])
      label = 'policy polish (L-BFGS)' if euler else f'best response {r + 1}/{rounds} (L-BFGS)'
      logging.info('%s: at most %d iterations on %d cross-sections', label, self.polish_steps,
                   int(states.z.shape[0]))
      prog = progress_lib.Progress(label, self.polish_steps, unit='iterations')
      if euler:
        out = polish_lib.polish(self.objective, states, self.polish_steps,
                                self.seed(_POLISH, 0), progress=prog)
      else:
        out = polish_lib.polish_best_response(self.trainer, states, self.polish_steps,
                                              self.seed(_POLISH, r), progress=prog)
      logging.info('%s: %d iterations, %s %.10g -> %.10g', label, out['polish_iterations'],
                   'antithetic Euler loss' if euler else 'loss (minus utility per path)',
                   out['polish_loss_start'], out['polish_loss_end'])
      outs.append(out)
    self.polish_record.assign([sum(o['polish_iterations'] for o in outs),
                               outs[0]['polish_loss_start'], outs[-1]['polish_loss_end']])

  def fresh_start(self, n: int, n_paths: int | None = None) -> base.State:
    """The economy's starting cross-section, draw n (draw 0 starts the burn-in), of n_paths
    paths (default init.n_paths)."""
    rng = np.random.default_rng([self.config.seed, n])
    return simulate.as_state(
        self.economy.initial_state(n_paths or self.config.init.n_paths, rng), self.dtype)

  def start_state(self, n: int) -> base.State:
    """Where training simulations start: the distribution, or (init.restart) a fresh draw."""
    return self.fresh_start(n + 1) if self.config.init.restart else _read(self.distribution)

  def fit_value(self, label: str, final: bool = False) -> None:
    """Fits the value networks to lifetime utility simulated under the current policy. The
    final fit (after the last policy round: the value that validation scores) may use more data
    and epochs (value.final_every, value.final_epochs; 0: as in the rounds)."""
    vc = self.config.value
    every, epochs = vc.every, vc.epochs
    if final:
      every, epochs = vc.final_every or every, vc.final_epochs or epochs
    r = int(self.value_round) + 1
    # The control variate and the tail need a fitted value: from the second fit on.
    sim = self.value_simulator if self.value_simulator is not None and r > 0 else self.simulator
    tail = self.value if vc.tail and r > 0 else None
    start = self.start_state(10**6 + r)
    if vc.explore_share:
      start = explore.explore_agents(start, self.economy.state_floor, vc.explore_share,
                                     self.config.policy.explore_reach,
                                     self.seed(_EXPLORE, 2**31 + r))  # steps count from 0
    data, final_state = value_lib.simulate_values(
        sim, start, self.seed(_VALUE, r), 0, vc.horizon, vc.window, every,
        tail=tail, progress=progress_lib.Progress(f'value data ({label})', vc.horizon,
                                                  unit='periods'))
    _assign(self.distribution, final_state)
    # Input statistics follow the distribution; every network keeps computing the same function.
    self.normalizer.fit(data.states, [self.policy.net] + self.value.nets)
    prog = progress_lib.Progress(f'value fit ({label})', epochs, unit='epochs')
    losses = self.fitter.fit(data, epochs, seed=self.config.seed * 1000 + r,
                             valid_fraction=vc.valid_fraction, progress=prog,
                             keep_function=r > 0)
    std = float(self.value.target_std.numpy())
    self.value_loss.assign(losses['valid_mse'] * std**2)
    # In value units; most of it is the noise of realised lifetime utility around its mean
    # (less of it with value.control_variate).
    logging.info('value fit (%s): %d cross-sections, mean value %.4f, target std %.4f, '
                 'train MSE %.3e, held-out MSE %.3e (value units)', label,
                 int(data.targets.shape[0]), float(self.value.target_mean.numpy()), std,
                 losses['train_mse'] * std**2, losses['valid_mse'] * std**2)
    self.value_round.assign(r)

  def refresh_pool(self) -> None:
    """Simulates the distribution forward and stores snapshots as initial states for steps."""
    pc = self.config.policy
    n = int(self.pool_refreshes)
    state = self.simulator.advance(self.start_state(n), self.seed(_POOL, 2 * n),
                                   pc.pool_periods - pc.pool_last).state
    snaps, chunks = self.simulator.snapshots(state, self.seed(_POOL, 2 * n + 1), pc.pool_last,
                                             pc.pool_every)
    _assign(self.distribution, chunks[-1].state)
    pool = base.State(*[tf.concat(f, axis=0) for f in zip(*snaps)])
    if self.config.init.restart:  # the states change along each trajectory: follow them
      self.normalizer.fit(pool, [self.policy.net] + self.value.nets)
    s = tf.random.experimental.stateless_split(self.seed(_SHUFFLE, n), 2)
    order = tf.argsort(tf.random.stateless_uniform([self.pool_size], s[0]))
    pool = base.State(*[tf.gather(f, order) for f in pool])
    if self.config.mode == 'game':  # agent 0 of a sample is a random agent of the cross-section
      agents = tf.argsort(tf.random.stateless_uniform(tf.shape(pool.e), s[1]), axis=1)
      pool = base.State(tf.gather(pool.x, agents, batch_dims=1),
                        tf.gather(pool.e, agents, batch_dims=1), pool.z)
    _assign(self.pool, pool)
    self.pool_cursor.assign(0)
    self.pool_refreshes.assign_add(1)

  def next_batch(self) -> base.State:
    """The next policy.batch_size cross-sections of the pool; with policy.explore_share, the
    optimising agent of that share of them moved to an explored state (solver/explore.py)."""
    pc = self.config.policy
    b = pc.batch_size
    if int(self.pool_cursor) + b > self.pool_size:
      self.refresh_pool()
    i = int(self.pool_cursor)
    self.pool_cursor.assign_add(b)
    batch = base.State(*[v[i:i + b] for v in self.pool])
    share = pc.explore_share
    if share:
      batch = explore.explore_batch(batch, self.economy.state_floor, share, pc.explore_reach,
                                    self.seed(_EXPLORE, int(self.step)))
    return batch

  def validation_utility(self) -> float:
    """Welfare under the current policy: mean discounted utility over `run.validation_periods`
    from the current distribution, with shocks fixed for the whole run."""
    chunk = self.simulator.advance(_read(self.distribution), self.seed(_VALID, 0),
                                   self.config.run.validation_periods)
    return float(tf.reduce_mean(chunk.discounted_utility))

  def statistics(self, state: base.State) -> dict:
    return {k: float(tf.reduce_mean(v)) for k, v in self.economy.statistics(state).items()}

  # --- the loop ----------------------------------------------------------------------------------
  def train(self, workdir: str) -> None:
    cfg, pc = self.config, self.config.policy
    first = f'mean_{self.economy.aggregate_names[0]}'
    fields = ('step', 'round', 'policy_loss', 'value_loss', 'validation_utility', first,
              'elapsed_seconds')
    metrics = workdir_lib.MetricsWriter(workdir, fields, resume_step=int(self.step))
    writer = tf.summary.create_file_writer(os.path.join(workdir, 'tensorboard'))
    if not int(self.burned):
      self.burn_in()
      self.save()
    total_steps = pc.rounds * pc.steps_per_round
    uses_value = pc.objective == 'utility'
    while int(self.round) < pc.rounds:
      r = int(self.round)
      if uses_value and int(self.value_round) < r:
        self.fit_value(f'round {r + 1}/{pc.rounds}')
        self.save()
      prog = progress_lib.Progress(f'policy round {r + 1}/{pc.rounds}', total_steps,
                                   start=int(self.step), unit='steps')
      losses = []
      while int(self.step) < (r + 1) * pc.steps_per_round:
        batch = self.next_batch()
        loss, end_aggs, finite = self.trainer.step(batch, self.seed(_STEP, int(self.step)))
        if not bool(finite):
          raise errors.NonFiniteError(
              f'the policy loss or its gradient became non-finite at step {int(self.step)}; '
              f'the run stopped and its last good checkpoint is kept in {workdir}/checkpoints. '
              'Try a smaller policy.learning_rate or float64 (config.dtype).')
        losses.append(float(loss))
        self.step.assign_add(1)
        step = int(self.step)
        prog.update(step, f'loss {np.mean(losses[-50:]):.5g}')
        if step % cfg.run.log_every == 0 or step == (r + 1) * pc.steps_per_round:
          self._log(metrics, writer, step, np.mean(losses))
          losses = []
        if step % cfg.run.checkpoint_every == 0:
          self.save()
      self.round.assign_add(1)
      self.save()
    if self.polish_steps and not self.polished():
      self.polish()
      self.save()
    if uses_value and int(self.value_round) < pc.rounds:
      self.fit_value('final policy', final=True)
      self.save()
    logging.info('training done: %d policy steps in %.1f s', int(self.step), self.seconds())

  def _log(self, metrics, writer, step, loss) -> None:
    first = self.economy.aggregate_names[0]
    util = self.validation_utility()
    mean_first = self.statistics(_read(self.distribution))[first]
    value_loss = float(self.value_loss)
    row = dict(step=step, round=int(self.round) + 1, policy_loss=float(loss),
               value_loss=value_loss if np.isfinite(value_loss) else '',  # none yet / not used
               validation_utility=util,
               elapsed_seconds=self.seconds())
    row[f'mean_{first}'] = mean_first
    metrics.write(row)
    with writer.as_default(step=step):
      for k, v in row.items():
        if k not in ('step', 'round') and v != '':
          tf.summary.scalar(k, v)
    logging.info('step %d: policy loss %.6g, validation utility %.6g, mean %s %.4f', step, loss,
                 util, first, mean_first)

  def final_statistics(self) -> dict:
    """Mean and std of each aggregate over a `run.final_periods` simulation of the distribution."""
    path = self.simulator.path(_read(self.distribution), self.seed(_FINAL, 0),
                               self.config.run.final_periods)
    out = {}
    for i, name in enumerate(self.economy.aggregate_names):
      series = path.aggregates[..., i].numpy()
      out[f'mean_{name}'], out[f'std_{name}'] = float(series.mean()), float(series.std())
    return out


def run(config: ml_collections.ConfigDict, workdir: str, action: str = 'solve') -> dict:
  """Solves (or, with action='validate', re-validates) a DeepHAM config in `workdir`."""
  if config.run.deterministic:
    tf.config.experimental.enable_op_determinism()
  solver = Solver(config)
  resumed = solver.attach(workdir)
  if action == 'validate':
    if not resumed or not solver.finished():
      raise errors.WorkdirError(f'{workdir} does not hold a finished DeepHAM run to validate; '
                                'run it to the end first (the same command with --action=solve '
                                'resumes it).')
  else:
    solver.train(workdir)
  summary = dict(method='deepham', mode=config.mode, economy=config.economy.name,
                 n_agents=solver.economy.n_agents, policy_steps=int(solver.step),
                 final_validation_utility=solver.validation_utility(),
                 **solver.final_statistics())
  if solver.polish_steps:
    iterations, start, end = solver.polish_record.numpy()
    summary.update(polish_iterations=int(iterations), polish_loss_start=float(start),
                   polish_loss_end=float(end))
  workdir_lib.update_summary(workdir, summary)
  from deepham import validation  # pylint: disable=g-import-not-at-top
  summary.update(validation.run(solver, workdir))
  if action == 'solve':  # wall time of the whole solve, validation included
    summary['seconds'] = solver.seconds()
  return workdir_lib.update_summary(workdir, summary)
