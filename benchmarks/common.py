"""Shared helpers of the benchmark scripts: the measurements, the environment, JSON output.

No flags are defined here, so any script (and a child process of scaling.py) can import it.
"""

import json
import os
import platform
import resource
import time

import numpy as np
import tensorflow as tf

from deepham import train
from deepham.solver import run_state
from deepham.solver import value as value_lib


def policy_step(config, steps: int) -> dict:
  """Seconds per policy step (median over `steps` after the compiling one) and compile time."""
  # A short burn-in: the timing does not depend on where the states come from.
  config.init.t_burn = min(config.init.t_burn, 300)
  solver = train.Solver(config)
  solver.phases.burn_in()
  batch = solver.pool.next_batch()
  t = time.time()
  solver.trainer.step(batch, solver.state.seed(3, 0))[0].numpy()
  compile_seconds = time.time() - t
  times = []
  for i in range(steps):
    batch = solver.pool.next_batch()
    t = time.time()
    solver.trainer.step(batch, solver.state.seed(3, i + 1))[0].numpy()
    times.append(time.time() - t)
  return dict(seconds_per_step=float(np.median(times)), min_seconds=float(np.min(times)),
              compile_seconds=compile_seconds, n_agents=config.economy.n_agents,
              batch_size=config.policy.batch_size, t_unroll=config.policy.t_unroll,
              mode=config.mode, fast_game=bool(solver.trainer.fast), dtype=config.dtype,
              jit=config.run.jit, gm_grid=config.network.gm_grid)


def simulation(config, periods: int, epochs: int) -> dict:
  """Milliseconds per simulated period (all paths and agents); seconds per value epoch."""
  config.init.t_burn = min(config.init.t_burn, 200)
  solver = train.Solver(config)
  solver.phases.burn_in()
  state = run_state.read(solver.state.distribution)
  solver.simulator.advance(state, solver.state.seed(9, 0), solver.simulator.chunk)  # compile
  start = time.time()
  solver.simulator.advance(state, solver.state.seed(9, 1), periods).state.x.numpy()
  ms = 1000 * (time.time() - start) / periods
  result = dict(benchmark='simulation', ms_per_period=ms, n_paths=config.init.n_paths,
                n_agents=config.economy.n_agents, periods=periods, dtype=config.dtype)
  if solver.value_simulator is not None:  # value data: the control variate's value evaluations
    cv = solver.value_simulator
    cv.advance(state, solver.state.seed(9, 0), cv.chunk)  # compile
    start = time.time()
    cv.advance(state, solver.state.seed(9, 1), periods).state.x.numpy()
    result['control_variate_ms_per_period'] = 1000 * (time.time() - start) / periods
  if epochs:
    vc = config.value
    data, _ = value_lib.simulate_values(solver.simulator, state, solver.state.seed(9, 2), 0,
                                        vc.horizon, vc.window, vc.every)
    solver.fitter.fit(data, 1, seed=0)  # compile
    start = time.time()
    solver.fitter.fit(data, epochs, seed=1)
    per_epoch = (time.time() - start) / epochs
    net = solver.value.nets[0]
    result.update(value_seconds_per_epoch_all_nets=per_epoch,
                  value_seconds_per_epoch_per_net=per_epoch / vc.n_nets,
                  value_cross_sections=int(data.targets.shape[0]), value_batch=vc.batch_size,
                  value_width=[int(net.b0.shape[0])] +
                  [int(b.shape[0]) for b in net.head.biases[:-1]])
  return result


def machine() -> dict:
  return dict(machine=f'{platform.machine()}, {os.cpu_count()} cores',
              tensorflow=tf.__version__,
              devices=[d.name for d in tf.config.list_logical_devices()])


def peak_memory_gb() -> float:
  """Peak resident memory of this process so far (Linux ru_maxrss is in KiB)."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def emit(result: dict) -> None:
  """Prints one machine-readable line."""
  print(json.dumps({**result, **machine()}), flush=True)
