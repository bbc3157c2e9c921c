"""LSTM's time loops compiled whole, MKL's GEMM called from inside, where MKL takes the step's product.

An LSTM step is one product, a = h_{t-1} W_hh ((B x H) (H x 4H)), and an
elementwise pass (``numba_kernels.lstm_forward_step``); its backward, one pass
(``lstm_backward_step``) and one product, dL/dh_{t-1} = dA_t W_hh
((B x 4H) (4H x H)).  Run from Python, each step also pays for the trips
between the interpreter and the compiled code: about 10 us a step on the
benchmark's LSTM (T = 50, B = 32, H = 128), a quarter of the loop.  Here the
whole loop is one compiled function that calls MKL's ``cblas_sgemm`` itself
(``gemm.entry_points``), and the backward's product is one GEMM over the four
gates instead of four summed afterwards.  Measured on a 2-core Intel Xeon (one
thread): the forward loop 1.6-1.8 ms instead of 2.1-2.2, the backward 1.55-1.65
instead of 2.0-2.2.

The loops hold MKL's function addresses, so numba cannot cache them on disk:
they are compiled once per process on first use (about a second).  Without MKL
(AMD CPUs, ``THALWEG_BLAS=numpy``) ``ops/recurrent.py`` runs its steps from
Python as before: there NumPy's four stacked per-gate products measured faster
than its one product over the gates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import gemm, kernels

_ROW_MAJOR, _NO_TRANS = 101, 111
_compiled: dict[np.dtype, tuple[Any, Any]] = {}


def lstm_loops(dtype: Any, batch: int, hidden: int) -> tuple[Any, Any] | None:
    """(forward loop, backward loop) for LSTMs of this dtype, batch and hidden size, or None where MKL would not
    take the step's product or the step kernels are off (then the steps run from Python).

    ``forward(h, c, w4, P, bias, a, G, C, TC, S, reverse)``: h, c (B, H) the initial state; w4 (4, H, H) the
    gate-major recurrent weights and P (4, T, B, H), bias (4, H) as ``lstm_forward_step`` reads them; a (4, B, H)
    scratch; writes G, C, TC and S (the carried h) for every step.

    ``backward(back, grad, dc, G, TC, C, c0, dA, dh, w, reverse)``: back (B, H) enters as dL/dh_T and leaves as
    dL/dh_0; dc (B, H) likewise for the cell state; grad (T + 2, B, H) the incoming gradient (its first T rows
    dL/dy_t); w (4H, H) W_hh with its rows in the gate order of dA (T, B, 4, H), which it writes; dh (B, H)
    scratch."""
    dtype = np.dtype(dtype)
    if dtype != np.float32 or kernels.get("lstm_forward_step") is None:
        return None
    entry = gemm.entry_points(dtype, batch, 4 * hidden, hidden)
    if entry is None:
        return None
    if dtype not in _compiled:
        _compiled[dtype] = _compile(*entry)
    return _compiled[dtype]


def _compile(sgemm: Any, sgemm_batch: Any) -> tuple[Any, Any]:
    """The two loops, compiled around MKL's ``sgemm`` and ``sgemm_batch_strided``."""
    import numba

    forward_step, backward_step = kernels.get("lstm_forward_step"), kernels.get("lstm_backward_step")

    @numba.njit(nogil=True, cache=False)
    def forward(h, c, w4, P, bias, a, G, C, TC, S, reverse):  # pragma: no cover - compiled
        steps, (b_, h_) = P.shape[1], h.shape
        for s in range(steps):
            t = steps - 1 - s if reverse else s
            # a[k] = h w4[k] for the four gates: one batched call, h read with stride 0
            sgemm_batch(_ROW_MAJOR, _NO_TRANS, _NO_TRANS, b_, h_, h_, 1.0, h.ctypes.data, h_, 0, w4.ctypes.data,
                        h_, h_ * h_, 0.0, a.ctypes.data, h_, b_ * h_, 4)
            forward_step(a, P, bias, t, c, G, C, TC, S)
            h, c = S[t], C[t]

    @numba.njit(nogil=True, cache=False)
    def backward(back, grad, dc, G, TC, C, c0, dA, dh, w, reverse):  # pragma: no cover - compiled
        steps, (b_, h_) = TC.shape[0], back.shape
        first = steps - 1 if reverse else 0  # the step whose entering cell state is c0
        parts = back.reshape(1, b_, h_)
        for s in range(steps):
            t = s if reverse else steps - 1 - s
            if t == first:
                c_prev = c0
            else:
                c_prev = C[t + 1] if reverse else C[t - 1]
            backward_step(parts, grad, t, dc, G, TC, c_prev, dA, dh)
            # dL/dh_{t-1} = dA_t W_hh: (B x 4H) (4H x H), all four gates in one product
            sgemm(_ROW_MAJOR, _NO_TRANS, _NO_TRANS, b_, h_, 4 * h_, 1.0, dA[t].ctypes.data, 4 * h_, w.ctypes.data,
                  h_, 0.0, back.ctypes.data, h_)

    return forward, backward
