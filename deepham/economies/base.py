"""The interface between an economy (equations) and the generic DeepHAM solver.

An economy has N agents on each of B independent paths. Its state is a `State` of tensors:

  x: [B, N, n_x] float   each agent's endogenous state (KS: capital k)
  e: [B, N] int32        each agent's discrete idiosyncratic state (KS: 0 unemployed, 1 employed)
  z: [B] int32           the aggregate discrete state (KS: 0 bad, 1 good)

Economies without a discrete idiosyncratic or aggregate state use a chain with one state, so e and
z are zeros. One period's shocks are a `Shocks` of uniforms (which move e and z along the
`ExogenousChain`) and standard normals (i.i.d. innovations, per agent and common).

The solver only calls the methods below; it never looks inside an economy's equations, and an
economy never reads a config object, trains anything or touches files.
"""

import abc
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from deepham.economies import markov


class State(NamedTuple):
  x: tf.Tensor  # [B, N, n_x] float: endogenous individual states
  e: tf.Tensor  # [B, N] int32: idiosyncratic exogenous states
  z: tf.Tensor  # [B] int32: aggregate exogenous state


class Shocks(NamedTuple):
  u_z: tf.Tensor  # [B] uniforms moving z
  u_e: tf.Tensor  # [B, N] uniforms moving e
  agent_noise: tf.Tensor  # [B, N, n_agent_noise] i.i.d. N(0, 1)
  aggregate_noise: tf.Tensor  # [B, n_aggregate_noise] i.i.d. N(0, 1)


def take(values, index, like):
  """values[index] for a small constant table; `like` fixes the backend (NumPy or TF) and dtype."""
  if tf.is_tensor(like) or tf.is_tensor(index):
    dtype = tf.as_dtype(like.dtype) if hasattr(like, 'dtype') else tf.float64
    if not dtype.is_floating:
      dtype = tf.float64
    return tf.gather(tf.constant(np.asarray(values), dtype=dtype), index)
  return np.asarray(values, dtype=np.float64)[index]


class Economy(abc.ABC):
  """Equations of one N-agent economy. Subclasses fill in the economics.

  Attributes a subclass sets:
    n_agents, beta: number of agents N and discount factor.
    chain: the ExogenousChain of (z, e).
    n_x: dimension of the endogenous individual state.
    n_agent_noise, n_aggregate_noise: numbers of i.i.d. normal innovations per period.
    action_bounds: (low, high) of the (one-dimensional) action, for validation's maximisation.
  """
  n_agents: int
  beta: float
  chain: markov.ExogenousChain
  n_x: int = 1
  n_actions: int = 1
  n_agent_noise: int = 0
  n_aggregate_noise: int = 0
  action_bounds: tuple[float, float] = (0.0, 1.0)
  # Lower bound of each endogenous state (a borrowing limit), or None if it has none. Training
  # and validation use it to reach states the simulated distribution does not (solver/explore.py).
  state_floor: tuple[float, ...] | None = None
  # The last `n_common_states` columns of x are aggregate endogenous states (FVHN: the expert
  # sector's net worth) that every agent of a path holds alike, so that an agent's state carries
  # them wherever the solver takes it, moved alone into its cross-section's prices included. The
  # economy keeps them common (its transition sets them from the aggregates and the aggregate
  # shock, never from the agent's own columns); the solver never draws them agent by agent:
  # explored and probe agents take their cross-section's.
  n_common_states: int = 0
  # Bellman errors are reported divided by this (value units per unit of time): the length of a
  # period in an economy discretised from continuous time (FVHN: dt), 1 otherwise.
  bellman_error_unit: float = 1.0
  # What a policy of this economy outputs, and what summary statistics mean (for logs and docs).
  action_name: str = 'action'
  aggregate_names: tuple[str, ...] = ('K',)
  state_names: tuple[str, ...] = ('x',)  # of the endogenous individual states (KS: 'k')
  # Whether `distribution_inputs` also reads the agents' idiosyncratic exogenous states (e):
  # then next period's moments depend on next period's draws, and the value's control variate
  # (exact over the own next state at the next cross-section's summaries) does not apply.
  distribution_reads_exogenous: bool = False

  # --- states and shocks -------------------------------------------------------------------------
  @abc.abstractmethod
  def initial_state(self, n_paths: int, rng: np.random.Generator) -> State:
    """A starting cross-section for a burn-in (NumPy arrays in a State)."""

  def draw_shocks(self, n_paths: int, seed: tf.Tensor, dtype=tf.float32) -> Shocks:
    """One period's shocks for n_paths paths; `seed` is a stateless seed [2] int."""
    seeds = tf.random.experimental.stateless_split(seed, 4)
    n = self.n_agents
    return Shocks(
        u_z=tf.random.stateless_uniform([n_paths], seeds[0], dtype=dtype),
        u_e=tf.random.stateless_uniform([n_paths, n], seeds[1], dtype=dtype),
        agent_noise=tf.random.stateless_normal([n_paths, n, self.n_agent_noise], seeds[2],
                                               dtype=dtype),
        aggregate_noise=tf.random.stateless_normal([n_paths, self.n_aggregate_noise], seeds[3],
                                                   dtype=dtype))

  def next_exogenous(self, state: State, shocks: Shocks) -> tuple[tf.Tensor, tf.Tensor]:
    """(e', z') from the chain: the aggregate state first, then each agent given (z, z', e)."""
    z_next = self.chain.next_z(state.z, shocks.u_z)
    e_next = self.chain.next_e(state.z, z_next, state.e, shocks.u_e)
    return e_next, z_next

  def outcome_states(self, x: tf.Tensor, z: tf.Tensor):
    """(m, State with endogenous states x, e' = e_m for every agent, z' = z_m) for every
    exogenous outcome m = z' * n_e + e' of `exogenous_outcomes`; x [B, N, n_x], z [B]."""
    n_e = self.chain.n_e
    for m in range(self.chain.n_z * n_e):
      zp, ep = divmod(m, n_e)
      yield m, State(x, tf.fill(tf.shape(x)[:2], ep), tf.fill(tf.shape(z), zp))

  def exogenous_outcomes(self, state: State) -> tf.Tensor:
    """P(z', e'_i | z, e_i) for every agent and outcome m = z' * n_e + e': [B, N, n_z * n_e]."""
    c = self.chain
    p = c.P_z[:, :, None, None] * c.P_e  # [z, z', e, e']
    table = np.transpose(p, (0, 2, 1, 3)).reshape(c.n_z * c.n_e, c.n_z * c.n_e)
    row = state.z[:, None] * c.n_e + state.e
    return tf.gather(tf.constant(table, dtype=state.x.dtype), row)

  # --- equations ---------------------------------------------------------------------------------
  @abc.abstractmethod
  def aggregates(self, state: State) -> tf.Tensor:
    """[B, n_agg]: the aggregates that set this period's prices (KS: K = mean k)."""

  def clear_markets(self, state: State, action: tf.Tensor, aggregates: tf.Tensor) -> tf.Tensor:
    """The aggregates `transition` uses once everyone has acted: `aggregates(state)` and, in an
    economy where this period's actions set prices (a market for goods bought this period),
    those prices appended. The solver calls it after the actions, before `transition`, and
    stops its gradient where agents are price takers. The default: no such prices."""
    del state, action
    return aggregates

  @property
  def sets_prices(self) -> bool:
    """Whether this period's actions set prices (`clear_markets` is defined)."""
    return type(self).clear_markets is not Economy.clear_markets

  @abc.abstractmethod
  def action_from_output(self, raw: tf.Tensor, state: State, aggregates: tf.Tensor) -> tf.Tensor:
    """Maps a network's raw output [B, N, n_actions] to the action of the agents `state`
    (KS: consumption share). `aggregates` [B, n_agg] are those of `aggregates(...)` of the
    cross-section the agents live in (not `clear_markets`'), gradient-stopped for price takers:
    a map may use the agent's own budget (ConsumptionSavings: its cash on hand)."""

  @abc.abstractmethod
  def transition(self, state: State, action: tf.Tensor, aggregates: tf.Tensor,
                 shocks: Shocks) -> tuple[tf.Tensor, tf.Tensor]:
    """Budget and law of motion: (x' [B, N, n_x], period utility [B, N]).

    `aggregates` (those of `clear_markets`) are passed in rather than recomputed, so that the
    solver can make an agent a price taker by stopping their gradient, and so that one agent
    can be moved alone (B x 1 states) in the cross-section's prices: a transition never reduces
    over agents.
    """

  def step(self, state: State, action: tf.Tensor, aggregates: tf.Tensor,
           shocks: Shocks) -> tuple[State, tf.Tensor]:
    """One period: (next State, utility [B, N]); `aggregates` those of `clear_markets`."""
    x_next, utility = self.transition(state, action, aggregates, shocks)
    e_next, z_next = self.next_exogenous(state, shocks)
    return State(x_next, e_next, z_next), utility

  @abc.abstractmethod
  def initial_action(self, state: State, aggregates: tf.Tensor) -> tf.Tensor:
    """A simple policy for the first burn-in (KS: the deterministic steady-state share)."""

  # --- what the networks see ---------------------------------------------------------------------
  @abc.abstractmethod
  def agent_features(self, state: State) -> tf.Tensor:
    """[B, N, F]: each agent's own state as network input (KS: k and employment)."""

  def exogenous_features(self, state: State) -> tf.Tensor:
    """[B, G]: the aggregate exogenous state as network input (KS: productivity Z)."""
    return tf.zeros([tf.shape(state.z)[0], 0], dtype=state.x.dtype)

  def distribution_inputs(self, state: State) -> tf.Tensor:
    """[B, N, D]: per-agent quantities whose cross-sectional distribution matters (KS: k).

    Predetermined (functions of x only) unless the economy sets `distribution_reads_exogenous`:
    then next period's moments are known only with next period's draws, which the value's
    control variate does not allow for (a config check refuses it) and the Bellman validation
    does not either (such an economy defines an Euler residual and is validated by it).
    """
    return state.x

  # --- optional capabilities ---------------------------------------------------------------------
  # What an economy may offer beyond the equations above. The defaults say "not offered"; the
  # solver, validation and reports ask these, never the economy's class or parameters.
  # Std of a per-path log scale applied to the states the first policy imitates, when the
  # config asks for the economy's choice (init.imitation_spread = -1).
  imitation_spread: float = 0.0

  @property
  def has_euler_residual(self) -> bool:
    """Whether `euler_residual` and `aggregate_quadrature` are defined: the economy can be
    trained with policy.objective='euler' and is validated by Euler residuals."""
    return type(self).euler_residual is not Economy.euler_residual

  def euler_residual(self, state: State, action: tf.Tensor, outcomes) -> tf.Tensor:
    """[B, N] (or [B, N, n_equations]) Euler-equation residuals of `action` at `state`;
    outcomes: a sequence of (weight, next_state, next_aggregates, next_action) over the
    expectation's nodes, next_aggregates those of `clear_markets` at next_action."""
    raise NotImplementedError(f'{type(self).__name__} defines no Euler residual.')

  def aggregate_quadrature(self, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Nodes [Q, n_aggregate_noise] and weights [Q] of the expectation over the aggregate
    innovation: Euler residuals, and the Bellman and Euler errors of an economy with an
    aggregate shock (solver/probes.py: expectation_nodes)."""
    raise NotImplementedError(f'{type(self).__name__} defines no aggregate quadrature.')

  @property
  def has_aggregate_quadrature(self) -> bool:
    """Whether `aggregate_quadrature` is defined."""
    return type(self).aggregate_quadrature is not Economy.aggregate_quadrature

  # Whether `euler_errors(state, action, aggregates, outcomes)` is defined: unit-free Euler
  # errors over the discrete exogenous outcomes, respecting a borrowing floor (ConsumptionSavings),
  # with the target the Euler equation implies and a loss of the network's output against it.
  # Validation then reports them by wealth and on common states, and training may penalise them
  # (policy.euler_weight) or iterate on them (policy.time_iterations).
  has_euler_errors: bool = False

  def euler_errors(self, state: State, action: tf.Tensor, aggregates: tf.Tensor,
                   outcomes) -> tuple[tf.Tensor, tf.Tensor]:
    """(unit-free Euler errors [B, N], mask of unconstrained agents); see ConsumptionSavings."""
    raise NotImplementedError(f'{type(self).__name__} defines no Euler errors.')

  def euler_target(self, state: State, action: tf.Tensor, aggregates: tf.Tensor,
                   outcomes) -> tf.Tensor:
    """[B, N] the consumption the Euler equation with the constraint implies for each agent,
    given next period's actions in `outcomes` (as for `euler_errors`); see ConsumptionSavings."""
    raise NotImplementedError(f'{type(self).__name__} defines no Euler target.')

  def euler_target_loss(self, state: State, raw: tf.Tensor, aggregates: tf.Tensor,
                        target: tf.Tensor) -> tf.Tensor:
    """[B, N] loss of the policy network's output `raw` [B, N, n_actions] against `target`,
    zero exactly where the action it maps to meets the target; see ConsumptionSavings."""
    raise NotImplementedError(f'{type(self).__name__} defines no Euler target.')

  @property
  def published_table(self) -> str | None:
    """Key of a table of published mean Bellman errors in data/published.json (rows
    'method': value) that validation lists beside its own, for this economy as calibrated;
    None if there is none."""
    return None

  def reference_policy(self):
    """A known policy (state -> action [B, N, n_actions]) that validation measures the learned
    one against, or None. The investment economy's exact LQ policy, for instance."""
    return None

  def headline(self, statistics: dict) -> dict:
    """Extra summary.json keys of this economy, e.g. a paper's table entries, from the DeepHAM
    run's validation statistics (`path_statistics`; {} where validation computes none, as for
    Euler-residual economies); {} by default."""
    del statistics
    return {}

  # --- reporting ---------------------------------------------------------------------------------
  def statistics(self, state: State) -> dict[str, tf.Tensor]:
    """Per-path aggregate statistics [B] named by `aggregate_names` (KS: {'K': mean k})."""
    return {name: self.aggregates(state)[:, i] for i, name in enumerate(self.aggregate_names)}

  def quantities(self, state: State, action: tf.Tensor,
                 aggregates: tf.Tensor) -> dict[str, tf.Tensor]:
    """Per-path quantities [B] an experiment reports each period (deepham/experiments): the
    aggregates by name and, where consumption is defined, its mean C; economies add their
    prices and output."""
    out = {name: aggregates[:, i] for i, name in enumerate(self.aggregate_names)}
    if self.has_consumption:
      out['C'] = tf.reduce_mean(self.consumption(state, action, aggregates), axis=1)
    return out

  has_consumption = False

  def consumption(self, state: State, action: tf.Tensor, aggregates: tf.Tensor) -> tf.Tensor:
    """[B, N] consumption, for economies where it is defined (validation statistics)."""
    raise NotImplementedError


# Smallest consumption share: keeps c > 0 (and log utility finite) while k' >= 0 stays feasible.
MIN_SHARE = 1e-6


class ConsumptionSavings(Economy):
  """Households who split cash on hand between consumption and a bond/capital k' >= 0.

  Subclasses define `cash(state, aggregates)`, `gross_return(aggregates, z)` and
  `marginal_utility(c)`; the action is the consumption share of cash on hand. This gives
  consumption and the unit-free Euler-equation error of the JEDC 2010 comparison project.

  The network's output o maps to consumption c = min(cash, sigmoid(o) (cash + H)), H =
  `human_wealth` >= 0: a share of cash on hand plus a constant stand-in for the value of future
  labor income. With H = 0 the network sets the share of cash directly, and an agent at the
  borrowing constraint needs a share of exactly 1 from a smooth network: the share falls from
  1 to a third over the first few units of wealth (KS), a bend a network on standardised wealth
  barely resolves. With H > 0 the share sigmoid(o) of cash + H is nearly flat in wealth there,
  and the constraint's kink is the min's: an agent whose desired consumption exceeds its cash
  consumes its cash exactly, and gets no gradient, as the Kuhn-Tucker conditions say.
  """
  has_consumption = True
  has_euler_errors = True
  state_floor = (0.0,)  # k' >= 0
  human_wealth: float = 0.0  # H of the output map above (cash-on-hand units)

  def action_from_output(self, raw, state, aggregates):
    share = tf.sigmoid(raw)
    if self.human_wealth:
      cash = self.cash(state, aggregates)[..., None]
      share *= 1 + tf.cast(self.human_wealth, raw.dtype) / cash
    return tf.clip_by_value(share, MIN_SHARE, 1.0)

  def desired_consumption(self, raw, state, aggregates):
    """[B, N] sigmoid(o) (cash + H): the consumption the output asks for before the min with
    cash; above cash the agent is at the constraint."""
    cash = self.cash(state, aggregates)
    return tf.sigmoid(raw[..., 0]) * (cash + tf.cast(self.human_wealth, raw.dtype))

  @abc.abstractmethod
  def cash(self, state: State, aggregates: tf.Tensor) -> tf.Tensor:
    """[B, N] cash on hand: gross return on k plus labor income."""

  @abc.abstractmethod
  def gross_return(self, aggregates: tf.Tensor, z: tf.Tensor) -> tf.Tensor:
    """[B, 1] gross return on saving, for aggregates [B, n_agg] and aggregate states z [B]."""

  @abc.abstractmethod
  def marginal_utility(self, c: tf.Tensor) -> tf.Tensor:
    """u'(c)."""

  @abc.abstractmethod
  def inverse_marginal_utility(self, m: tf.Tensor) -> tf.Tensor:
    """c such that u'(c) = m."""

  def consumption(self, state, action, aggregates):
    return action[..., 0] * self.cash(state, aggregates)

  def euler_errors(self, state: State, action: tf.Tensor, aggregates: tf.Tensor,
                   outcomes) -> tuple[tf.Tensor, tf.Tensor]:
    """Unit-free Euler errors |1 - c_implied / c| [B, N] and a mask of unconstrained agents.

    outcomes: sequence of (prob [B, N], next_state, next_aggregates [B, n_agg],
    next_action [B, N, n_actions]), one per next exogenous state; c_implied is the consumption
    the Euler equation with the constraint implies, min(cash, c solving u'(c) = beta E[R' u'(c')]):
    an agent who would borrow if it could should consume its cash, so near the constraint the
    error is the share of cash it saves (k'/c) and not the larger gap to an unattainable c.
    """
    c = self.consumption(state, action, aggregates)
    k_next = self.cash(state, aggregates) - c
    c_implied = self.euler_target(state, action, aggregates, outcomes)
    unconstrained = k_next > 1e-6 * (1 + c)
    return tf.abs(1 - c_implied / c), unconstrained

  def euler_target(self, state, action, aggregates, outcomes):
    """c_implied [B, N] of `euler_errors`: min(cash, c solving u'(c) = beta E[R' u'(c')])."""
    del action  # today's consumption does not enter: next period's actions set the target
    emu = 0.0
    for prob, nxt, aggs, act in outcomes:
      emu += prob * self.gross_return(aggs, nxt.z) * self.marginal_utility(
          self.consumption(nxt, act, aggs))
    return tf.minimum(self.inverse_marginal_utility(self.beta * emu),
                      self.cash(state, aggregates))

  def euler_target_loss(self, state, raw, aggregates, target):
    """Squared relative gap of the desired consumption d = sigmoid(o) (cash + H) to the target
    c_implied, in the Kuhn-Tucker form: where the target is interior (below cash), (d / c - 1)^2;
    where it is cash (the agent would borrow if it could), only a d below cash is a gap,
    relu(1 - d / cash)^2. It reads d before the min with cash, so an agent whose output asks
    for more than its cash but should save still gets a gradient (the min's would be zero)."""
    d = self.desired_consumption(raw, state, aggregates)
    cash = self.cash(state, aggregates)
    interior = target < cash * (1 - 1e-6)
    return tf.where(interior, tf.square(d / target - 1), tf.square(tf.nn.relu(1 - d / cash)))
