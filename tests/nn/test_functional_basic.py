"""nn.functional basics: pad (torch's order, all modes), one_hot, normalize, flatten/unflatten."""

import numpy as np
import pytest

import thalweg as tw
import thalweg.nn.functional as F
from thalweg import nn
from thalweg.autograd import gradcheck

from core_helpers import assert_close, backward_both

PADS = [
    ((2, 3, 4), (1, 2), "constant"),
    ((2, 3, 4), (1, 0, 2, 1), "constant"),
    ((2, 3, 4), (-1, 1, 0, -2), "constant"),
    ((1, 2, 5), (2, 1), "reflect"),
    ((1, 2, 4, 5), (2, 1, 3, 1), "reflect"),
    ((1, 2, 5), (3, 2), "replicate"),
    ((1, 2, 4, 5), (2, 1, 1, 3), "replicate"),
    ((1, 2, 5), (2, 3), "circular"),
    ((1, 2, 4, 5), (1, 2, 2, 1), "circular"),
]


@pytest.mark.parametrize("shape,pad,mode", PADS)
def test_pad_matches_torch(shape, pad, mode):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    a, b = tw.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    kwargs = {"value": 1.5} if mode == "constant" else {}
    out, out_t = F.pad(a, pad, mode=mode, **kwargs), torch.nn.functional.pad(b, pad, mode=mode, **kwargs)
    assert_close(out, out_t, np.float32, "pad")
    backward_both(torch, out, out_t)
    assert_close(a.grad, b.grad, np.float32, "pad gradient")  # reflected/wrapped entries accumulate


@pytest.mark.parametrize("shape,pad,mode", PADS)
def test_pad_gradcheck(shape, pad, mode):
    x = tw.tensor(np.random.default_rng(1).standard_normal(shape), requires_grad=True)
    gradcheck(lambda x: F.pad(x, pad, mode=mode), [x])


def test_pad_errors():
    with pytest.raises(ValueError, match="even length"):
        F.pad(tw.zeros(2, 3), (1, 2, 3))
    with pytest.raises(ValueError, match="too large"):
        F.pad(tw.zeros(1, 3), (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="mode must be one of"):
        F.pad(tw.zeros(1, 3), (1, 1), mode="wrap")


def test_one_hot_matches_torch():
    torch = pytest.importorskip("torch")
    t = np.array([[0, 2], [1, 3]])
    np.testing.assert_array_equal(F.one_hot(tw.tensor(t)).data, torch.nn.functional.one_hot(torch.tensor(t)).numpy())
    out = F.one_hot(tw.tensor([1, 0]), num_classes=4)
    assert out.dtype == np.int64 and out.shape == (2, 4)
    with pytest.raises(ValueError, match=r"class values must be in \[0, 3\)"):
        F.one_hot(tw.tensor([0, 3]), num_classes=3)
    with pytest.raises(TypeError, match="integer"):
        F.one_hot(tw.tensor([0.0, 1.0]))


@pytest.mark.parametrize("p,dim", [(2.0, 1), (1.0, 0), (3.0, -1)])
def test_normalize_matches_torch(p, dim):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32)
    x[1] = 0.0  # a zero vector stays zero, with a finite gradient
    a, b = tw.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, out_t = F.normalize(a, p=p, dim=dim), torch.nn.functional.normalize(b, p=p, dim=dim)
    assert_close(out, out_t, np.float32, "normalize")
    backward_both(torch, out, out_t)
    assert_close(a.grad, b.grad, np.float32, "normalize gradient")


def test_normalize_gradcheck():
    for p in (1.0, 2.0, 3.0):
        x = tw.tensor(np.random.default_rng(3).standard_normal((3, 4)), requires_grad=True)
        gradcheck(lambda x: F.normalize(x, p=p, dim=1), [x])


def test_flatten_unflatten_modules():
    torch = pytest.importorskip("torch")
    x = tw.randn(2, 3, 4, 5, requires_grad=True)
    y = nn.Flatten()(x)
    assert y.shape == (2, 60)
    assert nn.Flatten(0, 2)(x).shape == (24, 5) and F.flatten(x, 1).shape == (2, 60)
    z = nn.Unflatten(1, (3, -1))(y)
    assert z.shape == (2, 3, 20)
    z.sum().backward()
    assert x.grad.shape == x.shape and (x.grad == 1).all()
    assert repr(nn.Flatten()) == repr(torch.nn.Flatten())
    assert repr(nn.Unflatten(1, (3, 20))) == repr(torch.nn.Unflatten(1, (3, 20)))
    assert repr(nn.Identity()) == repr(torch.nn.Identity())
    with pytest.raises(ValueError, match="unflatten"):
        nn.Unflatten(1, (7, -1))(y)


def test_functional_activations_accept_inplace_flag():
    x = tw.tensor([-1.0, 2.0])
    np.testing.assert_array_equal(F.relu(x, inplace=True).array, [0.0, 2.0])
    np.testing.assert_allclose(F.leaky_relu(x, 0.1, True).array, [-0.1, 2.0])
    assert F.elu(x, inplace=False).array[1] == 2.0
