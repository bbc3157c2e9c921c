"""Activation functions and their numerically stable forms.

Each docstring gives f and f'.  The backward rules reuse the forward output
where the derivative is a function of it (sigmoid, tanh, ELU's negative side),
which is both cheaper and more stable than recomputing from the input.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np  # host-side: erfc_array hands NumPy arrays to ops/erf.py

from ..autograd.function import Context, Function
from ..backend import get_array_module
from . import kernels
from .blockwise import blockwise
from .erf import erfc as _erfc
from .erf import normal_tail
from .reduce import check_dim
from .sums import row_sums


class ReLU(Function):
    """f(x) = max(0, x);  f'(x) = 1 if x > 0 else 0 (0 at x = 0, as torch)."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        xp = get_array_module(x)
        if kernels.usable(x):  # one compiled pass; the backward reads the output (ops/kernels.py)
            ctx.out = out = kernels.relu_forward(x)
            return out
        ctx.out = None
        ctx.off = x <= 0  # (not x > 0: a NaN input passes its gradient through, as in torch)
        return xp.maximum(x, 0)  # keeps NaN, maps -inf to 0 (x * mask would give NaN)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        xp = get_array_module(grad)
        if ctx.out is not None and grad.shape == ctx.out.shape and grad.dtype == ctx.out.dtype:
            return kernels.relu_backward(grad, ctx.out)
        if ctx.out is not None:
            ctx.off = ctx.out <= 0
        # grad * (not off) is ~3x faster than where(off, 0, grad) (the MLP hot path) and equal to it
        # for finite gradients; an inf/NaN upstream gradient (0 * inf = NaN) takes the where() path.
        if xp.isfinite(grad.sum()):
            return grad * ~ctx.off
        return xp.where(ctx.off, 0, grad)


class Sigmoid(Function):
    """f(x) = 1 / (1 + e^-x) (see ``sigmoid_array`` for the stable form);  f'(x) = f(x) (1 - f(x))."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        out = sigmoid_array(x)
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        s = ctx.out
        return grad * s * (1 - s)


def sigmoid_array(x: Any) -> Any:
    """Stable logistic function on an array, accurate to a few ulps *relative* on both tails:
    1 / (1 + e^-|x|) for x >= 0 and e^-|x| / (1 + e^-|x|) for x < 0.  (The tanh form
    0.5 (1 + tanh(x/2)) cancels for x << 0: sigmoid(-20) came out as 0 in float32.)"""
    xp = get_array_module(x)
    e = xp.exp(-xp.abs(x))
    r = 1 / (1 + e)
    return xp.where(x >= 0, r, e * r)


class Tanh(Function):
    """f(x) = tanh x;  f'(x) = 1 - f(x)^2."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        out = get_array_module(x).tanh(x)
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        t = ctx.out
        return grad * (1 - t * t)


class ELU(Function):
    """Exponential linear unit (Clevert et al. 2015, arXiv 1511.07289).

    f(x) = x for x > 0, alpha (e^x - 1) otherwise;
    f'(x) = 1 for x > 0, f(x) + alpha otherwise.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, alpha: float = 1.0) -> Any:
        xp = get_array_module(x)
        pos = ~(x <= 0)  # not x > 0: a NaN input takes the identity branch, whose slope 1 torch's backward uses
        neg = alpha * xp.expm1(xp.minimum(x, 0))
        out = xp.where(pos, x, neg).astype(x.dtype, copy=False)
        ctx.pos, ctx.out, ctx.alpha = pos, out, alpha
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        xp = get_array_module(grad)
        return grad * xp.where(ctx.pos, 1, ctx.out + ctx.alpha).astype(grad.dtype, copy=False)


class LeakyReLU(Function):
    """f(x) = x for x > 0, slope * x otherwise;  f'(x) = 1 or slope."""

    @staticmethod
    def forward(ctx: Context, x: Any, negative_slope: float = 0.01) -> Any:
        xp = get_array_module(x)
        pos = x > 0
        ctx.pos, ctx.slope = pos, negative_slope
        return xp.where(pos, x, x * x.dtype.type(negative_slope))

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        xp = get_array_module(grad)
        return xp.where(ctx.pos, grad, grad * grad.dtype.type(ctx.slope))


class Softplus(Function):
    """f(x) = (1/beta) log(1 + e^(beta x)), linear above ``threshold`` (as torch);
    f'(x) = sigmoid(beta x)."""

    @staticmethod
    def forward(ctx: Context, x: Any, beta: float = 1.0, threshold: float = 20.0) -> Any:
        xp = get_array_module(x)
        bx = x * x.dtype.type(beta)
        with xp.errstate(invalid="ignore"):  # NaN in, NaN out, without NumPy's warning (torch gives none)
            soft = (xp.logaddexp(0, bx) / x.dtype.type(beta)).astype(x.dtype, copy=False)
        linear = bx > threshold
        ctx.sig, ctx.linear, ctx.beta = sigmoid_array(bx), linear, beta
        return xp.where(linear, x, soft)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        xp = get_array_module(grad)
        return grad * xp.where(ctx.linear, 1, ctx.sig).astype(grad.dtype, copy=False)


class Softmax(Function):
    """p_i = e^(x_i - m) / sum_j e^(x_j - m), m = max x (stable);
    dL/dx = p * (g - sum_j g_j p_j)."""

    @staticmethod
    def forward(ctx: Context, x: Any, axis: int = -1) -> Any:
        xp = get_array_module(x)
        axis = check_dim(axis, x.ndim, "softmax") if x.ndim else None  # a 0-d tensor: over its one element
        if x.size == 0:  # nothing to normalise (an empty dim, or empty others): an empty result, as torch
            ctx.out, ctx.axis = x.copy(), axis
            return ctx.out
        if axis == x.ndim - 1 and kernels.usable(x):  # rows of a contiguous float32 array: one compiled pass each
            e = np.empty_like(x)
            kernels.get("softmax_rows")(x.reshape(-1, x.shape[-1]), e.reshape(-1, x.shape[-1]))
        else:
            e = xp.subtract(x, x.max(axis=axis, keepdims=True), out=xp.empty_like(x))  # an array even for 0-d x
            xp.exp(e, out=e)
            e /= row_sums(e, axis)
        ctx.out, ctx.axis = e, axis
        return e

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        p = ctx.out
        if ctx.axis == p.ndim - 1 and kernels.usable(grad, p):
            out = np.empty_like(p)
            rows = (-1, p.shape[-1])
            kernels.get("softmax_rows_backward")(grad.reshape(rows), p.reshape(rows), out.reshape(rows))
            return out
        out = grad * p  # p (g - sum_j g_j p_j) = g p - p sum_j (g p)_j, in place
        out -= p * row_sums(out, ctx.axis)
        return out


class LogSoftmax(Function):
    """y_i = x_i - logsumexp(x) (stable);  dL/dx = g - softmax(x) * sum_j g_j."""

    @staticmethod
    def forward(ctx: Context, x: Any, axis: int = -1) -> Any:
        xp = get_array_module(x)
        axis = check_dim(axis, x.ndim, "log_softmax") if x.ndim else None  # a 0-d tensor: over its one element
        if x.size == 0:  # an empty result, as torch
            ctx.out, ctx.axis = x.copy(), axis
            return ctx.out
        shifted = x - x.max(axis=axis, keepdims=True)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        ctx.out, ctx.axis = out, axis
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        xp = get_array_module(grad)
        return grad - xp.exp(ctx.out) * grad.sum(axis=ctx.axis, keepdims=True)


def erfc_array(x: Any) -> Any:
    """The complementary error function 1 - erf(x), elementwise, in x's dtype.

    NumPy has no ``erf``; ``ops/erf.py`` evaluates Cody's rational approximations
    (float64, ~1e-16 relative) or a float32-accurate Chebyshev fit, vectorised.
    erfc rather than 1 + erf(-x): the normal CDF Phi(x) = erfc(-x / sqrt 2) / 2
    stays accurate far into the left tail, where 1 + erf cancels.
    """
    xp = get_array_module(x)
    if xp.__name__ == "numpy":
        return blockwise(_erfc, np.asarray(x)).astype(x.dtype, copy=False)
    from cupyx.scipy.special import erfc  # type: ignore[import-not-found]  # pragma: no cover

    return erfc(x)  # pragma: no cover


class GELU(Function):
    """Gaussian error linear unit (Hendrycks and Gimpel 2016, arXiv 1606.08415): f(x) = x Phi(x).

    Phi is the standard normal CDF, Phi(x) = erfc(-x / sqrt 2) / 2, and
    f'(x) = Phi(x) + x phi(x) with phi(x) = e^(-x^2/2) / sqrt(2 pi).
    ``approximate='tanh'`` uses f(x) = x (1 + t) / 2 with t = tanh(u), u = sqrt(2/pi) (x + 0.044715 x^3),
    f'(x) = (1 + t) / 2 + x (1 - t^2) sqrt(2/pi) (1 + 3 0.044715 x^2) / 2; both are computed from
    s = (1 + t) / 2 = 1 / (1 + e^(-2u)), which keeps its digits where t is near -1 (1 - t^2 = 4 s (1 - s)).
    Forward and backward are computed in place on fresh arrays (no temporaries
    beyond the one each needs); the forward keeps Phi(x) (or s) for the backward.  With the compiled
    kernels (float32) each direction is one pass (the tanh form's backward recomputes s from x).
    """

    @staticmethod
    def forward(ctx: Context, x: Any, approximate: str = "none") -> Any:
        xp = get_array_module(x)
        if approximate not in ("none", "tanh"):
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        ctx.x, ctx.approximate = x, approximate
        if kernels.usable(x):  # one compiled pass (keeping Phi(x) for the backward; the tanh form keeps nothing)
            out, ctx.cdf_kernel = kernels.gelu_forward(x, approximate)
            return out
        with np.errstate(over="ignore", invalid="ignore"):  # inf and NaN in: inf and NaN out, as torch, unwarned
            if approximate == "tanh":
                s = xp.multiply(x, x, out=xp.empty_like(x))  # out=: an array even for 0-d x (x * x is a scalar)
                s *= 0.044715
                s += 1
                s *= x
                s *= -2.0 * math.sqrt(2.0 / math.pi)  # -2u
                xp.exp(s, out=s)
                s += 1
                xp.reciprocal(s, out=s)  # (1 + tanh u) / 2 = 1 / (1 + e^(-2u)): no cancellation where tanh u ~ -1
                ctx.s = s
                return x * s
            out, ctx.cdf = blockwise(_gelu_and_cdf, x)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        xp = get_array_module(grad)
        x = ctx.x
        if hasattr(ctx, "cdf_kernel"):  # the compiled forward ran
            g = xp.ascontiguousarray(xp.broadcast_to(grad, x.shape), dtype=x.dtype)
            return kernels.gelu_backward(x, ctx.cdf_kernel, g, ctx.approximate)
        with np.errstate(over="ignore", invalid="ignore"):
            if ctx.approximate == "tanh":  # s = (1 + t) / 2: f' = s + 2 x s (1 - s) sqrt(2/pi) (1 + 3 0.044715 x^2)
                s = ctx.s
                d = xp.subtract(1, s, out=xp.empty_like(s))
                d *= s
                d *= x
                d *= 2.0 * math.sqrt(2.0 / math.pi)
                q = xp.multiply(x, x, out=xp.empty_like(x))
                q *= 3 * 0.044715
                q += 1
                d *= q
                d += s
                d *= grad
                return d
            return blockwise(_gelu_grad, x, ctx.cdf, xp.broadcast_to(grad, x.shape))


def _gelu_and_cdf(x: Any) -> tuple[Any, Any]:
    """(x Phi(x), Phi(x)) for a 1-D block: Phi(x) = h for x < 0 and 1 - h otherwise, h = Phi(-|x|)."""
    xp = get_array_module(x)
    if xp is not np:
        cdf = erfc_array(x * -math.sqrt(0.5))  # pragma: no cover
        cdf *= 0.5  # pragma: no cover
        return x * cdf, cdf  # pragma: no cover
    h = normal_tail(x)
    cdf = h * -2.0  # h + [x >= 0] (1 - 2h), as arithmetic: np.where is ~30x slower on random signs
    cdf += 1.0
    cdf *= x >= 0
    cdf += h
    return x * cdf, cdf


def _gelu_grad(x: Any, cdf: Any, grad: Any) -> Any:
    """grad (Phi(x) + x phi(x)) for 1-D blocks, phi(x) = e^(-x^2/2) / sqrt(2 pi)."""
    xp = get_array_module(x)
    d = xp.multiply(x, x)
    d *= -0.5
    xp.exp(d, out=d)
    d *= x
    d *= 1.0 / math.sqrt(2.0 * math.pi)
    d += cdf
    d *= grad
    return d
