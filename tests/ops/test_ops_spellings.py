"""PyTorch's spellings beside NumPy's: every op that takes both gives the same result.

A script written for PyTorch should run after changing its imports, and a
NumPy user keeps ``axis``/``keepdims``.  This walks each reduction and shape op
that accepts both ``axis=``/``keepdims=`` and ``dim=``/``keepdim=`` (as a
method and as a module function) and checks values and gradients agree.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import thalweg as tw

REDUCTIONS = ["sum", "mean", "amax", "amin", "var", "std", "logsumexp", "prod", "norm", "argmax", "argmin"]
AXES = [0, 1, -1, (0, 2)]


def _x(requires_grad: bool = True) -> tw.Tensor:
    return tw.tensor(np.random.default_rng(0).standard_normal((2, 3, 4)), requires_grad=requires_grad)


def _same(a: tw.Tensor, b: tw.Tensor) -> None:
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def _grads_agree(f: Callable[[tw.Tensor], tw.Tensor], g: Callable[[tw.Tensor], tw.Tensor]) -> None:
    x1, x2 = _x(), _x()
    y1, y2 = f(x1), g(x2)
    _same(y1, y2)
    if y1.requires_grad:
        y1.sum().backward()
        y2.sum().backward()
        np.testing.assert_array_equal(x1.grad, x2.grad)


@pytest.mark.parametrize("keep", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("name", REDUCTIONS)
def test_reductions_axis_and_dim_agree(name: str, axis: Any, keep: bool) -> None:
    if name in ("argmax", "argmin", "prod") and isinstance(axis, tuple):
        pytest.skip("a single axis only")
    method = lambda x: getattr(x, name)(axis=axis, keepdims=keep)  # noqa: E731
    torchy = lambda x: getattr(x, name)(dim=axis, keepdim=keep)  # noqa: E731
    module = lambda x: getattr(tw, name)(x, dim=axis, keepdim=keep)  # noqa: E731
    lead = (2,) if name == "norm" else ()  # norm(p, dim, keepdim), as torch
    positional = lambda x: getattr(x, name)(*lead, axis, keep)  # noqa: E731
    _grads_agree(method, torchy)
    _grads_agree(method, module)
    _grads_agree(method, positional)


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("keep", [False, True])
def test_max_min_spellings(name: str, keep: bool) -> None:
    """axis= gives values (NumPy); dim= or a positional dim gives (values, indices) (torch)."""
    x = _x()
    values = getattr(x, name)(axis=1, keepdims=keep)
    for out in (getattr(x, name)(dim=1, keepdim=keep), getattr(x, name)(1, keep), getattr(tw, name)(x, 1, keep)):
        v, i = out
        _same(out.values, v)
        np.testing.assert_array_equal(v.numpy(), values.numpy())
        arg = getattr(x, "argmax" if name == "max" else "argmin")(dim=1, keepdim=keep)
        _same(i, arg)
    _same(getattr(x, name)(), getattr(x, name)(axis=None))
    _same(getattr(x, name)(axis=(0, 2)), getattr(x, "a" + name)(dim=(0, 2)))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_axis_and_dim_agree(name: str, axis: int) -> None:
    _grads_agree(lambda x: getattr(x, name)(axis=axis), lambda x: getattr(tw, name)(x, dim=axis))
    _grads_agree(lambda x: getattr(x, name)(axis), lambda x: getattr(x, name)(dim=axis))


def test_shape_ops_axis_and_dim_agree() -> None:
    pairs = [
        (lambda x: x.unsqueeze(axis=1), lambda x: x.unsqueeze(dim=1)),
        (lambda x: x.unsqueeze(1), lambda x: tw.unsqueeze(x, dim=1)),
        (lambda x: x.reshape(2, 1, 12).squeeze(axis=1), lambda x: x.reshape(2, 1, 12).squeeze(dim=1)),
        (lambda x: tw.squeeze(x.reshape(2, 1, 12), 1), lambda x: x.reshape(2, 1, 12).squeeze(dim=1)),
        (lambda x: tw.cat([x, x * 2], axis=1), lambda x: tw.cat([x, x * 2], dim=1)),
        (lambda x: tw.concatenate([x, x], 2), lambda x: tw.cat((x, x), dim=2)),
        (lambda x: tw.stack([x, x * 2], axis=-1), lambda x: tw.stack([x, x * 2], dim=-1)),
        (lambda x: tw.cat(x.split(2, axis=2), axis=2), lambda x: tw.cat(x.split(2, dim=2), dim=2)),
        (lambda x: tw.cat(x.chunk(2, axis=1), axis=1), lambda x: tw.cat(tw.chunk(x, 2, dim=1), dim=1)),
        (lambda x: x.swapaxes(0, 2), lambda x: x.transpose(0, 2)),
        (lambda x: x.transpose(2, 1, 0), lambda x: x.permute(2, 1, 0)),
        (lambda x: x.transpose(), lambda x: x.permute((2, 1, 0))),
        (lambda x: x.reshape((6, 4)), lambda x: x.view(6, 4)),
        (lambda x: tw.expand_dims(x, 0), lambda x: x.unsqueeze(0)),
        (lambda x: x.clip(-0.5, 0.5), lambda x: x.clamp(min=-0.5, max=0.5)),
        (lambda x: tw.sum(x, axis=1, dtype=tw.float64), lambda x: x.sum(dim=1, dtype="float64")),
        (lambda x: x.var(ddof=0), lambda x: x.var(unbiased=False)),
        (lambda x: x.std(ddof=1, axis=0), lambda x: x.std(correction=1, dim=0)),
    ]
    for f, g in pairs:
        _grads_agree(f, g)


@pytest.mark.parametrize("name", ["sum", "mean", "var", "logsumexp", "softmax", "cat", "unsqueeze"])
def test_both_spellings_at_once_is_an_error(name: str) -> None:
    x = _x()
    args = ([x, x],) if name == "cat" else (x,)
    with pytest.raises(TypeError, match=name):
        getattr(tw, name)(*args, axis=0, dim=0)


def test_torch_tensor_methods() -> None:
    x = tw.randn(4, 3, 2)
    assert x.size() == (4, 3, 2) and x.size(1) == 3 and x.size(-1) == 2 and x.dim() == 3
    assert x.numel() == 24 and x.nelement() == 24
    assert x.view(x.size(0), -1).shape == (4, 6)
    assert x.view(-1).shape == (24,)
    y = tw.zeros(6, 4)
    assert x.view_as(y).shape == (6, 4)
    d = x.double()
    assert d.dtype == np.float64 and d.float().dtype == np.float32
    assert x.float() is x  # already float32, as torch returns self
    assert x.to("cpu") is x and x.to(tw.device("cpu")) is x and x.cpu() is x
    assert x.to(tw.float64).dtype == np.float64
    assert x.to("cpu", tw.float64).dtype == np.float64
    assert x.to(dtype=tw.float64).dtype == np.float64
    assert x.to(d).dtype == np.float64  # like another tensor
    assert x.long().dtype == np.int64 and x.int().dtype == np.int32 and x.bool().dtype == np.bool_
    assert x.type_as(d).dtype == np.float64
    assert x.device == tw.device("cpu") and str(x.device) == "cpu" and x.device == "cpu"
    with pytest.raises(RuntimeError, match="device"):
        x.to("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        tw.device("tpu")


def test_comparisons_as_methods_and_operators() -> None:
    a = tw.tensor([1.0, 2.0, 3.0])
    b = np.array([3.0, 2.0, 1.0])
    for name, op in [("eq", np.equal), ("ne", np.not_equal), ("lt", np.less), ("le", np.less_equal),
                     ("gt", np.greater), ("ge", np.greater_equal)]:
        expected = op(a.numpy(), b)
        for result in (getattr(a, name)(b), getattr(a, name)(tw.tensor(b)), getattr(tw, name)(a, b)):
            assert result.dtype == np.bool_ and not result.requires_grad
            np.testing.assert_array_equal(result.numpy(), expected)
    np.testing.assert_array_equal((a == b).numpy(), [False, True, False])
    np.testing.assert_array_equal((b == a).numpy(), [False, True, False])  # ndarray on the left defers
    np.testing.assert_array_equal((b < a).numpy(), [False, False, True])
    np.testing.assert_array_equal((a >= 2.0).numpy(), [False, True, True])
    np.testing.assert_array_equal((2.0 >= a).numpy(), [True, True, False])
    np.testing.assert_array_equal(((a > 1.5) & (a < 2.5)).numpy(), [False, True, False])
    np.testing.assert_array_equal(((a < 1.5) | (b < 1.5)).numpy(), [True, False, True])
    np.testing.assert_array_equal((~(a > 1.5)).numpy(), [True, False, False])
    assert (a == None) is False and (a != None) is True  # noqa: E711 - Python's fallback, not an error


def test_module_level_functions() -> None:
    arr = np.arange(6.0).reshape(2, 3)
    t = tw.from_numpy(arr)
    assert t.dtype == np.float64
    arr[0, 0] = 42.0
    assert t[0, 0].item() == 42.0  # from_numpy shares memory
    assert tw.flatten(tw.zeros(2, 3, 4), 1).shape == (2, 12)
    assert tw.flatten(tw.zeros(2, 3, 4)).shape == (24,)
    assert tw.cat([tw.zeros(2, 3), tw.ones(1, 3)]).shape == (3, 3)
    assert tw.cat([tw.zeros(2, 3), tw.ones(2, 1)], 1).shape == (2, 4)
    assert tw.device("cpu").type == "cpu" and tw.device(tw.device("cpu")) == "cpu"
    assert tw.is_tensor(t) and not tw.is_tensor(arr)
    with pytest.raises(TypeError, match="from_numpy"):
        tw.from_numpy([1.0, 2.0])


def test_torch_idiom_classifier_runs_unchanged() -> None:
    """A softmax-regression loop written the way PyTorch code is written, on the engine alone."""
    tw.manual_seed(0)
    n, classes = 64, 3
    target = tw.randint(0, classes, (n,))
    images = tw.randn(n, 1, 2, 2) + target.view(n, 1, 1, 1).float()  # class-dependent inputs
    w = (tw.randn(4, classes) * 0.01).requires_grad_()
    b = tw.zeros(classes, requires_grad=True)
    losses = []
    for _ in range(30):
        x = images.view(images.size(0), -1)
        output = (x @ w + b).log_softmax(dim=1)
        loss = -output[tw.arange(n), target].mean()
        w.grad = None
        b.grad = None
        loss.backward()
        with tw.no_grad():
            w -= 0.5 * tw.from_numpy(w.grad.array)
            b.sub_(tw.from_numpy(b.grad.array), alpha=0.5)
        losses.append(loss.item())
    pred = output.argmax(dim=1, keepdim=True)
    correct = pred.eq(target.view_as(pred)).sum().item()
    assert pred.shape == (n, 1) and isinstance(correct, int)
    assert losses[-1] < 0.8 * losses[0]
    assert correct > n // 2
