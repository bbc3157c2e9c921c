"""create_graph rules at the edges the first-order rules handle: NaN ties, skipped empties, empty means.

Each case compares the gradient recorded under ``create_graph=True`` with the
first-order gradient and with torch 2.13 (float64 and float32, NaN positions
included), and the smooth cases get a float64 ``gradgradcheck``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
import torch

import thalweg as tw
from thalweg.autograd import gradgradcheck

nan, inf = float("nan"), float("inf")


def _grads(fn: Callable[..., Any], arrs: list[np.ndarray], g: np.ndarray, dt: Any, create_graph: bool) -> list[Any]:
    xs = [tw.tensor(a.astype(dt), requires_grad=True) for a in arrs]
    y = fn(*xs)
    gs = tw.autograd.grad(y, xs, tw.tensor(g.astype(dt)), create_graph=create_graph, allow_unused=True)
    return [None if v is None else np.asarray(getattr(v, "array", v)) for v in gs]


CASES = {
    "maximum_nan": (tw.maximum, torch.maximum,
                    [np.array([1., 2, nan, 3]), np.array([1., nan, nan, 0])], np.array([1., 2, 3, nan])),
    "minimum_nan": (tw.minimum, torch.minimum,
                    [np.array([1., 2, nan, 3]), np.array([1., nan, nan, 0])], np.array([1., 2, 3, nan])),
    "clamp_nan_grad": (lambda a: a.clamp(-1, 1), lambda a: a.clamp(-1, 1),
                       [np.array([0., 2, nan, -3])], np.array([1., nan, 3, inf])),
    "max_all_nan_ties": (lambda a: a.max(), lambda a: a.max(), [np.array([0., nan, nan, 1])], np.array(1.)),
    "max_all_nan_grad": (lambda a: a.max(), lambda a: a.max(), [np.array([0., 1, 1, 1])], np.array(nan)),
    "min_all_nan_ties": (lambda a: a.min(), lambda a: a.min(), [np.array([0., nan, 2, nan])], np.array(2.)),
    "amax_nan": (lambda a: a.amax(0), lambda a: a.amax(0), [np.array([0., nan, nan, 1])], np.array(1.)),
    "sign_nan": (lambda a: a.sign(), lambda a: a.sign(), [np.array([0., nan, 2, -1])], np.array([nan, 1, inf, 1])),
    "abs_nan": (lambda a: a.abs(), lambda a: a.abs(), [np.array([0., nan, 2, -1])], np.ones(4)),
    "mean_count_0": (lambda a: a.mean(1), lambda a: a.mean(1), [np.zeros((3, 0))], np.ones(3)),
    "cat_skips_1d_empty": (lambda a, b, c: tw.cat([a, b, c]), lambda a, b, c: torch.cat([a, b, c]),
                           [np.ones((2, 3)), np.zeros(0), np.ones((1, 3))], np.arange(9.).reshape(3, 3)),
    "cat_skips_1d_empty_dim1": (lambda a, b: tw.cat([a, b], 1), lambda a, b: torch.cat([a, b], 1),
                                [np.zeros(0), np.ones((1, 3))], np.arange(3.).reshape(1, 3)),
    "cat_all_empty": (lambda a, b: tw.cat([a, b]), lambda a, b: torch.cat([a, b]),
                      [np.zeros(0), np.zeros(0)], np.zeros(0)),
}


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(CASES))
def test_create_graph_matches_first_order_and_torch(name: str, dt: Any) -> None:
    fn, fn_torch, arrs, g = CASES[name]
    second = _grads(fn, arrs, g, dt, create_graph=True)
    first = _grads(fn, arrs, g, dt, create_graph=False)
    ts = [torch.tensor(a.astype(dt), requires_grad=True) for a in arrs]
    want = torch.autograd.grad(fn_torch(*ts), ts, torch.tensor(g.astype(dt)), allow_unused=True)
    for s, f, w in zip(second, first, want):
        w = np.zeros(0, dt) if w is None else w.numpy()
        assert s.dtype == dt and s.shape == w.shape
        np.testing.assert_array_equal(s, w)
        np.testing.assert_array_equal(f, w)


def _leaf(a: Any) -> tw.Tensor:
    return tw.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


@pytest.mark.parametrize("fn, inputs", [
    (lambda a, b: tw.maximum(a, b) * a, lambda: [_leaf([0.3, -0.5, 1.2]), _leaf([0.1, 0.4, -1.0])]),
    (lambda a, b: tw.minimum(a, b) * b, lambda: [_leaf([0.3, -0.5, 1.2]), _leaf([0.1, 0.4, -1.0])]),
    (lambda a: a.clamp(-0.5, 0.5) * a, lambda: [_leaf([0.3, -0.9, 1.2, 0.1])]),
    (lambda a: a.max() * a, lambda: [_leaf([0.3, -0.9, 1.2, 0.1])]),
    (lambda a: a.amin(1) * a.sum(1), lambda: [_leaf([[0.3, -0.9], [1.2, 0.1]])]),
    (lambda a: a.abs() * a + a.sign() * a, lambda: [_leaf([0.3, -0.9, 1.2])]),
    (lambda a, b, c: tw.cat([a, b, c]) ** 2, lambda: [_leaf([[0.3, -0.9]]), _leaf(np.zeros(0)), _leaf([[1.2, 0.1]])]),
    (lambda a: (a * a).mean(0), lambda: [_leaf([[0.3, -0.9], [1.2, 0.1]])]),
])
def test_gradgradcheck_edges(fn: Callable[..., Any], inputs: Callable[[], list[tw.Tensor]]) -> None:
    assert gradgradcheck(fn, inputs(), atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("create_graph", [False, True])
def test_prod_all_with_two_zeros_gives_zeros_even_for_a_nan_grad(create_graph: bool) -> None:
    """torch's all-elements prod backward is zeros_like with two or more zeros (found by the fuzzer, seed 21486)."""
    a = np.array([0.0, 1.0, 0.0, 2.0])
    for fn, tfn in ((lambda t: t.prod(), lambda t: t.prod()), (lambda t: t.prod(0), lambda t: t.prod(0))):
        x, xt = tw.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        (g,) = tw.autograd.grad(fn(x), [x], tw.tensor(np.array(nan)), create_graph=create_graph)
        (gt,) = torch.autograd.grad(tfn(xt), [xt], torch.tensor(nan, dtype=torch.float64))
        np.testing.assert_array_equal(np.asarray(getattr(g, "array", g)), gt.numpy())
    assert gradgradcheck(lambda t: t.prod() * t, [tw.tensor(np.array([0.0, 0.5, 0.0, 2.0]), requires_grad=True)])
