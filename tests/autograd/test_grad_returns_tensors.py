"""``tw.autograd.grad`` returns a tuple of tensors, as ``torch.autograd.grad`` does."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw

torch = pytest.importorskip("torch")


def test_first_order_grad_returns_tensors_that_torch_code_can_use() -> None:
    x_np = np.random.default_rng(0).standard_normal((3, 4))
    x = tw.tensor(x_np, requires_grad=True)
    w = tw.tensor(x_np.T.copy(), requires_grad=True)
    gx, gw = tw.autograd.grad((x @ w).tanh().sum(), [x, w])
    xt = torch.tensor(x_np, requires_grad=True)
    wt = torch.tensor(x_np.T.copy(), requires_grad=True)
    rx, rw = torch.autograd.grad((xt @ wt).tanh().sum(), [xt, wt])
    assert isinstance(gx, tw.Tensor) and not gx.requires_grad
    np.testing.assert_allclose(gx.numpy(), rx.numpy(), rtol=1e-12)
    np.testing.assert_allclose(float(gw.norm()), float(rw.norm()), rtol=1e-12)  # p.grad.norm()-style use
    assert x.grad is None and w.grad is None


def test_unused_input_is_none_with_allow_unused() -> None:
    x = tw.ones(2, requires_grad=True)
    y = tw.ones(2, requires_grad=True)
    gx, gy = tw.autograd.grad((x * 2).sum(), [x, y], allow_unused=True)
    assert gy is None and isinstance(gx, tw.Tensor)
