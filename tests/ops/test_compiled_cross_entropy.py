"""The compiled cross-entropy (ops/loss.py's _compiled_cross_entropy): where it is used, torch parity of the value and
the gradient over reductions, ignored targets and extreme logits, its errors, and second derivatives."""

from unittest import mock

import numpy as np
import pytest

import thalweg as tw
from thalweg.ops import kernels, loss

F = tw.nn.functional
pytestmark = pytest.mark.skipif(not kernels.enabled(), reason="numba is not installed (the speed extra)")


@pytest.fixture
def spy():
    with mock.patch.object(loss, "_compiled_cross_entropy", wraps=loss._compiled_cross_entropy) as f:
        yield f


def test_used_for_float32_class_indices_without_weights_or_smoothing_only(spy):
    x, t = tw.randn(4, 3), tw.tensor([0, 2, 1, 1])
    F.cross_entropy(x, t)
    assert spy.call_count == 1
    F.cross_entropy(x, t, weight=tw.ones(3))
    F.cross_entropy(x, t, label_smoothing=0.1)
    F.cross_entropy(x.double(), t)
    F.cross_entropy(tw.randn(2, 3, 5), tw.zeros(2, 5, dtype=tw.int64))  # (N, C, d): the NumPy path
    assert spy.call_count == 1


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ignored", ["none", "some", "all"])
def test_matches_torch_value_and_gradient(spy, reduction, ignored):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((6, 5)) * 3).astype(np.float32)
    t = rng.integers(0, 5, 6)
    if ignored == "some":
        t[[1, 4]] = -100
    elif ignored == "all":
        t[:] = 7
    ignore_index = 7 if ignored == "all" else -100
    xo, xt = tw.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    lo = F.cross_entropy(xo, tw.tensor(t), reduction=reduction, ignore_index=ignore_index)
    lt = torch.nn.functional.cross_entropy(xt, torch.tensor(t), reduction=reduction, ignore_index=ignore_index)
    g = rng.standard_normal(lo.shape).astype(np.float32)
    lo.backward(tw.tensor(g))
    lt.backward(torch.tensor(g))
    assert spy.call_count == 1
    np.testing.assert_allclose(lo.numpy(), lt.detach().numpy(), rtol=1e-5, atol=1e-6)  # nan where torch gives nan
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_extreme_and_nan_logits_match_torch(spy):
    torch = pytest.importorskip("torch")
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [0.0, np.nan, 1.0], [np.inf, 0.0, 0.0]], np.float32)
    t = np.array([1, 2, 0, 1])
    xo, xt = tw.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    lo = F.cross_entropy(xo, tw.tensor(t), reduction="none")
    lt = torch.nn.functional.cross_entropy(xt, torch.tensor(t), reduction="none")
    lo.sum().backward()
    lt.sum().backward()
    np.testing.assert_allclose(lo.numpy(), lt.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-7)
    assert spy.call_count == 1


def test_large_vocabulary_and_integer_targets_of_any_width(spy):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 5000)).astype(np.float32)
    t = rng.integers(0, 5000, 8).astype(np.int32)
    lo = F.cross_entropy(tw.tensor(x), tw.tensor(t))
    lt = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t).long())
    np.testing.assert_allclose(lo.item(), lt.item(), rtol=1e-5)
    assert spy.call_count == 1


@pytest.mark.parametrize("bad", [5, -1])
def test_out_of_range_target_raises_naming_it(bad):
    with pytest.raises(IndexError, match=f"cross_entropy: target class index {bad} is out of range for 5 classes"):
        F.cross_entropy(tw.randn(3, 5), tw.tensor([0, bad, 1]))


def test_second_derivatives_match_torch(spy):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    t = np.array([0, -100, 2, 1])
    xo, xt = tw.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (go,) = tw.autograd.grad(F.cross_entropy(xo, tw.tensor(t)), [xo], create_graph=True)
    (gt,) = torch.autograd.grad(torch.nn.functional.cross_entropy(xt, torch.tensor(t)), [xt], create_graph=True)
    (ho,) = tw.autograd.grad((go * go).sum(), [xo])
    (ht,) = torch.autograd.grad((gt * gt).sum(), [xt])
    np.testing.assert_allclose(ho.numpy(), ht.numpy(), rtol=1e-4, atol=1e-6)
    assert spy.call_count == 1
