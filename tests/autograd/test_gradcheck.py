"""gradcheck itself: it passes correct gradients, and it can fail."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import thalweg as tw
from thalweg.autograd import Function, GradcheckError, gradcheck


class WrongSquare(Function):
    """x^2 with a deliberately wrong backward (x instead of 2x)."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.x = x
        return x * x

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return grad * ctx.x


class SoftmaxWithoutCoupling(Function):
    """softmax whose backward forgets the coupling term: wrong, yet its row sums look plausible."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        ctx.p = e / e.sum(axis=-1, keepdims=True)
        return ctx.p

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return grad * ctx.p * (1 - ctx.p)


def _x(*shape: int) -> tw.Tensor:
    return tw.tensor(np.random.default_rng(0).standard_normal(shape), requires_grad=True)


def test_gradcheck_detects_a_wrong_backward() -> None:
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(3,\)\) element .*backprop .* vs numerical"):
        gradcheck(WrongSquare.apply, [_x(3)])
    assert gradcheck(WrongSquare.apply, [_x(3)], raise_exception=False) is False
    with pytest.raises(GradcheckError):
        gradcheck(SoftmaxWithoutCoupling.apply, [_x(2, 4)])


def test_gradcheck_passes_correct_gradients_and_checks_each_input() -> None:
    a, b = _x(2, 3), _x(3)
    assert gradcheck(lambda p, q: (p * q).tanh(), [a, b])
    assert a.grad is not None and b.grad.shape == (3,)
    const = _x(3).detach()
    assert gradcheck(lambda p, c: p * c, [a, const])  # inputs without requires_grad pass through


def test_gradcheck_refuses_float32_and_empty_inputs() -> None:
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda p: p * 2.0, [tw.randn(3, requires_grad=True)])
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda p: p * 2.0, [tw.randn(3, dtype=tw.float64)])


def test_gradcheck_on_non_contiguous_input() -> None:
    base = np.random.default_rng(1).standard_normal((4, 3))
    x = tw.Tensor(base.T, requires_grad=True)  # a transposed view
    assert not x.array.flags.c_contiguous
    assert gradcheck(lambda p: (p * p).sum(axis=0), [x])
