"""Linear: fused forward/backward, default init, torch parity, gradcheck, errors, repr."""

import math

import numpy as np
import pytest

import thalweg as tw
import thalweg.nn.functional as F
from thalweg import nn
from thalweg.autograd import gradcheck
from thalweg.ops.nn_ops import LinearFunction

from core_helpers import compare_module, copy_torch_weights


@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (4,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradcheck_inputs_and_parameters(shape, bias):
    tw.manual_seed(0)
    layer = nn.Linear(4, 3, bias=bias).double()
    x = tw.randn(*shape, dtype=tw.float64, requires_grad=True)
    params = [layer.weight] + ([layer.bias] if bias else [])
    gradcheck(lambda x, *ps: layer(x), [x, *params])


def test_linear_function_is_one_node_with_all_three_gradients():
    x = tw.randn(6, 4, dtype=tw.float64, requires_grad=True)
    w = tw.randn(3, 4, dtype=tw.float64, requires_grad=True)
    b = tw.randn(3, dtype=tw.float64, requires_grad=True)
    y = F.linear(x, w, b)
    assert y.grad_fn.fn is LinearFunction
    assert all(inp is not None for inp in y.grad_fn.inputs)
    gradcheck(F.linear, [x, w, b])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(8, 5), (2, 3, 5), (5,)])
def test_linear_matches_torch(dtype, shape):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = torch.nn.Linear(5, 3).to(torch.float64 if dtype == np.float64 else torch.float32)
    ours = nn.Linear(5, 3, dtype=dtype)
    copy_torch_weights(ours, theirs)
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    compare_module(torch, ours, theirs, [x], dtype)


def test_linear_without_bias_matches_torch():
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Linear(4, 2, bias=False)
    ours = nn.Linear(4, 2, bias=False)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    copy_torch_weights(ours, theirs)
    compare_module(torch, ours, theirs, [np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32)],
                   np.float32)


def test_linear_default_init_is_torch_uniform_bound():
    tw.manual_seed(0)
    fan_in = 400
    layer = nn.Linear(fan_in, 300)
    bound = 1 / math.sqrt(fan_in)
    w, b = layer.weight.array, layer.bias.array
    assert w.dtype == np.float32 and b.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # U(-a, a) has std a / sqrt(3); 120,000 draws put the sample std within ~0.5% of it
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.01)
    assert abs(w.mean()) < 0.01 * bound


def test_linear_init_is_reproducible_with_seed_and_generator():
    tw.manual_seed(3)
    a = nn.Linear(6, 4)
    tw.manual_seed(3)
    b = nn.Linear(6, 4)
    np.testing.assert_array_equal(a.weight.array, b.weight.array)
    c = nn.Linear(6, 4)
    c.reset_parameters(generator=tw.Generator(7))
    d = nn.Linear(6, 4)
    d.reset_parameters(generator=tw.Generator(7))
    np.testing.assert_array_equal(c.weight.array, d.weight.array)
    assert not np.array_equal(a.weight.array, c.weight.array)


def test_linear_wrong_feature_size_names_layer_and_shapes():
    layer = nn.Linear(784, 10)
    with pytest.raises(ValueError) as info:
        layer(tw.zeros(32, 100))
    assert str(info.value) == ("Linear(in_features=784, out_features=10, bias=True): "
                               "expected input with last dimension 784, got shape (32, 100)")


def test_linear_dtype_mismatch_is_a_clear_error():
    layer = nn.Linear(3, 2)
    with pytest.raises(TypeError, match="float64.*float32"):
        layer(tw.zeros(4, 3, dtype=tw.float64))


def test_functional_linear_checks_shapes():
    with pytest.raises(ValueError, match=r"linear: expected input with last dimension 4.*\(2, 5\)"):
        F.linear(tw.zeros(2, 5), tw.zeros(3, 4))
    with pytest.raises(ValueError, match="bias must have shape"):
        F.linear(tw.zeros(2, 4), tw.zeros(3, 4), tw.zeros(2))


def test_linear_keeps_float32_and_does_not_copy_weight_gradients():
    layer = nn.Linear(4, 3)
    x = tw.randn(5, 4, requires_grad=True)
    y = layer(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert layer.weight.grad.dtype == np.float32 and x.grad.dtype == np.float32
    # dL/db = column sums of dL/dy = 5 ones; dL/dW = 1^T x
    np.testing.assert_allclose(layer.bias.grad, np.full(3, 5.0))
    np.testing.assert_allclose(layer.weight.grad, np.tile(x.array.sum(0), (3, 1)), rtol=1e-6)


@pytest.mark.parametrize("rows, features, transposed", [
    (8, (128, 512), True), (32, (784, 256), True), (64, (256, 256), True),  # few rows: (W x^T)^T
    (4, (784, 256), False), (128, (784, 256), False), (16, (64, 256), False), (16, (256, 64), False)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_product_in_either_orientation_matches_torch(rows, features, transposed, bias, monkeypatch):
    """linear_product takes (W x^T)^T for few rows (8 <= B <= out/4, features >= 128), x W^T otherwise: both
    give torch's value and gradients, the same values as each other, and a row-major result."""
    torch = pytest.importorskip("torch")
    from thalweg.ops import nn_ops

    in_f, out_f = features
    assert nn_ops.transposed_product_pays(rows, in_f, out_f) is transposed
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, in_f)).astype(np.float32)
    w = (rng.standard_normal((out_f, in_f)) / in_f**0.5).astype(np.float32)
    b = rng.standard_normal(out_f).astype(np.float32) if bias else None
    g = rng.standard_normal((rows, out_f)).astype(np.float32)
    xo, wo = tw.tensor(x, requires_grad=True), tw.tensor(w, requires_grad=True)
    bo = tw.tensor(b, requires_grad=True) if bias else None
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True) if bias else None
    yo, yt = F.linear(xo, wo, bo), torch.nn.functional.linear(xt, wt, bt)
    yo.backward(tw.tensor(g))
    yt.backward(torch.tensor(g))
    assert yo.numpy().flags.c_contiguous and yo.dtype == np.float32
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(wo.grad.numpy(), wt.grad.numpy(), rtol=1e-5, atol=1e-5)
    if bias:
        np.testing.assert_allclose(bo.grad.numpy(), bt.grad.numpy(), rtol=1e-5, atol=1e-5)
    monkeypatch.setattr(nn_ops, "TRANSPOSED_MIN_ROWS", 10**9)  # the plain form everywhere
    assert not nn_ops.transposed_product_pays(rows, in_f, out_f)
    np.testing.assert_allclose(nn_ops.linear_product(x, w, b), yo.numpy(), rtol=1e-5, atol=1e-5)


def test_linear_product_keeps_the_plain_forms_dtype_rules():
    """float32 input with a float64 bias stays float32 in both orientations, as x W^T += b does."""
    from thalweg.ops.nn_ops import linear_product

    rng = np.random.default_rng(1)
    w = rng.standard_normal((512, 128)).astype(np.float32)
    b = rng.standard_normal(512)
    for rows in (8, 200):  # transposed, plain
        x = rng.standard_normal((rows, 128)).astype(np.float32)
        out = linear_product(x, w, b)
        assert out.dtype == np.float32 and out.flags.c_contiguous
        np.testing.assert_allclose(out, (x.astype(np.float64) @ w.T.astype(np.float64)) + b, rtol=1e-4, atol=1e-4)


def test_linear_repr_and_constructor_checks():
    torch = pytest.importorskip("torch")
    assert repr(nn.Linear(3, 2)) == repr(torch.nn.Linear(3, 2)) == "Linear(in_features=3, out_features=2, bias=True)"
    assert repr(nn.Linear(3, 2, bias=False)) == repr(torch.nn.Linear(3, 2, bias=False))
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(-1, 2)
