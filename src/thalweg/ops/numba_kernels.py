"""The numba-compiled loops behind ``ops/kernels.py`` (imported only from there, and only when numba is installed).

Every loop is written for contiguous float32 arrays; constants are float32 so
that nothing is promoted to float64 inside a loop.  See ``ops/kernels.py`` for
why these exist and how they are used.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

from .erf import _NR

KERNELS = ("tail_exponent", "gelu_from_tail", "neg_half_square", "gelu_grad_from_exp", "layer_norm_forward",
           "layer_norm_backward", "batch_norm_forward", "batch_norm_backward",
           "relu_forward", "relu_backward", "max_pool_2x2_forward", "max_pool_backward",
           "scaled_add")

# no "nnan"/"ninf": NaN and infinity must propagate as in NumPy and torch
_ELEMENTWISE = dict(cache=True, error_model="numpy", boundscheck=False, nogil=True, fastmath={"nsz", "contract"})
_REDUCING = dict(_ELEMENTWISE, fastmath={"nsz", "contract", "reassoc"})  # sums may be reassociated

F32 = np.float32
HALF_OVER_SQRT2 = F32(0.5 * math.sqrt(0.5))
C0 = F32(_NR[0] + math.log(0.5))  # erfcc's constant with the 1/2 of Phi = erfc / 2 folded into the exponent
C1, C2, C3, C4, C5, C6, C7, C8, C9 = (F32(c) for c in _NR[1:])
ONE, HALF, ZERO = F32(1.0), F32(0.5), F32(0.0)
INV_SQRT_2PI = F32(1.0 / math.sqrt(2.0 * math.pi))


@numba.njit(**_ELEMENTWISE)
def tail_exponent(x: Any, t_out: Any, p_out: Any) -> None:  # pragma: no cover - compiled
    """t = 1 / (1 + z/2) and p with Phi(-|x|) = t e^p, z = |x| / sqrt 2 (erfcc, ops/erf.py)."""
    for i in range(x.size):
        v = x[i]
        t = ONE / (ONE + abs(v) * HALF_OVER_SQRT2)
        p = t * C9
        p = (p + C8) * t
        p = (p + C7) * t
        p = (p + C6) * t
        p = (p + C5) * t
        p = (p + C4) * t
        p = (p + C3) * t
        p = (p + C2) * t
        p = (p + C1) * t
        p_out[i] = p + C0 - v * v * HALF
        t_out[i] = t


@numba.njit(**_ELEMENTWISE)
def gelu_from_tail(x: Any, t: Any, e: Any, out: Any, cdf: Any) -> None:  # pragma: no cover - compiled
    """With h = t e = Phi(-|x|): Phi(x) = h for x < 0, else 1 - h; out = x Phi(x)."""
    for i in range(x.size):
        v = x[i]
        h = t[i] * e[i]
        p = h if v < ZERO else ONE - h
        cdf[i] = p
        out[i] = v * p


@numba.njit(**_ELEMENTWISE)
def neg_half_square(x: Any, out: Any) -> None:  # pragma: no cover - compiled
    """out = -x^2 / 2."""
    for i in range(x.size):
        out[i] = -HALF * x[i] * x[i]


@numba.njit(**_ELEMENTWISE)
def gelu_grad_from_exp(x: Any, cdf: Any, e: Any, grad: Any, out: Any) -> None:  # pragma: no cover - compiled
    """out = grad (Phi(x) + x phi(x)), phi(x) = e / sqrt(2 pi), e = exp(-x^2 / 2)."""
    for i in range(x.size):
        out[i] = grad[i] * (cdf[i] + x[i] * e[i] * INV_SQRT_2PI)


@numba.njit(**_REDUCING)
def layer_norm_forward(x: Any, w: Any, b: Any, eps: Any, out: Any, xhat: Any,
                       rstd: Any) -> None:  # pragma: no cover - compiled
    """Per row of x (R, D): mu, r = 1 / sqrt(var + eps), xhat = (x - mu) r, out = xhat w + b.

    ``w`` and ``b`` have length D, or length 0 for "none".
    """
    rows, d = x.shape
    inv_d = ONE / F32(d)
    has_w, has_b = w.size > 0, b.size > 0
    for r in range(rows):
        s = ZERO
        for j in range(d):
            s += x[r, j]
        mu = s * inv_d
        q = ZERO
        for j in range(d):
            dv = x[r, j] - mu
            q += dv * dv
        rs = ONE / np.sqrt(q * inv_d + eps)
        rstd[r] = rs
        for j in range(d):
            xh = (x[r, j] - mu) * rs
            xhat[r, j] = xh
            o = xh * w[j] if has_w else xh
            out[r, j] = o + b[j] if has_b else o


@numba.njit(**_REDUCING)
def layer_norm_backward(g: Any, xhat: Any, rstd: Any, w: Any, gx: Any, gw: Any,
                        gb: Any) -> None:  # pragma: no cover - compiled
    """dxhat = g w; dL/dx = r (dxhat - mean dxhat - xhat mean(dxhat xhat)); gw += sum g xhat; gb += sum g.

    ``w`` of length 0 means no weight; ``gx``, ``gw``, ``gb`` of size 0 are not wanted.
    """
    rows, d = g.shape
    inv_d = ONE / F32(d)
    has_w, want_x, want_w, want_b = w.size > 0, gx.size > 0, gw.size > 0, gb.size > 0
    for r in range(rows):
        if want_w:
            for j in range(d):
                gw[j] += g[r, j] * xhat[r, j]
        if want_b:
            for j in range(d):
                gb[j] += g[r, j]
        if want_x:
            s1 = ZERO
            s2 = ZERO
            for j in range(d):
                dx = g[r, j] * w[j] if has_w else g[r, j]
                s1 += dx
                s2 += dx * xhat[r, j]
            m1 = s1 * inv_d
            m2 = s2 * inv_d
            rs = rstd[r]
            for j in range(d):
                dx = g[r, j] * w[j] if has_w else g[r, j]
                gx[r, j] = rs * (dx - m1 - xhat[r, j] * m2)



@numba.njit(**_REDUCING)
def batch_norm_forward(x: Any, w: Any, b: Any, eps: Any, out: Any, xhat: Any, mean: Any,
                       var: Any) -> None:  # pragma: no cover - compiled
    """Per channel c of x (N, C, S): mu, var over the N*S values (float64 sums), xhat = (x - mu) / sqrt(var + eps),
    out = xhat w + b; ``mean`` and ``var`` (biased) receive mu and var.  ``w``, ``b`` of length 0 mean none."""
    n_, c_, s_ = x.shape
    inv_m = 1.0 / max(n_ * s_, 1)
    has_w, has_b = w.size > 0, b.size > 0
    for c in range(c_):
        acc = 0.0
        for n in range(n_):
            for s in range(s_):
                acc += x[n, c, s]
        mu = acc * inv_m
        q = 0.0
        for n in range(n_):
            for s in range(s_):
                d = x[n, c, s] - mu
                q += d * d
        v = q * inv_m
        mean[c] = mu
        var[c] = v
        mu32 = F32(mu)
        rs = F32(1.0 / np.sqrt(F32(v) + eps))
        wc = w[c] if has_w else ONE
        bc = b[c] if has_b else ZERO
        for n in range(n_):
            for s in range(s_):
                xh = (x[n, c, s] - mu32) * rs
                xhat[n, c, s] = xh
                out[n, c, s] = xh * wc + bc


@numba.njit(**_REDUCING)
def batch_norm_backward(g: Any, xhat: Any, rstd: Any, w: Any, gx: Any, dgamma: Any,
                        dbeta: Any) -> None:  # pragma: no cover - compiled
    """Per channel: dbeta = sum g, dgamma = sum g xhat (float64 sums), and, if ``gx`` has the shape of g (N, C, S),
    dL/dx = w r (g - dbeta / m - xhat dgamma / m)."""
    n_, c_, s_ = g.shape
    inv_m = 1.0 / max(n_ * s_, 1)
    has_w, want_x = w.size > 0, gx.size > 0
    for c in range(c_):
        sg = 0.0
        sgx = 0.0
        for n in range(n_):
            for s in range(s_):
                gv = g[n, c, s]
                sg += gv
                sgx += gv * xhat[n, c, s]
        dbeta[c] = sg
        dgamma[c] = sgx
        if want_x:
            scale = rstd[c] * (w[c] if has_w else ONE)
            a = F32(sg * inv_m)
            bq = F32(sgx * inv_m)
            for n in range(n_):
                for s in range(s_):
                    gx[n, c, s] = scale * (g[n, c, s] - a - xhat[n, c, s] * bq)


@numba.njit(**_ELEMENTWISE)
def relu_forward(x: Any, out: Any) -> None:  # pragma: no cover - compiled
    """out = max(x, 0), NaN kept (as torch): x where not x <= 0."""
    for i in range(x.size):
        v = x[i]
        out[i] = ZERO if v <= ZERO else v


@numba.njit(**_ELEMENTWISE)
def relu_backward(grad: Any, out: Any, gx: Any) -> None:  # pragma: no cover - compiled
    """gx = 0 where the output is <= 0, else grad (torch's threshold_backward: a NaN output passes grad)."""
    for i in range(grad.size):
        gx[i] = ZERO if out[i] <= ZERO else grad[i]


@numba.njit(**_ELEMENTWISE)
def max_pool_2x2_forward(x: Any, out: Any, which: Any) -> None:  # pragma: no cover - compiled
    """2x2 windows at stride 2: out[p, i, j] = max of x[p, 2i:2i+2, 2j:2j+2]; which = its index row * W + col.

    x is (P, H, W), out and which (P, H // 2, W // 2).  As torch: the first
    maximum (row-major) on ties, and a NaN wins (the last NaN of the window).
    The window size and stride are constants so that the compiler vectorises
    the loop over j (a runtime window or stride measured 6-20x slower than
    NumPy's strided maxima, so other poolings stay in NumPy).
    """
    planes, _, w = x.shape
    oh, ow = out.shape[1], out.shape[2]
    for p in range(planes):
        for i in range(oh):
            for j in range(ow):
                best = x[p, 2 * i, 2 * j]
                idx = 2 * i * w + 2 * j
                for a in range(2):
                    for b in range(2):
                        v = x[p, 2 * i + a, 2 * j + b]
                        take = (v > best) | (v != v)
                        best = v if take else best
                        idx = (2 * i + a) * w + 2 * j + b if take else idx
                out[p, i, j] = best
                which[p, i, j] = idx


@numba.njit(**_ELEMENTWISE)
def max_pool_backward(grad: Any, which: Any, gx: Any) -> None:  # pragma: no cover - compiled
    """gx[p, which[p, k]] += grad[p, k]: each window's gradient to its maximum (gx (P, H*W) zeroed by the caller)."""
    planes, outputs = grad.shape
    for p in range(planes):
        for k in range(outputs):
            gx[p, which[p, k]] += grad[p, k]


@numba.njit(**_ELEMENTWISE)
def scaled_add(p: Any, g: Any, factor: Any) -> None:  # pragma: no cover - compiled
    """p += factor * g in one pass (an optimizer step that is a plain multiple of the gradient)."""
    for i in range(p.size):
        p[i] += factor * g[i]
