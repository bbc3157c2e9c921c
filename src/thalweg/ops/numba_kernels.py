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
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .erf import _NR

KERNELS = ("exp", "gelu_forward", "gelu_backward", "gelu_tanh_forward", "gelu_tanh_backward", "layer_norm_forward",
           "layer_norm_backward", "batch_norm_forward", "batch_norm_backward",
           "relu_forward", "relu_backward", "max_pool_2x2_forward", "max_pool_backward",
           "scaled_add", "adam_direction", "tanh", "lstm_forward_step", "lstm_backward_step",
           "winograd_input_transform", "winograd_output_transform", "winograd_output_adjoint", "winograd_input_adjoint",
           "col2im")

# no "nnan"/"ninf": NaN and infinity must propagate as in NumPy and torch
_ELEMENTWISE = dict(cache=True, error_model="numpy", boundscheck=False, nogil=True, fastmath={"nsz", "contract"})
_REDUCING = dict(_ELEMENTWISE, fastmath={"nsz", "contract", "reassoc"})  # sums may be reassociated

F32 = np.float32
HALF_OVER_SQRT2 = F32(0.5 * math.sqrt(0.5))
C0 = F32(_NR[0] + math.log(0.5))  # erfcc's constant with the 1/2 of Phi = erfc / 2 folded into the exponent
C1, C2, C3, C4, C5, C6, C7, C8, C9 = (F32(c) for c in _NR[1:])
ONE, HALF, ZERO = F32(1.0), F32(0.5), F32(0.0)
INV_SQRT_2PI = F32(1.0 / math.sqrt(2.0 * math.pi))


@intrinsic
def float32_from_bits(typingctx: Any, bits: Any) -> Any:  # pragma: no cover - compiled
    """The float32 whose IEEE-754 bit pattern is the (low 32 bits of the) integer ``bits``."""
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        v = args[0]
        if bits.bitwidth > 32:
            v = builder.trunc(v, ir.IntType(32))
        return builder.bitcast(v, ir.FloatType())

    return types.float32(bits), codegen


# exp by the textbook reduction e^x = 2^n e^r, n = round(x / ln 2), r = x - n ln 2 (ln 2 split in two so that n ln 2
# is exact, Cody and Waite), |r| <= ln(2)/2, e^r by its Taylor polynomial to r^7 (remainder under 2^-26), and 2^n
# built from its exponent bits.  Within 1 unit in the last place over float32's whole range (NumPy's own float32 exp:
# 2.4), subnormal results included; written out because numba's math.exp calls the C library one value at a time,
# which the compiler cannot vectorise.
LOG2E = F32(1.0 / math.log(2.0))
LN2_HI, LN2_LO = F32(0.693359375), F32(math.log(2.0) - 0.693359375)
EXP_TAYLOR = tuple(F32(1.0 / math.factorial(k)) for k in range(2, 8))
E2, E3, E4, E5, E6, E7 = EXP_TAYLOR
EXP_HI, EXP_LO = F32(88.8), F32(-104.0)  # beyond: inf, and 0 (under the smallest subnormal)
TWO, TWO_M64 = F32(2.0), F32(2.0 ** -64)


@numba.njit(inline="always", **_ELEMENTWISE)
def fast_exp(x: Any) -> Any:  # pragma: no cover - compiled
    """e^x of a float32 (see above); inf, -inf and NaN as the C library's."""
    v = EXP_HI if x > EXP_HI else x
    v = EXP_LO if v < EXP_LO else v
    n = np.floor(v * LOG2E + HALF)
    r = v - n * LN2_HI - n * LN2_LO
    p = ((((((E7 * r + E6) * r + E5) * r + E4) * r + E3) * r + E2) * r + ONE) * r + ONE
    k = np.int32(n)
    low, high = k < -126, k > 127  # 2^n is subnormal or overflows as a float: scale in two steps
    k = k + np.int32(64) if low else k
    k = k - np.int32(1) if high else k
    y = p * float32_from_bits((k + np.int32(127)) << np.int32(23))
    y = y * TWO_M64 if low else y
    y = y * TWO if high else y
    y = ZERO if x < EXP_LO else y
    return x if x != x else y


@numba.njit(**_ELEMENTWISE)
def exp(x: Any, out: Any) -> None:  # pragma: no cover - compiled
    """out = fast_exp(x) elementwise (flat float32 arrays): what the tests check it with."""
    for i in range(x.size):
        out[i] = fast_exp(x[i])


# tanh(x) ~ x P(x^2) / Q(x^2) on |x| <= 9 (beyond, tanh rounds to +-1 in float32): a rational fit made for
# thalweg by iterated weighted least squares on the relative error (Sanathanan-Koerner), 2,000,001 points;
# evaluated in float32 it is within 6 units in the last place of tanh, against NumPy's 1.4.  Unlike
# math.tanh it is a few multiply-adds and one division, which the compiler vectorises.
TANH_P = tuple(F32(c) for c in (9.9999999551130925e-01, 1.3385514212101254e-01, 3.5007711939496495e-03,
                                2.0688389528893400e-05, 1.3453306886299174e-08))
TANH_Q = tuple(F32(c) for c in (1.0, 4.6718836275078013e-01, 2.5897084481686573e-02, 3.2938532444802619e-04,
                                7.8193082767466375e-07))
TANH_LIMIT = F32(9.0)
P0, P1, P2, P3, P4 = TANH_P
Q1, Q2, Q3, Q4 = TANH_Q[1:]


@numba.njit(inline="always", **_ELEMENTWISE)
def fast_tanh(x: Any) -> Any:  # pragma: no cover - compiled
    """tanh of a float32 by the rational fit above (NaN propagates: the clamps compare false)."""
    v = TANH_LIMIT if x > TANH_LIMIT else x
    v = -TANH_LIMIT if v < -TANH_LIMIT else v
    s = v * v
    p = (((P4 * s + P3) * s + P2) * s + P1) * s + P0
    q = (((Q4 * s + Q3) * s + Q2) * s + Q1) * s + ONE
    return v * p / q


@numba.njit(**_ELEMENTWISE)
def tanh(x: Any, out: Any) -> None:  # pragma: no cover - compiled
    """out = fast_tanh(x) elementwise (flat float32 arrays): what the tests check the fit with."""
    for i in range(x.size):
        out[i] = fast_tanh(x[i])


@numba.njit(inline="always", **_ELEMENTWISE)
def normal_cdf(v: Any) -> Any:  # pragma: no cover - compiled
    """Phi(v) of a float32.

    With z = |v| / sqrt 2 and t = 1 / (1 + z/2), Phi(-|v|) = erfc(z) / 2 =
    t exp(poly(t) - z^2 - ln 2) (erfcc, ops/erf.py, with the 1/2 folded into
    the constant C0); Phi(v) is that for v < 0, else 1 minus it, so the left
    tail keeps its relative accuracy.
    """
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
    h = t * fast_exp(p + C0 - v * v * HALF)
    return h if v < ZERO else ONE - h


@numba.njit(**_ELEMENTWISE)
def gelu_forward(x: Any, out: Any, cdf: Any) -> None:  # pragma: no cover - compiled
    """cdf = Phi(x), out = x Phi(x), one pass over flat float32 arrays (the backward reads cdf)."""
    for i in range(x.size):
        v = x[i]
        phi = normal_cdf(v)
        cdf[i] = phi
        out[i] = v * phi


@numba.njit(**_ELEMENTWISE)
def gelu_backward(x: Any, cdf: Any, grad: Any, out: Any) -> None:  # pragma: no cover - compiled
    """out = grad (Phi(x) + x phi(x)), phi(x) = exp(-x^2 / 2) / sqrt(2 pi), one pass.

    Phi comes from the forward: recomputing it (a division, an exp and ten
    multiply-adds a value) measured slower than reading it back.
    """
    for i in range(x.size):
        v = x[i]
        out[i] = grad[i] * (cdf[i] + v * fast_exp(-HALF * v * v) * INV_SQRT_2PI)


SQRT_2_OVER_PI = F32(math.sqrt(2.0 / math.pi))
GELU_CUBIC = F32(0.044715)


@numba.njit(inline="always", **_ELEMENTWISE)
def tanh_form_half(v: Any) -> Any:  # pragma: no cover - compiled
    """(1 + tanh(u)) / 2 = sigmoid(2u), u = sqrt(2/pi) (v + 0.044715 v^3), as 1 / (1 + e^(-2u)): no cancellation
    where tanh(u) is near -1 (1 + tanh(u) there loses every digit)."""
    return ONE / (ONE + fast_exp(F32(-2.0) * SQRT_2_OVER_PI * v * (ONE + GELU_CUBIC * v * v)))


@numba.njit(**_ELEMENTWISE)
def gelu_tanh_forward(x: Any, out: Any) -> None:  # pragma: no cover - compiled
    """out = x (1 + t) / 2, t = tanh(sqrt(2/pi) (x + 0.044715 x^3)) (GELU's tanh approximation)."""
    for i in range(x.size):
        v = x[i]
        out[i] = v * tanh_form_half(v)


@numba.njit(**_ELEMENTWISE)
def gelu_tanh_backward(x: Any, grad: Any, out: Any) -> None:  # pragma: no cover - compiled
    """out = grad (s + 2 x s (1 - s) sqrt(2/pi) (1 + 3 0.044715 x^2)), s = (1 + t) / 2 recomputed from x."""
    for i in range(x.size):
        v = x[i]
        s = tanh_form_half(v)
        d = s + F32(2.0) * v * s * (ONE - s) * SQRT_2_OVER_PI * (ONE + F32(3.0) * GELU_CUBIC * v * v)
        out[i] = grad[i] * d


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
def batch_norm_forward(x: Any, w: Any, b: Any, eps: Any, out: Any, mean: Any, var: Any, shift: Any,
                       scale: Any) -> None:  # pragma: no cover - compiled
    """Per channel c of x (N, C, S): mu, var over the N*S values (float64 sums), xhat = (x - mu) / sqrt(var + eps),
    out = xhat w + b; ``mean`` and ``var`` (biased) receive mu and var, ``shift`` and ``scale`` the float32 mu and
    1 / sqrt(var + eps) that xhat used (the backward recomputes xhat from x with them).  ``w``, ``b`` of length 0
    mean none."""
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
        shift[c] = mu32
        scale[c] = rs
        wc = w[c] if has_w else ONE
        bc = b[c] if has_b else ZERO
        for n in range(n_):
            for s in range(s_):
                out[n, c, s] = (x[n, c, s] - mu32) * rs * wc + bc


@numba.njit(**_REDUCING)
def batch_norm_backward(g: Any, x: Any, shift: Any, scale: Any, w: Any, gx: Any, dgamma: Any,
                        dbeta: Any) -> None:  # pragma: no cover - compiled
    """Per channel, with xhat = (x - shift) scale as in the forward: dbeta = sum g, dgamma = sum g xhat (float64
    sums), and, if ``gx`` has the shape of g (N, C, S), dL/dx = w scale (g - dbeta / m - xhat dgamma / m)."""
    n_, c_, s_ = g.shape
    inv_m = 1.0 / max(n_ * s_, 1)
    has_w, want_x = w.size > 0, gx.size > 0
    for c in range(c_):
        mu, rs = shift[c], scale[c]
        sg = 0.0
        sgx = 0.0
        for n in range(n_):
            for s in range(s_):
                gv = g[n, c, s]
                sg += gv
                sgx += gv * ((x[n, c, s] - mu) * rs)
        dbeta[c] = sg
        dgamma[c] = sgx
        if want_x:
            k = rs * (w[c] if has_w else ONE)
            a = F32(sg * inv_m)
            bq = F32(sgx * inv_m)
            for n in range(n_):
                for s in range(s_):
                    gx[n, c, s] = k * (g[n, c, s] - a - ((x[n, c, s] - mu) * rs) * bq)


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
def adam_direction(u: Any, s: Any, v: Any, s_scale: Any, v_scale: Any, ratio: Any,
                   eps: Any) -> None:  # pragma: no cover - compiled
    """Adam's step direction in place (optim/transforms/adam.py): with g = u on entry,
    S <- s_scale S + g,  V <- v_scale V + g^2,  u <- ratio S / (sqrt(V) + eps)."""
    for i in range(u.size):
        g = u[i]
        si = s[i] * s_scale + g
        vi = v[i] * v_scale + g * g
        s[i] = si
        v[i] = vi
        u[i] = ratio * si / (np.sqrt(vi) + eps)


@numba.njit(**_ELEMENTWISE)
def scaled_add(p: Any, g: Any, factor: Any) -> None:  # pragma: no cover - compiled
    """p += factor * g in one pass (an optimizer step that is a plain multiple of the gradient)."""
    for i in range(p.size):
        p[i] += factor * g[i]


@numba.njit(**_ELEMENTWISE)
def lstm_forward_step(a: Any, P: Any, t: int, c: Any, G: Any, C: Any, TC: Any,
                      S: Any) -> None:  # pragma: no cover - compiled
    """One LSTM step after the product a = h_{t-1} W_hh (ops/recurrent.py's layout and gate order o, i, f, g).

    a (4, B, H) and P (4, T, B, H) hold the pre-activations with the sigmoid
    gates' rows halved, so that sigmoid(z) = 1/2 + tanh(z/2)/2 shares one
    tanh: G[:, t] = the gate activations, then
    C[t] = f c + i g,  TC[t] = tanh(C[t]),  S[t] = o TC[t].
    """
    _, b_, h_ = a.shape
    for k in range(4):
        for b in range(b_):
            for j in range(h_):
                y = fast_tanh(a[k, b, j] + P[k, t, b, j])
                G[k, t, b, j] = HALF * y + HALF if k < 3 else y
    for b in range(b_):
        for j in range(h_):
            cn = G[2, t, b, j] * c[b, j] + G[1, t, b, j] * G[3, t, b, j]
            C[t, b, j] = cn
            tc = fast_tanh(cn)
            TC[t, b, j] = tc
            S[t, b, j] = G[0, t, b, j] * tc


@numba.njit(**_ELEMENTWISE)
def lstm_backward_step(back: Any, dY: Any, t: int, dc: Any, G: Any, TC: Any, c_prev: Any, dA: Any,
                       dh: Any) -> None:  # pragma: no cover - compiled
    """One step of LSTM backpropagation through time, before the product with W_hh.

    back (4, B, H) holds the later step's per-gate products dA_k W_hh_k, whose
    sum plus dY[t] is dL/dh_t (written to the scratch dh); dc (B, H) is dL/dc_t
    from later steps, replaced by dL/dc_{t-1}.  Writes dA[t] (B, 4, H), the
    pre-activation gradients:
      dc_t = dc + dh o (1 - tanh(c_t)^2)
      da_o = dh tanh(c_t) o (1 - o),  da_i = dc_t g i (1 - i),
      da_f = dc_t c_{t-1} f (1 - f),  da_g = dc_t i (1 - g^2),  dc_{t-1} = dc_t f.
    Each inner loop writes one array: with more, the compiler cannot rule out
    overlaps cheaply and leaves the loop scalar (one fused loop measured 2.5x slower).
    """
    _, b_, h_ = back.shape
    for b in range(b_):
        for j in range(h_):
            dh[b, j] = dY[t, b, j] + back[0, b, j] + back[1, b, j] + back[2, b, j] + back[3, b, j]
        for j in range(h_):
            tc = TC[t, b, j]
            dc[b, j] += dh[b, j] * G[0, t, b, j] * (ONE - tc * tc)
        for j in range(h_):
            o = G[0, t, b, j]
            dA[t, b, 0, j] = dh[b, j] * TC[t, b, j] * o * (ONE - o)
        for j in range(h_):
            i, g = G[1, t, b, j], G[3, t, b, j]
            dA[t, b, 1, j] = dc[b, j] * g * i * (ONE - i)
        for j in range(h_):
            f = G[2, t, b, j]
            dA[t, b, 2, j] = dc[b, j] * c_prev[b, j] * f * (ONE - f)
        for j in range(h_):
            i, g = G[1, t, b, j], G[3, t, b, j]
            dA[t, b, 3, j] = dc[b, j] * i * (ONE - g * g)
        for j in range(h_):
            dc[b, j] *= G[2, t, b, j]


# Winograd F(2x2, 3x3) transforms (ops/winograd.py).  Tile t = (n*TH + a)*TW + b covers output rows 2a, 2a+1 and
# columns 2b, 2b+1, and reads the 4x4 input patch at rows 2a-top .. 2a-top+3, columns 2b-left .. 2b-left+3 (zero
# outside the input: the padding).  The 16 transformed values of a tile and channel go to v[k, t, c], k = 4*i + j
# (the layout whose products BLAS runs fastest).  The loops use no constants, so they compile for float32 and
# float64 alike.

@numba.njit(inline="always", **_ELEMENTWISE)
def _patch_transform(d0: Any, d1: Any, d2: Any, d3: Any, v: Any, t: int, c: int) -> None:  # pragma: no cover
    """v[:, t, c] = B^T d B for the patch d with rows d0..d3, B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0],
    [0, 1, 0, -1]]."""
    # B^T d: the patch's rows combined, column by column
    r00, r01, r02, r03 = d0[0] - d2[0], d0[1] - d2[1], d0[2] - d2[2], d0[3] - d2[3]
    r10, r11, r12, r13 = d1[0] + d2[0], d1[1] + d2[1], d1[2] + d2[2], d1[3] + d2[3]
    r20, r21, r22, r23 = d2[0] - d1[0], d2[1] - d1[1], d2[2] - d1[2], d2[3] - d1[3]
    r30, r31, r32, r33 = d1[0] - d3[0], d1[1] - d3[1], d1[2] - d3[2], d1[3] - d3[3]
    # (B^T d) B: the same combination of the columns
    v[0, t, c], v[1, t, c], v[2, t, c], v[3, t, c] = r00 - r02, r01 + r02, r02 - r01, r01 - r03
    v[4, t, c], v[5, t, c], v[6, t, c], v[7, t, c] = r10 - r12, r11 + r12, r12 - r11, r11 - r13
    v[8, t, c], v[9, t, c], v[10, t, c], v[11, t, c] = r20 - r22, r21 + r22, r22 - r21, r21 - r23
    v[12, t, c], v[13, t, c], v[14, t, c], v[15, t, c] = r30 - r32, r31 + r32, r32 - r31, r31 - r33


@numba.njit(**_ELEMENTWISE)
def winograd_input_transform(x: Any, top: int, left: int, th: int, tw: int, v: Any) -> None:  # pragma: no cover
    """v[:, t, c] = B^T d B for the 4x4 patch d of every tile t and channel c of x (N, C, H, W)."""
    n_, c_, h_, w_ = x.shape
    patch = np.zeros((4, 4), x.dtype)
    for n in range(n_):
        for a in range(th):
            r0 = 2 * a - top
            for b in range(tw):
                t, q0 = (n * th + a) * tw + b, 2 * b - left
                if r0 >= 0 and r0 + 4 <= h_ and q0 >= 0 and q0 + 4 <= w_:
                    for c in range(c_):
                        _patch_transform(x[n, c, r0, q0:q0 + 4], x[n, c, r0 + 1, q0:q0 + 4],
                                         x[n, c, r0 + 2, q0:q0 + 4], x[n, c, r0 + 3, q0:q0 + 4], v, t, c)
                else:  # a border tile: the patch with zeros outside x
                    for c in range(c_):
                        for i in range(4):
                            for j in range(4):
                                r, q = r0 + i, q0 + j
                                patch[i, j] = x[n, c, r, q] if 0 <= r < h_ and 0 <= q < w_ else x[n, c, 0, 0] * 0
                        _patch_transform(patch[0], patch[1], patch[2], patch[3], v, t, c)


@numba.njit(**_ELEMENTWISE)
def winograd_output_transform(m: Any, th: int, tw: int, y: Any) -> None:  # pragma: no cover - compiled
    """Each 2x2 output tile of y (N, O, OH, OW) = A^T M A from M = m[:, t, o] as 4x4 (the part inside y),
    A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]."""
    n_, o_, oh, ow = y.shape
    for n in range(n_):
        for a in range(th):
            for b in range(tw):
                t, r, q = (n * th + a) * tw + b, 2 * a, 2 * b
                down, right = r + 1 < oh, q + 1 < ow
                for o in range(o_):
                    s0 = m[0, t, o] + m[4, t, o] + m[8, t, o]
                    s1 = m[1, t, o] + m[5, t, o] + m[9, t, o]
                    s2 = m[2, t, o] + m[6, t, o] + m[10, t, o]
                    s3 = m[3, t, o] + m[7, t, o] + m[11, t, o]
                    y[n, o, r, q] = s0 + s1 + s2
                    if right:
                        y[n, o, r, q + 1] = s1 - s2 - s3
                    if down:
                        u0 = m[4, t, o] - m[8, t, o] - m[12, t, o]
                        u1 = m[5, t, o] - m[9, t, o] - m[13, t, o]
                        u2 = m[6, t, o] - m[10, t, o] - m[14, t, o]
                        u3 = m[7, t, o] - m[11, t, o] - m[15, t, o]
                        y[n, o, r + 1, q] = u0 + u1 + u2
                        if right:
                            y[n, o, r + 1, q + 1] = u1 - u2 - u3


@numba.njit(**_ELEMENTWISE)
def winograd_output_adjoint(g: Any, th: int, tw: int, dm: Any) -> None:  # pragma: no cover - compiled
    """The adjoint of :func:`winograd_output_transform`: dm[:, t, o] = A G A^T for each 2x2 tile G of
    g (N, O, OH, OW), zero past its edges."""
    n_, o_, oh, ow = g.shape
    for n in range(n_):
        for a in range(th):
            for b in range(tw):
                t, r, q = (n * th + a) * tw + b, 2 * a, 2 * b
                down, right = r + 1 < oh, q + 1 < ow
                for o in range(o_):
                    g00 = g[n, o, r, q]
                    g01 = g[n, o, r, q + 1] if right else g00 * 0
                    g10 = g[n, o, r + 1, q] if down else g00 * 0
                    g11 = g[n, o, r + 1, q + 1] if down and right else g00 * 0
                    a0, a1, a2, a3 = g00, g00 + g10, g00 - g10, -g10  # A G, column 0
                    b0, b1, b2, b3 = g01, g01 + g11, g01 - g11, -g11  # A G, column 1
                    dm[0, t, o], dm[1, t, o], dm[2, t, o], dm[3, t, o] = a0, a0 + b0, a0 - b0, -b0
                    dm[4, t, o], dm[5, t, o], dm[6, t, o], dm[7, t, o] = a1, a1 + b1, a1 - b1, -b1
                    dm[8, t, o], dm[9, t, o], dm[10, t, o], dm[11, t, o] = a2, a2 + b2, a2 - b2, -b2
                    dm[12, t, o], dm[13, t, o], dm[14, t, o], dm[15, t, o] = a3, a3 + b3, a3 - b3, -b3


@numba.njit(inline="always", **_ELEMENTWISE)
def _patch_adjoint(dv: Any, t: int, c: int) -> Any:  # pragma: no cover - compiled
    """The rows of B D B^T for D = dv[:, t, c] as 4x4 (the adjoint of :func:`_patch_transform`), as four 4-tuples."""
    # D B^T: each row (d0, d1, d2, d3) becomes (d0, d1 - d2 + d3, d1 + d2 - d0, -d3)
    e00, e01 = dv[0, t, c], dv[1, t, c] - dv[2, t, c] + dv[3, t, c]
    e02, e03 = dv[1, t, c] + dv[2, t, c] - dv[0, t, c], -dv[3, t, c]
    e10, e11 = dv[4, t, c], dv[5, t, c] - dv[6, t, c] + dv[7, t, c]
    e12, e13 = dv[5, t, c] + dv[6, t, c] - dv[4, t, c], -dv[7, t, c]
    e20, e21 = dv[8, t, c], dv[9, t, c] - dv[10, t, c] + dv[11, t, c]
    e22, e23 = dv[9, t, c] + dv[10, t, c] - dv[8, t, c], -dv[11, t, c]
    e30, e31 = dv[12, t, c], dv[13, t, c] - dv[14, t, c] + dv[15, t, c]
    e32, e33 = dv[13, t, c] + dv[14, t, c] - dv[12, t, c], -dv[15, t, c]
    # B (D B^T): the same combination of the rows
    return ((e00, e01, e02, e03),
            (e10 - e20 + e30, e11 - e21 + e31, e12 - e22 + e32, e13 - e23 + e33),
            (e10 + e20 - e00, e11 + e21 - e01, e12 + e22 - e02, e13 + e23 - e03),
            (-e30, -e31, -e32, -e33))


@numba.njit(**_ELEMENTWISE)
def winograd_input_adjoint(dv: Any, top: int, left: int, th: int, tw: int, dx: Any) -> None:  # pragma: no cover
    """The adjoint of :func:`winograd_input_transform`: adds B D B^T, D = dv[:, t, c] as 4x4, to the part inside
    dx (N, C, H, W) of each tile's patch (patches overlap by two rows and columns, so contributions add up)."""
    n_, c_, h_, w_ = dx.shape
    for n in range(n_):
        for a in range(th):
            r0 = 2 * a - top
            for b in range(tw):
                t, q0 = (n * th + a) * tw + b, 2 * b - left
                inside = r0 >= 0 and r0 + 4 <= h_ and q0 >= 0 and q0 + 4 <= w_
                for c in range(c_):
                    rows = _patch_adjoint(dv, t, c)
                    if inside:
                        for i in numba.literal_unroll((0, 1, 2, 3)):
                            row, e = dx[n, c, r0 + i], rows[i]
                            row[q0] += e[0]
                            row[q0 + 1] += e[1]
                            row[q0 + 2] += e[2]
                            row[q0 + 3] += e[3]
                    else:
                        for i in numba.literal_unroll((0, 1, 2, 3)):
                            r, e = r0 + i, rows[i]
                            if 0 <= r < h_:
                                for j in numba.literal_unroll((0, 1, 2, 3)):
                                    if 0 <= q0 + j < w_:
                                        dx[n, c, r, q0 + j] += e[j]


@numba.njit(**_ELEMENTWISE)
def col2im(d: Any, sh: int, sw: int, dh: int, dw: int, xpad: Any) -> None:  # pragma: no cover - compiled
    """The adjoint of im2col (ops/conv.py, compact layout): for d (N, C, KH, KW, OH, OW), adds
    d[n, c, i, j, p, q] to xpad[n, c, p*sh + i*dh, q*sw + j*dw] (xpad (N, C, Hp, Wp), zeroed by the caller)."""
    n_, c_, kh, kw, oh, ow = d.shape
    for n in range(n_):
        for c in range(c_):
            plane = xpad[n, c]
            for i in range(kh):
                for j in range(kw):
                    for p in range(oh):
                        row, src = plane[p * sh + i * dh], d[n, c, i, j, p]
                        for q in range(ow):
                            row[q * sw + j * dw] += src[q]

