"""A first-order policy step for comparison: PPO's clipped surrogate (Schulman et al. 2017, arXiv:1707.06347).

With the probability ratio r = pi_theta(a|s) / pi_old(a|s), PPO maximises

    L_clip = mean[ min(r A, clip(r, 1 - eps, 1 + eps) A) ]

by a few epochs of minibatch gradient ascent (Adam).  The min makes the
objective a pessimistic bound: once the ratio has moved more than eps in the
direction the advantage rewards, the sample's gradient vanishes, a cheap
stand-in for TRPO's KL constraint.  An optional ``target_kl`` stops the epochs
early when the mean KL from the old policy exceeds it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from thalweg import random as _random
from thalweg.autograd import no_grad
from thalweg.autograd.tensor import Tensor
from thalweg.ops import api as ops
from thalweg_lab.rl.trpo import StepInfo

__all__ = ["ppo_clip_objective", "ppo_step"]


def ppo_clip_objective(logp: Tensor, logp_old: Tensor, advantages: Tensor, *, clip: float = 0.2) -> Tensor:
    """mean[min(r A, clip(r, 1 - clip, 1 + clip) A)] with r = exp(logp - logp_old); to be *maximised*."""
    if not (isinstance(clip, (int, float)) and 0 < clip < 1):
        raise ValueError(f"ppo_clip_objective: clip must lie in (0, 1), got {clip!r}")
    ratio = ops.exp(logp - logp_old)
    unclipped = ratio * advantages
    clipped = ops.clamp(ratio, min=1.0 - clip, max=1.0 + clip) * advantages
    return ops.mean(ops.minimum(unclipped, clipped))


def ppo_step(policy: Any, optimizer: Any, obs: np.ndarray, actions: np.ndarray, advantages: np.ndarray, *,
             clip: float = 0.2, epochs: int = 10, minibatch_size: int = 64, target_kl: float | None = None,
             generator: np.random.Generator | None = None) -> StepInfo:
    """Several epochs of minibatch ascent on the clipped surrogate; updates ``policy`` in place.

    ``optimizer`` is any ``tw.optim`` optimizer over the policy's parameters
    (it minimises, so the loss is -L_clip).  Minibatches are drawn without
    replacement from ``generator``.
    """
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"ppo_step: epochs must be a positive integer, got {epochs!r}")
    if not isinstance(minibatch_size, (int, np.integer)) or minibatch_size < 1:
        raise ValueError(f"ppo_step: minibatch_size must be a positive integer, got {minibatch_size!r}")
    if len(obs) != len(actions) or len(obs) != len(advantages):
        raise ValueError(f"ppo_step: obs, actions and advantages must have the same length, got "
                         f"{len(obs)}, {len(actions)}, {len(advantages)}")
    rng = _random.get_generator(generator)
    dtype = next(iter(policy.parameters())).array.dtype
    obs = np.asarray(obs, dtype)
    adv = np.asarray(advantages, dtype)
    old = policy.distribution_params(obs)
    with no_grad():
        logp_old = np.array(policy.log_prob(policy.distribution_from(old), actions).array)

    def objective(idx: Any) -> tuple[Tensor, np.ndarray]:
        dist = policy(Tensor(obs[idx]))
        logp = policy.log_prob(dist, actions[idx])
        return ppo_clip_objective(logp, Tensor(logp_old[idx]), Tensor(adv[idx]), clip=clip), logp.array

    everything = np.arange(len(obs))
    with no_grad():
        before = float(objective(everything)[0].array)
    done_epochs = 0
    for _ in range(int(epochs)):
        perm = rng.permutation(len(obs))
        for start in range(0, len(obs), int(minibatch_size)):
            idx = perm[start:start + int(minibatch_size)]
            obj, _ = objective(idx)
            optimizer.zero_grad()
            (-obj).backward()
            optimizer.step()
        done_epochs += 1
        if target_kl is not None:
            with no_grad():
                kl = float(policy.kl(old, policy(Tensor(obs))).array)
            if kl > target_kl:
                break
    with no_grad():
        after_t, logp_new = objective(everything)
        kl = float(policy.kl(old, policy(Tensor(obs))).array)
    ratio = np.exp(logp_new - logp_old)
    clipped = float(np.mean(np.abs(ratio - 1) > clip))
    after = float(after_t.array)
    if not math.isfinite(after):
        raise FloatingPointError("ppo_step: the clipped objective became non-finite; lower the learning rate")
    return StepInfo("ppo", kl, before, after, accepted=True, epochs=done_epochs, clip_fraction=clipped)
