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


def test_linear_repr_and_constructor_checks():
    torch = pytest.importorskip("torch")
    assert repr(nn.Linear(3, 2)) == repr(torch.nn.Linear(3, 2)) == "Linear(in_features=3, out_features=2, bias=True)"
    assert repr(nn.Linear(3, 2, bias=False)) == repr(torch.nn.Linear(3, 2, bias=False))
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(-1, 2)
