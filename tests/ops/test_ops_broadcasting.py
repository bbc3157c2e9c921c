"""Binary ops on broadcast shapes drawn by hypothesis: gradcheck, and parity with torch.

The engine un-broadcasts every gradient in one place; these tests draw pairs
of mutually broadcastable shapes (up to 3 dimensions of up to 3) and check
that each input gets a gradient of its own shape with the right values.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import thalweg as tw
from thalweg.autograd import gradcheck

SHAPES = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=3)


def _positive(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(0.5, 2.0, shape)


def _normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.standard_normal(shape)


def _away(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    x = rng.standard_normal(shape)
    return np.where(x >= 0, x + 0.3, x - 0.3)


def _distinct(rng: np.random.Generator, shape: tuple[int, ...], offset: float) -> np.ndarray:
    n = int(np.prod(shape))
    return (offset + 0.21 * rng.permutation(n)).reshape(shape)


# name -> (ours, torch's, maker of x, maker of y)
BINARY: dict[str, tuple[Callable[..., Any], Callable[..., Any], Any, Any]] = {
    "add": (lambda x, y: x + y, lambda t, x, y: x + y, _normal, _normal),
    "sub": (lambda x, y: x - y, lambda t, x, y: x - y, _normal, _normal),
    "mul": (lambda x, y: x * y, lambda t, x, y: x * y, _normal, _normal),
    "div": (lambda x, y: x / y, lambda t, x, y: x / y, _normal, _away),
    "pow": (lambda x, y: x ** y, lambda t, x, y: x ** y, _positive, _normal),
    # offsets 0.0 and 0.1 on a 0.21 grid: x and y never tie
    "maximum": (tw.maximum, lambda t, x, y: t.maximum(x, y), lambda r, s: _distinct(r, s, 0.0),
                lambda r, s: _distinct(r, s, 0.1)),
    "minimum": (tw.minimum, lambda t, x, y: t.minimum(x, y), lambda r, s: _distinct(r, s, 0.0),
                lambda r, s: _distinct(r, s, 0.1)),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@settings(max_examples=15, deadline=None)
@given(shapes=SHAPES, seed=st.integers(0, 2**16))
def test_binary_broadcast(name: str, shapes: Any, seed: int) -> None:
    torch = pytest.importorskip("torch")
    ours, theirs, make_x, make_y = BINARY[name]
    rng = np.random.default_rng(seed)
    sx, sy = shapes.input_shapes
    xa, ya = make_x(rng, sx), make_y(rng, sy)
    x = tw.tensor(xa, requires_grad=True)
    y = tw.tensor(ya, requires_grad=True)
    assert gradcheck(ours, [x, y])
    assert x.grad.shape == sx and y.grad.shape == sy
    # the same against torch, float32
    x32 = tw.tensor(xa.astype(np.float32), requires_grad=True)
    y32 = tw.tensor(ya.astype(np.float32), requires_grad=True)
    xt = torch.tensor(xa.astype(np.float32), requires_grad=True)
    yt = torch.tensor(ya.astype(np.float32), requires_grad=True)
    out, out_t = ours(x32, y32), theirs(torch, xt, yt)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), rtol=2e-5, atol=2e-6)
    w = rng.standard_normal(out.shape).astype(np.float32)
    (out * tw.tensor(w)).sum().backward()
    (out_t * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x32.grad, xt.grad.numpy(), rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(y32.grad, yt.grad.numpy(), rtol=2e-5, atol=2e-5)


@settings(max_examples=15, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3),
       seed=st.integers(0, 2**16))
def test_where_broadcast(shapes: Any, seed: int) -> None:
    rng = np.random.default_rng(seed)
    sc, sx, sy = shapes.input_shapes
    cond = rng.random(sc) > 0.5
    x = tw.tensor(rng.standard_normal(sx), requires_grad=True)
    y = tw.tensor(rng.standard_normal(sy), requires_grad=True)
    assert gradcheck(lambda a, b: tw.where(cond, a, b), [x, y])
    assert x.grad.shape == sx and y.grad.shape == sy


@settings(max_examples=15, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3, max_side=3),
       seed=st.integers(0, 2**16))
def test_expand_and_reduce_broadcast(shapes: Any, seed: int) -> None:
    """broadcast_to, then a reduction over a random axis: the gradient sums back to the input's shape."""
    rng = np.random.default_rng(seed)
    sx, _ = shapes.input_shapes
    target = shapes.result_shape
    x = tw.tensor(rng.standard_normal(sx), requires_grad=True)
    axis = int(rng.integers(0, len(target)))
    assert gradcheck(lambda a: (tw.broadcast_to(a, target) * 1.5).logsumexp(axis=axis), [x])
    assert x.grad.shape == sx
