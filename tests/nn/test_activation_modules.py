"""Activation modules: torch parity (values, gradients, repr) and float64 gradchecks."""

import numpy as np
import pytest

import thalweg as tw
from thalweg import nn
from thalweg.autograd import gradcheck

from core_helpers import compare_module

# (our module, the torch module's name and arguments) -- the same constructor call on both sides
CASES = [
    ("ReLU", (), {}),
    ("ReLU", (), {"inplace": True}),
    ("Sigmoid", (), {}),
    ("Tanh", (), {}),
    ("ELU", (), {}),
    ("ELU", (0.5,), {}),
    ("LeakyReLU", (), {}),
    ("LeakyReLU", (0.2,), {}),
    ("Softplus", (), {}),
    ("Softplus", (), {"beta": 2.0, "threshold": 5.0}),
    ("Softmax", (), {"dim": 1}),
    ("Softmax", (), {"dim": -1}),
    ("LogSoftmax", (), {"dim": 1}),
    ("LogSoftmax", (), {"dim": 0}),
    ("GELU", (), {}),
    ("GELU", (), {"approximate": "tanh"}),
]
IDS = [f"{n}{a}{k}" for n, a, k in CASES]
# torch cannot run an in-place activation on a leaf that requires grad, so parity skips inplace=True
PARITY = [c for c in CASES if not c[2].get("inplace")]
PARITY_IDS = [f"{n}{a}{k}" for n, a, k in PARITY]


def _input(dtype):
    # values away from the kinks at 0 and spread over both sides, including large ones for softplus
    x = np.random.default_rng(0).standard_normal((4, 5, 3)) * 3
    x[np.abs(x) < 0.05] = 0.5
    return x.astype(dtype)


@pytest.mark.parametrize("name,args,kwargs", PARITY, ids=PARITY_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_matches_torch(name, args, kwargs, dtype):
    torch = pytest.importorskip("torch")
    ours = getattr(nn, name)(*args, **kwargs)
    theirs = getattr(torch.nn, name)(*args, **kwargs)
    compare_module(torch, ours, theirs, [_input(dtype)], dtype)


@pytest.mark.parametrize("name,args,kwargs", CASES, ids=IDS)
def test_activation_repr_matches_torch(name, args, kwargs):
    torch = pytest.importorskip("torch")
    assert repr(getattr(nn, name)(*args, **kwargs)) == repr(getattr(torch.nn, name)(*args, **kwargs))


@pytest.mark.parametrize("name,args,kwargs", CASES, ids=IDS)
def test_activation_gradcheck(name, args, kwargs):
    module = getattr(nn, name)(*args, **kwargs)
    x = tw.tensor(_input(np.float64)[:2, :3], requires_grad=True)
    gradcheck(module, [x])


def test_activations_have_no_parameters_and_keep_float32():
    for name, args, kwargs in CASES:
        m = getattr(nn, name)(*args, **kwargs)
        assert list(m.parameters()) == [] and m.state_dict() == {}
        assert m(tw.randn(3, 4)).dtype == np.float32


@pytest.mark.parametrize("ndim", [1, 2, 3, 4])
def test_softmax_implicit_dim_follows_torch(ndim):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 5)[:ndim]).astype(np.float32)
    with pytest.warns(UserWarning):
        expected = torch.nn.Softmax()(torch.tensor(x)).numpy()
    np.testing.assert_allclose(nn.Softmax()(tw.tensor(x)).array, expected, rtol=1e-6)
    with pytest.warns(UserWarning):
        expected = torch.nn.LogSoftmax()(torch.tensor(x)).numpy()
    np.testing.assert_allclose(nn.LogSoftmax()(tw.tensor(x)).array, expected, rtol=1e-5, atol=1e-6)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU(approximate="fast")
