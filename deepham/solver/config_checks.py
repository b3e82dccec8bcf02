"""Checks of a DeepHAM config before anything runs; each error names the field and what is allowed."""

from deepham import errors
from deepham.solver import networks
from deepham.solver import policy as policy_lib

MODES = ('game', 'planner')
OBJECTIVES = ('utility', 'euler')
INIT_POLICIES = ('economy', 'benchmark')
DTYPES = ('float32', 'float64')

_POSITIVE_INTS = (
    'init.n_paths', 'init.imitation_batch',
    'policy.t_unroll', 'policy.batch_size', 'policy.rounds', 'policy.steps_per_round',
    'policy.pool_periods', 'policy.pool_last', 'policy.pool_every',
    'value.n_nets', 'value.horizon', 'value.window', 'value.every', 'value.epochs',
    'value.batch_size',
    'run.log_every', 'run.checkpoint_every', 'run.validation_periods', 'run.final_periods')
_POSITIVE_FLOATS = ('policy.learning_rate', 'policy.learning_rate_end', 'value.learning_rate',
                    'init.imitation_learning_rate')
_UNIT_INTERVAL = ('policy.adam_beta1', 'policy.adam_beta2', 'value.adam_beta1', 'value.adam_beta2')


def _get(config, path: str):
  node = config
  for part in path.split('.'):
    if part not in node:
      raise errors.ConfigError(f'{path} is missing from the config.')
    node = node[part]
  return node


def _fail(path: str, allowed: str, value) -> None:
  raise errors.ConfigError(f'{path} must be {allowed}; got {value!r}.')


def check(config) -> None:
  """Raises ConfigError naming the first impossible field of a DeepHAM config."""
  for path, allowed in (('mode', MODES), ('dtype', DTYPES), ('policy.objective', OBJECTIVES),
                        ('init.policy', INIT_POLICIES)):
    if _get(config, path) not in allowed:
      _fail(path, f'one of {list(allowed)}', _get(config, path))
  n = _get(config, 'economy.n_agents')
  if not isinstance(n, int) or n < 2:
    _fail('economy.n_agents', 'an integer >= 2 (DeepHAM needs a cross-section)', n)
  for path in _POSITIVE_INTS:
    v = _get(config, path)
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
      _fail(path, 'a positive integer', v)
  for path in _POSITIVE_FLOATS:
    v = _get(config, path)
    if not isinstance(v, (int, float)) or not v > 0:
      _fail(path, 'a positive number', v)
  for path in _UNIT_INTERVAL:
    v = _get(config, path)
    if not 0 <= v < 1:
      _fail(path, 'in [0, 1)', v)
  for path in ('init.imitation_steps', 'init.t_burn'):
    if not isinstance(_get(config, path), int) or _get(config, path) < 0:
      _fail(path, 'a non-negative integer', _get(config, path))
  loss = config.policy.get('euler_loss', 'square')  # a field of the investment config only
  if loss not in policy_lib.EULER_LOSSES:
    _fail('policy.euler_loss', f'one of {list(policy_lib.EULER_LOSSES)}', loss)
  spread = config.init.get('imitation_spread', 0.0)
  if not isinstance(spread, (int, float)) or (spread < 0 and spread != -1):
    _fail('init.imitation_spread', "a non-negative number (0: no spread) or -1 (the economy's "
          'choice)', spread)
  net = config.network
  for path in ('network.width', 'network.gm_width'):
    widths = _get(config, path)
    if len(widths) < 1 or any(not isinstance(w, int) or w < 1 for w in widths):
      _fail(path, 'a non-empty tuple of positive integers, e.g. (24, 24)', widths)
  value_widths = config.value.get('width', ())
  if (not isinstance(value_widths, (tuple, list))
      or any(not isinstance(w, int) or isinstance(w, bool) or w < 1 for w in value_widths)):
    _fail('value.width', 'a tuple of positive integers, e.g. (48, 48), or () for network.width',
          value_widths)
  if net.activation not in networks._ACTIVATIONS:  # pylint: disable=protected-access
    _fail('network.activation', f'one of {sorted(networks._ACTIVATIONS)}', net.activation)  # pylint: disable=protected-access
  if net.n_fixed_moments not in range(5):
    _fail('network.n_fixed_moments', '0 (none) to 4 (means of x, x^2, x^3, x^4)',
          net.n_fixed_moments)
  if not isinstance(net.n_generalized_moments, int) or net.n_generalized_moments < 0:
    _fail('network.n_generalized_moments', 'a non-negative integer', net.n_generalized_moments)
  v = config.value
  if v.window % v.every or v.window > v.horizon:
    _fail('value.window', f'a multiple of value.every ({v.every}) and at most value.horizon '
          f'({v.horizon})', v.window)
  for path in ('value.final_every', 'value.final_epochs'):  # 0: as in the rounds
    f = v.get(path.split('.')[1], 0)
    if not isinstance(f, int) or isinstance(f, bool) or f < 0:
      _fail(path, 'a non-negative integer (0: as in the rounds)', f)
  if v.get('final_every', 0) and v.window % v.final_every:
    _fail('value.final_every', f'a divisor of value.window ({v.window}), or 0', v.final_every)
  lr_end = v.get('learning_rate_end', None)  # None: constant
  if lr_end is not None and (not isinstance(lr_end, (int, float)) or not lr_end > 0):
    _fail('value.learning_rate_end', 'a positive number, or None (constant rate)', lr_end)
  for field in ('control_variate', 'tail'):
    if not isinstance(v.get(field, False), bool):
      _fail(f'value.{field}', 'True or False', v[field])
  if not 0 <= v.valid_fraction < 0.5:
    _fail('value.valid_fraction', 'in [0, 0.5)', v.valid_fraction)
  p = config.policy
  for path in ('policy.polish_steps', 'policy.polish_states'):  # investment config only
    f = p.get(path.split('.')[1], 0)
    if not isinstance(f, int) or isinstance(f, bool) or f < 0:
      _fail(path, 'a non-negative integer (0: off / the whole pool)', f)
  f = p.get('polish_rounds', 1)
  if not isinstance(f, int) or isinstance(f, bool) or f < 1:
    _fail('policy.polish_rounds', 'a positive integer (best responses of the utility '
          'objective\'s polish)', f)
  if p.pool_last % p.pool_every or p.pool_last > p.pool_periods:
    _fail('policy.pool_last', f'a multiple of policy.pool_every ({p.pool_every}) and at most '
          f'policy.pool_periods ({p.pool_periods})', p.pool_last)
  if config.init.n_paths * (p.pool_last // p.pool_every) < p.batch_size:
    _fail('policy.batch_size', 'at most the pool size init.n_paths * pool_last / pool_every',
          p.batch_size)
