"""Checks shared by the tests of the convolution paths (ops/conv.py, ops/winograd.py, ops/direct_conv.py)."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw

F = tw.nn.functional


def assert_second_derivatives_match_torch(x: np.ndarray, k: np.ndarray, padding: int) -> None:
    """d/dk of |dL/dx|^2 for L = sum(conv(x, k)^2), against torch (the recorded backward of the path x and k take)."""
    torch = pytest.importorskip("torch")
    xo, ko = tw.tensor(x, requires_grad=True), tw.tensor(k, requires_grad=True)
    xt, kt = torch.tensor(x, requires_grad=True), torch.tensor(k, requires_grad=True)
    (gx,) = tw.autograd.grad((F.conv2d(xo, ko, padding=padding) ** 2).sum(), [xo], create_graph=True)
    (gx_t,) = torch.autograd.grad((torch.nn.functional.conv2d(xt, kt, padding=padding) ** 2).sum(), [xt],
                                  create_graph=True)
    (gk,) = tw.autograd.grad((gx * gx).sum(), [ko])
    (gk_t,) = torch.autograd.grad((gx_t * gx_t).sum(), [kt])
    np.testing.assert_allclose(gk.numpy(), gk_t.numpy(), rtol=1e-3, atol=1e-3 * np.abs(gk_t.numpy()).max())


def assert_in_place_change_of_the_input_raises(x_shape: tuple[int, ...], k_shape: tuple[int, ...],
                                               padding: int) -> None:
    """The backward pass reads the convolution's input again, so changing it in place in between must raise."""
    x = tw.randn(*x_shape, requires_grad=True)
    h = x * 1.0
    y = F.conv2d(h, tw.randn(*k_shape, requires_grad=True), padding=padding)
    with tw.no_grad():
        h.add_(1.0)
    with pytest.raises(RuntimeError, match="in-?place|modified"):
        y.sum().backward()


def assert_conv2d_matches_torch(x: np.ndarray, k: np.ndarray, b: np.ndarray | None, **opts: object) -> None:
    """conv2d's value and its gradients for x, k and b (when given) against torch, for one upstream gradient."""
    torch = pytest.importorskip("torch")
    ours = [tw.tensor(a, requires_grad=True) if a is not None else None for a in (x, k, b)]
    theirs = [torch.tensor(a, requires_grad=True) if a is not None else None for a in (x, k, b)]
    y = F.conv2d(*ours, **opts)
    y_t = torch.nn.functional.conv2d(*theirs, **opts)
    g = np.random.default_rng(7).standard_normal(y.shape).astype(np.float32)
    y.backward(tw.tensor(g))
    y_t.backward(torch.tensor(g))
    for a, a_t, what in zip([y] + [t.grad for t in ours if t is not None],
                            [y_t] + [t.grad for t in theirs if t is not None], ["y", "dx", "dw", "db"]):
        expected = a_t.detach().numpy()
        assert a.shape == expected.shape, what
        np.testing.assert_allclose(a.numpy(), expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max(), err_msg=what)
