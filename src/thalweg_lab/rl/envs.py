"""Batches of environments that run one episode per slot.

The trainer asks an environment for ``num_envs`` episodes side by side, as the
GAE paper's cart-pole study collects 20 trajectories per batch.  An
environment here is a *vector* of episodes with this small interface:

    spec                        an :class:`EnvSpec` (observation size, action kind, time limit)
    reset(seed=s) -> obs        shape (N, obs_dim), float32
    step(actions, active) -> (obs, rewards, terminated, truncated)
                                each slot where ``active`` is False is left alone

``terminated`` means a terminal state of the task (the pole fell: its value is
0); ``truncated`` means a time limit cut the episode (its last state still has
a value, which GAE bootstraps from).

Built in, pure NumPy and vectorised across slots, so the tests need nothing
else:

* ``"tw/CartPole-v1"``: the cart-pole of Barto, Sutton & Anderson (1983) with
  gymnasium's CartPole-v1 constants, Euler integration, reward 1 per step,
  termination at |x| > 2.4 or |theta| > 12 degrees, time limit 500 steps.
* ``"tw/PointGoal-v0"``: a continuous-action toy: a point x in R^2 starting in
  [-1, 1]^2 moves by 0.1 a with a in [-1, 1]^2 and earns -|x|^2 per step,
  50 steps (time limit only).  A Gaussian policy learns it in seconds.

Any other id (``"CartPole-v1"``, ``"Pendulum-v1"``...) goes to gymnasium, an
optional dependency (``pip install gymnasium``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["BUILTIN_ENVS", "CartPole", "EnvSpec", "GymVecEnv", "PointGoal", "VecEnv", "make_env"]


@dataclass(frozen=True)
class EnvSpec:
    """What a policy needs to know about an environment."""

    id: str
    obs_dim: int
    discrete: bool
    n_actions: int = 0  # discrete: number of actions
    action_dim: int = 0  # continuous: size of the action vector
    action_low: float | np.ndarray = -np.inf
    action_high: float | np.ndarray = np.inf
    max_episode_steps: int = 1000


class VecEnv:
    """Base class of the built-in vectorised environments (see the module docstring)."""

    spec: EnvSpec

    def __init__(self, num_envs: int) -> None:
        if not isinstance(num_envs, (int, np.integer)) or isinstance(num_envs, bool) or num_envs < 1:
            raise ValueError(f"{type(self).__name__}: num_envs must be a positive integer, got {num_envs!r}")
        self.num_envs = int(num_envs)
        self._steps = np.zeros(self.num_envs, np.int64)
        self._rng = np.random.default_rng()

    def reset(self, *, seed: int | None = None) -> np.ndarray:
        self._rng = np.random.default_rng(seed)
        self._steps[:] = 0
        return self._reset()

    def step(self, actions: Any, active: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        act = np.asarray(active if active is not None else np.ones(self.num_envs, bool), bool)
        obs, reward, terminated = self._step(np.asarray(actions), act)
        self._steps += act
        truncated = act & (self._steps >= self.spec.max_episode_steps)
        return obs, np.where(act, reward, 0.0).astype(np.float32), terminated & act, truncated

    def close(self) -> None:
        pass

    def _reset(self) -> np.ndarray:
        raise NotImplementedError

    def _step(self, actions: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError


class CartPole(VecEnv):
    """N cart-poles in NumPy with gymnasium CartPole-v1's dynamics (state in float64, observations float32).

    Equations of motion (Florian 2007's correction of Barto et al. 1983), with
    force F = +-10 N, g = 9.8, cart mass 1, pole mass 0.1, half length 0.5,
    and Euler steps of 0.02 s::

        temp = (F + m l thetadot^2 sin(theta)) / (M + m)
        thetaacc = (g sin(theta) - cos(theta) temp) / (l (4/3 - m cos^2(theta) / (M + m)))
        xacc = temp - m l thetaacc cos(theta) / (M + m)
    """

    gravity, masscart, masspole, length, force_mag, tau = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
    theta_threshold = 12 * 2 * math.pi / 360
    x_threshold = 2.4

    def __init__(self, num_envs: int = 1, *, max_episode_steps: int = 500) -> None:
        super().__init__(num_envs)
        self.spec = EnvSpec("tw/CartPole-v1", 4, True, n_actions=2, max_episode_steps=int(max_episode_steps))
        self.state = np.zeros((self.num_envs, 4))

    def _reset(self) -> np.ndarray:
        self.state = self._rng.uniform(-0.05, 0.05, size=(self.num_envs, 4))
        return self.state.astype(np.float32)

    def _step(self, actions: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a = actions.reshape(self.num_envs)
        if np.any((a != 0) & (a != 1)):
            raise ValueError(f"CartPole.step: actions must be 0 or 1, got {np.unique(a)[:5]}")
        x, x_dot, theta, theta_dot = self.state.T
        total_mass = self.masspole + self.masscart
        pml = self.masspole * self.length
        force = np.where(a == 1, self.force_mag, -self.force_mag)
        cos, sin = np.cos(theta), np.sin(theta)
        temp = (force + pml * theta_dot ** 2 * sin) / total_mass
        thetaacc = (self.gravity * sin - cos * temp) / (self.length * (4.0 / 3.0 - self.masspole * cos ** 2 / total_mass))
        xacc = temp - pml * thetaacc * cos / total_mass
        new = np.stack([x + self.tau * x_dot, x_dot + self.tau * xacc,
                        theta + self.tau * theta_dot, theta_dot + self.tau * thetaacc], axis=1)
        self.state = np.where(active[:, None], new, self.state)
        x, theta = self.state[:, 0], self.state[:, 2]
        terminated = (np.abs(x) > self.x_threshold) | (np.abs(theta) > self.theta_threshold)
        return self.state.astype(np.float32), np.ones(self.num_envs), terminated


class PointGoal(VecEnv):
    """Drive a point to the origin: x' = x + 0.1 clip(a, -1, 1), reward -|x'|^2, 50 steps."""

    def __init__(self, num_envs: int = 1, *, dim: int = 2, max_episode_steps: int = 50) -> None:
        super().__init__(num_envs)
        self.dim = int(dim)
        self.spec = EnvSpec("tw/PointGoal-v0", self.dim, False, action_dim=self.dim, action_low=-1.0,
                            action_high=1.0, max_episode_steps=int(max_episode_steps))
        self.x = np.zeros((self.num_envs, self.dim))

    def _reset(self) -> np.ndarray:
        self.x = self._rng.uniform(-1.0, 1.0, size=(self.num_envs, self.dim))
        return self.x.astype(np.float32)

    def _step(self, actions: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a = np.clip(actions.reshape(self.num_envs, self.dim), -1.0, 1.0)
        self.x = np.where(active[:, None], self.x + 0.1 * a, self.x)
        reward = -np.sum(self.x ** 2, axis=1)
        return self.x.astype(np.float32), reward, np.zeros(self.num_envs, bool)


BUILTIN_ENVS: dict[str, type[VecEnv]] = {"tw/CartPole-v1": CartPole, "tw/PointGoal-v0": PointGoal}


def _import_gymnasium() -> Any:
    try:
        import gymnasium
    except ImportError:
        raise ImportError("thalweg_lab.rl: gymnasium is not installed, so gymnasium environment ids cannot be made; "
                          "install it with `pip install gymnasium` (or `pip install 'thalweg[rl]'`), or use a "
                          f"built-in environment: {', '.join(BUILTIN_ENVS)}") from None
    return gymnasium


class GymVecEnv:
    """``num_envs`` gymnasium environments stepped one by one, with the :class:`VecEnv` interface.

    Slot i is reset with seed ``seed + i``.  Continuous actions are clipped
    to the action space's bounds (a Gaussian policy's samples are unbounded).
    """

    def __init__(self, env_id: str, num_envs: int = 1, **kwargs: Any) -> None:
        gym = _import_gymnasium()
        if not isinstance(num_envs, (int, np.integer)) or isinstance(num_envs, bool) or num_envs < 1:
            raise ValueError(f"GymVecEnv: num_envs must be a positive integer, got {num_envs!r}")
        try:
            self.envs = [gym.make(env_id, **kwargs) for _ in range(int(num_envs))]
        except gym.error.Error as e:
            raise ValueError(f"thalweg_lab.rl: gymnasium does not know the environment id {env_id!r} ({e}); "
                             "check the spelling and version (e.g. 'CartPole-v1', 'Pendulum-v1'), or use a "
                             f"built-in environment: {', '.join(BUILTIN_ENVS)}") from None
        self.num_envs = int(num_envs)
        env = self.envs[0]
        obs_space, act_space = env.observation_space, env.action_space
        if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
            raise ValueError(f"GymVecEnv: {env_id} has observation space {obs_space}; only flat Box observations "
                             "are supported")
        limit = env.spec.max_episode_steps if env.spec is not None and env.spec.max_episode_steps else 1000
        if isinstance(act_space, gym.spaces.Discrete):
            self.spec = EnvSpec(env_id, int(obs_space.shape[0]), True, n_actions=int(act_space.n),
                                max_episode_steps=int(limit))
        elif isinstance(act_space, gym.spaces.Box) and len(act_space.shape) == 1:
            self.spec = EnvSpec(env_id, int(obs_space.shape[0]), False, action_dim=int(act_space.shape[0]),
                                action_low=act_space.low.astype(np.float32),
                                action_high=act_space.high.astype(np.float32), max_episode_steps=int(limit))
        else:
            raise ValueError(f"GymVecEnv: {env_id} has action space {act_space}; only Discrete and flat Box "
                             "actions are supported")
        self._obs = np.zeros((self.num_envs, self.spec.obs_dim), np.float32)

    def reset(self, *, seed: int | None = None) -> np.ndarray:
        for i, env in enumerate(self.envs):
            obs, _ = env.reset(seed=None if seed is None else int(seed) + i)
            self._obs[i] = obs
        return self._obs.copy()

    def step(self, actions: Any, active: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        act = np.ones(self.num_envs, bool) if active is None else np.asarray(active, bool)
        actions = np.asarray(actions)
        rew = np.zeros(self.num_envs, np.float32)
        term = np.zeros(self.num_envs, bool)
        trunc = np.zeros(self.num_envs, bool)
        for i in np.flatnonzero(act):
            if self.spec.discrete:
                a: Any = int(actions[i])
            else:
                a = np.clip(actions[i], self.spec.action_low, self.spec.action_high).astype(np.float32)
            obs, r, te, tr, _ = self.envs[i].step(a)
            self._obs[i] = obs
            rew[i], term[i], trunc[i] = r, te, tr
        return self._obs.copy(), rew, term, trunc

    def close(self) -> None:
        for env in self.envs:
            env.close()


def make_env(env_id: str, num_envs: int = 1, **kwargs: Any) -> VecEnv | GymVecEnv:
    """A vector of ``num_envs`` environments: built-in for ``"tw/..."`` ids, gymnasium otherwise."""
    if not isinstance(env_id, str):
        raise TypeError(f"make_env: env_id must be a string such as 'CartPole-v1', got {type(env_id).__name__}")
    if env_id.startswith("tw/"):
        cls = BUILTIN_ENVS.get(env_id)
        if cls is None:
            raise ValueError(f"make_env: unknown built-in environment {env_id!r}; built-in: {', '.join(BUILTIN_ENVS)}")
        return cls(num_envs, **kwargs)
    return GymVecEnv(env_id, num_envs, **kwargs)
