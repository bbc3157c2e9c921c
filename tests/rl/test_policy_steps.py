"""The TRPO step (KL bound, natural-gradient direction, no-op cases) and PPO's clipped objective (hand-computed)."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from thalweg.distributions import kl_divergence
from thalweg_lab.rl import (CategoricalPolicy, FisherOperator, GaussianPolicy, flat_grad, get_flat_params,
                        ppo_clip_objective, ppo_step, surrogate, trpo_step)


def problem(kind: str, seed: int = 0, n: int = 64):
    rng = np.random.default_rng(seed)
    if kind == "categorical":
        pol = CategoricalPolicy(4, 3, hidden=(8,), out_scale=1.0, generator=rng)
        actions = rng.integers(0, 3, n)
    else:
        pol = GaussianPolicy(4, 2, hidden=(8,), out_scale=1.0, generator=rng)
        actions = rng.standard_normal((n, 2)).astype(np.float32)
    obs = rng.standard_normal((n, 4)).astype(np.float32)
    adv = rng.standard_normal(n).astype(np.float32)
    return pol, obs, actions, adv


def mean_kl(old_dist, pol, obs, kind):
    kl = kl_divergence(old_dist, pol(obs)).array
    return float((kl.sum(-1) if kind == "gaussian" else kl).mean())


@pytest.mark.parametrize("kind", ["categorical", "gaussian"])
@pytest.mark.parametrize("max_kl", [0.001, 0.02])
def test_trpo_respects_kl_bound_and_improves_surrogate(kind, max_kl):
    pol, obs, actions, adv = problem(kind)
    old = pol.distribution_from(pol.distribution_params(obs))
    theta0 = get_flat_params(list(pol.parameters()))
    info = trpo_step(pol, obs, actions, adv, max_kl=max_kl)
    assert info.method == "trpo" and info.accepted
    kl = mean_kl(old, pol, obs, kind)  # recomputed here, independently of the step's own figure
    assert kl == pytest.approx(info.kl, rel=1e-4)
    assert 0 < kl <= max_kl
    assert kl > 0.1 * max_kl  # the step uses the trust region, it does not creep
    assert info.surrogate_after > info.surrogate_before
    assert not np.allclose(get_flat_params(list(pol.parameters())), theta0)


def test_trpo_direction_is_the_damped_natural_gradient():
    pol, obs, actions, adv = problem("categorical", seed=1)
    params = list(pol.parameters())
    pol.double()
    obs = obs.astype(np.float64)
    adv = adv.astype(np.float64)
    n = sum(p.array.size for p in params)
    op = FisherOperator(pol, obs, damping=0.05)
    F = np.stack([op(e) for e in np.eye(n)], axis=1)  # the damped Fisher, column by column
    logp_old = tw.tensor(pol.log_prob(pol(obs), actions).array)
    g = flat_grad(surrogate(pol, tw.tensor(obs), actions, tw.tensor(adv), logp_old), params)
    direction = np.linalg.solve(F, g)
    theta0 = get_flat_params(params)
    info = trpo_step(pol, obs, actions, adv, max_kl=1e-4, damping=0.05, cg_iters=n)
    step = get_flat_params(params) - theta0
    cos = step @ direction / (np.linalg.norm(step) * np.linalg.norm(direction))
    assert cos == pytest.approx(1.0, abs=1e-6)
    # the full step has 1/2 s^T F s = max_kl (unless the line search shrank it)
    assert 0.5 * step @ F @ step == pytest.approx(1e-4 * info.step_fraction ** 2, rel=1e-3)


def test_trpo_zero_advantages_is_a_no_op_and_bad_arguments_raise():
    pol, obs, actions, _ = problem("categorical")
    theta0 = get_flat_params(list(pol.parameters()))
    info = trpo_step(pol, obs, actions, np.zeros(len(obs), np.float32))
    assert not info.accepted and info.kl == 0.0
    np.testing.assert_array_equal(get_flat_params(list(pol.parameters())), theta0)
    with pytest.raises(ValueError, match="max_kl must be a positive number, got -0.1"):
        trpo_step(pol, obs, actions, np.ones(len(obs)), max_kl=-0.1)
    with pytest.raises(ValueError, match="backtrack_ratio must lie in \\(0, 1\\)"):
        trpo_step(pol, obs, actions, np.ones(len(obs)), backtrack_ratio=1.0)
    with pytest.raises(ValueError, match="same length, got 64, 64, 3"):
        trpo_step(pol, obs, actions, np.ones(3))


def test_ppo_clip_objective_by_hand():
    """r = (0.5, 1, 1.5, 0.7, 1.3), A = (1, -1, 2, -2, -1), eps = 0.2:
    min(rA, clip(r)A) = (0.5, -1, 2.4, -1.6, -1.3), mean -0.2; the gradient in log pi is r A / 5 where the
    unclipped term is the minimum, 0 where the clipped one is: (0.1, -0.2, 0, 0, -0.26)."""
    r = np.array([0.5, 1.0, 1.5, 0.7, 1.3])
    A = np.array([1.0, -1.0, 2.0, -2.0, -1.0])
    logp_old = np.log(np.array([0.3, 0.2, 0.1, 0.5, 0.4]))
    logp = tw.tensor(logp_old + np.log(r), requires_grad=True)
    obj = ppo_clip_objective(logp, tw.tensor(logp_old), tw.tensor(A), clip=0.2)
    assert float(obj.array) == pytest.approx(-0.2, abs=1e-12)
    obj.backward()
    np.testing.assert_allclose(logp.grad, [0.1, -0.2, 0.0, 0.0, -0.26], atol=1e-12)
    with pytest.raises(ValueError, match="clip must lie in \\(0, 1\\), got 1.5"):
        ppo_clip_objective(logp, tw.tensor(logp_old), tw.tensor(A), clip=1.5)


def test_ppo_step_improves_the_clipped_objective():
    pol, obs, actions, adv = problem("categorical", seed=2)
    opt = tw.optim.Adam(pol.parameters(), lr=1e-2)
    info = ppo_step(pol, opt, obs, actions, adv, epochs=5, minibatch_size=16, generator=np.random.default_rng(0))
    assert info.method == "ppo" and info.epochs == 5
    assert info.surrogate_after > info.surrogate_before
    assert info.kl > 0
    pol2, *_ = problem("categorical", seed=2)
    opt2 = tw.optim.Adam(pol2.parameters(), lr=1e-2)
    early = ppo_step(pol2, opt2, obs, actions, adv, epochs=20, minibatch_size=16, target_kl=1e-4,
                     generator=np.random.default_rng(0))
    assert early.epochs < 20 and early.kl > 1e-4  # stopped by the KL target
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        ppo_step(pol, opt, obs, actions, adv, epochs=0)
