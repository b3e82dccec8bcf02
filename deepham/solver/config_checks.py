"""Checks of a DeepHAM config before anything runs; each error names the field and what is allowed.

`FIELDS` is the table of every field the solver, validation and reports read, with the values
each may take; `check` applies it, then the rules that tie fields together and the ones that
depend on what the economy offers (continuous shocks, an Euler residual). configs/base.py
declares every one of these fields with its default; a field missing from a config is an error.
"""

import dataclasses
import os
from typing import Any, Callable

from deepham import errors
from deepham.solver import distribute
from deepham.solver import networks
from deepham.solver import objectives
from deepham.solver import time_iteration

MODES = ('game', 'planner')
OBJECTIVES = ('utility', 'euler')
INIT_POLICIES = ('economy', 'benchmark')
DTYPES = ('float32', 'float64')


@dataclasses.dataclass(frozen=True)
class Rule:
  ok: Callable[[Any], bool]
  allowed: str  # completes "<field> must be ..."


def _is_int(v) -> bool:
  return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
  return isinstance(v, (int, float)) and not isinstance(v, bool)


def integer(low: int) -> Rule:
  allowed = {0: 'a non-negative integer', 1: 'a positive integer'}.get(low,
                                                                    f'an integer >= {low}')
  return Rule(lambda v: _is_int(v) and v >= low, allowed)


def positive() -> Rule:
  return Rule(lambda v: _is_number(v) and v > 0, 'a positive number')


def one_of(values) -> Rule:
  return Rule(lambda v: v in values, f'one of {list(values)}')


def boolean() -> Rule:
  return Rule(lambda v: isinstance(v, bool), 'True or False')


def widths(allow_empty: bool = False) -> Rule:
  def ok(v):
    return (isinstance(v, (tuple, list)) and (allow_empty or len(v) > 0)
            and all(_is_int(w) and w >= 1 for w in v))
  allowed = ('a tuple of positive integers (hidden layer widths), e.g. (24, 24)'
             + (', or () for network.width' if allow_empty else ''))
  return Rule(ok, allowed)


UNIT = Rule(lambda v: _is_number(v) and 0 <= v < 1, 'a number in [0, 1)')
FIELDS = {
    'seed': integer(0),
    'dtype': one_of(DTYPES),
    'mode': one_of(MODES),
    'network.width': widths(),
    'network.gm_width': widths(),
    'network.activation': one_of(sorted(networks._ACTIVATIONS)),  # pylint: disable=protected-access
    'network.n_fixed_moments': Rule(lambda v: _is_int(v) and 0 <= v <= 4,
                                    '0 (none) to 4 (means of x, x^2, x^3, x^4)'),
    'network.n_generalized_moments': integer(0),
    'network.gm_grid': Rule(lambda v: _is_int(v) and (v == 0 or v >= 2),
                            '0 (the basis evaluated exactly) or a number of grid points >= 2'),
    'network.policy_own_state': boolean(),
    'network.floor_features': boolean(),
    'network.observation_mask': Rule(
        lambda v: isinstance(v, (tuple, list)) and all(_is_int(m) and m in (0, 1) for m in v),
        'a tuple of 0/1, one per agent (0: sees no generalized moments), or () for none'),
    'value.floor_features': boolean(),
    'init.policy': one_of(INIT_POLICIES),
    'init.benchmark': Rule(lambda v: isinstance(v, str), 'a path (a string)'),
    'init.n_paths': integer(1),
    'init.restart': boolean(),
    'init.t_burn': integer(0),
    'init.imitation_steps': integer(0),
    'init.imitation_batch': integer(1),
    'init.imitation_learning_rate': positive(),
    'init.imitation_spread': Rule(lambda v: _is_number(v) and (v >= 0 or v == -1),
                                  "a non-negative number (0: no spread) or -1 (the economy's "
                                  'choice)'),
    'value.n_nets': integer(1),
    'value.width': widths(allow_empty=True),
    'value.control_variate': boolean(),
    'value.tail': boolean(),
    'value.method': one_of(('monte_carlo', 'td_lambda')),
    'value.td_lambda': Rule(lambda v: _is_number(v) and 0 <= v <= 1, 'a number in [0, 1]'),
    'value.horizon': integer(1),
    'value.window': integer(1),
    'value.every': integer(1),
    'value.final_every': Rule(lambda v: _is_int(v) and v >= 0,
                              'a non-negative integer (0: as in the rounds)'),
    'value.final_epochs': Rule(lambda v: _is_int(v) and v >= 0,
                               'a non-negative integer (0: as in the rounds)'),
    'value.epochs': integer(1),
    'value.batch_size': integer(1),
    'value.learning_rate': positive(),
    'value.learning_rate_end': Rule(lambda v: v is None or (_is_number(v) and v > 0),
                                    'a positive number, or None (constant rate)'),
    'value.adam_beta1': UNIT,
    'value.adam_beta2': UNIT,
    'value.valid_fraction': Rule(lambda v: _is_number(v) and 0 <= v < 0.5, 'in [0, 0.5)'),
    'value.explore_share': Rule(lambda v: _is_number(v) and 0 <= v <= 1,
                                'a share in [0, 1] (0: no exploration)'),
    'policy.objective': one_of(OBJECTIVES),
    'policy.t_unroll': integer(1),
    'policy.batch_size': integer(1),
    'policy.learning_rate': positive(),
    'policy.learning_rate_end': positive(),
    'policy.adam_beta1': UNIT,
    'policy.adam_beta2': UNIT,
    'policy.rounds': integer(1),
    'policy.steps_per_round': integer(1),
    'policy.price_taking': boolean(),
    'policy.fast_game': boolean(),
    'policy.game_agents': Rule(lambda v: _is_int(v) and v >= 0,
                               'a non-negative integer (optimising agents per path; 0: all)'),
    'policy.pool_periods': integer(1),
    'policy.pool_last': integer(1),
    'policy.pool_every': integer(1),
    'policy.explore_share': Rule(lambda v: _is_number(v) and 0 <= v <= 1,
                                 'a share in [0, 1] (0: no exploration)'),
    'policy.explore_reach': Rule(lambda v: _is_number(v) and v >= 1,
                                 'a number >= 1 (explored states reach this multiple of the '
                                 'largest simulated state)'),
    'policy.euler_weight': Rule(lambda v: _is_number(v) and v >= 0,
                                'a non-negative number (0: no Euler penalty)'),
    'policy.euler_probes': integer(1),
    'policy.euler_loss': one_of(objectives.EULER_LOSSES),
    'policy.polish_steps': Rule(lambda v: _is_int(v) and v >= 0,
                                'a non-negative integer (0: no polish)'),
    'policy.polish_states': Rule(lambda v: _is_int(v) and v >= 0,
                                 'a non-negative integer (0: the whole pool)'),
    'policy.time_iterations': integer(0),
    'policy.time_iteration_steps': integer(1),
    'policy.time_iteration_batch': integer(1),
    'policy.time_iteration_states': integer(1),
    'policy.time_iteration_probes': integer(0),
    'policy.time_iteration_learning_rate': positive(),
    'policy.time_iteration_learning_rate_end': Rule(
        lambda v: v is None or (_is_number(v) and v > 0),
        'a positive number, or None (constant rate)'),
    'policy.time_iteration_damping': Rule(lambda v: _is_number(v) and 0 < v <= 1,
                                          'a share in (0, 1] (1: no damping)'),
    'policy.time_iteration_damping_far': Rule(
        lambda v: v is None or (_is_number(v) and 0 < v <= 1),
        'a share in (0, 1], or None (time_iteration_damping everywhere)'),
    'policy.polish_rounds': Rule(lambda v: _is_int(v) and v >= 1,
                                 "a positive integer (best responses of the utility objective's "
                                 'polish)'),
    'run.log_every': integer(1),
    'run.checkpoint_every': integer(1),
    'run.validation_periods': integer(1),
    'run.final_periods': integer(1),
    'run.jit': boolean(),
    'run.deterministic': boolean(),
    'run.strategy': one_of(distribute.STRATEGIES),
    'run.logical_cpus': integer(0),
    'validation.seed': integer(0),
    'validation.n_paths': integer(1),
    'validation.periods': integer(1),
    'validation.burn': integer(0),
    'validation.n_states': integer(0),
    'validation.n_grid': integer(0),
    'validation.n_golden': integer(0),
    'validation.original_procedure': boolean(),
    'validation.euler_draws': integer(1),
    'validation.quadrature': integer(1),
}


def _lookup(config, path: str):
  """(found, value) of a dotted field."""
  node = config
  for part in path.split('.'):
    if not hasattr(node, 'keys') or part not in node:
      return False, None
    node = node[part]
  return True, node


def _fail(path: str, allowed: str, value) -> None:
  raise errors.ConfigError(f'{path} must be {allowed}; got {value!r}.')


def check(config, economy=None) -> None:
  """Raises ConfigError naming the first impossible field of a DeepHAM config.

  With `economy` (the economy the config builds), also the rules that depend on what it offers.
  """
  for path, rule in FIELDS.items():
    found, value = _lookup(config, path)
    if not found:
      raise errors.ConfigError(f'{path} is missing from the config.')
    if not rule.ok(value):
      _fail(path, rule.allowed, value)
  v = config.value
  if v.window % v.every or v.window > v.horizon:
    _fail('value.window', f'a multiple of value.every ({v.every}) and at most value.horizon '
          f'({v.horizon})', v.window)
  if v.final_every and v.window % v.final_every:
    _fail('value.final_every', f'a divisor of value.window ({v.window}), or 0', v.final_every)
  p = config.policy
  if p.pool_last % p.pool_every or p.pool_last > p.pool_periods:
    _fail('policy.pool_last', f'a multiple of policy.pool_every ({p.pool_every}) and at most '
          f'policy.pool_periods ({p.pool_periods})', p.pool_last)
  if p.euler_weight and config.run.strategy != 'default':
    _fail('run.strategy', "'default' with policy.euler_weight (its probes are drawn over the "
          'whole batch)', config.run.strategy)
  pool = config.init.n_paths * (p.pool_last // p.pool_every)
  if pool < p.batch_size:
    _fail('policy.batch_size', f'at most the pool size init.n_paths * policy.pool_last / '
          f'policy.pool_every ({pool})', p.batch_size)
  if p.polish_steps and p.objective == 'utility' and not (
      config.mode == 'game' and p.price_taking and p.fast_game):
    _fail('policy.polish_steps', '0 here: the polish of the utility objective is a best '
          'response of one price-taking agent, which needs mode=game with '
          'policy.price_taking=True and policy.fast_game=True', p.polish_steps)
  if p.game_agents != 1 and config.mode == 'game' and not p.price_taking:
    _fail('policy.game_agents', '1 with policy.price_taking=False (each optimising agent moves '
          "the others' prices)", p.game_agents)
  if config.value.method == 'td_lambda' and not config.value.tail:
    _fail('value.tail', "True with value.method='td_lambda' (its lambda-returns bootstrap on the "
          "last fit's value, the tail's)", config.value.tail)
  if config.init.policy == 'benchmark':
    from deepham import conventional  # pylint: disable=g-import-not-at-top
    if not os.path.isfile(conventional.resolve(config.init.benchmark)):
      _fail('init.benchmark', "an existing solution file when init.policy='benchmark'",
            config.init.benchmark)
  if economy is not None:
    _check_with_economy(config, economy)


def _check_with_economy(config, economy) -> None:
  continuous = bool(economy.n_agent_noise or economy.n_aggregate_noise)
  name = type(economy).__name__
  if config.value.control_variate and continuous:
    _fail('value.control_variate', f'False for {name}: the control variate needs the exact '
          "expectation over next period's exogenous states, and this economy has continuous "
          'shocks', True)
  if config.value.control_variate and economy.distribution_reads_exogenous:
    _fail('value.control_variate', f'False for {name} as configured: its distribution inputs '
          "read the exogenous states, so next period's summaries depend on next period's "
          'draws, which the control variate holds fixed', True)
  for field in ('policy.explore_share', 'value.explore_share', 'network.floor_features',
                'value.floor_features'):
    section, key = field.split('.')
    if config[section][key] and economy.state_floor is None:
      _fail(field, f'off (0 or False) for {name}, which declares no state_floor',
            config[section][key])
  _check_observation_mask(config, economy)
  p = config.policy
  if p.game_agents > economy.n_agents:
    _fail('policy.game_agents', f'at most the number of agents ({economy.n_agents}), or 0 for '
          'all', p.game_agents)
  # Both use a price taker's Euler equation with a borrowing floor (economy.euler_errors).
  # Where there is no such equation (a planner, price impact) time iteration is idle (a game
  # config's setting stays valid there, solver/time_iteration.py), the penalty an error.
  for field, value in (('policy.euler_weight', p.euler_weight),
                       ('policy.time_iterations',
                        p.time_iterations if time_iteration.applies(config) else 0)):
    if value and not economy.has_euler_errors:
      _fail(field, f'0 for {name}, which defines no Euler errors with a borrowing floor '
            '(euler_errors, euler_target)', value)
  if p.euler_weight and not (p.objective == 'utility' and config.mode == 'game'
                             and p.price_taking):
    _fail('policy.euler_weight', "0 unless policy.objective='utility', mode='game' and "
          "policy.price_taking=True: the penalty is a price taker's Euler equation",
          p.euler_weight)
  euler_validation = economy.has_euler_residual
  if config.policy.objective == 'euler' and not euler_validation:
    _fail('policy.objective', f"'utility' for {name}, which defines no Euler residual", 'euler')
  c = config.validation
  if euler_validation:
    return
  if c.periods < 2 or c.burn >= c.periods:
    _fail('validation.periods', f'at least 2 and more than validation.burn ({c.burn})',
          c.periods)
  if not 1 <= c.n_states <= c.periods - c.burn:
    _fail('validation.n_states', f'between 1 and validation.periods - validation.burn '
          f'({c.periods - c.burn}): the periods whose states enter the Bellman errors',
          c.n_states)
  if c.n_grid < 3:
    _fail('validation.n_grid', 'an integer >= 3 (the grid that brackets the maximum)',
          c.n_grid)


def _check_observation_mask(config, economy) -> None:
  """An incomplete-information mask (solver/policy.py) where the solver can honour it."""
  mask = tuple(config.network.observation_mask)
  if not mask:
    return
  field, name = 'network.observation_mask', type(economy).__name__
  if len(mask) != economy.n_agents:
    _fail(field, f'one 0/1 per agent: {economy.n_agents} entries', mask)
  if config.network.n_generalized_moments == 0:
    _fail(field, '() with network.n_generalized_moments=0 (no generalized moments to hide)',
          mask)
  if not economy.has_euler_residual:
    _fail(field, f'() for {name}: its validation (Bellman errors) maximises the value of '
          'agents who see the whole state', mask)
  p = config.policy
  if p.objective != 'utility':
    _fail('policy.objective', "'utility' with network.observation_mask: the Euler residual "
          "conditions on the whole state, an uninformed agent's Euler equation only on what it "
          'sees', p.objective)
  if p.euler_weight or (p.time_iterations and time_iteration.applies(config)):
    _fail(field, '() with policy.euler_weight or policy.time_iterations: their probe agents '
          'have no information type', mask)
  if config.mode == 'game' and p.objective == 'utility':
    g = p.game_agents or economy.n_agents
    if set(mask[:g]) != set(mask):
      _fail(field, f'both types among the optimising agents 0..{g - 1} '
            f'(policy.game_agents={p.game_agents}), or the other type never learns', mask)
