"""The policy step of the GAE paper: trust region policy optimization (Schulman et al. 2015, arXiv:1502.05477).

TRPO maximises the importance-sampled surrogate under a bound on the mean KL
divergence from the policy that collected the batch (the GAE paper's eq. 31,
written as a maximisation):

    maximise   L(theta) = mean_n [ pi_theta(a_n|s_n) / pi_old(a_n|s_n) * A_n ]
    subject to mean_n KL(pi_old(.|s_n) || pi_theta(.|s_n)) <= delta.

Linearising L (gradient g) and taking the KL to second order (the Fisher F)
gives the natural-gradient direction s = F^{-1} g, found by conjugate gradient
from Fisher-vector products (``fisher.py``) without ever forming F.  The
largest step along s with (1/2) x^T F x = delta is beta s, beta =
sqrt(2 delta / s^T F s).  Because the quadratic model is only a model, a
backtracking line search shrinks the step (x backtrack_ratio each time) until
the *exact* mean KL is within delta and the surrogate actually improved; if no
fraction works the parameters are left unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from thalweg.autograd import no_grad
from thalweg.autograd.tensor import Tensor
from thalweg.ops import api as ops
from thalweg_lab.rl.fisher import FisherOperator, conjugate_gradient, flat_grad, get_flat_params, set_flat_params

__all__ = ["StepInfo", "surrogate", "trpo_step"]


@dataclass
class StepInfo:
    """What a policy step did; ``method`` is "trpo" or "ppo"."""

    method: str
    kl: float  # mean KL(pi_old || pi_new) over the batch after the step
    surrogate_before: float
    surrogate_after: float
    accepted: bool = True
    backtracks: int = 0  # TRPO: how many times the step was halved (shrunk)
    expected_improvement: float = 0.0  # TRPO: g . step, the linear model's promise
    step_fraction: float = 1.0  # TRPO: accepted fraction of the full trust-region step
    grad_norm: float = 0.0
    cg_residual: float = 0.0  # TRPO: |F s - g| / |g| of the conjugate-gradient solution
    epochs: int = 0  # PPO: passes over the batch
    clip_fraction: float = 0.0  # PPO: share of samples whose ratio was clipped in the last epoch


def surrogate(policy: Any, obs: Tensor, actions: Any, advantages: Tensor, logp_old: Tensor) -> Tensor:
    """mean[exp(log pi(a|s) - log pi_old(a|s)) * A]; its gradient at pi_old is the policy gradient."""
    dist = policy(obs)
    ratio = ops.exp(policy.log_prob(dist, actions) - logp_old)
    return ops.mean(ratio * advantages)


def _check_positive(name: str, value: float, where: str) -> None:
    if not (isinstance(value, (int, float, np.floating)) and value > 0 and math.isfinite(value)):
        raise ValueError(f"{where}: {name} must be a positive number, got {value!r}")


def trpo_step(policy: Any, obs: np.ndarray, actions: np.ndarray, advantages: np.ndarray, *,
              max_kl: float = 0.01, cg_iters: int = 10, damping: float = 0.1, backtrack_ratio: float = 0.5,
              max_backtracks: int = 10, fisher_method: str = "auto") -> StepInfo:
    """One TRPO update of ``policy`` (in place) on a flat batch of (state, action, advantage).

    Args:
        obs: states, shape (B, obs_dim); actions: (B,) or (B, action_dim);
        advantages: (B,), usually normalised.
        max_kl: delta, the trust region's radius in mean KL.
        cg_iters: conjugate-gradient iterations for F^{-1} g.
        damping: added to F's diagonal (F + damping I), which keeps CG stable
            when F is nearly singular (e.g. saturated softmax).
        backtrack_ratio: the line search's shrink factor in (0, 1).
        max_backtracks: shrinks tried before giving up (no update then).
        fisher_method: forward-mode method for the Fisher products ("auto",
            "exact", "finite_difference"; see ``fisher.Linearization``).

    Returns a :class:`StepInfo` with the KL and surrogate after the step.
    """
    _check_positive("max_kl", max_kl, "trpo_step")
    if not 0 < backtrack_ratio < 1:
        raise ValueError(f"trpo_step: backtrack_ratio must lie in (0, 1), got {backtrack_ratio!r}")
    if not isinstance(max_backtracks, (int, np.integer)) or max_backtracks < 0:
        raise ValueError(f"trpo_step: max_backtracks must be a non-negative integer, got {max_backtracks!r}")
    if len(obs) != len(actions) or len(obs) != len(advantages):
        raise ValueError(f"trpo_step: obs, actions and advantages must have the same length, got "
                         f"{len(obs)}, {len(actions)}, {len(advantages)}")
    params = list(policy.parameters())
    dtype = params[0].array.dtype
    obs_t = Tensor(np.asarray(obs, dtype))
    adv_t = Tensor(np.asarray(advantages, dtype))
    old = policy.distribution_params(obs_t)
    with no_grad():
        logp_old = Tensor(np.array(policy.log_prob(policy.distribution_from(old), actions).array))

    surr = surrogate(policy, obs_t, actions, adv_t, logp_old)
    surr_before = float(surr.array)
    g = flat_grad(surr, params).astype(np.float64)
    gnorm = float(np.linalg.norm(g))
    if gnorm == 0.0 or not np.isfinite(gnorm):
        return StepInfo("trpo", 0.0, surr_before, surr_before, accepted=False, grad_norm=gnorm)

    fvp = FisherOperator(policy, obs_t.array, damping=damping, method=fisher_method)
    s = conjugate_gradient(lambda v: fvp(v).astype(np.float64), g, iters=cg_iters)
    fs = fvp(s).astype(np.float64)
    shs = float(s @ fs)
    cg_residual = float(np.linalg.norm(fs - g) / gnorm)
    if not shs > 0:
        return StepInfo("trpo", 0.0, surr_before, surr_before, accepted=False, grad_norm=gnorm,
                        cg_residual=cg_residual)
    beta = math.sqrt(2.0 * max_kl / shs)
    full_step = beta * s
    expected = float(g @ full_step)
    theta0 = get_flat_params(params).astype(np.float64)

    frac = 1.0
    for k in range(int(max_backtracks) + 1):
        set_flat_params(params, theta0 + frac * full_step)
        with no_grad():
            dist = policy(obs_t)
            kl = float(policy.kl(old, dist).array)
            ratio = ops.exp(policy.log_prob(dist, actions) - logp_old)
            surr_after = float(ops.mean(ratio * adv_t).array)
        if np.isfinite(kl) and kl <= max_kl and surr_after > surr_before:
            return StepInfo("trpo", kl, surr_before, surr_after, accepted=True, backtracks=k,
                            expected_improvement=expected * frac, step_fraction=frac, grad_norm=gnorm,
                            cg_residual=cg_residual)
        frac *= backtrack_ratio
    set_flat_params(params, theta0)
    return StepInfo("trpo", 0.0, surr_before, surr_before, accepted=False, backtracks=int(max_backtracks) + 1,
                    expected_improvement=expected, step_fraction=0.0, grad_norm=gnorm, cg_residual=cg_residual)
