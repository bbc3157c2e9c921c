"""Collecting a batch of whole episodes, one per environment slot.

The batch is laid out time-major, shape (T, N) with N trajectories side by
side and T the longest episode; shorter episodes are padded, and ``mask``
marks the real steps.  Row t therefore holds every trajectory's t-th step,
which is what the paper's time-dependent "no value function" baseline needs,
and what :func:`~thalweg_lab.rl.gae.gae` recurses over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Batch", "collect_episodes"]


@dataclass
class Batch:
    """N whole episodes.  Arrays are (T, N) unless noted; padding rows hold zeros."""

    obs: np.ndarray  # (T, N, obs_dim): the state each action was taken in
    actions: np.ndarray  # (T, N) int64 or (T, N, action_dim) float32
    rewards: np.ndarray  # float32
    terminated: np.ndarray  # bool: a terminal state followed this step
    truncated: np.ndarray  # bool: the time limit cut the episode after this step (and it did not terminate)
    mask: np.ndarray  # bool: a real step, not padding
    final_obs: np.ndarray  # (N, obs_dim): the state after each episode's last step

    @property
    def lengths(self) -> np.ndarray:
        """Episode lengths, shape (N,)."""
        return self.mask.sum(axis=0)

    @property
    def episode_returns(self) -> np.ndarray:
        """Undiscounted episode returns sum_t r_t, shape (N,)."""
        return np.where(self.mask, self.rewards, 0).sum(axis=0)

    @property
    def dones(self) -> np.ndarray:
        """Episode ends, with padding counted as ended (so no estimate reaches across it)."""
        return self.terminated | self.truncated | ~self.mask

    @property
    def num_steps(self) -> int:
        return int(self.mask.sum())

    def flat(self, x: np.ndarray) -> np.ndarray:
        """The real steps of a (T, N, ...) array, in time-major order."""
        return x[self.mask]


def collect_episodes(env: Any, policy: Any, *, seed: int | None = None,
                     generator: np.random.Generator | None = None) -> Batch:
    """Run one episode in each of the ``env.num_envs`` slots with ``policy`` and return the batch.

    Slots whose episode has ended are no longer stepped.  Every episode ends,
    by a terminal state or the environment's time limit.
    """
    spec = env.spec
    n = env.num_envs
    obs = env.reset(seed=seed)
    active = np.ones(n, bool)
    obs_l, act_l, rew_l, term_l, trunc_l, mask_l = [], [], [], [], [], []
    final_obs = np.zeros((n, spec.obs_dim), np.float32)
    for _ in range(spec.max_episode_steps + 1):
        if not active.any():
            break
        actions = policy.sample(obs, generator=generator)
        next_obs, rewards, term, trunc = env.step(actions, active)
        obs_l.append(np.where(active[:, None], obs, 0).astype(np.float32))
        act_l.append(np.where(active.reshape((n,) + (1,) * (actions.ndim - 1)), actions, 0))
        rew_l.append(np.where(active, rewards, 0).astype(np.float32))
        term_l.append(term & active)
        trunc_l.append(trunc & ~term & active)
        mask_l.append(active.copy())
        ended = active & (term | trunc)
        final_obs[ended] = next_obs[ended]
        active = active & ~ended
        obs = next_obs
    if active.any():  # pragma: no cover - an environment without a time limit
        raise RuntimeError(f"collect_episodes: {int(active.sum())} episodes did not end within "
                           f"{spec.max_episode_steps} steps (the environment's time limit)")
    return Batch(np.stack(obs_l), np.stack(act_l), np.stack(rew_l), np.stack(term_l), np.stack(trunc_l),
                 np.stack(mask_l), final_obs)
