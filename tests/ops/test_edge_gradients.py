"""Gradients at edges, as torch 2.13: atan2(0, 0), median's ties, norm(p=0), kl_div's target.

Each compares value and gradient with torch (float32 and float64), first order
and under create_graph=True, and the smooth parts get a float64 gradgradcheck.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import thalweg as tw
import thalweg.nn.functional as F
from thalweg.autograd import gradgradcheck

nan = float("nan")


def _compare(fn: Callable[..., Any], tfn: Callable[..., Any], arrs: list[Any], dt: Any) -> None:
    for create_graph in (False, True):
        xs = [tw.tensor(np.asarray(a, dtype=dt), requires_grad=True) for a in arrs]
        ts = [torch.tensor(np.asarray(a, dtype=dt), requires_grad=True) for a in arrs]
        y, yt = fn(*xs), tfn(*ts)
        gs = tw.autograd.grad(y.sum(), xs, create_graph=create_graph)
        tgs = torch.autograd.grad(yt.sum(), ts)
        tol = 1e-6 if dt == np.float32 else 1e-12
        np.testing.assert_allclose(y.array, yt.detach().numpy(), rtol=tol, atol=tol, equal_nan=True)
        for g, tg in zip(gs, tgs):
            g = np.asarray(getattr(g, "array", g))
            assert g.dtype == dt
            np.testing.assert_allclose(g, tg.numpy(), rtol=tol, atol=tol, equal_nan=True)


@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_atan2_gradient_at_the_origin_is_zero(dt: Any) -> None:
    _compare(tw.atan2, torch.atan2, [[0.0, 1.0, 0.0, -0.0], [0.0, 0.0, -1.0, 0.0]], dt)
    y = tw.tensor(np.array([0.3, -0.7]), requires_grad=True)
    x = tw.tensor(np.array([0.5, 0.2]), requires_grad=True)
    assert gradgradcheck(lambda a, b: tw.atan2(a, b), [y, x])


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("values", [[1.0, 2.0, 2.0, 2.0, 3.0], [1.0, 2.0, 2.0, 3.0], [2.0, nan, 1.0, nan],
                                    [[5.0, 5.0], [1.0, 5.0]], [4.0]])
def test_median_over_all_elements_shares_the_gradient_among_ties(dt: Any, values: Any) -> None:
    _compare(lambda x: tw.median(x), lambda x: torch.median(x), [values], dt)


@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_median_with_dim_sends_the_gradient_to_the_index(dt: Any) -> None:
    _compare(lambda x: tw.median(x, 0)[0], lambda x: torch.median(x, 0)[0], [[[1.0, 2.0], [2.0, 2.0], [2.0, 3.0]]], dt)


@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_norm_p0_is_in_the_graph_without_a_gradient(dt: Any) -> None:
    x = tw.tensor(np.array([0.0, 1.0, -2.0, nan], dtype=dt), requires_grad=True)
    y = tw.norm(x, p=0)
    xt = torch.tensor(np.array([0.0, 1.0, -2.0, nan], dtype=dt), requires_grad=True)
    yt = torch.norm(xt, p=0)
    assert y.requires_grad and yt.requires_grad
    assert float(y.array) == float(yt.detach()) == 3.0 and y.dtype == dt
    y.backward()
    yt.backward()
    assert x.grad is None and xt.grad is None
    x2 = tw.tensor([[0.0, 1.0], [2.0, 0.0]], requires_grad=True)
    (g,) = tw.autograd.grad((tw.norm(x2, p=0, dim=0) * x2).sum(), [x2], create_graph=True)
    np.testing.assert_array_equal(g.array, [[1.0, 1.0], [1.0, 1.0]])


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none", "mean"])
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("target", [[0.0, 0.5, 0.5], [0.0, -0.5, 2.0], [0.2, 0.3, 0.5]])
def test_kl_div_target_gradient_as_torch(dt: Any, reduction: str, log_target: bool, target: list[float]) -> None:
    with np.errstate(all="ignore"), pytest.warns() if reduction == "mean" else _nothing():
        _compare(lambda i, t: F.kl_div(i, t, reduction=reduction, log_target=log_target),
                 lambda i, t: TF.kl_div(i, t, reduction=reduction, log_target=log_target),
                 [[[-1.0, -2.0, -0.5], [-0.3, -1.0, -2.0]], [target, target[::-1]]], dt)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: Any) -> None:
        return None


@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_gradgradcheck(log_target: bool) -> None:
    i = tw.tensor(np.array([[-1.0, -2.0, -0.5]]), requires_grad=True)
    t = tw.tensor(np.array([[0.2, 0.3, 0.5]]), requires_grad=True)
    assert gradgradcheck(lambda a, b: F.kl_div(a, b, reduction="sum", log_target=log_target), [i, t])
