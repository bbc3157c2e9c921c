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

KERNELS = ("exp", "exp_flushed", "gelu_forward", "gelu_backward", "gelu_tanh_forward", "gelu_tanh_backward",
           "layer_norm_forward", "layer_norm_backward", "batch_norm_forward", "batch_norm_backward",
           "relu_forward", "relu_backward", "max_pool_2x2_forward", "max_pool_backward",
           "scaled_add", "adam_direction", "tanh", "lstm_forward_step", "lstm_backward_step",
           "winograd_pad_channels_last", "winograd_input_transform", "winograd_output_transform",
           "winograd_output_adjoint", "winograd_input_adjoint",
           "col2im", "direct_conv_forward", "direct_conv_gradient",
           "cross_entropy_forward", "cross_entropy_backward", "attention_softmax", "attention_softmax_backward",
           "softmax_rows", "softmax_rows_backward",
           "col2im_flat")

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
def _exp_reduced(v: Any) -> tuple[Any, Any]:  # pragma: no cover - compiled
    """(p, n) with e^v = p 2^n: n = round(v / ln 2), p = e^r by its Taylor polynomial, r = v - n ln 2."""
    n = np.floor(v * LOG2E + HALF)
    r = v - n * LN2_HI - n * LN2_LO
    return ((((((E7 * r + E6) * r + E5) * r + E4) * r + E3) * r + E2) * r + ONE) * r + ONE, n


@numba.njit(inline="always", **_ELEMENTWISE)
def fast_exp(x: Any) -> Any:  # pragma: no cover - compiled
    """e^x of a float32 (see above); inf, -inf and NaN as the C library's."""
    v = EXP_HI if x > EXP_HI else x
    # below EXP_LO the result is 0 (selected last); computing e^0 meanwhile, not e^EXP_LO, keeps subnormal numbers
    # out of the vector lanes whose results are thrown away: each costs a microcode assist on Intel CPUs (a causal
    # mask's -inf entries made softmax 3x slower)
    v = ZERO if v < EXP_LO else v
    p, n = _exp_reduced(v)
    k = np.int32(n)
    low, high = k < -126, k > 127  # 2^n is subnormal or overflows as a float: scale in two steps
    k = k + np.int32(64) if low else k
    k = k - np.int32(1) if high else k
    y = p * float32_from_bits((k + np.int32(127)) << np.int32(23))
    y = y * TWO_M64 if low else y
    y = y * TWO if high else y
    y = ZERO if x < EXP_LO else y
    return x if x != x else y


FLUSH_BELOW = F32(-87.33)  # e^x under about 1.2e-38 (float32's smallest normal number) is flushed to 0


@numba.njit(inline="always", **_ELEMENTWISE)
def fast_exp_flushed(x: Any) -> Any:  # pragma: no cover - compiled
    """e^x of a float32 x <= 88 as :func:`fast_exp`, but 0 where e^x would be subnormal (x < ``FLUSH_BELOW``).

    For GELU's exponents, which are never positive: skipping the subnormal and
    overflow scaling made its forward pass 1.5x faster (131,072 values: 164 ->
    109 us), and a GELU output of x Phi(x) below 1e-37 is 0 in torch anyway
    (its erf rounds to -1 there).  NaN propagates (every comparison is false)."""
    v = ZERO if x < FLUSH_BELOW else x  # (not FLUSH_BELOW: see fast_exp's note on thrown-away lanes)
    p, n = _exp_reduced(v)
    y = p * float32_from_bits((np.int32(n) + np.int32(127)) << np.int32(23))
    return ZERO if x < FLUSH_BELOW else y


@numba.njit(**_ELEMENTWISE)
def exp_flushed(x: Any, out: Any) -> None:  # pragma: no cover - compiled
    """out = fast_exp_flushed(x) elementwise (flat float32 arrays): what the tests check it with."""
    for i in range(x.size):
        out[i] = fast_exp_flushed(x[i])


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
    h = t * fast_exp_flushed(p + C0 - v * v * HALF)
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
        out[i] = grad[i] * (cdf[i] + v * fast_exp_flushed(-HALF * v * v) * INV_SQRT_2PI)


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
def layer_norm_forward(x: Any, w: Any, b: Any, eps: Any, out: Any, mean: Any,
                       rstd: Any) -> None:  # pragma: no cover - compiled
    """Per row of x (R, D): mu, r = 1 / sqrt(var + eps), out = (x - mu) r w + b; ``mean`` and ``rstd`` receive mu
    and r (the backward recomputes xhat = (x - mu) r from x with them).

    ``w`` and ``b`` have length D, or length 0 for "none".  Each output loop writes one array: writing xhat too
    (for the backward) kept the compiler from vectorising the loop, and saving it cost a pass of memory; without it
    the forward took 0.55-0.7 of the time (4096 x 256 and 4096 x 1024, in and out of cache), the backward, which
    recomputes xhat, 1.05-1.15.
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
        mean[r] = mu
        rstd[r] = rs
        if has_w and has_b:
            for j in range(d):
                out[r, j] = (x[r, j] - mu) * rs * w[j] + b[j]
        elif has_w:
            for j in range(d):
                out[r, j] = (x[r, j] - mu) * rs * w[j]
        elif has_b:
            for j in range(d):
                out[r, j] = (x[r, j] - mu) * rs + b[j]
        else:
            for j in range(d):
                out[r, j] = (x[r, j] - mu) * rs


@numba.njit(**_REDUCING)
def layer_norm_backward(g: Any, x: Any, mean: Any, rstd: Any, w: Any, gx: Any, gw: Any,
                        gb: Any) -> None:  # pragma: no cover - compiled
    """With xhat = (x - mu) r recomputed per row: dxhat = g w; dL/dx = r (dxhat - mean dxhat - xhat mean(dxhat
    xhat)); gw += sum g xhat; gb += sum g.

    ``w`` of length 0 means no weight; ``gx``, ``gw``, ``gb`` of size 0 are not wanted.  dL/dx is evaluated as
    r dxhat - (x - mu) k - r mean(dxhat), k = r^3 mean(dxhat (x - mu)), the same terms regrouped.
    """
    rows, d = g.shape
    inv_d = ONE / F32(d)
    has_w, want_x, want_w, want_b = w.size > 0, gx.size > 0, gw.size > 0, gb.size > 0
    for r in range(rows):
        mu, rs = mean[r], rstd[r]
        if want_w:
            for j in range(d):
                gw[j] += g[r, j] * ((x[r, j] - mu) * rs)
        if want_b:
            for j in range(d):
                gb[j] += g[r, j]
        if want_x:
            s1 = ZERO
            s2 = ZERO
            for j in range(d):
                dx = g[r, j] * w[j] if has_w else g[r, j]
                s1 += dx
                s2 += dx * (x[r, j] - mu)
            shift = rs * s1 * inv_d
            k = rs * rs * rs * s2 * inv_d
            for j in range(d):
                dx = g[r, j] * w[j] if has_w else g[r, j]
                gx[r, j] = rs * dx - (x[r, j] - mu) * k - shift


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
def lstm_forward_step(a: Any, P: Any, bias: Any, t: int, c: Any, G: Any, C: Any, TC: Any,
                      S: Any) -> None:  # pragma: no cover - compiled
    """One LSTM step after the product a = h_{t-1} W_hh (ops/recurrent.py's layout and gate order o, i, f, g).

    a (4, B, H), P (4, T, B, H) (the input projections) and bias (4, H) are
    the pre-activations' three terms, with the sigmoid gates' rows halved, so
    that sigmoid(z) = 1/2 + tanh(z/2)/2 shares one tanh: G[:, t] = the gate
    activations, then
    C[t] = f c + i g,  TC[t] = tanh(C[t]),  S[t] = o TC[t].
    """
    _, b_, h_ = a.shape
    for k in range(4):
        for b in range(b_):
            for j in range(h_):
                y = fast_tanh(a[k, b, j] + P[k, t, b, j] + bias[k, j])
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

    back (K, B, H) holds the later step's product dA W_hh in K parts (the four
    per-gate products dA_k W_hh_k, or K = 1: the whole product), whose sum plus
    dY[t] is dL/dh_t (written to the scratch dh); dc (B, H) is dL/dc_t
    from later steps, replaced by dL/dc_{t-1}.  Writes dA[t] (B, 4, H), the
    pre-activation gradients:
      dc_t = dc + dh o (1 - tanh(c_t)^2)
      da_o = dh tanh(c_t) o (1 - o),  da_i = dc_t g i (1 - i),
      da_f = dc_t c_{t-1} f (1 - f),  da_g = dc_t i (1 - g^2),  dc_{t-1} = dc_t f.
    Each inner loop writes one array: with more, the compiler cannot rule out
    overlaps cheaply and leaves the loop scalar (one fused loop measured 2.5x slower).
    """
    parts, b_, h_ = back.shape
    for b in range(b_):
        for j in range(h_):
            dh[b, j] = dY[t, b, j] + back[0, b, j]
        for k in range(1, parts):
            for j in range(h_):
                dh[b, j] += back[k, b, j]
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


# Winograd F(4x4, 3x3) transforms (ops/winograd.py).  Tile t = (n*TH + a)*TW + b covers output rows 4a .. 4a+3 and
# columns 4b .. 4b+3, and reads the 6x6 input patch at rows 4a-top .. 4a-top+5, columns 4b-left .. 4b-left+5 (zero
# outside the input: the padding).  The 36 transformed values of a tile and channel go to v[k, t, c], k = 6*i + j
# (the layout whose products BLAS runs fastest).  Each 2-D transform is a 1-D one on the patch's columns, then on
# the rows of the result, written out with constant tuple indices so that everything stays in registers.  The
# constants are float32, so the loops compile for float32 and float64 alike.
TWO, FOUR, FIVE, EIGHT = F32(2.0), F32(4.0), F32(5.0), F32(8.0)


@numba.njit(inline="always", **_ELEMENTWISE)
def _bt6(d0: Any, d1: Any, d2: Any, d3: Any, d4: Any, d5: Any) -> Any:  # pragma: no cover - compiled
    """B^T d, B^T = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0],
    [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]."""
    return (FOUR * d0 - FIVE * d2 + d4, -FOUR * (d1 + d2) + d3 + d4, FOUR * (d1 - d2) - d3 + d4,
            TWO * (d3 - d1) - d2 + d4, TWO * (d1 - d3) - d2 + d4, FOUR * d1 - FIVE * d3 + d5)


@numba.njit(inline="always", **_ELEMENTWISE)
def _b6(v0: Any, v1: Any, v2: Any, v3: Any, v4: Any, v5: Any) -> Any:  # pragma: no cover - compiled
    """B v (the adjoint of :func:`_bt6`)."""
    return (FOUR * v0, FOUR * (v2 - v1 + v5) + TWO * (v4 - v3), -FIVE * v0 - FOUR * (v1 + v2) - v3 - v4,
            v1 - v2 + TWO * (v3 - v4) - FIVE * v5, v0 + v1 + v2 + v3 + v4, v5)


@numba.njit(inline="always", **_ELEMENTWISE)
def _at4(m0: Any, m1: Any, m2: Any, m3: Any, m4: Any, m5: Any) -> Any:  # pragma: no cover - compiled
    """A^T m, A^T = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]."""
    return (m0 + m1 + m2 + m3 + m4, m1 - m2 + TWO * (m3 - m4), m1 + m2 + FOUR * (m3 + m4),
            m1 - m2 + EIGHT * (m3 - m4) + m5)


@numba.njit(inline="always", **_ELEMENTWISE)
def _a6(y0: Any, y1: Any, y2: Any, y3: Any) -> Any:  # pragma: no cover - compiled
    """A y (the adjoint of :func:`_at4`)."""
    return (y0, y0 + y1 + y2 + y3, y0 - y1 + y2 - y3, y0 + TWO * y1 + FOUR * y2 + EIGHT * y3,
            y0 - TWO * y1 + FOUR * y2 - EIGHT * y3, y3)


@numba.njit(inline="always", **_ELEMENTWISE)
def _load(x: Any, n: int, c: int, r: int, q: int, inside: bool) -> Any:  # pragma: no cover - compiled
    """x[n, c, r, q], or zero outside x (checked only for a patch not ``inside``)."""
    if inside or (0 <= r < x.shape[2] and 0 <= q < x.shape[3]):
        return x[n, c, r, q]
    return x[n, c, 0, 0] * 0


@numba.njit(inline="always", **_ELEMENTWISE)
def _put6(v: Any, k: int, t: int, c: int, e: Any) -> None:  # pragma: no cover - compiled
    """v[6k .. 6k+5, t, c] = e."""
    v[6 * k, t, c], v[6 * k + 1, t, c], v[6 * k + 2, t, c] = e[0], e[1], e[2]
    v[6 * k + 3, t, c], v[6 * k + 4, t, c], v[6 * k + 5, t, c] = e[3], e[4], e[5]


@numba.njit(inline="always", **_ELEMENTWISE)
def _get6(m: Any, k: int, t: int, o: int) -> Any:  # pragma: no cover - compiled
    """m[6k .. 6k+5, t, o]: row k of a tile's 6x6 transformed values."""
    return m[6 * k, t, o], m[6 * k + 1, t, o], m[6 * k + 2, t, o], m[6 * k + 3, t, o], m[6 * k + 4, t, o], \
        m[6 * k + 5, t, o]


@numba.njit(**_ELEMENTWISE)
def winograd_pad_channels_last(x: Any, top: int, left: int, out: Any) -> None:  # pragma: no cover - compiled
    """out (N, HP, WP, C) = x (N, C, H, W) channels last, moved ``top`` rows down and ``left`` columns right, with
    zeros around: every 6x6 patch of the Winograd tiles then lies inside ``out``, and a patch's channels are
    neighbours in memory."""
    n_, c_, h_, w_ = x.shape
    hp, wp = out.shape[1], out.shape[2]
    for n in range(n_):
        for r in range(hp):
            src = r - top
            for q in range(wp):
                col = q - left
                if 0 <= src < h_ and 0 <= col < w_:
                    for c in range(c_):
                        out[n, r, q, c] = x[n, c, src, col]
                else:
                    for c in range(c_):
                        out[n, r, q, c] = ZERO


@numba.njit(**_ELEMENTWISE)
def winograd_input_transform(xp: Any, th: int, tw: int, v: Any) -> None:  # pragma: no cover - compiled
    """v[:, t, c] = B^T d B for the 6x6 patch d of every tile t and channel c of xp (N, HP, WP, C), the input made
    channels last and zero padded by :func:`winograd_pad_channels_last`.

    B^T goes down each of a patch's six columns, then along each row of the result, for all channels at once: the
    inner loops run over channels, which are contiguous in xp, in the scratch ``cols`` and in v, so they run as SIMD
    vectors.  Measured on a 2-core Intel Xeon (AVX-512), against the same arithmetic on x (N, C, H, W) one channel
    at a time with the borders checked, per block of samples and the padding copy included: 0.67-0.75 of the time
    with 16 channels (32x32, batch 32 and 128), 0.53 with 32 (16x16), 0.43 with 64 (8x8).  The adjoint written the
    same way (adding into a padded channels-last buffer, then copying out) was slower than
    :func:`winograd_input_adjoint`'s (0.34 against 0.20 ms per block), so that one stays channels first."""
    n_, c_ = xp.shape[0], xp.shape[3]
    cols = np.empty((6, 6, c_), xp.dtype)  # cols[i, j] = row i of B^T applied to column j of the patch
    for n in range(n_):
        for a in range(th):
            r0 = 4 * a
            for b in range(tw):
                q0, t = 4 * b, (n * th + a) * tw + b
                for j in range(6):
                    for c in range(c_):
                        e = _bt6(xp[n, r0, q0 + j, c], xp[n, r0 + 1, q0 + j, c], xp[n, r0 + 2, q0 + j, c],
                                 xp[n, r0 + 3, q0 + j, c], xp[n, r0 + 4, q0 + j, c], xp[n, r0 + 5, q0 + j, c])
                        cols[0, j, c], cols[1, j, c], cols[2, j, c] = e[0], e[1], e[2]
                        cols[3, j, c], cols[4, j, c], cols[5, j, c] = e[3], e[4], e[5]
                for i in range(6):
                    for c in range(c_):
                        _put6(v, i, t, c, _bt6(cols[i, 0, c], cols[i, 1, c], cols[i, 2, c], cols[i, 3, c],
                                               cols[i, 4, c], cols[i, 5, c]))


@numba.njit(inline="always", **_ELEMENTWISE)
def _put4(y: Any, n: int, o: int, r: int, q: int, e: Any) -> None:  # pragma: no cover - compiled
    """y[n, o, r, q .. q+3] = e."""
    y[n, o, r, q], y[n, o, r, q + 1], y[n, o, r, q + 2], y[n, o, r, q + 3] = e[0], e[1], e[2], e[3]


@numba.njit(inline="always", **_ELEMENTWISE)
def _put4_inside(y: Any, n: int, o: int, r: int, q: int, e: Any) -> None:  # pragma: no cover - compiled
    """y[n, o, r, q .. q+3] = e, the part inside y."""
    if r < y.shape[2]:
        for j in numba.literal_unroll((0, 1, 2, 3)):
            if q + j < y.shape[3]:
                y[n, o, r, q + j] = e[j]


@numba.njit(**_ELEMENTWISE)
def winograd_output_transform(m: Any, th: int, tw: int, y: Any) -> None:  # pragma: no cover - compiled
    """Each 4x4 output tile of y (N, O, OH, OW) = A^T M A from M = m[:, t, o] as 6x6 (the part inside y)."""
    n_, o_, oh, ow = y.shape
    for n in range(n_):
        for a in range(th):
            for b in range(tw):
                t, r, q = (n * th + a) * tw + b, 4 * a, 4 * b
                full = r + 4 <= oh and q + 4 <= ow
                for o in range(o_):
                    m0, m1, m2, m3, m4, m5 = _get6(m, 0, t, o), _get6(m, 1, t, o), _get6(m, 2, t, o), \
                        _get6(m, 3, t, o), _get6(m, 4, t, o), _get6(m, 5, t, o)
                    # A^T M, column by column
                    s0 = _at4(m0[0], m1[0], m2[0], m3[0], m4[0], m5[0])
                    s1 = _at4(m0[1], m1[1], m2[1], m3[1], m4[1], m5[1])
                    s2 = _at4(m0[2], m1[2], m2[2], m3[2], m4[2], m5[2])
                    s3 = _at4(m0[3], m1[3], m2[3], m3[3], m4[3], m5[3])
                    s4 = _at4(m0[4], m1[4], m2[4], m3[4], m4[4], m5[4])
                    s5 = _at4(m0[5], m1[5], m2[5], m3[5], m4[5], m5[5])
                    # (A^T M) A, row by row
                    e0 = _at4(s0[0], s1[0], s2[0], s3[0], s4[0], s5[0])
                    e1 = _at4(s0[1], s1[1], s2[1], s3[1], s4[1], s5[1])
                    e2 = _at4(s0[2], s1[2], s2[2], s3[2], s4[2], s5[2])
                    e3 = _at4(s0[3], s1[3], s2[3], s3[3], s4[3], s5[3])
                    if full:  # (one branch per tile: checks inside the stores made the loop 1.8x slower)
                        _put4(y, n, o, r, q, e0)
                        _put4(y, n, o, r + 1, q, e1)
                        _put4(y, n, o, r + 2, q, e2)
                        _put4(y, n, o, r + 3, q, e3)
                    else:
                        _put4_inside(y, n, o, r, q, e0)
                        _put4_inside(y, n, o, r + 1, q, e1)
                        _put4_inside(y, n, o, r + 2, q, e2)
                        _put4_inside(y, n, o, r + 3, q, e3)


@numba.njit(inline="always", **_ELEMENTWISE)
def _grad_row(g: Any, n: int, o: int, r: int, q: int, full: bool) -> Any:  # pragma: no cover - compiled
    """g[n, o, r, q .. q+3], zero past g's edges unless ``full``."""
    return (_load(g, n, o, r, q, full), _load(g, n, o, r, q + 1, full), _load(g, n, o, r, q + 2, full),
            _load(g, n, o, r, q + 3, full))


@numba.njit(inline="always", **_ELEMENTWISE)
def _tile_adjoint(g: Any, n: int, o: int, r: int, q: int, full: bool, dm: Any, t: int) -> None:  # pragma: no cover
    """dm[:, t, o] = A G A^T for the 4x4 tile G of g at (r, q)."""
    g0, g1, g2, g3 = _grad_row(g, n, o, r, q, full), _grad_row(g, n, o, r + 1, q, full), \
        _grad_row(g, n, o, r + 2, q, full), _grad_row(g, n, o, r + 3, q, full)
    # A G, column by column, then (A G) A^T row by row
    p0, p1 = _a6(g0[0], g1[0], g2[0], g3[0]), _a6(g0[1], g1[1], g2[1], g3[1])
    p2, p3 = _a6(g0[2], g1[2], g2[2], g3[2]), _a6(g0[3], g1[3], g2[3], g3[3])
    _put6(dm, 0, t, o, _a6(p0[0], p1[0], p2[0], p3[0]))
    _put6(dm, 1, t, o, _a6(p0[1], p1[1], p2[1], p3[1]))
    _put6(dm, 2, t, o, _a6(p0[2], p1[2], p2[2], p3[2]))
    _put6(dm, 3, t, o, _a6(p0[3], p1[3], p2[3], p3[3]))
    _put6(dm, 4, t, o, _a6(p0[4], p1[4], p2[4], p3[4]))
    _put6(dm, 5, t, o, _a6(p0[5], p1[5], p2[5], p3[5]))


@numba.njit(**_ELEMENTWISE)
def winograd_output_adjoint(g: Any, th: int, tw: int, dm: Any) -> None:  # pragma: no cover - compiled
    """The adjoint of :func:`winograd_output_transform`: dm[:, t, o] = A G A^T for each 4x4 tile G of
    g (N, O, OH, OW), zero past its edges."""
    n_, o_, oh, ow = g.shape
    for n in range(n_):
        for a in range(th):
            for b in range(tw):
                t, r, q = (n * th + a) * tw + b, 4 * a, 4 * b
                if r + 4 <= oh and q + 4 <= ow:
                    for o in range(o_):
                        _tile_adjoint(g, n, o, r, q, True, dm, t)
                else:
                    for o in range(o_):
                        _tile_adjoint(g, n, o, r, q, False, dm, t)


@numba.njit(inline="always", **_ELEMENTWISE)
def _add4(dx: Any, n: int, c: int, r: int, q: int, e0: Any, e1: Any, e2: Any, e3: Any,
          inside: bool) -> None:  # pragma: no cover - compiled
    """dx[n, c, r, q .. q+3] += (e0, e1, e2, e3), the part inside dx unless ``inside``."""
    if inside:
        dx[n, c, r, q] += e0
        dx[n, c, r, q + 1] += e1
        dx[n, c, r, q + 2] += e2
        dx[n, c, r, q + 3] += e3
    elif 0 <= r < dx.shape[2]:
        w_ = dx.shape[3]
        if 0 <= q < w_:
            dx[n, c, r, q] += e0
        if 0 <= q + 1 < w_:
            dx[n, c, r, q + 1] += e1
        if 0 <= q + 2 < w_:
            dx[n, c, r, q + 2] += e2
        if 0 <= q + 3 < w_:
            dx[n, c, r, q + 3] += e3


@numba.njit(inline="always", **_ELEMENTWISE)
def _patch_adjoint(dv: Any, t: int, c: int) -> Any:  # pragma: no cover - compiled
    """The rows of B D B^T, D = dv[:, t, c] as 6x6: B D column by column, then (B D) B^T row by row."""
    d0, d1, d2 = _get6(dv, 0, t, c), _get6(dv, 1, t, c), _get6(dv, 2, t, c)
    d3, d4, d5 = _get6(dv, 3, t, c), _get6(dv, 4, t, c), _get6(dv, 5, t, c)
    u0 = _b6(d0[0], d1[0], d2[0], d3[0], d4[0], d5[0])
    u1 = _b6(d0[1], d1[1], d2[1], d3[1], d4[1], d5[1])
    u2 = _b6(d0[2], d1[2], d2[2], d3[2], d4[2], d5[2])
    u3 = _b6(d0[3], d1[3], d2[3], d3[3], d4[3], d5[3])
    u4 = _b6(d0[4], d1[4], d2[4], d3[4], d4[4], d5[4])
    u5 = _b6(d0[5], d1[5], d2[5], d3[5], d4[5], d5[5])
    return (_b6(u0[0], u1[0], u2[0], u3[0], u4[0], u5[0]), _b6(u0[1], u1[1], u2[1], u3[1], u4[1], u5[1]),
            _b6(u0[2], u1[2], u2[2], u3[2], u4[2], u5[2]), _b6(u0[3], u1[3], u2[3], u3[3], u4[3], u5[3]),
            _b6(u0[4], u1[4], u2[4], u3[4], u4[4], u5[4]), _b6(u0[5], u1[5], u2[5], u3[5], u4[5], u5[5]))


@numba.njit(inline="always", **_ELEMENTWISE)
def _add_patch(dx: Any, n: int, c: int, r0: int, q0: int, rows: Any, inside: bool) -> None:  # pragma: no cover
    """Adds a patch's six rows of six values to dx[n, c] at (r0, q0), the part inside dx unless ``inside``."""
    for i in range(6):
        e = rows[i]
        _add4(dx, n, c, r0 + i, q0, e[0], e[1], e[2], e[3], inside)
        r = r0 + i
        if inside:
            dx[n, c, r, q0 + 4] += e[4]
            dx[n, c, r, q0 + 5] += e[5]
        elif 0 <= r < dx.shape[2]:
            if 0 <= q0 + 4 < dx.shape[3]:
                dx[n, c, r, q0 + 4] += e[4]
            if 0 <= q0 + 5 < dx.shape[3]:
                dx[n, c, r, q0 + 5] += e[5]


@numba.njit(**_ELEMENTWISE)
def winograd_input_adjoint(dv: Any, top: int, left: int, th: int, tw: int, dx: Any) -> None:  # pragma: no cover
    """The adjoint of :func:`winograd_input_transform`: adds B D B^T, D = dv[:, t, c] as 6x6, to the part inside
    dx (N, C, H, W) of each tile's patch (patches overlap by two rows and columns, so contributions add up).

    Channels are the inner loop, as in the transform: each tile's 36 values of consecutive channels are read from
    neighbouring addresses.  Measured against tiles as the inner loop with a patch's last two columns carried to the
    next: 0.64-0.86 of its time on the ResNet's layers at batch 32 and 128."""
    n_, c_, h_, w_ = dx.shape
    for n in range(n_):
        for a in range(th):
            r0 = 4 * a - top
            rows_inside = r0 >= 0 and r0 + 6 <= h_
            for b in range(tw):
                q0, t = 4 * b - left, (n * th + a) * tw + b
                if rows_inside and q0 >= 0 and q0 + 6 <= w_:  # (a literal flag: the bounds checks compile away)
                    for c in range(c_):
                        _add_patch(dx, n, c, r0, q0, _patch_adjoint(dv, t, c), True)
                else:
                    for c in range(c_):
                        _add_patch(dx, n, c, r0, q0, _patch_adjoint(dv, t, c), False)


@numba.njit(**_ELEMENTWISE)
def col2im(d: Any, sh: int, sw: int, dh: int, dw: int, xpad: Any) -> None:  # pragma: no cover - compiled
    """The adjoint of im2col (ops/conv.py, compact layout): for d (N, C, KH, KW, OH, OW), adds
    d[n, c, i, j, p, q] to xpad[n, c, p*sh + i*dh, q*sw + j*dw] (xpad (N, C, Hp, Wp), zeroed by the caller).

    Three kernel columns at stride 2 (the usual downsampling layer) take one pass per row instead of one per kernel
    column: even pixel 2q gets tap 0 of window q and tap 2 of window q - 1, odd pixel 2q + 1 tap 1 of window q, so
    each pixel is updated once.  On the ResNet's stride-2 3x3 layers at batch 32 that took 0.38-0.44 of the time
    (equal at batch 128, where reading d from memory sets the pace).  The pass is written out here: as a called
    function (not inlined) it took twice as long."""
    n_, c_, kh, kw, oh, ow = d.shape
    three_at_stride_two = kw == 3 and sw == 2 and dw == 1
    for n in range(n_):
        for c in range(c_):
            plane = xpad[n, c]
            for i in range(kh):
                if three_at_stride_two:
                    for p in range(oh):
                        row, d0, d1, d2 = plane[p * sh + i * dh], d[n, c, i, 0, p], d[n, c, i, 1, p], d[n, c, i, 2, p]
                        row[0] += d0[0]
                        row[1] += d1[0]
                        for q in range(1, ow):
                            row[2 * q] += d0[q] + d2[q - 1]
                            row[2 * q + 1] += d1[q]
                        row[2 * ow] += d2[ow - 1]
                    continue
                for j in range(kw):
                    for p in range(oh):
                        row, src = plane[p * sh + i * dh], d[n, c, i, j, p]
                        for q in range(ow):
                            row[q * sw + j * dw] += src[q]



# Direct convolution (ops/direct_conv.py): stride 1, each plane seen as one flat row of length Hp*Wp.  Output
# row p of a (n, o) plane is the run acc[p*Wp : p*Wp + OW] of one flat accumulator; kernel tap (i, j) adds the input
# plane's run starting at i*dh*Wp + j*dw, times w[o, c, i, j].  Every inner loop reads a slice (not plane[off + p]:
# an index that could be negative keeps the loop scalar) and writes one array, so the compiler vectorises it.
@numba.njit(**_ELEMENTWISE)
def direct_conv_forward(x: Any, w: Any, b: Any, wp: int, dh: int, dw: int,
                        out: Any) -> None:  # pragma: no cover - compiled
    """out (N, O, OH, OW) = conv(x, w) + b for x (N, C, Hp*Wp) already padded, w (O, C/G, KH, KW), b (O,) or empty."""
    n_, _, _ = x.shape
    o_, cg, kh, kw = w.shape
    _, _, oh, ow = out.shape
    og = o_ // (x.shape[1] // cg)
    length = (oh - 1) * wp + ow
    acc = np.empty(length, x.dtype)
    for n in range(n_):
        for o in range(o_):
            bias = b[o] if b.shape[0] > 0 else ZERO
            for p in range(length):
                acc[p] = bias
            for c in range(cg):
                plane = x[n, (o // og) * cg + c]
                for i in range(kh):
                    for j in range(kw):
                        wv, start = w[o, c, i, j], i * dh * wp + j * dw
                        src = plane[start:start + length]
                        for p in range(length):
                            acc[p] += wv * src[p]
            for y in range(oh):
                row, dst = acc[y * wp:y * wp + ow], out[n, o, y]
                for q in range(ow):
                    dst[q] = row[q]


@numba.njit(**_ELEMENTWISE)
def _flat_gradient(g: Any, wp: int, flat: Any) -> None:  # pragma: no cover - compiled
    """flat (O, (OH-1)*Wp + OW) = g (O, OH, OW) laid out with row pitch Wp, zeros between the rows."""
    o_, oh, ow = g.shape
    for o in range(o_):
        dst = flat[o]
        for p in range(dst.shape[0]):
            dst[p] = ZERO
        for y in range(oh):
            row, src = dst[y * wp:y * wp + ow], g[o, y]
            for q in range(ow):
                row[q] = src[q]


@numba.njit(**_ELEMENTWISE)
def direct_conv_gradient(g: Any, planes: Any, weights: Any, wp: int, dh: int, dw: int,
                         of_weight: bool) -> None:  # pragma: no cover - compiled
    """Either gradient of direct_conv_forward from g (N, O, OH, OW), in the loops both share: every sample n,
    output channel o, input channel c of o's group and kernel tap (i, j), with gf = g[n, o] in flat rows of
    pitch Wp and run = the flat run of planes[n, c] that tap (i, j) of the forward read:

      of_weight:     weights = dL/dw (O, C/G, KH, KW), planes = x (N, C, Hp*Wp):   dL/dw[o, c, i, j] += <gf, run>
      not of_weight: weights = w, planes = dL/dxpad (N, C, Hp*Wp), zeroed:        run += w[o, c, i, j] gf
    """
    n_, o_, oh, ow = g.shape
    _, cg, kh, kw = weights.shape
    og = o_ // (planes.shape[1] // cg)
    length = (oh - 1) * wp + ow
    flat = np.empty((o_, length), g.dtype)
    for n in range(n_):
        _flat_gradient(g[n], wp, flat)
        for o in range(o_):
            gf = flat[o]
            for c in range(cg):
                plane = planes[n, (o // og) * cg + c]
                for i in range(kh):
                    for j in range(kw):
                        start = i * dh * wp + j * dw
                        run = plane[start:start + length]
                        if of_weight:
                            weights[o, c, i, j] += _dot(gf, run)
                        else:
                            wv = weights[o, c, i, j]
                            for p in range(length):
                                run[p] += wv * gf[p]


@numba.njit(**_ELEMENTWISE)
def _max(a: Any) -> Any:  # pragma: no cover - compiled
    """The largest value of a non-empty 1-D float32 run, in four independent chains so that the comparisons
    overlap (one chain waits on each compare: 4x slower on long rows).  NaN values are passed over; callers
    that exponentiate a - max get NaN from them anyway."""
    m0 = m1 = m2 = m3 = a[0]
    n = a.shape[0]
    k = 1
    while k + 4 <= n:
        v0, v1, v2, v3 = a[k], a[k + 1], a[k + 2], a[k + 3]
        m0 = v0 if v0 > m0 else m0
        m1 = v1 if v1 > m1 else m1
        m2 = v2 if v2 > m2 else m2
        m3 = v3 if v3 > m3 else m3
        k += 4
    while k < n:
        m0 = a[k] if a[k] > m0 else m0
        k += 1
    m01 = m1 if m1 > m0 else m0
    m23 = m3 if m3 > m2 else m2
    return m23 if m23 > m01 else m01


@numba.njit(inline="always", **_ELEMENTWISE)
def _softmax_row(src: Any, dst: Any, masked: bool) -> tuple[Any, Any]:  # pragma: no cover - compiled
    """dst = softmax(src) of one non-empty row, stably: e = exp(src - max), dst = e / sum(e).

    Returns (max, sum) for callers that need log-softmax.  ``masked`` (a row
    that a mask may have set to -inf throughout): max -inf counts as 0 and sum 0
    as 1, so such a row gets weights 0 instead of NaN.  The exponentials and
    the sum are separate loops (the sum in its own reassociated function) so
    that both vectorise.  src and dst must not be the same memory: called in
    place, the compiler's overlap check sent the loop to its scalar version
    (2-3x slower), so in-place callers copy the row to a scratch row first.
    Inlined into its callers: on rows of 32 (a small LM's attention) the call
    itself took a third of the time (2,048 rows: 130 -> 90 us).
    """
    m = _max(src)
    if masked and m == -np.inf:
        m = ZERO
    for k in range(src.shape[0]):
        dst[k] = fast_exp(src[k] - m)
    z = _sum(dst)
    if masked and z == ZERO:
        z = ONE
    inv = ONE / z
    for k in range(dst.shape[0]):
        dst[k] *= inv
    return m, z


@numba.njit(**_ELEMENTWISE)  # not _REDUCING: reassociated, log(s) - (x_t - max) became (log(s) + max) - x_t
def cross_entropy_forward(x: Any, target: Any, ignore_index: int, p: Any, loss: Any,
                          safe: Any) -> tuple[int, int]:  # pragma: no cover - compiled
    """Cross-entropy of logits x (N, C) against class indices target (N,) (ops/loss.py), one pass per row.

    Writes p = softmax(x) (zero rows where the target is ignore_index), loss =
    log sum exp(x - max) - (x_t - max) (0 where ignored) and safe = the targets
    with ignored ones replaced by 0.  Returns (valid rows, first row whose
    target is out of range or -1); at a bad row it stops.
    """
    n_, c_ = x.shape
    count = 0
    for n in range(n_):
        t = target[n]
        row, prow = x[n], p[n]
        if t == ignore_index:
            safe[n] = 0
            loss[n] = ZERO
            for k in range(c_):
                prow[k] = ZERO
            continue
        if t < 0 or t >= c_:
            return count, n
        safe[n] = t
        count += 1
        m, s = _softmax_row(row, prow, False)
        loss[n] = np.log(s) - (row[t] - m)
    return count, -1


@numba.njit(**_ELEMENTWISE)
def cross_entropy_backward(p: Any, safe: Any, s: Any, gx: Any) -> None:  # pragma: no cover - compiled
    """gx (N, C) = s[n] (p[n] - onehot(safe[n])): the gradient of cross_entropy_forward's loss scaled by s."""
    n_, c_ = p.shape
    for n in range(n_):
        sn, prow, grow = s[n], p[n], gx[n]
        for k in range(c_):
            grow[k] = prow[k] * sn
        grow[safe[n]] -= sn


@numba.njit(**_REDUCING)
def _sum(a: Any) -> Any:  # pragma: no cover - compiled
    """sum(a) of a 1-D float32 run; its own function so that only this loop may be reassociated (vectorised)."""
    total = ZERO
    for i in range(a.shape[0]):
        total += a[i]
    return total


@numba.njit(**_REDUCING)
def _dot(a: Any, b: Any) -> Any:  # pragma: no cover - compiled
    """sum(a * b) of two 1-D float32 runs (reassociated, as _sum)."""
    total = ZERO
    for i in range(a.shape[0]):
        total += a[i] * b[i]
    return total


@numba.njit(**_ELEMENTWISE)
def attention_softmax(s: Any, scale: Any, causal: bool) -> None:  # pragma: no cover - compiled
    """s (B, L, S) = softmax over the keys of scale * s, in place (ops/attention.py's _softmax_scores).

    Causal: query i sees keys 0..i (torch's top-left alignment); the others get
    weight 0 and are never exponentiated.  As the NumPy form: a row whose
    visible scores are all -inf gets weights 0 when causal (NaN otherwise), and
    a NaN score makes its whole row NaN.
    """
    b_, l_, s_ = s.shape
    scaled = np.empty(s_, s.dtype)
    for b in range(b_):
        for i in range(l_):
            row = s[b, i]
            n = min(i + 1, s_) if causal else s_
            seen = scaled[:n]
            for j in range(n):
                seen[j] = scale * row[j]
            if n > 0:
                _softmax_row(seen, row[:n], causal)
            for j in range(n, s_):
                row[j] = ZERO


@numba.njit(**_ELEMENTWISE)
def attention_softmax_backward(ds: Any, p: Any, scale: Any) -> None:  # pragma: no cover - compiled
    """ds (R, S) = scale * p * (ds - rowsum(ds * p)), in place: dL/dscores from dL/dP (ops/attention.py)."""
    for r in range(ds.shape[0]):
        drow, prow = ds[r], p[r]
        dot = _dot(drow, prow)
        for j in range(drow.shape[0]):
            drow[j] = scale * prow[j] * (drow[j] - dot)


@numba.njit(**_ELEMENTWISE)
def softmax_rows(x: Any, out: Any) -> None:  # pragma: no cover - compiled
    """out[r] = softmax(x[r]) for every row of x (R, D), D > 0 (ops/activation.py): :func:`_softmax_row`, so a row
    with NaN or +inf, or all -inf, gives NaN throughout, as torch."""
    for r in range(x.shape[0]):
        _softmax_row(x[r], out[r], False)


@numba.njit(**_ELEMENTWISE)
def softmax_rows_backward(g: Any, p: Any, out: Any) -> None:  # pragma: no cover - compiled
    """out[r] = p[r] (g[r] - sum_j g[r, j] p[r, j]) for every row: dL/dx of p = softmax(x) from g = dL/dp."""
    for r in range(g.shape[0]):
        grow, prow, orow = g[r], p[r], out[r]
        dot = _dot(grow, prow)
        for j in range(grow.shape[0]):
            orow[j] = prow[j] * (grow[j] - dot)


@numba.njit(**_ELEMENTWISE)
def col2im_flat(d: Any, wp: int, dh: int, dw: int, xflat: Any) -> None:  # pragma: no cover - compiled
    """The adjoint of im2col in flat rows (ops/conv.py): for d (N, C, KH, KW, length), adds the run d[n, c, i, j]
    to xflat[n, c] (N, C, Hp*Wp + tail, zeroed by the caller) starting at i*dh*Wp + j*dw."""
    n_, c_, kh, kw, length = d.shape
    for n in range(n_):
        for c in range(c_):
            plane = xflat[n, c]
            for i in range(kh):
                for j in range(kw):
                    start = i * dh * wp + j * dw
                    dst, src = plane[start:start + length], d[n, c, i, j]
                    for p in range(length):
                        dst[p] += src[p]
