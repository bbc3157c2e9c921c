"""The links torch lacks (gradient noise, clipping, scheduled lr) against hand-computed references,
and the chain protocol itself (standalone use, name clashes, placement of weight decay)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import thalweg as tw
from thalweg import optim
from thalweg.nn import Parameter
from thalweg.optim import transforms as T


def _arrays(seed: int = 0, dtype=np.float64) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal(5).astype(dtype)]


# ------------------------------------------------------------ gradient noise
def test_noise_defaults_are_the_papers():
    link = T.add_gradient_noise()
    assert link.hyperparams["gamma"] == 0.55 and link.hyperparams["eta"] == 0.01
    assert T.PAPER_ETAS == (0.01, 0.3, 1.0)
    # sigma_t^2 = eta / (1 + t)^gamma, with t = 0 at the first step
    assert T.noise_variance(0, 0.3) == pytest.approx(0.3)
    assert T.noise_variance(9, 1.0, 0.55) == pytest.approx(10 ** -0.55)


def test_seeded_noise_matches_hand_reference_over_steps_and_groups():
    eta, gamma, seed = 0.3, 0.55, 7
    a, b = (Parameter(v) for v in _arrays())
    c = Parameter(np.zeros(6))
    opt = optim.Optimizer([{"params": [a, b]}, {"params": [c]}],
                          T.chain(T.add_gradient_noise(eta, gamma, seed=seed), T.scale_by_learning_rate(1.0)))
    grads = _arrays(1)
    starts = [a.array.copy(), b.array.copy(), c.array.copy()]
    for t in range(4):
        a.grad, b.grad, c.grad = grads[0], grads[1], np.zeros(6)
        before = [a.array.copy(), b.array.copy(), c.array.copy()]
        opt.step()
        std = math.sqrt(eta / (1.0 + t) ** gamma)
        for stream, (params, gs) in enumerate([((a, b), grads), ((c,), [np.zeros(6)])]):
            rng = np.random.default_rng([seed, stream, t])
            for p, g, prev in zip(params, gs, before[:2] if stream == 0 else before[2:]):
                expected = prev - (g + std * rng.standard_normal(g.shape))
                np.testing.assert_allclose(p.array, expected, rtol=1e-13, atol=1e-13)
    assert not np.allclose(a.array, starts[0] - 4 * grads[0])


def test_noise_variance_anneals_as_the_paper_says():
    link = T.add_gradient_noise(eta=1.0, gamma=0.55, seed=0)
    state = link.init([np.zeros(200_000)])
    for t in (0, 3, 99):
        state["count"] = t
        u, state = link.update([np.zeros(200_000)], state)
        assert np.var(u[0]) == pytest.approx(1.0 / (1 + t) ** 0.55, rel=0.02)
        assert abs(np.mean(u[0])) < 0.01


def test_unseeded_noise_follows_tw_manual_seed_and_keeps_float32():
    link = T.add_gradient_noise(eta=0.01)
    outs = []
    for _ in range(2):
        tw.manual_seed(123)
        state = link.init([np.zeros(10, np.float32)])
        u, _ = link.update([np.zeros(10, np.float32)], state)
        outs.append(u[0])
    assert outs[0].dtype == np.float32
    np.testing.assert_array_equal(outs[0], outs[1])


# ------------------------------------------------------------------ clipping
def test_clip_by_value_reference():
    g = _arrays()
    u, _ = T.clip_by_value(0.5).update([x.copy() for x in g], {})
    for x, y in zip(g, u):
        np.testing.assert_array_equal(y, np.minimum(np.maximum(x, -0.5), 0.5))


@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_by_global_norm_reference(max_norm):
    g = _arrays()
    total = math.sqrt(sum(float((x**2).sum()) for x in g))
    u, _ = T.clip_by_global_norm(max_norm).update([x.copy() for x in g], {})
    factor = min(1.0, max_norm / (total + 1e-6))
    for x, y in zip(g, u):
        np.testing.assert_allclose(y, x * factor, rtol=1e-14)
    assert T.global_norm(u) == pytest.approx(min(total, max_norm), rel=1e-5)


def test_clip_then_noise_in_an_optimizer_reads_group_hyperparameters():
    p = Parameter(np.zeros(4))
    opt = optim.Optimizer([p], T.chain(T.clip_by_value(1.0), T.scale_by_learning_rate(0.1)))
    p.grad = np.array([-5.0, -0.5, 0.5, 5.0])
    opt.step()
    np.testing.assert_allclose(p.array, [0.1, 0.05, -0.05, -0.1])
    opt.param_groups[0]["clip_value"] = 0.2
    opt.step()
    np.testing.assert_allclose(p.array, [0.12, 0.07, -0.07, -0.12])


# ------------------------------------------------------------ the lr link
def test_scheduled_learning_rate_is_the_inverse_time_rule_and_is_visible_in_the_group():
    eps0, alpha = 0.5, 0.25
    p = Parameter(np.zeros(3))
    opt = optim.Optimizer([p], T.chain(T.scale_by_learning_rate(lambda t: eps0 / (1 + alpha * t))))
    expected = p.array.copy()
    for t in range(6):
        p.grad = np.ones(3)
        opt.step()
        expected -= eps0 / (1 + alpha * t)
        assert opt.param_groups[0]["lr"] == pytest.approx(eps0 / (1 + alpha * t))
        np.testing.assert_allclose(p.array, expected)
    assert opt.state_dict()["param_groups"][0]["transform_state"] == {"0.count": 6}


def test_scheduler_object_as_a_pure_schedule_inside_a_chain():
    p = Parameter(np.zeros(2))
    holder = optim.SGD([Parameter(np.zeros(1))], lr=0.1)
    cyc = optim.lr_scheduler.CyclicLR(holder, base_lr=0.01, max_lr=0.1, step_size_up=3, cycle_momentum=False)
    opt = optim.Optimizer([p], T.chain(T.scale_by_learning_rate(lambda t: cyc.lr_at(t)[0])))
    for t in range(8):
        p.grad = np.ones(2)
        opt.step()
        assert opt.param_groups[0]["lr"] == pytest.approx(cyc.lr_at(t)[0])


# ------------------------------------------------------------- the protocol
def test_standalone_chain_is_heavy_ball_sgd_by_hand():
    params = _arrays()
    grads = [_arrays(s) for s in (1, 2, 3)]
    sgd = T.chain(T.add_l2(0.1), T.scale_by_momentum(0.9), T.scale_by_learning_rate(0.05))
    state = sgd.init(params)
    ref, vel = [x.copy() for x in params], [None, None]
    for g in grads:
        u, state = sgd.update([x.copy() for x in g], state, params)
        T.apply_updates(params, u)
        for i in range(2):
            d = g[i] + 0.1 * ref[i]
            vel[i] = d if vel[i] is None else 0.9 * vel[i] + d
            ref[i] = ref[i] - 0.05 * vel[i]
    for x, y in zip(params, ref):
        np.testing.assert_allclose(x, y, rtol=1e-14)


def test_weight_decay_position_is_the_difference_between_adam_l2_and_adamw():
    g = [np.array([1e-3, 10.0])]
    theta = [np.array([1.0, 1.0])]
    l2 = T.chain(T.add_l2(0.1), T.scale_by_adam(), T.scale_by_learning_rate(0.01))
    decoupled = T.chain(T.scale_by_adam(), T.add_decayed_weights(0.1), T.scale_by_learning_rate(0.01))
    u_l2, _ = l2.update([g[0].copy()], l2.init(theta), theta)
    u_dec, _ = decoupled.update([g[0].copy()], decoupled.init(theta), theta)
    # Adam's first step is d / (|d| + eps), about +-1 per coordinate whatever the gradient's size
    first = lambda d: d / (np.abs(d) + 1e-8)  # noqa: E731
    np.testing.assert_allclose(u_dec[0], -0.01 * (first(g[0]) + 0.1 * theta[0]), rtol=1e-12)
    np.testing.assert_allclose(u_l2[0], -0.01 * first(g[0] + 0.1 * theta[0]), rtol=1e-12)
    # so L2 decay is drowned by the adaptive scaling on the large-gradient coordinate, decoupled decay is not
    assert u_l2[0][1] == pytest.approx(u_l2[0][0]) and u_dec[0][0] < -0.0109


def test_chain_rejects_two_links_reading_one_name_and_bad_links():
    with pytest.raises(ValueError, match="'add_l2' and 'add_decayed_weights' both read the hyperparameter "
                                         "'weight_decay'"):
        T.chain(T.add_l2(0.1), T.scale_by_adam(), T.add_decayed_weights(0.1))
    with pytest.raises(ValueError, match="at least one"):
        T.chain()
    with pytest.raises(TypeError, match="GradientTransformation"):
        T.chain(T.scale(2.0), lambda u: u)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        T.scale_by_learning_rate(-1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1: 1.0"):
        T.scale_by_adam(betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="needs the parameters"):
        T.add_l2(0.1).update([np.ones(2)], {})


def test_none_updates_are_skipped_and_leave_state_alone():
    link = T.scale_by_adam()
    params = _arrays()
    state = link.init(params)
    u, state = link.update([None, np.ones(5)], state)
    assert u[0] is None and state["step"] == [0, 1] and state["exp_sum"][0] is None


def test_identity_and_scale():
    u, _ = T.chain(T.identity(), T.scale(-2.0)).update([np.ones(2)], [{}, {}])
    np.testing.assert_array_equal(u[0], [-2.0, -2.0])
