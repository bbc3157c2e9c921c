"""User-defined Functions: the documented example works, and the engine checks what backward returns."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import thalweg as tw
from thalweg.autograd import Function, gradcheck


class Cube(tw.autograd.Function):
    """The example from function.py's docstring, verbatim."""

    @staticmethod
    def forward(ctx, x):  # type: ignore[no-untyped-def]  # x is an ndarray
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad):  # type: ignore[no-untyped-def]  # grad is dL/d(output), an ndarray
        (x,) = ctx.saved_tensors
        return grad * 3 * x ** 2  # one gradient per forward input


def test_docstring_example_cube() -> None:
    t = tw.tensor([1.0, -2.0, 0.5], requires_grad=True)
    y = Cube.apply(t)
    assert isinstance(y, tw.Tensor) and repr(y.grad_fn) == "<CubeBackward>"
    np.testing.assert_allclose(y.numpy(), [1.0, -8.0, 0.125])
    y.sum().backward()
    np.testing.assert_allclose(t.grad, [3.0, 12.0, 0.75])
    assert gradcheck(Cube.apply, [tw.tensor([0.3, -1.2], dtype=tw.float64, requires_grad=True)])
    assert not Cube.apply(tw.tensor([2.0])).requires_grad  # nothing to differentiate: no node


class ScaledAdd(Function):
    """z = x + alpha * y, alpha a keyword option (not an input)."""

    @staticmethod
    def forward(ctx: Any, x: Any, y: Any, alpha: float = 1.0) -> Any:
        ctx.alpha = alpha
        return x + alpha * y

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        gx = grad if ctx.needs_input_grad[0] else None
        gy = grad * ctx.alpha if ctx.needs_input_grad[1] else None
        return [gx, gy]  # a list works as well as a tuple


def test_keyword_options_constants_and_needs_input_grad() -> None:
    x = tw.tensor(np.ones((2, 3)), requires_grad=True)
    y = tw.tensor(np.ones(3), requires_grad=True)
    z = ScaledAdd.apply(x, y, alpha=0.5)
    assert z.grad_fn.needs_input_grad == (True, True)
    z.sum().backward()
    np.testing.assert_array_equal(y.grad, [1.0, 1.0, 1.0])  # broadcast undone by the engine
    c = ScaledAdd.apply(x, np.ones(3), alpha=2.0)  # an ndarray argument is a constant
    assert c.grad_fn.needs_input_grad == (True, False)
    assert gradcheck(lambda a, b: ScaledAdd.apply(a, b, alpha=-1.5),
                     [tw.tensor(np.ones((2, 3)), requires_grad=True), tw.tensor(np.ones(3), requires_grad=True)])


class WrongCount(Function):
    @staticmethod
    def forward(ctx: Any, x: Any, y: Any) -> Any:
        return x * y

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return grad  # one gradient for two inputs


class WrongShape(Function):
    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        return x.sum()

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return np.ones(7)  # not broadcastable to x


class SumOfSquares(Function):
    """z = sum x^2.  For a 0-d x NumPy computes both the output and the gradient as scalars."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.x = x
        return (x * x).sum()  # a NumPy scalar (np.float32), not an array

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return grad * 2 * ctx.x  # a NumPy scalar when x is 0-d


class ConstantGradient(Function):
    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        return x * 2

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        return 2.0  # a Python number, for a 0-d input


def test_engine_checks_the_number_of_gradients() -> None:
    a, b = tw.ones(2, requires_grad=True), tw.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="WrongCount.backward returned 1 gradients, expected 2"):
        WrongCount.apply(a, b).sum().backward()


def test_engine_checks_the_shape_of_gradients() -> None:
    with pytest.raises(RuntimeError, match=r"WrongShape backward returned a gradient of shape \(7,\).*\(2, 3\)"):
        WrongShape.apply(tw.ones(2, 3, requires_grad=True)).backward()


@pytest.mark.parametrize("shape", [(2, 3), ()])
def test_scalars_from_forward_and_backward_become_arrays(shape: tuple[int, ...]) -> None:
    x = tw.tensor(np.full(shape, 1.5, dtype=np.float32), requires_grad=True)
    y = SumOfSquares.apply(x)
    assert type(y.array) is np.ndarray and y.shape == ()
    y.backward()
    assert type(x.grad.array) is np.ndarray and x.grad.dtype == np.float32 and x.grad.shape == shape
    np.testing.assert_array_equal(x.grad, np.full(shape, 3.0))
    z = tw.tensor(1.0, requires_grad=True)
    ConstantGradient.apply(z).backward()
    assert type(z.grad.array) is np.ndarray and z.grad.dtype == np.float32 and z.grad == 2.0


def test_a_function_without_backward_says_so() -> None:
    class NoBackward(Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return x * 2

    with pytest.raises(NotImplementedError, match="backward"):
        NoBackward.apply(tw.ones(2, requires_grad=True)).sum().backward()
