"""Proximal policy optimisation (Schulman et al. 2017, clipped surrogate) with a learned value
baseline and generalised advantage estimation (Schulman et al. 2016): a model-free learner that
sees an economy only through the environments of this package (no gradient through its
equations).

  policy, history = ppo.train(lambda: rl.parallel_env(config, horizon=50), steps=100_000)
  a = policy.act(obs)  # deterministic: the mean action

Rows. Every environment is read as rows, one per agent: a ParallelEnv in game mode gives one
row per agent (its own observation, action and reward), so the N agents of a path give N
samples per period; a planner (ParallelEnv or Env whose observation is a matrix [N, obs_size])
gives one row per agent of the cross-section, each rewarded with the planner's reward; a
Gymnasium Env with a vector observation gives one row. One Gaussian policy and one value network
serve every row (parameter sharing, deepham's own equivariant parametrisation): the action of
row i is mu(obs_i) + std * noise, std a learned state-independent vector, clipped to the action
box before the environment sees it; the log-probabilities are those of the unclipped draw.

Discount: the economy's beta unless options.gamma is set, so the objective is the economy's
lifetime utility. Episodes end by truncation after the environment's horizon: there the value of
the final observation is bootstrapped, since the economy goes on; a termination (a state that is
not finite) is not bootstrapped. Observations are standardised by running means and variances
(macro states are not), frozen within an iteration so that the policy that drew the actions is
the one the ratios compare with; value targets are standardised likewise. Everything random
comes from `seed`: environment resets, action noise, minibatches and initial weights.
"""

import dataclasses
import math
import time
from typing import Callable

from absl import logging
import numpy as np
from pettingzoo import ParallelEnv
import tensorflow as tf

from deepham import errors
from deepham import progress

_LOG_2PI = math.log(2 * math.pi)


@dataclasses.dataclass(frozen=True)
class Options:
  """PPO's settings (defaults: those of common PPO implementations for continuous control,
  with the changes noted)."""
  n_envs: int = 8  # paths simulated side by side (a factory is called n_envs times)
  rollout: int = 64  # periods of every path per iteration
  epochs: int = 10  # passes over an iteration's samples
  minibatch: int = 256  # samples (rows) per gradient step
  learning_rate: float = 3e-4  # Adam, both networks
  anneal: bool = True  # learning rate linear to 0 over the steps: a precise final mean
  clip: float = 0.2  # ratio clipped to [1 - clip, 1 + clip]
  gamma: float = 0.0  # discount; 0: the economy's beta
  lam: float = 0.95  # GAE's lambda
  value_coef: float = 0.5
  entropy_coef: float = 0.0  # no bonus: the noise must shrink for a precise policy
  max_grad_norm: float = 0.5
  width: tuple = (64, 64)  # hidden tanh layers of the policy's mean and of the value network
  # Initial action std (x output_scale 10 in network output). The noise biases the policy's
  # mean: it maximises expected utility under the noise, not the utility of the mean action.
  # Brock-Mirman: the mean that maximises E[log c + beta V(k')] under the noise saves 1% less
  # than alpha*beta at std 0.03, 2% at 0.044, 5% at 0.068. The learned std falls about as fast
  # as Adam's rate lets it (0.1 -> 0.044 in 40,000 steps), so it starts at 0.05, not at the 1
  # of common implementations.
  init_std: float = 0.05
  normalize_obs: bool = True
  # Reward given for a non-finite one (an episode terminated out of the economy's domain);
  # nan: such a reward stops training with an error.
  nonfinite_reward: float = float('nan')


def make_options(options=None) -> Options:
  """Options from None, an Options, a dict or an ml_collections.ConfigDict."""
  if options is None:
    options = Options()
  fields = dataclasses.asdict(options) if isinstance(options, Options) else (
      options.to_dict() if hasattr(options, 'to_dict') else dict(options))
  unknown = set(fields) - {f.name for f in dataclasses.fields(Options)}
  if unknown:
    raise errors.ConfigError(f'unknown PPO option(s) {sorted(unknown)}.')
  if 'width' in fields:
    fields['width'] = tuple(fields['width'])
  opt = Options(**fields)
  if min(opt.n_envs, opt.rollout, opt.epochs, opt.minibatch) < 1 or opt.learning_rate <= 0:
    raise errors.ConfigError('PPO: n_envs, rollout, epochs, minibatch and learning_rate must '
                             'be positive.')
  if not (0 < opt.clip and 0 <= opt.lam <= 1 and 0 <= opt.gamma < 1 and opt.init_std > 0):
    raise errors.ConfigError('PPO: clip and init_std must be positive, lam in [0, 1], gamma in '
                             '[0, 1) (0: the economy\'s beta).')
  return opt


def gae(rewards, values, next_values, terminated, done, gamma: float, lam: float) -> np.ndarray:
  """Generalised advantage estimates [T, ...] of a rollout, all arguments [T, ...] in time
  order: rewards r_t, values V(s_t), next_values V(s_{t+1}) of the observation that followed
  s_t (before any reset), terminated (no value after s_t) and done (terminated or truncated:
  the episode ends at t, so advantages do not run on into the next one).

    delta_t = r_t + gamma (1 - terminated_t) V(s_{t+1}) - V(s_t),
    A_t = delta_t + gamma lam (1 - done_t) A_{t+1}.
  """
  rewards, values, next_values = (np.asarray(x, np.float64) for x in
                                  (rewards, values, next_values))
  keep = 1.0 - np.asarray(terminated, np.float64)
  go_on = 1.0 - np.asarray(done, np.float64)
  delta = rewards + gamma * keep * next_values - values
  adv = np.zeros_like(delta)
  running = np.zeros_like(delta[0])
  for t in reversed(range(len(delta))):
    running = delta[t] + gamma * lam * go_on[t] * running
    adv[t] = running
  return adv


def clipped_surrogate(logp: tf.Tensor, logp_old: tf.Tensor, advantage: tf.Tensor,
                      clip: float) -> tf.Tensor:
  """PPO's loss, -mean(min(ratio A, clip(ratio, 1 - clip, 1 + clip) A)), ratio =
  exp(logp - logp_old); all arguments [M]. Its gradient is zero for a sample whose ratio is
  already clipped in the direction its advantage pushes."""
  ratio = tf.exp(logp - logp_old)
  clipped = tf.clip_by_value(ratio, 1 - clip, 1 + clip)
  return -tf.reduce_mean(tf.minimum(ratio * advantage, clipped * advantage))


def log_prob(action: tf.Tensor, mean: tf.Tensor, log_std: tf.Tensor) -> tf.Tensor:
  """[M] log-density of actions [M, n_a] under N(mean [M, n_a], diag(exp(log_std [n_a])^2))."""
  z = (action - mean) * tf.exp(-log_std)
  return tf.reduce_sum(-0.5 * tf.square(z) - log_std - 0.5 * _LOG_2PI, axis=-1)


class RunningStats:
  """Running mean and variance of [M, d] batches (Chan et al.'s parallel update); it starts at
  mean 0, variance 1, so that inputs pass unchanged until the first update."""

  def __init__(self, size: int):
    self.mean, self.var, self.count = np.zeros(size), np.ones(size), 0

  def update(self, x: np.ndarray) -> None:
    x = np.asarray(x, np.float64).reshape(-1, self.mean.size)
    n, mean, var = len(x), x.mean(axis=0), x.var(axis=0)
    total = self.count + n
    delta = mean - self.mean
    m2 = self.var * self.count + var * n + delta ** 2 * self.count * n / total
    self.mean, self.var, self.count = self.mean + delta * n / total, m2 / total, total

  def normalize(self, x: np.ndarray) -> np.ndarray:
    # The floor keeps a constant input (a shock with one value so far) at a finite scale.
    scale = np.sqrt(np.maximum(self.var, 1e-6))
    return np.clip((x - self.mean) / scale, -10, 10).astype(np.float32)


def _mlp(width: tuple, n_out: int, out_gain: float, seed: int, n_in: int) -> tf.keras.Model:
  """tanh MLP with orthogonal initial weights (gain sqrt 2 hidden, `out_gain` last)."""
  layers = [tf.keras.Input((n_in,))]
  for i, w in enumerate(width):
    layers.append(tf.keras.layers.Dense(w, 'tanh', kernel_initializer=tf.keras.initializers.
                                        Orthogonal(math.sqrt(2), seed=seed + i)))
  layers.append(tf.keras.layers.Dense(n_out, kernel_initializer=tf.keras.initializers.
                                      Orthogonal(out_gain, seed=seed + len(width))))
  return tf.keras.Sequential(layers)


class Policy:
  """The shared Gaussian policy: action = mean_net(normalised obs) + exp(log_std) * noise,
  clipped to [low, high]. `act` takes one observation [obs_size], a batch [..., obs_size] or a
  ParallelEnv's dict of them (a dict back)."""

  def __init__(self, obs_size: int, n_actions: int, low, high, options: Options, seed: int):
    self.mean_net = _mlp(options.width, n_actions, 0.01, seed, obs_size)  # mean ~0 at first
    self.log_std = tf.Variable(np.full(n_actions, math.log(options.init_std), np.float32))
    self.obs_stats = RunningStats(obs_size) if options.normalize_obs else None
    self.low, self.high = np.asarray(low, np.float32), np.asarray(high, np.float32)
    self.obs_size, self.n_actions = obs_size, n_actions
    self._mean = tf.function(self.mean_net, input_signature=[
        tf.TensorSpec([None, obs_size], tf.float32)], reduce_retracing=True)

  def normalize(self, obs: np.ndarray) -> np.ndarray:
    obs = np.asarray(obs, np.float32)
    return obs if self.obs_stats is None else self.obs_stats.normalize(obs)

  def sample(self, obs: np.ndarray, rng: np.random.Generator):
    """(normalised obs [M, d], unclipped actions [M, n_a], their log-probabilities [M]) for
    raw observations [M, d]."""
    x = self.normalize(obs)
    mean = self._mean(x).numpy()
    std = np.exp(self.log_std.numpy())
    noise = rng.standard_normal(mean.shape).astype(np.float32)
    logp = np.sum(-0.5 * noise ** 2 - np.log(std) - 0.5 * _LOG_2PI, axis=-1)
    return x, mean + std * noise, logp

  def act(self, obs, deterministic: bool = True, rng: np.random.Generator | None = None):
    """Actions clipped to the box: the mean, or a draw (from `rng`) if not deterministic."""
    if isinstance(obs, dict):
      keys = list(obs)
      acts = self.act(np.stack([obs[k] for k in keys]), deterministic, rng)
      return dict(zip(keys, acts))
    obs = np.asarray(obs, np.float32)
    x = self.normalize(obs.reshape(-1, self.obs_size))
    a = self._mean(x).numpy()
    if not deterministic:
      rng = rng or np.random.default_rng()
      a = a + np.exp(self.log_std.numpy()) * rng.standard_normal(a.shape).astype(np.float32)
    return np.clip(a, self.low, self.high).reshape(obs.shape[:-1] + (self.n_actions,))


class _Rows:
  """An environment read as rows (module docstring): reset() -> obs [R, d]; step(actions
  [R, n_a]) -> (obs [R, d], rewards [R], terminated, truncated)."""

  def __init__(self, env):
    self.env, self.parallel = env, isinstance(env, ParallelEnv)
    if self.parallel:
      self.agents = list(env.possible_agents)
      obs_space, act_space = env.observation_space(self.agents[0]), env.action_space(
          self.agents[0])
      self.matrix = len(self.agents) == 1 and len(obs_space.shape) == 2
      if not self.matrix and any(env.observation_space(a) != obs_space or
                                 env.action_space(a) != act_space for a in self.agents):
        raise ValueError('parameter sharing needs every agent to have the same spaces.')
    else:
      obs_space, act_space = env.observation_space, env.action_space
      self.matrix = len(obs_space.shape) == 2
    if len(obs_space.shape) != 1 + self.matrix or len(act_space.shape) != 1 + self.matrix:
      raise ValueError(f'observations {obs_space.shape} and actions {act_space.shape}: '
                       'a vector per agent (or a matrix, a row per agent) is needed.')
    self.n_rows = obs_space.shape[0] if self.matrix else (
        len(self.agents) if self.parallel else 1)
    self.obs_size, self.n_actions = obs_space.shape[-1], act_space.shape[-1]
    self.low, self.high = act_space.low.reshape(-1, self.n_actions)[0], act_space.high.reshape(
        -1, self.n_actions)[0]
    economy = getattr(getattr(env, 'unwrapped', env), 'economy', None)
    self.beta = getattr(economy, 'beta', None)

  def _rows(self, obs) -> np.ndarray:
    if self.parallel:
      obs = obs[self.agents[0]] if self.matrix else np.stack([obs[a] for a in self.agents])
    return np.asarray(obs, np.float32).reshape(self.n_rows, self.obs_size)

  def reset(self, seed=None) -> np.ndarray:
    return self._rows(self.env.reset(seed=seed)[0])

  def step(self, actions: np.ndarray):
    actions = np.clip(actions, self.low, self.high)
    if self.parallel:
      act = ({self.agents[0]: actions} if self.matrix else
             {a: actions[i] for i, a in enumerate(self.agents)})
      obs, rew, term, trunc, _ = self.env.step(act)
      rewards = np.array([rew[a] for a in self.agents], np.float64)
      terminated, truncated = any(term.values()), any(trunc.values())
      if (terminated or truncated) != (not self.env.agents):
        raise ValueError('every agent must act in every period until all are done together.')
    else:
      obs, rew, terminated, truncated, _ = self.env.step(
          actions if self.matrix else actions[0])
      rewards = np.array([rew], np.float64)
    rewards = np.broadcast_to(rewards, (self.n_rows,))  # a planner's reward for every row
    return self._rows(obs), rewards, bool(terminated), bool(truncated)


class _Learner:
  """The networks, their optimiser and the one compiled update step."""

  def __init__(self, rows: _Rows, options: Options, seed: int):
    self.options = options
    self.policy = Policy(rows.obs_size, rows.n_actions, rows.low, rows.high, options, seed)
    self.value_net = _mlp(options.width, 1, 1.0, seed + 100, rows.obs_size)
    self.value_stats = RunningStats(1)  # of the value targets, which the network predicts
    # z-scored (lifetime utilities are far from 0 and vary little around their mean)
    self.optimizer = tf.keras.optimizers.Adam(options.learning_rate, epsilon=1e-5)
    self.variables = (self.policy.mean_net.trainable_variables + [self.policy.log_std] +
                      self.value_net.trainable_variables)
    obs, vec = tf.TensorSpec([None, rows.obs_size]), tf.TensorSpec([None])
    self.update = tf.function(self._update, input_signature=[
        obs, tf.TensorSpec([None, rows.n_actions]), vec, vec, vec])
    self._value = tf.function(lambda x: self.value_net(x)[:, 0], input_signature=[obs])

  def values(self, x: np.ndarray) -> np.ndarray:
    """Values [M] of normalised observations [M, d], in reward units."""
    scale = math.sqrt(max(self.value_stats.var[0], 1e-8))
    return self.value_stats.mean[0] + scale * self._value(x).numpy().astype(np.float64)

  def _update(self, obs, action, logp_old, advantage, target):
    """One Adam step on a minibatch: obs [M, d] normalised, action [M, n_a], logp_old [M],
    advantage [M], target [M] (z-scored value targets). Returns the step's statistics."""
    opt, policy = self.options, self.policy
    advantage = (advantage - tf.reduce_mean(advantage)) / (tf.math.reduce_std(advantage) + 1e-8)
    with tf.GradientTape() as tape:
      logp = log_prob(action, policy.mean_net(obs), policy.log_std)
      pi_loss = clipped_surrogate(logp, logp_old, advantage, opt.clip)
      v_loss = 0.5 * tf.reduce_mean(tf.square(self.value_net(obs)[:, 0] - target))
      entropy = tf.reduce_sum(policy.log_std + 0.5 * (_LOG_2PI + 1))
      loss = pi_loss + opt.value_coef * v_loss - opt.entropy_coef * entropy
    grads = tape.gradient(loss, self.variables)
    grads, _ = tf.clip_by_global_norm(grads, opt.max_grad_norm)
    self.optimizer.apply_gradients(zip(grads, self.variables))
    log_ratio = logp - logp_old
    return dict(policy_loss=pi_loss, value_loss=v_loss, entropy=entropy,
                approx_kl=tf.reduce_mean(tf.exp(log_ratio) - 1 - log_ratio),
                clip_fraction=tf.reduce_mean(tf.cast(tf.abs(log_ratio) > math.log1p(opt.clip),
                                                     tf.float32)))


class _Paths:
  """The environments stepped side by side, with their running episodes across iterations."""

  def __init__(self, envs: list, seed: int, gamma: float, nonfinite_reward: float):
    self.rows = [_Rows(e) for e in envs]
    self.gamma, self.nonfinite_reward = gamma, nonfinite_reward
    self.obs = [p.reset(seed=seed + 1000 * i) for i, p in enumerate(self.rows)]
    self.returns = np.zeros((len(envs), 2, self.rows[0].n_rows))  # undiscounted, discounted
    self.discount = np.ones(len(envs))

  def collect(self, policy: Policy, rng: np.random.Generator, periods: int) -> dict:
    """`periods` periods of every path under `policy`'s draws: arrays [T, P, R(, ...)] of
    normalised observations x and next_x (the observation after each step, before any reset),
    raw observations, actions, log-probabilities, rewards, terminated and done; `ended`
    [episodes, 2], the mean return per row (undiscounted, discounted) of episodes that ended."""
    n_p, n_r, d, n_a = len(self.rows), self.rows[0].n_rows, self.rows[0].obs_size, \
        self.rows[0].n_actions
    out = dict(raw=np.zeros((periods, n_p, n_r, d), np.float32),
               actions=np.zeros((periods, n_p, n_r, n_a), np.float32),
               logp=np.zeros((periods, n_p, n_r)), rewards=np.zeros((periods, n_p, n_r)),
               terminated=np.zeros((periods, n_p, n_r)), done=np.zeros((periods, n_p, n_r)))
    out['x'], out['next_x'], ended = np.zeros_like(out['raw']), np.zeros_like(out['raw']), []
    for t in range(periods):
      out['raw'][t] = np.stack(self.obs)
      x, a, logp = policy.sample(out['raw'][t].reshape(-1, d), rng)
      out['x'][t], out['actions'][t] = x.reshape(n_p, n_r, d), a.reshape(n_p, n_r, n_a)
      out['logp'][t] = logp.reshape(n_p, n_r)
      for i, path in enumerate(self.rows):
        o, r, term, trunc = path.step(out['actions'][t, i])
        if not np.all(np.isfinite(r)):
          if math.isnan(self.nonfinite_reward):
            raise errors.NonFiniteError(
                "a reward is not finite (the state left the economy's domain); set "
                'options.nonfinite_reward to train on through such episodes.')
          r = np.where(np.isfinite(r), r, self.nonfinite_reward)
        out['rewards'][t, i], out['next_x'][t, i] = r, policy.normalize(o)
        out['terminated'][t, i], out['done'][t, i] = term, term or trunc
        self.returns[i] += [r, self.discount[i] * r]
        self.discount[i] *= self.gamma
        if term or trunc:
          ended.append(self.returns[i].mean(axis=1))
          self.returns[i], self.discount[i] = 0.0, 1.0
          o = path.reset()
        self.obs[i] = o
    out['ended'] = np.array(ended).reshape(-1, 2)
    return out


def train(env, options=None, steps: int = 100_000, seed: int = 0,
          evaluate: Callable[['Policy'], dict] | None = None,
          log_every: float = 30.0) -> tuple[Policy, list[dict]]:
  """PPO on `env` for about `steps` environment steps (env.step calls, summed over the paths;
  rounded up to whole iterations of options.n_envs * options.rollout).

  Args:
    env: a factory of environments (called options.n_envs times) or one environment (one
      path): a PettingZoo ParallelEnv or a Gymnasium Env of deepham.rl, or any environment
      with Box spaces read as rows (module docstring).
    options: Options, or a dict or ConfigDict of some of its fields.
    steps: environment steps.
    seed: everything random derives from it.
    evaluate: called with the policy after every iteration; the metrics it returns (a dict)
      join the iteration's history row.
    log_every: seconds between progress lines (with an ETA).

  Returns:
    The policy, and the history: a dict per iteration with env_steps, samples (rows), wall
    time (iteration_seconds, elapsed_seconds), episodes ended in the iteration and their mean
    return per row (episode_return, and discounted_return, the economy's objective; nan if
    none ended), learning rate, action std and the update's mean losses and statistics.
  """
  opt = make_options(options)
  envs = [env() for _ in range(opt.n_envs)] if callable(env) else [env]
  first = _Rows(envs[0])
  gamma = opt.gamma or first.beta
  if not gamma:
    raise errors.ConfigError('the environment has no economy with a beta: set options.gamma.')
  learner = _Learner(first, opt, seed)
  policy = learner.policy
  rng = np.random.default_rng(seed)
  paths = _Paths(envs, seed, gamma, opt.nonfinite_reward)
  d, n_a, per_iteration = first.obs_size, first.n_actions, len(envs) * opt.rollout
  n_iterations = max(1, -(-steps // per_iteration))
  bar = progress.Progress('ppo', n_iterations * per_iteration, every=log_every, unit='steps')
  history, t_start, last_return = [], time.time(), float('nan')
  for it in range(n_iterations):
    t_iter = time.time()
    lr = opt.learning_rate * (1 - it / n_iterations if opt.anneal else 1.0)
    learner.optimizer.learning_rate = lr
    batch = paths.collect(policy, rng, opt.rollout)
    shape = batch['rewards'].shape
    values = learner.values(batch['x'].reshape(-1, d)).reshape(shape)
    next_values = learner.values(batch['next_x'].reshape(-1, d)).reshape(shape)
    adv = gae(batch['rewards'], values, next_values, batch['terminated'], batch['done'], gamma,
              opt.lam).reshape(-1)
    targets = adv + values.reshape(-1)
    learner.value_stats.update(targets[:, None])
    z_targets = (targets - learner.value_stats.mean[0]) / math.sqrt(
        max(learner.value_stats.var[0], 1e-8))
    data = [batch['x'].reshape(-1, d), batch['actions'].reshape(-1, n_a),
            batch['logp'].reshape(-1), adv, z_targets]
    data = [tf.constant(v, tf.float32) for v in data]
    stats = []
    for _ in range(opt.epochs):
      order = rng.permutation(len(adv))
      for start in range(0, len(adv), opt.minibatch):
        idx = tf.constant(order[start:start + opt.minibatch])
        stats.append(learner.update(*[tf.gather(v, idx) for v in data]))
    if policy.obs_stats is not None:  # for the next iteration: frozen within this one
      policy.obs_stats.update(batch['raw'].reshape(-1, d))
    now, ended = time.time(), batch['ended']
    row = dict(iteration=it + 1, env_steps=(it + 1) * per_iteration,
               samples=(it + 1) * per_iteration * first.n_rows, episodes=len(ended),
               episode_return=float(ended[:, 0].mean()) if len(ended) else float('nan'),
               discounted_return=float(ended[:, 1].mean()) if len(ended) else float('nan'),
               learning_rate=lr, std=float(np.exp(policy.log_std.numpy()).mean()))
    row.update({k: float(np.mean([s[k].numpy() for s in stats])) for k in stats[0]})
    row.update(iteration_seconds=now - t_iter, elapsed_seconds=now - t_start)
    if evaluate is not None:
      row.update(evaluate(policy))
    history.append(row)
    if len(ended):
      last_return = row['episode_return']
    bar.update(row['env_steps'], f'return {last_return:.5g}, std {row["std"]:.3g}')
  logging.info('ppo: %d iterations, %d env steps in %.0f s', n_iterations,
               n_iterations * per_iteration, time.time() - t_start)
  return policy, history
