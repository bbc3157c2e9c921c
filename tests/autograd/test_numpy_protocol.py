"""NumPy ufuncs and functions on tensors: through the graph, or a clear TypeError, never a silent drop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import thalweg as tw

RNG = np.random.default_rng(0)
X = RNG.uniform(0.5, 2.0, (3, 4))
Y = RNG.uniform(0.5, 2.0, (3, 4))


def _grads(fn_tw, fn_torch, *arrays: np.ndarray) -> None:
    """Value and gradients of fn_tw (on tensors, through NumPy) against fn_torch, float64."""
    xs = [tw.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = fn_tw(*xs), fn_torch(*ts)
    assert isinstance(out, tw.Tensor) and out.requires_grad
    np.testing.assert_allclose(out.array, ref.detach().numpy(), rtol=1e-12)
    out.sum().backward()
    ref.sum().backward()
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.array, t.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "tanh", "negative", "absolute", "square"])
def test_unary_ufuncs_route_through_the_graph(name: str) -> None:
    torch_fn = {"negative": torch.neg, "absolute": torch.abs}.get(name, getattr(torch, name))
    _grads(getattr(np, name), torch_fn, X)


@pytest.mark.parametrize("name", ["add", "subtract", "multiply", "true_divide", "maximum", "minimum", "power"])
def test_binary_ufuncs_route_through_the_graph(name: str) -> None:
    torch_fn = {"true_divide": torch.div, "power": torch.pow}.get(name, getattr(torch, name, None))
    _grads(getattr(np, name), torch_fn, X, Y)


def test_ndarray_on_the_left_and_numpy_scalars_give_tensors() -> None:
    x = tw.tensor(X, requires_grad=True)
    for out in (Y * x, Y + x, Y - x, Y / x, np.float64(2.0) * x, x * np.float32(3.0)):
        assert isinstance(out, tw.Tensor) and out.requires_grad
    (Y * x).sum().backward()
    np.testing.assert_allclose(x.grad.array, Y)


def test_matmul_ufunc_and_functions_with_a_thalweg_op() -> None:
    a = RNG.standard_normal((3, 4))
    b = RNG.standard_normal((4, 2))
    _grads(np.matmul, torch.matmul, a, b)
    _grads(lambda u, v: np.concatenate([u, v], axis=1), lambda u, v: torch.cat([u, v], dim=1), X, Y)
    _grads(lambda u, v: np.stack([u, v]), lambda u, v: torch.stack([u, v]), X, Y)
    _grads(lambda u: np.sum(u, axis=0), lambda u: torch.sum(u, dim=0), X)
    _grads(lambda u: np.mean(u, axis=1, keepdims=True), lambda u: torch.mean(u, dim=1, keepdim=True), X)
    _grads(lambda u: np.reshape(u, (4, 3)), lambda u: torch.reshape(u, (4, 3)), X)
    _grads(lambda u: np.transpose(u), lambda u: u.T, X)
    _grads(lambda u: np.var(u, axis=0), lambda u: torch.var(u, dim=0, correction=0), X)
    _grads(lambda u: np.clip(u, 0.8, 1.5), lambda u: torch.clamp(u, 0.8, 1.5), X)


@pytest.mark.parametrize("call", [
    lambda t: np.cumsum(t),
    lambda t: np.sort(t, axis=0),
    lambda t: np.linalg.norm(t),
    lambda t: np.add.reduce(t),
    lambda t: np.exp(t, out=np.empty((3, 4))),
    lambda t: np.concatenate([t, t], axis=None),
])
def test_numpy_without_a_thalweg_op_raises_when_grad_is_required(call) -> None:
    t = tw.tensor(X, requires_grad=True)
    with pytest.raises(TypeError, match=r"np\.\S+\(\) got a tensor that requires grad.*\.detach\(\)"):
        call(t)


def test_without_grad_numpy_falls_back_to_arrays() -> None:
    t = tw.tensor(X)
    out = np.cumsum(t)
    assert type(out) is np.ndarray
    np.testing.assert_allclose(out, np.cumsum(X))
    with tw.no_grad():  # recording off: no gradient could be lost
        assert type(np.cumsum(tw.tensor(X, requires_grad=True))) is np.ndarray
    assert type(np.cumsum(tw.tensor(X, requires_grad=True).detach())) is np.ndarray


def test_results_without_gradient_always_work() -> None:
    t = tw.tensor(X, requires_grad=True)
    assert np.allclose(t, X) and np.array_equal(t, X)
    assert np.shape(t) == (3, 4) and np.ndim(t) == 2
    assert int(np.argmax(t)) == int(np.argmax(X))
    cmp = np.greater(t, 1.0)
    assert isinstance(cmp, tw.Tensor) and not cmp.requires_grad
    np.testing.assert_array_equal(cmp.array, X > 1.0)
    np.testing.assert_allclose(t, X)  # through __array__
    assert type(np.asarray(t)) is np.ndarray


def test_out_argument_writes_into_a_tensor_and_bumps_its_version() -> None:
    t = tw.tensor(X.copy())
    res = np.add(t, 1.0, out=t)
    assert res is t and t._version == 1
    np.testing.assert_allclose(t.array, X + 1.0)
