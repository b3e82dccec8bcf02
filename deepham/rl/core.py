"""One simulated path of an economy, stepped one period at a time: what both RL environments
(multi_agent.py, single_agent.py) share.

Observation. Agent i observes what deepham's networks see of the cross-section, without their
learned parts and unstandardised (solver/networks.py):

  obs_i = [agent_features_i (F), exogenous_features (G), mean_j d_j, mean_j d_j^2, ...,
           mean_j d_j^P (P * D)],   d_j = distribution_inputs of agent j,

with P = max(1, config.network.n_fixed_moments): the fixed moments, at least the first. The
generalized moments are learned, so they are the RL agent's to learn, not the observation's.
The observation is equivariant in the agents: relabelling them permutes the obs_i.

Action. The action of an agent is the raw output o of deepham's policy network, scaled into
[-1, 1]^n_actions (o = output_scale * a, output_scale 10 by default), and the economy's own
`action_from_output(o, state, aggregates)` maps it to the action in the economy's units. One
mechanism serves every economy because that map is where each economy puts its constraints:
a sigmoid consumption share with a borrowing limit, a softmax of spending and consumption
shares that must sum to one, an unbounded linear investment. Every point of the box is then a
feasible action, and an RL policy and a deepham policy are parametrised alike. Clipping actions
in the economy's units to `action_bounds` would not do: bounds are per component, so they miss
joint constraints (shares summing to one), and some are infinite. A policy in the economy's
units (a deepham solution, the economy's initial rule) is expressed in the environment's
actions by `env_actions`, which inverts the map numerically.

Period. Exactly as deepham's simulator (solver/simulate.py: Simulator._one_period): aggregates
of the state, actions, `clear_markets`, `economy.step`; the shocks of period t are
`economy.draw_shocks(1, fold_in(shock_seed, t))`, so an episode replays deepham's simulation of
the same start and seed under the same actions.
"""

import numpy as np
import tensorflow as tf

from deepham import economies
from deepham.economies import base
from deepham.solver import simulate

HORIZON = 200  # periods of an episode unless the environment is told otherwise
OUTPUT_SCALE = 10.0  # network output o = OUTPUT_SCALE * action; the action lies in [-1, 1]


def observations(economy: base.Economy, state: base.State, n_moments: int) -> tf.Tensor:
  """[B, N, F + G + n_moments * D]: each agent's observation (the module docstring)."""
  own = economy.agent_features(state)
  exo = economy.exogenous_features(state)
  d = economy.distribution_inputs(state)
  moments = tf.concat([tf.reduce_mean(d ** p, axis=1) for p in range(1, n_moments + 1)], -1)
  common = tf.concat([exo, moments], axis=-1)[:, None, :]  # [B, 1, G + P D]: the same for all
  common = tf.broadcast_to(common, tf.concat([tf.shape(own)[:2], [common.shape[-1]]], 0))
  return tf.concat([own, tf.cast(common, own.dtype)], axis=-1)


def env_actions(economy: base.Economy, action: tf.Tensor, state: base.State,
                aggregates: tf.Tensor, output_scale: float = OUTPUT_SCALE,
                iterations: int = 100) -> np.ndarray:
  """Environment actions a in [-1, 1] [B, N, n_actions] whose outputs o = output_scale * a the
  economy maps to `action` [B, N, n_actions] (in its units) at `state`, `aggregates` those of
  `economy.aggregates(state)`.

  Gauss-Newton on action_from_output(o) = action, per agent, in float64: the Jacobian of the map
  (n_actions x n_actions per agent) by forward-mode differentiation, a small ridge for maps
  that are invariant along some direction (a softmax: adding a constant to every output), and
  steps of at most 5 output units. It converges for the monotone maps of the registered
  economies; an action the box cannot reach (beyond output_scale) ends at the box's edge. A map
  may be flat on part of the box (a consumption share capped at all of cash on hand, for a poor
  agent even at o = 0), where Newton's method cannot move: it starts from o = 0 and, for agents
  it leaves off target, again from -output_scale / 2 and +output_scale / 2, keeping each agent's
  best.
  """
  f64 = tf.float64
  state = base.State(tf.cast(state.x, f64), state.e, state.z)
  aggregates, target = tf.cast(aggregates, f64), tf.cast(action, f64)
  tol = 1e-13 * (1 + float(tf.reduce_max(tf.abs(target))))
  best, best_residual = None, None
  for start in (0.0, -0.5 * output_scale, 0.5 * output_scale):
    raw, residual = _gauss_newton(economy, state, aggregates, target,
                                  tf.fill(tf.shape(target), tf.constant(start, f64)),
                                  output_scale, iterations, tol)
    if best is None:
      best, best_residual = raw, residual
    else:
      better = residual < best_residual
      best = tf.where(better[..., None], raw, best)
      best_residual = tf.minimum(residual, best_residual)
    if float(tf.reduce_max(best_residual)) <= tol:
      break
  return (best / output_scale).numpy()


def _gauss_newton(economy, state, aggregates, target, raw, output_scale, iterations, tol):
  """(outputs [B, N, n_actions], each agent's largest residual [B, N]) after Gauss-Newton
  from `raw` (env_actions)."""
  f64 = tf.float64
  n_a = economy.n_actions
  eye = tf.eye(n_a, dtype=f64)
  for _ in range(iterations + 1):
    columns = []
    for j in range(n_a):
      with tf.autodiff.ForwardAccumulator(raw, tf.broadcast_to(eye[j], tf.shape(raw))) as acc:
        out = economy.action_from_output(raw, state, aggregates)
      columns.append(acc.jvp(out))
    jac = tf.stack(columns, axis=-1)  # [B, N, n_a (output), n_a (input)]
    residual = out - target
    if float(tf.reduce_max(tf.abs(residual))) <= tol:
      break
    jtj = tf.linalg.matmul(jac, jac, transpose_a=True)
    ridge = 1e-12 * (1 + tf.linalg.trace(jtj))[..., None, None] * eye
    step = tf.clip_by_value(tf.linalg.solve(jtj + ridge, tf.linalg.matvec(
        jac, residual, transpose_a=True)[..., None])[..., 0], -5.0, 5.0)
    # Backtracking: an agent whose full step would not reduce its residual (a step into a flat
    # part of the map) takes half of it, and so on.
    size = tf.reduce_max(tf.abs(residual), axis=-1, keepdims=True)
    scale = tf.ones_like(size)
    for _ in range(30):
      trial = tf.clip_by_value(raw - scale * step, -output_scale, output_scale)
      trial_size = tf.reduce_max(tf.abs(economy.action_from_output(trial, state, aggregates)
                                        - target), axis=-1, keepdims=True)
      worse = (trial_size >= size) & (size > tol)
      if not bool(tf.reduce_any(worse)):
        break
      scale = tf.where(worse, 0.5 * scale, scale)
    raw = trial
    if not bool(tf.reduce_any((trial_size < size) & (size > tol))):
      break  # no agent off target moves any more (the map is flat there): this start is done
  out = economy.action_from_output(raw, state, aggregates)
  return raw, tf.reduce_max(tf.abs(out - target), axis=-1)


class Path:
  """One path of `economy`: its state, the period t and the episode's shock seed.

  Args:
    config: a deepham config (economy, mode, network.n_fixed_moments and dtype are read).
    horizon: periods of an episode; it is truncated after them.
    burn_in: periods simulated under the economy's initial rule from the drawn starting
      cross-section before an episode starts (deepham's burn-in; 0: start at the draw).
    output_scale: o = output_scale * a, for actions a in [-1, 1].
  """

  def __init__(self, config, horizon: int = HORIZON, burn_in: int = 0,
               output_scale: float = OUTPUT_SCALE):
    if horizon < 1 or burn_in < 0 or output_scale <= 0:
      raise ValueError('horizon must be positive, burn_in non-negative and output_scale '
                       f'positive; got {horizon}, {burn_in} and {output_scale}.')
    self.economy = economies.make(config.economy)
    self.dtype = tf.as_dtype(config.dtype)
    self.planner = config.mode == 'planner'
    self.n_moments = max(1, int(config.network.n_fixed_moments))
    self.horizon, self.burn_in, self.output_scale = horizon, burn_in, output_scale
    probe = simulate.as_state(self.economy.initial_state(1, np.random.default_rng(0)),
                              self.dtype)
    self.obs_size = int(observations(self.economy, probe, self.n_moments).shape[-1])
    self._burn = None  # the burn-in's simulator, built on first use
    self.state = self.start_state = probe
    self.shock_seed = tf.constant([0, 0], tf.int64)
    self.t = 0

  @property
  def n_agents(self) -> int:
    return self.economy.n_agents

  def reset(self, rng: np.random.Generator) -> None:
    """A new episode: a starting cross-section of the economy (its `initial_state`) and shock
    seeds, all from `rng`, then the burn-in if any."""
    econ = self.economy
    state = simulate.as_state(econ.initial_state(1, rng), self.dtype)
    burn_seed, shock_seed = rng.integers(0, 2**62, size=(2, 2))
    if self.burn_in:
      if self._burn is None:
        self._burn = simulate.Simulator(econ, econ.initial_action, jit_compile=False)
      state = self._burn.advance(state, tf.constant(burn_seed, tf.int64), self.burn_in).state
    self.state = self.start_state = state
    self.shock_seed = tf.constant(shock_seed, tf.int64)
    self.t = 0

  def observe(self) -> np.ndarray:
    """[N, obs_size] float32: every agent's observation."""
    return observations(self.economy, self.state, self.n_moments)[0].numpy().astype(np.float32)

  def actions(self, a, state: base.State | None = None) -> tf.Tensor:
    """The economy's actions [1, M, n_actions] of the agents `state` (default: all) of this
    path's cross-section for environment actions a [M, n_actions], clipped to [-1, 1]."""
    state = self.state if state is None else state
    a = np.clip(np.asarray(a, np.float64).reshape(1, -1, self.economy.n_actions), -1, 1)
    raw = tf.constant(self.output_scale * a, self.dtype)
    return self.economy.action_from_output(raw, state, self.economy.aggregates(self.state))

  def agents(self, index: slice) -> base.State:
    """The agents `index` of the current cross-section, as a State [1, M]."""
    return base.State(self.state.x[:, index], self.state.e[:, index], self.state.z)

  def rule(self, policy=None) -> tf.Tensor:
    """Actions [1, N, n_actions] of `policy(state, aggregates)` (default: the economy's initial
    rule) at the current state, in the economy's units."""
    policy = policy or self.economy.initial_action
    return tf.cast(policy(self.state, self.economy.aggregates(self.state)), self.dtype)

  def env_actions(self, action: tf.Tensor) -> np.ndarray:
    """[N, n_actions] float32 environment actions that reproduce `action` [1, N, n_actions]."""
    a = env_actions(self.economy, action, self.state, self.economy.aggregates(self.state),
                    self.output_scale)
    return a[0].astype(np.float32)

  def step(self, action: tf.Tensor) -> tuple[np.ndarray, bool]:
    """One period under the actions [1, N, n_actions] (economy units): (utilities [N], whether
    the new state and the utilities are finite)."""
    econ = self.economy
    aggregates = econ.aggregates(self.state)
    aggregates = econ.clear_markets(self.state, action, aggregates)
    shocks = econ.draw_shocks(1, simulate.period_seed(self.shock_seed, self.t), self.dtype)
    self.state, utility = econ.step(self.state, action, aggregates, shocks)
    self.t += 1
    utility = utility[0].numpy()
    finite = bool(np.all(np.isfinite(utility)) and np.all(np.isfinite(self.state.x.numpy())))
    return utility, finite

  @property
  def truncated(self) -> bool:
    return self.t >= self.horizon
