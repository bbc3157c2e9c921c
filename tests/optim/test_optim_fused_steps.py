"""Optimizer steps fused into one pass: chains that only multiply the gradient (plain SGD), and Adam's compiled direction."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from thalweg import optim
from thalweg.optim import transforms as T
from thalweg.optim.base import constant_factor

torch = pytest.importorskip("torch")


def test_constant_factor_of_links_and_chains():
    assert constant_factor(T.scale_by_learning_rate(0.1), None) == pytest.approx(-0.1)
    assert constant_factor(T.scale(3.0), None) == 3.0
    assert constant_factor(T.scale_by_momentum(0.0), None) == 1.0
    assert constant_factor(T.scale_by_momentum(0.9), None) is None
    assert constant_factor(T.add_l2(0.0), None) == 1.0
    assert constant_factor(T.add_l2(1e-4), None) is None
    assert constant_factor(T.scale_by_learning_rate(lambda t: 0.1), None) is None  # a schedule keeps a count
    assert constant_factor(T.scale_by_adam(), None) is None
    sgd = T.chain(T.add_l2(0.0), T.scale_by_momentum(0.0), T.scale(2.0), T.scale_by_learning_rate(0.5))
    assert constant_factor(sgd, None) == pytest.approx(-1.0)
    # the group's hyperparameters decide, as they do for update()
    assert constant_factor(sgd, {"weight_decay": 0.0, "momentum": 0.9, "dampening": 0.0, "nesterov": False,
                                 "lr": 0.5}) is None
    assert constant_factor(sgd, {"weight_decay": 0.0, "momentum": 0.0, "dampening": 0.0, "nesterov": False,
                                 "lr": 0.25}) == pytest.approx(-0.5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("maximize", [False, True])
def test_sgd_matches_torch_when_momentum_is_switched_on_and_off(dtype, maximize):
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(s).astype(dtype) for s in [(5, 7), (7,), (3, 2, 4)]]
    ours = [tw.tensor(v.copy(), requires_grad=True) for v in values]
    theirs = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    opt = optim.SGD(ours, lr=0.05, maximize=maximize)
    ref = torch.optim.SGD(theirs, lr=0.05, maximize=maximize)
    for step in range(12):
        momentum = 0.9 if 4 <= step < 8 else 0.0  # the buffers start at step 4 in both, and stay
        opt.param_groups[0]["momentum"] = ref.param_groups[0]["momentum"] = momentum
        for p, q in zip(ours, theirs):
            g = rng.standard_normal(p.shape).astype(dtype)
            p.grad, q.grad = tw.tensor(g), torch.from_numpy(g.copy())
        opt.step()
        ref.step()
        tol = dict(rtol=1e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.array, q.detach().numpy(), **tol, err_msg=f"step {step}")
            assert p.array.dtype == dtype


def test_scaled_step_bumps_the_version_of_the_parameter():
    p = tw.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    y = (p * p).sum()
    p.grad = tw.ones((2, 3))
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation|changed in place|version"):
        y.backward()


def test_scaled_step_leaves_the_gradient_untouched():
    p = tw.tensor(np.ones(4, np.float32), requires_grad=True)
    g = np.arange(4, dtype=np.float32)
    p.grad = tw.tensor(g.copy())
    optim.SGD([p], lr=0.5).step()
    np.testing.assert_array_equal(p.grad.numpy(), g)
    np.testing.assert_allclose(p.array, 1 - 0.5 * g)


@pytest.mark.parametrize("name, kwargs", [("Adam", {}), ("AdamW", {"weight_decay": 0.1}),
                                          ("Adam", {"amsgrad": True}), ("Adam", {"betas": (0.8, 0.99)})])
def test_float32_adam_matches_torch_step_for_step(name, kwargs, monkeypatch):
    from unittest import mock

    from thalweg.ops import kernels
    rng = np.random.default_rng(1)
    values = [rng.standard_normal(s).astype(np.float32) for s in [(6, 5), (5,), (2, 3, 4)]]
    ours = [tw.tensor(v.copy(), requires_grad=True) for v in values]
    theirs = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    opt = getattr(optim, name)(ours, lr=0.01, **kwargs)
    ref = getattr(torch.optim, name)(theirs, lr=0.01, **kwargs)
    spy = mock.Mock(wraps=kernels.adam_direction)
    monkeypatch.setattr(kernels, "adam_direction", spy)
    for step in range(30):
        if step == 15:  # a scheduler-style change of the betas: the sums are re-expressed in the new units
            for group in (opt.param_groups[0], ref.param_groups[0]):
                group["betas"] = (0.85, 0.995)
        for p, q in zip(ours, theirs):
            g = rng.standard_normal(p.shape).astype(np.float32)
            p.grad, q.grad = tw.tensor(g), torch.from_numpy(g.copy())
        opt.step()
        ref.step()
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.array, q.detach().numpy(), rtol=2e-5, atol=2e-6, err_msg=f"step {step}")
    compiled = kernels.enabled() and not kwargs.get("amsgrad")
    assert spy.call_count == (30 * len(values) if compiled else 0)
