"""The phases of a DeepHAM run, each a step of the outer loop (train.py) that advances the run's
state (run_state.py): the burn-in under the initial policy with the policy network's imitation of
it, the value fits, the policy steps, time iteration, the L-BFGS polish, and the simulations that
measure the current policy (the validation utility of the metrics, the final statistics of the
summary).
"""

from absl import logging
import tensorflow as tf

from deepham import conventional
from deepham import progress as progress_lib
from deepham.economies import base
from deepham.solver import explore
from deepham.solver import imitation
from deepham.solver import polish as polish_lib
from deepham.solver import pool as pool_lib
from deepham.solver import run_state
from deepham.solver import simulate
from deepham.solver import time_iteration as time_iteration_lib
from deepham.solver import value as value_lib


class Phases:
  """The phases of one run, on its state, pool of initial cross-sections and simulators (the
  value simulator, if not None, is the one of the value data: value.control_variate)."""

  def __init__(self, state: run_state.RunState, pool: pool_lib.Pool,
               simulator: simulate.Simulator, value_simulator: simulate.Simulator | None):
    self.state, self.pool = state, pool
    self.simulator, self.value_simulator = simulator, value_simulator

  def initial_policy(self):
    cfg = self.state.config.init
    if cfg.policy == 'benchmark':
      return conventional.load_benchmark(self.state.economy, cfg.benchmark,
                                         initial_rule=True).policy
    return self.state.economy.initial_action

  def burn_in(self) -> None:
    st = self.state
    cfg, econ = st.config.init, st.economy
    rule = self.initial_policy()
    sim = simulate.Simulator(econ, rule, jit_compile=st.config.run.jit)
    state = st.fresh_start(0)
    n_fit = min(1000, cfg.t_burn)
    logging.info('burn-in: %d periods of %d paths x %d agents under the %s policy', cfg.t_burn,
                 cfg.n_paths, econ.n_agents, cfg.policy)
    if n_fit:
      state = sim.advance(state, st.seed(run_state.BURN, 0), cfg.t_burn - n_fit).state
      snaps, chunks = sim.snapshots(state, st.seed(run_state.BURN, 1), n_fit,
                                    max(n_fit // 10, 1))
      sample = base.State(*[tf.concat(f, axis=0) for f in zip(*snaps)])
      state = chunks[-1].state
    else:
      sample = state
    spread = cfg.imitation_spread
    if spread < 0:  # the economy's choice
      spread = econ.imitation_spread
    if spread:  # teach the initial rule on a wider set of states than the narrow starting one
      scale = tf.exp(spread * tf.random.stateless_normal(
          [int(sample.z.shape[0]), 1, 1], st.seed(run_state.BURN, 2), dtype=sample.x.dtype))
      sample = base.State(sample.x * scale, sample.e, sample.z)
    st.normalizer.fit(sample)
    mse = imitation.imitate(st.policy, rule, sample, cfg.imitation_steps, cfg.imitation_batch,
                            cfg.imitation_learning_rate, st.config.seed, st.variable_scope)
    logging.info('policy network imitates the initial policy: MSE %.3g', mse)
    run_state.assign(st.distribution, state)
    st.burned.assign(1)

  def fit_value(self, label: str, final: bool = False) -> None:
    """Fits the value networks to lifetime utility simulated under the current policy. The
    final fit (after the last policy round: the value that validation scores) may use more data
    and epochs (value.final_every, value.final_epochs; 0: as in the rounds)."""
    st = self.state
    vc = st.config.value
    every, epochs = vc.every, vc.epochs
    if final:
      every, epochs = vc.final_every or every, vc.final_epochs or epochs
    r = int(st.value_round) + 1
    # The control variate, the tail and TD(lambda)'s bootstrap need a fitted value: from the
    # second fit on (the first is a Monte Carlo fit).
    sim = self.value_simulator if self.value_simulator is not None and r > 0 else self.simulator
    tail = st.value if vc.tail and r > 0 else None
    start = st.start_state(10**6 + r)
    if vc.explore_share:
      start = explore.explore_agents(start, st.economy.state_floor, vc.explore_share,
                                     st.config.policy.explore_reach,
                                     st.seed(run_state.EXPLORE, 2**31 + r),  # steps from 0
                                     st.economy.n_common_states)
    data, final_state = value_lib.simulate_values(
        sim, start, st.seed(run_state.VALUE, r), 0, vc.horizon, vc.window, every,
        tail=tail, td_lambda=vc.td_lambda if vc.method == 'td_lambda' and tail else 1.0,
        progress=progress_lib.Progress(f'value data ({label})', vc.horizon,
                                                  unit='periods'))
    run_state.assign(st.distribution, final_state)
    # Input statistics follow the distribution; every network keeps computing the same function.
    st.normalizer.fit(data.states, [st.policy.net] + st.value.nets)
    prog = progress_lib.Progress(f'value fit ({label})', epochs, unit='epochs')
    losses = st.fitter.fit(data, epochs, seed=st.config.seed * 1000 + r,
                            valid_fraction=vc.valid_fraction, progress=prog,
                            keep_function=r > 0)
    std = float(st.value.target_std.numpy())
    st.value_loss.assign(losses['valid_mse'] * std**2)
    # In value units; most of it is the noise of realised lifetime utility around its mean
    # (less of it with value.control_variate).
    logging.info('value fit (%s): %d cross-sections, mean value %.4f, target std %.4f, '
                 'train MSE %.3e, held-out MSE %.3e (value units)', label,
                 int(data.targets.shape[0]), float(st.value.target_mean.numpy()), std,
                 losses['train_mse'] * std**2, losses['valid_mse'] * std**2)
    st.value_round.assign(r)

  def policy_step(self) -> tuple[float, bool]:
    """One Adam step on the next batch of the pool: (loss, whether the loss and its gradient
    were finite). A step that was not is neither applied nor counted."""
    st = self.state
    batch = self.pool.next_batch()
    loss, _, finite = st.trainer.step(batch, st.seed(run_state.STEP, int(st.step)))
    if not bool(finite):
      return float(loss), False
    st.step.assign_add(1)
    return float(loss), True

  def polish(self) -> None:
    """L-BFGS after the Adam rounds, on the states of a fresh pool simulated under the current
    policy (the first policy.polish_states of them). Euler objective: at most
    policy.polish_steps iterations on the antithetic Euler loss. Utility objective:
    policy.polish_rounds best responses (solver/polish.py: polish_best_response), each on a
    fresh pool with fresh shocks, each of at most policy.polish_steps iterations."""
    st = self.state
    pc = st.config.policy
    euler = pc.objective == 'euler'
    rounds = 1 if euler else pc.polish_rounds
    n = pc.polish_states or st.pool_size
    outs = []
    for r in range(rounds):
      self.pool.refresh()
      states = base.State(*[tf.convert_to_tensor(v)[:n] for v in st.pool])
      label = 'policy polish (L-BFGS)' if euler else f'best response {r + 1}/{rounds} (L-BFGS)'
      logging.info('%s: at most %d iterations on %d cross-sections', label, st.polish_steps,
                   int(states.z.shape[0]))
      prog = progress_lib.Progress(label, st.polish_steps, unit='iterations')
      if euler:
        out = polish_lib.polish(st.objective, states, st.polish_steps,
                                st.seed(run_state.POLISH, 0), progress=prog)
      else:
        out = polish_lib.polish_best_response(st.trainer, states, st.polish_steps,
                                              st.seed(run_state.POLISH, r), progress=prog)
      logging.info('%s: %d iterations, %s %.10g -> %.10g', label, out['polish_iterations'],
                   'antithetic Euler loss' if euler else 'loss (minus utility per path)',
                   out['polish_loss_start'], out['polish_loss_end'])
      outs.append(out)
    st.polish_record.assign([sum(o['polish_iterations'] for o in outs),
                              outs[0]['polish_loss_start'], outs[-1]['polish_loss_end']])

  def time_iterate(self, save, record=None) -> list[dict]:
    """The iterations of policy.time_iterations not done yet (solver/time_iteration.py), each
    on cross-sections simulated on from the distribution under the current policy; `save()`
    after each. Logs and returns, per iteration, the Euler errors of the cross-sections' agents
    and of the probes before its fit (log10 mean and max): the distance from the fixed point;
    and passes them to `record(row)` (time_iteration.record_row: with the iteration and the
    fit's loss) before `save`."""
    st = self.state
    pc, ti, total = st.config.policy, st.time_iteration, st.time_iterations
    n_paths = int(st.distribution.z.shape[0])
    n_snaps = -(-pc.time_iteration_states // n_paths)
    n = st.economy.n_agents
    prog = progress_lib.Progress('time iteration', total, unit='iterations',
                                 start=int(st.time_iterations_done))
    out = []
    while int(st.time_iterations_done) < total:
      i = int(st.time_iterations_done)
      snaps, chunks = self.simulator.snapshots(
          run_state.read(st.distribution), st.seed(run_state.TIME_ITERATION, 2 * i),
          n_snaps * time_iteration_lib.SPACING, time_iteration_lib.SPACING)
      run_state.assign(st.distribution, chunks[-1].state)
      sections = base.State(*[tf.concat(f, axis=0)[:pc.time_iteration_states]
                              for f in zip(*snaps)])
      agents = ti.agents(sections, st.seed(run_state.TIME_ITERATION, 2 * i + 1))
      target, errors = ti.targets(agents, sections)
      ti.optimizer.learning_rate.assign(time_iteration_lib.learning_rate(
          pc.time_iteration_learning_rate, pc.time_iteration_learning_rate_end, i, total))
      first, last = ti.fit(agents, sections, target, pc.time_iteration_steps,
                           st.seed(run_state.TIME_ITERATION, 2 * i + 1))
      summary = time_iteration_lib.error_summary(errors.numpy(), n)
      text = ', '.join(f'{k} {m:.2f} / {x:.2f}' for k, (m, x) in summary.items())
      logging.info('time iteration %d/%d: Euler errors before the fit (log10 mean / max): %s; '
                   'fit loss %.3e -> %.3e', i + 1, total, text, first, last)
      if record is not None:
        record(time_iteration_lib.record_row(i + 1, summary, first, last))
      st.time_iterations_done.assign_add(1)
      save()
      prog.update(i + 1, text)
      out.append(summary)
    return out

  def validation_utility(self) -> float:
    """Welfare under the current policy: mean discounted utility over `run.validation_periods`
    from the current distribution, with shocks fixed for the whole st."""
    st = self.state
    chunk = self.simulator.advance(run_state.read(st.distribution),
                                   st.seed(run_state.VALID, 0), st.config.run.validation_periods)
    return float(tf.reduce_mean(chunk.discounted_utility))

  def statistics(self, state: base.State) -> dict:
    return {k: float(tf.reduce_mean(v)) for k, v in self.state.economy.statistics(state).items()}

  def final_statistics(self) -> dict:
    """Mean and std of each aggregate over a `run.final_periods` simulation of the distribution."""
    st = self.state
    path = self.simulator.path(run_state.read(st.distribution), st.seed(run_state.FINAL, 0),
                               st.config.run.final_periods)
    out = {}
    for i, name in enumerate(st.economy.aggregate_names):
      series = path.aggregates[..., i].numpy()
      out[f'mean_{name}'], out[f'std_{name}'] = float(series.mean()), float(series.std())
    return out
