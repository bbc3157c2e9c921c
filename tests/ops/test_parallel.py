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


class _FakeLibrary:
    """A stand-in for one of threadpoolctl's library controllers."""

    def __init__(self, filepath, num_threads):
        self.filepath, self.num_threads = filepath, num_threads

    def set_num_threads(self, n):
        self.num_threads = n


def test_only_numpys_own_blas_counts(tmp_path):
    import os

    import numpy

    beside = os.path.dirname(os.path.dirname(os.path.abspath(numpy.__file__)))
    mine = _FakeLibrary(os.path.join(beside, "numpy.libs", "libscipy_openblas64_-x.so"), 1)
    scipys = _FakeLibrary(os.path.join(beside, "scipy.libs", "libscipy_openblas-y.so"), 2)
    assert parallel.numpy_blas([scipys, mine]) == [mine]
    inside = _FakeLibrary(os.path.join(beside, "numpy", ".libs", "libopenblas.so"), 1)
    assert parallel.numpy_blas([inside, scipys]) == [inside]
    system = [_FakeLibrary(str(tmp_path / "libopenblas.so"), 1), _FakeLibrary(None, 1)]
    assert parallel.numpy_blas(system) == system  # no wheel-bundled BLAS: all of them, as before


def test_parts_leave_each_blas_library_at_its_own_thread_count(monkeypatch):
    numpys, other = _FakeLibrary("numpy", 2), _FakeLibrary("other", 3)
    monkeypatch.setitem(parallel._state, "blas", [numpys, other])
    seen = parallel.run_parts(lambda i: (numpys.num_threads, other.num_threads), 2)
    assert seen == [(1, 1), (1, 1)]  # single-threaded BLAS inside the parts
    assert (numpys.num_threads, other.num_threads) == (2, 3)  # not raised to the larger count


def test_a_second_blas_loaded_later_does_not_split_a_one_thread_run(monkeypatch):
    """SciPy's wheel has its own OpenBLAS, loaded at its import (numba imports SciPy) with a thread per core,
    whatever limit was set before.  It must not make thalweg think BLAS has several threads."""
    scipy_linalg = pytest.importorskip("scipy.linalg")
    from threadpoolctl import ThreadpoolController

    before = tw.get_num_threads()
    tw.set_num_threads(1)
    try:
        monkeypatch.delitem(parallel._state, "blas", raising=False)  # found again, with SciPy's loaded
        assert scipy_linalg.blas is not None
        everything = ThreadpoolController().select(user_api="blas").lib_controllers
        numpys = {c.filepath for c in parallel._blas()}
        for c in everything:
            if c.filepath not in numpys:  # the case at hand: an OpenBLAS of SciPy's own beside NumPy's
                c.set_num_threads(2)
        assert parallel.blas_thread_count() == 1
        assert parallel.part_count(64, 1e12) == 1
    finally:
        monkeypatch.delitem(parallel._state, "blas", raising=False)
        tw.set_num_threads(before)
