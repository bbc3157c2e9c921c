"""Convolutions split over the batch on BLAS's threads (ops/parallel.py): same numbers as one part, and as torch."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from thalweg.ops import parallel, workspace

pytest.importorskip("threadpoolctl")


@pytest.fixture
def two_threads(monkeypatch):
    """BLAS at two threads, and every convolution worth splitting (MIN_WORK 0), for the body of the test."""
    before = tw.get_num_threads()
    tw.set_num_threads(2)
    monkeypatch.setattr(parallel, "MIN_WORK", 0)
    yield
    tw.set_num_threads(before)


def _conv_all(x, w, b, g, **opts):
    xt, wt, bt = (tw.tensor(a, requires_grad=True) for a in (x, w, b))
    conv = tw.nn.functional.conv1d if x.ndim == 3 else tw.nn.functional.conv2d
    y = conv(xt, wt, bt, **opts)
    parts = len(getattr(y.grad_fn, "parts", ()))  # (the node is cleared by the backward pass)
    y.backward(tw.tensor(g))
    return parts, [y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()]


CASES = [((5, 4, 9, 8), (6, 4, 3, 3), dict(padding=1)),  # odd batch: parts of 3 and 2
         ((4, 6, 10, 10), (6, 2, 3, 3), dict(stride=2, padding=1, groups=3)),
         ((3, 4, 12), (5, 4, 3), dict(dilation=2)),  # 1-D
         ((6, 3, 8, 8), (4, 3, 1, 1), dict(stride=2))]


@pytest.mark.parametrize("xs, ws, opts", CASES, ids=str)
def test_conv_in_parts_matches_one_part_and_torch(two_threads, xs, ws, opts):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    b = rng.standard_normal(ws[0])
    conv_t = torch.nn.functional.conv1d if len(xs) == 3 else torch.nn.functional.conv2d
    yt = conv_t(torch.tensor(x), torch.tensor(w), torch.tensor(b), **opts)
    g = rng.standard_normal(tuple(yt.shape))
    n_parts, parts = _conv_all(x, w, b, g, **opts)
    assert n_parts == 2  # the split path ran
    tw.set_num_threads(1)
    n_whole, whole = _conv_all(x, w, b, g, **opts)
    assert n_whole == 0
    for a, c in zip(parts, whole):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    conv_t(xt, wt, bt, **opts).backward(torch.tensor(g))
    for a, c in zip(parts, [yt.numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()]):
        np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-10)


def test_conv_in_parts_has_float64_gradients_and_second_derivatives(two_threads):
    rng = np.random.default_rng(1)
    x = tw.tensor(rng.standard_normal((4, 2, 5, 5)), requires_grad=True)
    w = tw.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)

    def f(a, b):
        return tw.nn.functional.conv2d(a, b, padding=1)

    assert len(f(x, w).grad_fn.parts) == 2
    assert tw.autograd.gradcheck(f, (x, w))
    assert tw.autograd.gradgradcheck(f, (x, w))


def test_conv_in_parts_under_pool_poisoning(two_threads):
    previous = workspace.set_poison(True)
    try:
        rng = np.random.default_rng(2)
        x = rng.standard_normal((6, 3, 9, 9)).astype(np.float32)
        w = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
        b = np.zeros(8, np.float32)
        n_parts, got = _conv_all(x, w, b, np.ones((6, 8, 9, 9), np.float32), padding=1)
        assert n_parts == 2 and all(np.isfinite(a).all() for a in got)
    finally:
        workspace.set_poison(previous)


def test_part_count_follows_the_thread_count_batch_and_work(monkeypatch):
    monkeypatch.setattr(parallel, "blas_thread_count", lambda: 1)
    assert parallel.part_count(64, 1e9) == 1
    monkeypatch.setattr(parallel, "blas_thread_count", lambda: 4)
    assert parallel.part_count(64, 1e9) == 4
    assert parallel.part_count(3, 1e9) == 3  # no more parts than samples
    assert parallel.part_count(1, 1e9) == 1
    assert parallel.part_count(64, 10.0) == 1  # too little work per part
    assert parallel.batch_slices(5, 2) == [slice(0, 2), slice(2, 5)]
    assert parallel.run_parts(lambda i: parallel.part_count(64, 1e9), 2) == [1, 1]  # parts never split again


def test_set_num_threads_checks_its_argument():
    with pytest.raises(ValueError, match="set_num_threads: expected a positive int, got 0"):
        tw.set_num_threads(0)
