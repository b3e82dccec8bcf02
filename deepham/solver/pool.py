"""The pool of initial cross-sections for the policy steps.

The distribution is simulated forward under the current policy and snapshots of it are stored
(shuffled; in a game, with a random agent of each cross-section moved to agent 0, the agent that
optimises); batches are drawn from the pool in order, and it is refreshed when it runs out. The
pool's arrays and cursor are part of the run's state (run_state.py), so a resumed run draws the
batches it would have drawn.
"""

import tensorflow as tf

from deepham.economies import base
from deepham.solver import explore
from deepham.solver import run_state
from deepham.solver import simulate


class Pool:
  """Batches of initial cross-sections drawn from simulated states of the distribution."""

  def __init__(self, state: run_state.RunState, simulator: simulate.Simulator):
    self.state, self.simulator = state, simulator

  def refresh(self) -> None:
    """Simulates the distribution forward and stores snapshots as initial states for steps."""
    st = self.state
    pc = st.config.policy
    n = int(st.pool_refreshes)
    state = self.simulator.advance(st.start_state(n), st.seed(run_state.POOL, 2 * n),
                                   pc.pool_periods - pc.pool_last).state
    snaps, chunks = self.simulator.snapshots(state, st.seed(run_state.POOL, 2 * n + 1),
                                             pc.pool_last, pc.pool_every)
    run_state.assign(st.distribution, chunks[-1].state)
    pool = base.State(*[tf.concat(f, axis=0) for f in zip(*snaps)])
    if st.config.init.restart:  # the states change along each trajectory: follow them
      st.normalizer.fit(pool, [st.policy.net] + st.value.nets)
    s = tf.random.experimental.stateless_split(st.seed(run_state.SHUFFLE, n), 2)
    order = tf.argsort(tf.random.stateless_uniform([st.pool_size], s[0]))
    pool = base.State(*[tf.gather(f, order) for f in pool])
    if st.config.mode == 'game':  # agent 0 of a sample is a random agent of the cross-section
      agents = tf.argsort(tf.random.stateless_uniform(tf.shape(pool.e), s[1]), axis=1)
      pool = base.State(tf.gather(pool.x, agents, batch_dims=1),
                        tf.gather(pool.e, agents, batch_dims=1), pool.z)
    run_state.assign(st.pool, pool)
    st.pool_cursor.assign(0)
    st.pool_refreshes.assign_add(1)

  def next_batch(self) -> base.State:
    """The next policy.batch_size cross-sections of the pool; with policy.explore_share, the
    optimising agents moved to an explored state with that probability (solver/explore.py)."""
    st = self.state
    pc = st.config.policy
    b = pc.batch_size
    if int(st.pool_cursor) + b > st.pool_size:
      self.refresh()
    i = int(st.pool_cursor)
    st.pool_cursor.assign_add(b)
    batch = base.State(*[v[i:i + b] for v in st.pool])
    share = pc.explore_share
    if share:
      batch = explore.explore_batch(batch, st.economy.state_floor, share, pc.explore_reach,
                                    st.seed(run_state.EXPLORE, int(st.step)),
                                    st.optimising_agents, st.economy.n_common_states)
    return batch
