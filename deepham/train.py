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

A Solver assembles a run from its pieces: its state and checkpoints (solver/run_state.py), the
pool of initial cross-sections (solver/pool.py) and the phases (solver/phases.py); `train` runs
the phases in order, with progress, metrics and checkpoints, and `run` adds the summary and the
validation.
"""

import os
import tempfile

from absl import logging
import ml_collections
import numpy as np
import tensorflow as tf

from deepham import errors
from deepham import progress as progress_lib
from deepham import solution
from deepham import workdir as workdir_lib
from deepham.economies import base
from deepham.solver import phases as phases_lib
from deepham.solver import pool as pool_lib
from deepham.solver import run_state
from deepham.solver import simulate
from deepham.solver import time_iteration as time_iteration_lib
from deepham.solver import value as value_lib


class Solver:
  """One DeepHAM run assembled: its state (`state`: networks, optimisers, distribution,
  counters, checkpoints), the simulators of the current policy, the pool of initial
  cross-sections (`pool`) and the phases (`phases`). The objects callers use most are
  attributes of their own."""

  def __init__(self, config: ml_collections.ConfigDict, economy: base.Economy | None = None):
    self.state = run_state.RunState(config, economy)
    st = self.state
    self.config, self.economy = st.config, st.economy
    self.policy, self.value, self.normalizer = st.policy, st.value, st.normalizer
    self.objective, self.trainer, self.fitter = st.objective, st.trainer, st.fitter
    self.simulator = simulate.Simulator(st.economy, st.policy, jit_compile=config.run.jit)
    # value.control_variate: value data simulated with the martingale correction of the last
    # fit's value (lower-variance targets with the same conditional mean; value.py).
    self.value_simulator = None
    if config.value.control_variate:
      self.value_simulator = simulate.Simulator(
          st.economy, st.policy, jit_compile=config.run.jit,
          utility_correction=value_lib.martingale_correction(st.economy, st.value))
    self.pool = pool_lib.Pool(st, self.simulator)
    self.phases = phases_lib.Phases(st, self.pool, self.simulator, self.value_simulator)

  def attach(self, workdir: str) -> bool:
    """Restores the newest readable checkpoint in workdir/checkpoints (RunState.attach)."""
    return self.state.attach(workdir)

  def view(self) -> solution.RunView:
    """What validation, figures and studies read of the run (RunState.view)."""
    return self.state.view()


def train(solver: Solver, workdir: str, logdir: str | None = None) -> None:
  """Runs the phases that are not done yet, checkpointing as it goes: the burn-in, then each
  round's value fit and policy steps, time iteration, the polish, and the final value fit. Writes
  metrics.csv and TensorBoard summaries every `run.log_every` steps, and time_iteration.csv
  (the Euler errors before each iteration's fit), into `logdir` (default the workdir)."""
  st, phases = solver.state, solver.phases
  cfg, pc = st.config, st.config.policy
  first = f'mean_{st.economy.aggregate_names[0]}'
  fields = ('step', 'round', 'policy_loss', 'value_loss', 'validation_utility', first,
            'elapsed_seconds')
  logdir = logdir or workdir
  metrics = workdir_lib.MetricsWriter(logdir, fields, resume_step=int(st.step))
  writer = tf.summary.create_file_writer(os.path.join(logdir, 'tensorboard'))
  if not int(st.burned):
    phases.burn_in()
    st.save()
  total_steps = pc.rounds * pc.steps_per_round
  uses_value = pc.objective == 'utility'
  while int(st.round) < pc.rounds:
    r = int(st.round)
    if uses_value and int(st.value_round) < r:
      phases.fit_value(f'round {r + 1}/{pc.rounds}')
      st.save()
    prog = progress_lib.Progress(f'policy round {r + 1}/{pc.rounds}', total_steps,
                                 start=int(st.step), unit='steps')
    losses = []
    while int(st.step) < (r + 1) * pc.steps_per_round:
      loss, finite = phases.policy_step()
      if not finite:
        raise errors.NonFiniteError(
            f'the policy loss or its gradient became non-finite at step {int(st.step)}; '
            f'the run stopped and its last good checkpoint is kept in {workdir}/checkpoints. '
            'Try a smaller policy.learning_rate or float64 (config.dtype).')
      losses.append(loss)
      step = int(st.step)
      prog.update(step, f'loss {np.mean(losses[-50:]):.5g}')
      if step % cfg.run.log_every == 0 or step == (r + 1) * pc.steps_per_round:
        _log(solver, metrics, writer, step, np.mean(losses))
        losses = []
      if step % cfg.run.checkpoint_every == 0:
        st.save()
    st.round.assign_add(1)
    st.save()
  if int(st.time_iterations_done) < st.time_iterations:
    record = workdir_lib.MetricsWriter(logdir, time_iteration_lib.RECORD_FIELDS,
                                       resume_step=int(st.time_iterations_done),
                                       name='time_iteration.csv', key='iteration')
    phases.time_iterate(st.save, record.write)
  if st.polish_steps and not st.polished():
    phases.polish()
    st.save()
  if uses_value and int(st.value_round) < pc.rounds:
    phases.fit_value('final policy', final=True)
    st.save()
  logging.info('training done: %d policy steps in %.1f s', int(st.step), st.seconds())


def _log(solver: Solver, metrics, writer, step, loss) -> None:
  """One row of metrics.csv and of the TensorBoard summaries, and a log line."""
  st, phases = solver.state, solver.phases
  first = st.economy.aggregate_names[0]
  util = phases.validation_utility()
  mean_first = phases.statistics(run_state.read(st.distribution))[first]
  value_loss = float(st.value_loss)
  row = dict(step=step, round=int(st.round) + 1, policy_loss=float(loss),
             value_loss=value_loss if np.isfinite(value_loss) else '',  # none yet / not used
             validation_utility=util,
             elapsed_seconds=st.seconds())
  row[f'mean_{first}'] = mean_first
  metrics.write(row)
  with writer.as_default(step=step):
    for k, v in row.items():
      if k not in ('step', 'round') and v != '':
        tf.summary.scalar(k, v)
  logging.info('step %d: policy loss %.6g, validation utility %.6g, mean %s %.4f', step, loss,
               util, first, mean_first)


def run(config: ml_collections.ConfigDict, workdir: str, action: str = 'solve') -> dict:
  """Solves (or, with action='validate', re-validates) a DeepHAM config in `workdir`."""
  if config.run.deterministic:
    tf.config.experimental.enable_op_determinism()
  solver = Solver(config)
  st = solver.state
  resumed = solver.attach(workdir)
  if not st.chief:  # a multi_worker helper: it trains with the chief, which writes the rest
    if action == 'solve':
      with tempfile.TemporaryDirectory(prefix='deepham_worker_') as scratch:
        train(solver, workdir, logdir=scratch)
    return {}
  if action == 'validate':
    if not resumed or not st.finished():
      raise errors.WorkdirError(f'{workdir} does not hold a finished DeepHAM run to validate; '
                                'run it to the end first (the same command with --action=solve '
                                'resumes it).')
  else:
    train(solver, workdir)
  summary = dict(method='deepham', mode=config.mode, economy=config.economy.name,
                 n_agents=solver.economy.n_agents, policy_steps=int(st.step),
                 final_validation_utility=solver.phases.validation_utility(),
                 **solver.phases.final_statistics())
  if st.time_iterations:
    summary['time_iterations'] = int(st.time_iterations_done)
  if st.polish_steps:
    iterations, start, end = st.polish_record.numpy()
    summary.update(polish_iterations=int(iterations), polish_loss_start=float(start),
                   polish_loss_end=float(end))
  workdir_lib.update_summary(workdir, summary)
  from deepham import validation  # pylint: disable=g-import-not-at-top
  summary.update(validation.run(solver.view(), workdir))
  if action == 'solve':  # wall time of the whole solve, validation included
    summary['seconds'] = st.seconds()
  return workdir_lib.update_summary(workdir, summary)
