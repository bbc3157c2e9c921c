"""LSTM's compiled time loops with MKL's GEMM inside (thalweg.ops.lstm_loops).

With MKL forced on (whatever the CPU and size), every LSTM configuration must
still match torch in value and gradient, the loops must really run, and they
must agree with the steps run from Python to float32 rounding.  Where MKL would
not take the product (off, float64, kernels off, too small) the loops are not
offered.
"""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from thalweg.ops import gemm, kernels, lstm_loops, recurrent

from rnn_helpers import layer_parity, twin_layers

MKL_PATH = gemm._find_library("libmkl_rt.so*")
pytestmark = [pytest.mark.skipif(MKL_PATH is None, reason="the mkl wheel is not installed (thalweg[mkl])"),
              pytest.mark.skipif(not kernels.enabled(), reason="numba's kernels are off")]

CONFIGS = [  # (num_layers, bidirectional, batch_first, bias, initial states given)
    (1, False, False, True, False),
    (1, True, True, True, True),
    (2, True, False, False, True),
]


@pytest.fixture
def forced_mkl(monkeypatch) -> list[bool]:
    """MKL loaded and taking products of every size; returns a list with one entry per time loop that ran
    compiled (True) or from Python (False)."""
    loaded = gemm._mkl if gemm._mkl is not None else gemm._Mkl(MKL_PATH)
    monkeypatch.setattr(gemm, "_mkl", loaded)
    monkeypatch.setattr(gemm, "_openblas_threads", lambda: 1)
    monkeypatch.setattr(gemm, "MIN_MULTIPLY_ADDS", 0)
    used: list[bool] = []
    real = recurrent.lstm_loops

    def spy(*args):
        loops = real(*args)
        used.append(loops is not None)
        return loops

    monkeypatch.setattr(recurrent, "lstm_loops", spy)
    return used


@pytest.mark.parametrize("num_layers,bidirectional,batch_first,bias,with_states", CONFIGS)
def test_compiled_loops_match_torch(forced_mkl, num_layers, bidirectional, batch_first, bias, with_states):
    torch = pytest.importorskip("torch")
    layer_parity(torch, "LSTM", np.float32, num_layers=num_layers, bidirectional=bidirectional,
                 batch_first=batch_first, bias=bias, with_states=with_states)
    directions = num_layers * (2 if bidirectional else 1)
    assert forced_mkl == [True] * (2 * directions)  # each direction of each layer: forward and backward compiled


def _run(layer, x, states):
    xo = tw.tensor(x, requires_grad=True)
    so = [tw.tensor(s, requires_grad=True) for s in states]
    out, (h, c) = layer(xo, tuple(so))
    weights = np.random.default_rng(3).standard_normal(out.shape).astype(np.float32)
    ((out * tw.tensor(weights)).sum() + (h * h).sum() + c.sum()).backward()
    return [out.numpy(), h.numpy(), c.numpy(), xo.grad.numpy()] + [s.grad.numpy() for s in so] + [
        p.grad.numpy() for p in layer.parameters()]


def test_compiled_loops_agree_with_the_python_steps(forced_mkl, monkeypatch):
    torch = pytest.importorskip("torch")
    layer, _ = twin_layers(torch, "LSTM", 5, 16, num_layers=2, bidirectional=True)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((9, 4, 5)).astype(np.float32)
    states = [rng.standard_normal((4, 4, 16)).astype(np.float32) for _ in range(2)]
    compiled = _run(layer, x, states)
    assert forced_mkl and all(forced_mkl)
    layer.zero_grad()
    monkeypatch.setattr(recurrent, "lstm_loops", lambda *args: None)
    from_python = _run(layer, x, states)
    for a, b in zip(compiled, from_python):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_loops_offered_only_where_mkl_takes_the_product(forced_mkl, monkeypatch):
    assert lstm_loops.lstm_loops(np.float32, 4, 8) is not None
    assert lstm_loops.lstm_loops(np.float64, 4, 8) is None  # the step kernels are float32
    monkeypatch.setattr(gemm, "MIN_MULTIPLY_ADDS", 1 << 20)
    assert lstm_loops.lstm_loops(np.float32, 4, 8) is None  # 4 x 32 x 8 multiply-adds: NumPy's product pays
    assert lstm_loops.lstm_loops(np.float32, 32, 128) is not None
    monkeypatch.setattr(gemm, "_openblas_threads", lambda: 2)
    assert lstm_loops.lstm_loops(np.float32, 32, 128) is not None  # small enough for one MKL thread
    assert lstm_loops.lstm_loops(np.float32, 4096, 256) is None  # OpenBLAS's threads pay here
    monkeypatch.setattr(gemm, "_mkl", None)
    assert lstm_loops.lstm_loops(np.float32, 32, 128) is None
    monkeypatch.setattr(gemm, "_mkl", gemm._Mkl(MKL_PATH))
    previous = kernels.set_enabled(False)
    try:
        assert lstm_loops.lstm_loops(np.float32, 32, 128) is None
    finally:
        kernels.set_enabled(previous)
