"""MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d: gradchecks, PyTorch parity, ties, indices, errors, repr."""

import numpy as np
import pytest

import thalweg as tw
import thalweg.nn.functional as F
from thalweg import nn
from thalweg.autograd import gradcheck
from thalweg.ops.pool import pool_output_size


def distinct(shape, seed=0):
    """float64 values that are all different and far apart (no ties: max pooling stays differentiable
    under the finite differences of gradcheck)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return tw.tensor((rng.permutation(n) * 0.1 + rng.uniform(0, 0.01, n)).reshape(shape), requires_grad=True)


def assert_close(ours, theirs, dtype, what=""):
    """float64: rtol 1e-12; float32: rtol 1e-5, atol 1e-6 (a window sum has at most a few dozen terms)."""
    a = ours.array if isinstance(ours, tw.Tensor) else np.asarray(ours)
    b = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    assert a.shape == b.shape and a.dtype == b.dtype, f"{what}: {a.shape} {a.dtype} vs {b.shape} {b.dtype}"
    tol = dict(rtol=1e-12, atol=1e-12) if np.dtype(dtype) == np.float64 else dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a, b, err_msg=what, **tol)


def compare(torch, ours, theirs, x, dtype, seed=0):
    """Forward and input gradient of a pooling layer against torch on the same input and upstream gradient."""
    xo, xt = tw.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, out_t = ours(xo), theirs(xt)
    assert_close(out, out_t, dtype, "output")
    g = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    out.backward(g)
    out_t.backward(torch.tensor(g))
    assert_close(xo.grad, xt.grad, dtype, "input gradient")


# --------------------------------------------------------------------------- max pooling
MAX2D = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 0)),
    dict(kernel_size=2, dilation=2),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=2, stride=3, padding=1, ceil_mode=True),
]


@pytest.mark.parametrize("kwargs", MAX2D, ids=str)
def test_max_pool2d_gradcheck(kwargs):
    x = distinct((2, 2, 7, 8))
    gradcheck(lambda x: F.max_pool2d(x, **kwargs), [x])


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                                    dict(kernel_size=2, dilation=3, ceil_mode=True)], ids=str)
def test_max_pool1d_gradcheck(kwargs):
    x = distinct((2, 3, 11), seed=1)
    gradcheck(lambda x: F.max_pool1d(x, **kwargs), [x])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", MAX2D, ids=str)
def test_max_pool2d_matches_torch(dtype, kwargs):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((3, 2, 9, 10)).astype(dtype)
    compare(torch, nn.MaxPool2d(**kwargs), torch.nn.MaxPool2d(**kwargs), x, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=4, stride=3, padding=2),
                                    dict(kernel_size=3, dilation=2, ceil_mode=True)], ids=str)
def test_max_pool1d_matches_torch(dtype, kwargs):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal((2, 3, 13)).astype(dtype)
    compare(torch, nn.MaxPool1d(**kwargs), torch.nn.MaxPool1d(**kwargs), x, dtype)


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                                    dict(kernel_size=3, stride=2, dilation=2)], ids=str)
def test_max_pool_ties_send_gradient_to_first_maximum_like_torch(kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = np.maximum(rng.integers(-2, 3, (2, 3, 8, 8)), 0).astype(np.float32)  # many equal values, as after ReLU
    compare(torch, nn.MaxPool2d(**kwargs), torch.nn.MaxPool2d(**kwargs), x, np.float32)


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                    dict(kernel_size=2, dilation=2, stride=1)], ids=str)
def test_max_pool_return_indices_match_torch(kwargs):
    torch = pytest.importorskip("torch")
    x = np.maximum(np.random.default_rng(3).integers(-3, 4, (2, 2, 7, 9)), 0).astype(np.float32)
    out, idx = F.max_pool2d(tw.tensor(x), return_indices=True, **kwargs)
    out_t, idx_t = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True, **kwargs)
    assert_close(out, out_t, np.float32)
    np.testing.assert_array_equal(idx.array, idx_t.numpy())
    assert idx.dtype == np.int64 and not idx.requires_grad
    out1, idx1 = nn.MaxPool1d(3, 2, 1, return_indices=True)(tw.tensor(x[0]))  # unbatched 1-D
    out1_t, idx1_t = torch.nn.MaxPool1d(3, 2, 1, return_indices=True)(torch.tensor(x[0]))
    assert_close(out1, out1_t, np.float32)
    np.testing.assert_array_equal(idx1.array, idx1_t.numpy())


def test_unbatched_max_pool2d_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(4).standard_normal((3, 6, 6))
    compare(torch, nn.MaxPool2d(3, 2, 1), torch.nn.MaxPool2d(3, 2, 1), x, np.float64)


# ---------------------------------------------------------------------- average pooling
AVG2D = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=(2, 1), padding=(1, 1), ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=2, stride=3, ceil_mode=True),
    dict(kernel_size=3, stride=1, padding=1, divisor_override=5),
]


@pytest.mark.parametrize("kwargs", AVG2D, ids=str)
def test_avg_pool2d_gradcheck(kwargs):
    x = tw.randn(2, 2, 7, 8, dtype=tw.float64, requires_grad=True)
    gradcheck(lambda x: F.avg_pool2d(x, **kwargs), [x])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", AVG2D, ids=str)
def test_avg_pool2d_matches_torch(dtype, kwargs):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(5).standard_normal((3, 2, 9, 10)).astype(dtype)
    compare(torch, nn.AvgPool2d(**kwargs), torch.nn.AvgPool2d(**kwargs), x, dtype)


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                    dict(kernel_size=4, stride=3, padding=2, ceil_mode=True,
                                         count_include_pad=False)], ids=str)
def test_avg_pool1d_gradcheck_and_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    x = tw.randn(2, 3, 12, dtype=tw.float64, requires_grad=True)
    gradcheck(lambda x: F.avg_pool1d(x, **kwargs), [x])
    compare(torch, nn.AvgPool1d(**kwargs), torch.nn.AvgPool1d(**kwargs), x.array.copy(), np.float64)


# --------------------------------------------------------------------- adaptive average
@pytest.mark.parametrize("size, out", [((8, 8), (4, 4)), ((7, 9), (3, 4)), ((5, 6), (5, 6)), ((6, 5), (1, 1)),
                                       ((4, 7), (6, 3)), ((7, 7), (2, None))])
def test_adaptive_avg_pool2d_gradcheck_and_matches_torch(size, out):
    torch = pytest.importorskip("torch")
    x = tw.randn(2, 3, *size, dtype=tw.float64, requires_grad=True)
    gradcheck(lambda x: F.adaptive_avg_pool2d(x, out), [x])
    compare(torch, nn.AdaptiveAvgPool2d(out), torch.nn.AdaptiveAvgPool2d(out), x.array.copy(), np.float64)
    x32 = np.random.default_rng(6).standard_normal((2, 3, *size)).astype(np.float32)
    compare(torch, nn.AdaptiveAvgPool2d(out), torch.nn.AdaptiveAvgPool2d(out), x32, np.float32)


@pytest.mark.parametrize("length, out", [(10, 5), (10, 3), (7, 7), (5, 8), (9, 1)])
def test_adaptive_avg_pool1d_gradcheck_and_matches_torch(length, out):
    torch = pytest.importorskip("torch")
    x = tw.randn(2, 3, length, dtype=tw.float64, requires_grad=True)
    gradcheck(lambda x: F.adaptive_avg_pool1d(x, out), [x])
    compare(torch, nn.AdaptiveAvgPool1d(out), torch.nn.AdaptiveAvgPool1d(out), x.array.copy(), np.float64)


def test_global_average_pool_is_the_mean():
    x = tw.tensor(np.random.default_rng(8).standard_normal((4, 5, 6, 7)).astype(np.float32))
    np.testing.assert_allclose(nn.AdaptiveAvgPool2d(1)(x).array[..., 0, 0], x.array.mean(axis=(2, 3)),
                               rtol=1e-5, atol=1e-6)


# -------------------------------------------------------------------- sizes, dtype, errors
def test_output_size_follows_torch_ceil_mode_rule():
    # the last ceil-mode window must start inside the input or the left padding
    assert pool_output_size(5, 2, 2, 0, 1, False) == 2
    assert pool_output_size(5, 2, 2, 0, 1, True) == 3
    assert pool_output_size(6, 2, 2, 1, 1, True) == 4
    assert pool_output_size(5, 3, 3, 1, 1, True) == 2  # ceil gives 3, but that window would start at 6 > 5 + 1


def test_float32_stays_float32():
    x = tw.randn(2, 3, 8, 8, requires_grad=True)
    for layer in (nn.MaxPool2d(2), nn.AvgPool2d(3, 2, 1), nn.AdaptiveAvgPool2d((3, 5))):
        x.grad = None
        y = layer(x)
        y.sum().backward()
        assert y.dtype == np.float32 and x.grad.dtype == np.float32


def test_pool_errors_name_the_function_and_values():
    x = tw.zeros(1, 1, 5, 5)
    with pytest.raises(ValueError, match=r"max_pool2d: padding should be at most half"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match=r"avg_pool2d: padding should be at most half"):
        nn.AvgPool2d(2, padding=2)(x)
    with pytest.raises(ValueError, match=r"max_pool2d: input of shape \(1, 1, 2, 2\) is too small for kernel_size=3"):
        nn.MaxPool2d(3)(tw.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError, match=r"max_pool2d: expected 3-D \(unbatched\) or 4-D \(batched\) input, "
                                         r"got shape \(5, 5\)"):
        nn.MaxPool2d(2)(tw.zeros(5, 5))
    with pytest.raises(ValueError, match=r"max_pool1d: expected 2-D .* got shape \(1, 1, 5, 5\)"):
        nn.MaxPool1d(2)(x)
    with pytest.raises(ValueError, match="kernel_size must be positive"):
        nn.MaxPool2d(0)
    with pytest.raises(ValueError, match="output_size must be positive"):
        nn.AdaptiveAvgPool2d((0, 2))(x)
    with pytest.raises(TypeError, match="avg_pool2d: expected a floating-point input"):
        F.avg_pool2d(tw.zeros(1, 1, 4, 4, dtype=tw.int64), 2)


@pytest.mark.parametrize("cls, args, kwargs", [
    ("MaxPool2d", (2,), {}),
    ("MaxPool2d", ((3, 2), 1, (1, 0)), dict(dilation=2, ceil_mode=True)),
    ("MaxPool1d", (3, 1), {}),
    ("AvgPool2d", (2,), {}),
    ("AvgPool2d", (3, 2, 1, True, False, 2), {}),
    ("AvgPool1d", (2,), {}),
    ("AdaptiveAvgPool2d", ((5, None),), {}),
    ("AdaptiveAvgPool2d", (1,), {}),
    ("AdaptiveAvgPool1d", (3,), {}),
])
def test_repr_matches_torch(cls, args, kwargs):
    torch = pytest.importorskip("torch")
    assert repr(getattr(nn, cls)(*args, **kwargs)) == repr(getattr(torch.nn, cls)(*args, **kwargs))
