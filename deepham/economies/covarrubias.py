"""Households who buy N^c kinds of capital goods in a market for them (Covarrubias, 2021 draft),
in a market and in a planner formulation.

Household i owns capital K_ij of every good j and has TFP Z_i (a Markov chain, idiosyncratic, with
an optional common component):

  Y_i = Z_i prod_j K_ij^(alpha / N^c),     C_i = (1 - sum_j s_ij) Y_i + T,     u = log C_i,
  K_ij' = (1 - delta) K_ij + I_ij,         I_ij = s_ij Y_i / p_j,

where s_ij is the share of output household i spends on new units of good j and p_j the units'
cost. The action is the vector (s_i1, ..., s_iN^c, consumption share), a softmax of N^c + 1
network outputs: s >= 0 and C > 0 whatever the network says. Producing I_j units of good j costs
(phi / 2) I_j^2 of the final good. With S_j = sum_i s_ij Y_i the spending on good j:

  market   a competitive firm per good supplies where p_j = phi I_j; clearing sum_i I_ij = I_j
           gives p_j = sqrt(phi S_j), which households take as given. The firms' profits,
           (phi / 2) I_j^2 = S_j / 2, are rebated lump-sum in equal shares, T = sum_j S_j / (2 N^h)
           (`rebate`; off: T = 0 and the profits are lost). With the rebate the market uses the
           final good exactly as the planner formulation does, so the two differ in the
           allocation only, which is what the comparison is about.
  planner  all spending on good j produces I_j = sqrt(2 S_j / phi), shared in proportion to
           spending: p_j = S_j / I_j = sqrt(phi S_j / 2); T = 0.

Prices depend on this period's spending, so the economy defines `clear_markets`: the aggregates
are (mean K_j over households, p_j, T).

Euler equations (docs/covarrubias.md derives them), with U' = 1 / C:

  market   p_j U'(C_i) = beta E[U'(C_i') (alpha / N^c) Y_i' / K_ij' + (1 - delta) p_j' U'(C_i')]
  planner  Q_ij = beta E[U'(C_i') (alpha / N^c) Y_i' / K_ij' + (1 - delta) Q_ij'],
           Q_ij = p_j (U'(C_i) + sum_k s_kj Y_k U'(C_k) / S_j)   (the shadow value of K_ij')

In the deterministic symmetric steady state (Z = 1) both give phi I_j = phi N^h delta K as the
marginal cost of capital, and so the same capital per household and good,

  K = [phi delta N^h N^c (1 - beta (1 - delta)) / (alpha beta)]^(1 / (alpha - 2)),

with total spending share delta alpha beta / (1 - beta (1 - delta)) in the market (half of it
in the planner formulation, which gets the same units for half the spending and rebates
nothing). The draft's closed form has an extra delta (N^c - 1) / N^c inside the bracket: its
first-order condition for K_ij' keeps the effect of Y_i' on next period's spending on good j at
given shares but drops the same effect on the other goods; with all of them the shares' terms
cancel (docs/covarrubias.md).

Calibration (annual): beta = 0.95, alpha = 0.33 (capital share), delta = 0.1; phi = 1 sets the
units of the capital goods; TFP risk (off by default, so that the steady state is a check) is a
symmetric two-state chain 0.9 / 1.1 that keeps its state with probability 0.9.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from deepham import errors
from deepham.economies import base
from deepham.economies import markov
from deepham.economies import params

FORMULATIONS = ('market', 'planner')
INITIAL_SHARE = 0.3  # total spending share of the default initial rule


@dataclasses.dataclass(frozen=True)
class CovarrubiasParams(params.Params):
  n_households: int = 4  # N^h
  n_goods: int = 1  # N^c
  beta: float = 0.95
  alpha: float = 0.33
  delta: float = 0.1
  phi: float = 1.0
  formulation: str = 'market'
  rebate: bool = True  # market: the capital-good firms' profits go back to the households
  tfp_risk: bool = False
  tfp_values: tuple = (0.9, 1.1)  # idiosyncratic TFP states (tfp_risk)
  tfp_stay: float = 0.9  # probability of keeping the idiosyncratic TFP state
  aggregate_tfp_values: tuple = (1.0,)  # common TFP component (tfp_risk); one value: none
  aggregate_tfp_stay: float = 0.9
  k_spread: float = 0.5  # initial capital uniform in K_ss (1 -/+ k_spread), per household and good
  # The initial rule's spending shares per good; (): 0.3 of output split equally, a round guess
  # and not the steady state's, so that the steady state a solve reaches is learned, not given.
  initial_shares: tuple = ()

  def __post_init__(self):
    n, g = self.n_households, self.n_goods
    params.require(isinstance(n, int) and n >= 1, 'n_households', 'be a positive integer', n)
    params.require(isinstance(g, int) and g >= 1, 'n_goods', 'be a positive integer', g)
    params.require(0 < self.beta < 1, 'beta', 'lie in (0, 1)', self.beta)
    params.require(0 < self.alpha < 1, 'alpha', 'lie in (0, 1)', self.alpha)
    params.require(0 < self.delta <= 1, 'delta', 'lie in (0, 1]', self.delta)
    params.require(self.phi > 0, 'phi', 'be positive', self.phi)
    params.require(self.formulation in FORMULATIONS, 'formulation', f'be one of '
                   f'{list(FORMULATIONS)}', repr(self.formulation))
    params.require(isinstance(self.rebate, bool), 'rebate', 'be True or False', self.rebate)
    params.require(isinstance(self.tfp_risk, bool), 'tfp_risk', 'be True or False',
                   self.tfp_risk)
    for field in ('tfp_values', 'aggregate_tfp_values'):
      v = getattr(self, field)
      params.require(len(v) >= 1 and all(x > 0 for x in v), field,
                     'be a non-empty tuple of positive numbers', v)
    for field in ('tfp_stay', 'aggregate_tfp_stay'):
      params.require(0 <= getattr(self, field) <= 1, field, 'lie in [0, 1]', getattr(self, field))
    params.require(0 <= self.k_spread < 1, 'k_spread', 'lie in [0, 1)', self.k_spread)
    s = self.initial_shares
    params.require(s == () or (len(s) == g and all(x >= 0 for x in s) and sum(s) < 1),
                   'initial_shares', f'be () or {g} non-negative shares (one per good) that sum '
                   'to less than 1, so that consumption stays positive', s)

  @property
  def n_agents(self) -> int:
    return self.n_households


def _stay_matrix(n: int, stay: float) -> np.ndarray:
  """n states: keep the state with probability `stay`, else move to any other one equally."""
  if n == 1:
    return np.ones((1, 1))
  return np.full((n, n), (1 - stay) / (n - 1)) + np.eye(n) * (stay - (1 - stay) / (n - 1))


class Covarrubias(base.Economy):
  """N^h households x N^c capital goods; the action is (spending shares per good, consumption
  share)."""
  action_name = 'spending shares'
  has_consumption = True

  def __init__(self, params: CovarrubiasParams):
    self.params = p = params
    self.n_agents, self.beta = p.n_households, p.beta
    self.n_goods = p.n_goods
    self.n_x = p.n_goods
    self.n_actions = p.n_goods + 1
    self.action_bounds = (0.0, 1.0)
    names = ('K',) if p.n_goods == 1 else tuple(f'K{j + 1}' for j in range(p.n_goods))
    self.aggregate_names = self.state_names = names
    self.z_values = np.asarray(p.aggregate_tfp_values if p.tfp_risk else (1.0,), np.float64)
    self.e_values = np.asarray(p.tfp_values if p.tfp_risk else (1.0,), np.float64)
    self.distribution_reads_exogenous = p.tfp_risk
    P_z = _stay_matrix(len(self.z_values), p.aggregate_tfp_stay)
    P_e = _stay_matrix(len(self.e_values), p.tfp_stay)
    self.chain = markov.ExogenousChain.independent(P_z, np.broadcast_to(P_e, (len(P_z),) +
                                                                         P_e.shape))
    shares = np.asarray(p.initial_shares or [INITIAL_SHARE / p.n_goods] * p.n_goods)
    # Network outputs of zero give the initial shares: softmax(raw + log shares).
    self._bias = np.log(np.append(shares, 1 - shares.sum()))

  # --- steady state ------------------------------------------------------------------------------
  @property
  def steady_state_K(self) -> float:
    """Capital per household and good in the deterministic symmetric steady state (Z = 1)."""
    p = self.params
    bracket = (p.phi * p.delta * p.n_households * p.n_goods * (1 - p.beta * (1 - p.delta))
               / (p.alpha * p.beta))
    return float(bracket ** (1 / (p.alpha - 2)))

  @property
  def steady_state_share(self) -> float:
    """Total spending share sum_j s_j of output in the deterministic steady state."""
    p = self.params
    market = p.delta * p.alpha * p.beta / (1 - p.beta * (1 - p.delta))
    return market if p.formulation == 'market' else market / 2

  # --- economics ---------------------------------------------------------------------------------
  def tfp(self, state: base.State) -> tf.Tensor:
    """Z_i [B, N]: idiosyncratic times common TFP."""
    return (base.take(self.e_values, state.e, state.x)
            * base.take(self.z_values, state.z, state.x)[:, None])

  def output(self, state: base.State) -> tf.Tensor:
    """Y_i [B, N]."""
    k = state.x
    return self.tfp(state) * tf.exp(self.params.alpha / self.n_goods
                                    * tf.reduce_sum(tf.math.log(k), axis=-1))

  def spending(self, state: base.State, action: tf.Tensor) -> tf.Tensor:
    """s_ij Y_i [B, N, N^c]."""
    return action[..., :self.n_goods] * self.output(state)[..., None]

  def _unit_cost_factor(self) -> float:
    """p_j = sqrt(factor * phi * S_j): 1 in the market, 1/2 with pooled production."""
    return 1.0 if self.params.formulation == 'market' else 0.5

  def _split(self, aggregates: tf.Tensor):
    """(mean K [B, N^c], p [B, N^c], rebate T [B, 1]) from `clear_markets`' aggregates."""
    g = self.n_goods
    if aggregates.shape[-1] != 2 * g + 1:
      raise ValueError('Covarrubias needs the aggregates of clear_markets (K, p, T); got '
                       f'{aggregates.shape[-1]} columns.')
    return aggregates[:, :g], aggregates[:, g:2 * g], aggregates[:, 2 * g:]

  def market(self, state: base.State, action: tf.Tensor) -> dict[str, tf.Tensor]:
    """This period's capital-good market: spending S_j, unit costs p_j, units bought I_ij,
    units produced I_j (from the technology) and the rebate T."""
    p = self.params
    spend = self.spending(state, action)
    S = tf.reduce_sum(spend, axis=1)  # [B, N^c]
    price = tf.sqrt(self._unit_cost_factor() * p.phi * S)
    produced = (price / p.phi if p.formulation == 'market' else tf.sqrt(2 * S / p.phi))
    rebate = (tf.reduce_sum(S, axis=-1, keepdims=True) / (2 * self.n_agents)
              if p.formulation == 'market' and p.rebate else tf.zeros_like(S[:, :1]))
    return dict(S=S, p=price, I=spend / price[:, None], I_produced=produced, T=rebate)

  def quantities(self, state, action, aggregates):
    """Mean capital per good, unit costs p_j, mean output and consumption."""
    out = super().quantities(state, action, aggregates)
    _, price, _ = self._split(aggregates)
    for j in range(self.n_goods):
      out['p' if self.n_goods == 1 else f'p{j + 1}'] = price[:, j]
    out['Y'] = tf.reduce_mean(self.output(state), axis=1)
    return out

  # --- the Economy interface ---------------------------------------------------------------------
  def initial_state(self, n_paths, rng):
    z, e = self.chain.draw_initial(n_paths, self.n_agents, rng)
    s = self.params.k_spread
    k = self.steady_state_K * rng.uniform(1 - s, 1 + s, (n_paths, self.n_agents, self.n_goods))
    return base.State(x=k, e=e, z=z)

  def aggregates(self, state):
    return tf.reduce_mean(state.x, axis=1)

  def clear_markets(self, state, action, aggregates):
    m = self.market(state, action)
    return tf.concat([aggregates, m['p'], m['T']], axis=-1)

  def action_from_output(self, raw, state, aggregates):
    del state, aggregates
    return tf.nn.softmax(raw + tf.constant(self._bias, raw.dtype), axis=-1)

  def consumption(self, state, action, aggregates):
    _, _, rebate = self._split(aggregates)
    return action[..., self.n_goods] * self.output(state) + rebate

  def transition(self, state, action, aggregates, shocks):
    del shocks  # TFP moves along the chain (base.Economy.next_exogenous)
    _, price, _ = self._split(aggregates)
    units = self.spending(state, action) / price[:, None]
    k_next = (1 - self.params.delta) * state.x + units
    return k_next, tf.math.log(self.consumption(state, action, aggregates))

  def initial_action(self, state, aggregates):
    """Constant spending shares (economy.initial_shares)."""
    shares = tf.constant(np.exp(self._bias), state.x.dtype)
    return tf.broadcast_to(shares, tf.concat([tf.shape(state.e), [self.n_actions]], 0))

  def agent_features(self, state):
    """log K_i1, ..., log K_iN^c and log Z_i."""
    return tf.concat([tf.math.log(state.x), tf.math.log(self.tfp(state))[..., None]], axis=-1)

  def exogenous_features(self, state):
    if len(self.z_values) == 1:
      return super().exogenous_features(state)
    return base.take(self.z_values, state.z, state.x)[:, None]

  def distribution_inputs(self, state):
    """log K_i1, ..., log K_iN^c and, with TFP risk, log Z_i: next period's prices depend on
    everyone's output, so the policy must see how TFP is spread over the households, not only
    their capital (without it the Euler residuals under risk are about 1%, explained almost
    wholly by the other households' TFP; docs/covarrubias.md)."""
    if not self.distribution_reads_exogenous:
      return tf.math.log(state.x)
    return tf.concat([tf.math.log(state.x), tf.math.log(self.tfp(state))[..., None]], axis=-1)

  # --- Euler residuals ---------------------------------------------------------------------------
  def aggregate_quadrature(self, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """No continuous aggregate shock: one node of weight one."""
    del n
    return np.zeros((1, 0)), np.ones(1)

  def _shadow_value(self, state, action, aggregates) -> tf.Tensor:
    """Q_ij [B, N, N^c]: the value, in utils, of one more unit of K_ij' (see the module
    docstring): p_j U'(C_i) in the market, p_j (U'(C_i) + spending-weighted mean U'_j) with
    pooled production."""
    _, price, _ = self._split(aggregates)
    mu = 1 / self.consumption(state, action, aggregates)  # [B, N]
    if self.params.formulation == 'market':
      return price[:, None] * mu[..., None]
    spend = self.spending(state, action)
    mean_mu = tf.reduce_sum(spend * mu[..., None], axis=1) / tf.reduce_sum(spend, axis=1)
    return price[:, None] * (mu[..., None] + mean_mu[:, None])

  def euler_residual(self, state, action, outcomes) -> tf.Tensor:
    """1 - beta E[U'(C') MPK' + (1 - delta) Q'] / Q, unit-free: [B, N, N^c].

    outcomes: sequence of (weight, next_state, next_aggregates, next_action).
    """
    p = self.params
    aggs = self.clear_markets(state, action, self.aggregates(state))
    rhs = 0.0
    for weight, nxt, next_aggs, next_action in outcomes:
      mu = 1 / self.consumption(nxt, next_action, next_aggs)
      mpk = p.alpha / self.n_goods * self.output(nxt)[..., None] / nxt.x
      rhs += weight * (mu[..., None] * mpk
                       + (1 - p.delta) * self._shadow_value(nxt, next_action, next_aggs))
    return 1 - p.beta * rhs / self._shadow_value(state, action, aggs)

  def headline(self, statistics: dict) -> dict:
    """The closed-form steady state and the formulation; from validation's end-of-path
    statistics (`final_mean_x`), the simulated one."""
    out = dict(formulation=self.params.formulation, n_households=self.n_agents,
               n_goods=self.n_goods, tfp_risk=self.params.tfp_risk,
               steady_state_K_closed_form=self.steady_state_K)
    if 'final_mean_x' in statistics:
      out['steady_state_K_simulated'] = float(np.mean(statistics['final_mean_x']))
    return out
