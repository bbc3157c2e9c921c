"""Differentiable backward rules of the activations (``ops/activation.py``).

Each derivative is written with thalweg ops on the input tensor, recomputing
the activation where the array rule reused the forward output (sigmoid, tanh,
softmax): the recomputation is what makes the second derivative available.
"""

from __future__ import annotations

import math
from typing import Any

from ...backend import get_array_module
from ...ops import activation as A
from ...ops import api as F
from ..function import Context, Function
from ..higher_order import constant, register

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@register(A.ReLU)
def _relu(ctx: Context, g: Any) -> Any:
    """f' = [x > 0], piecewise constant (the mask from the output where the compiled forward kept that)."""
    off = ctx.off if ctx.out is None else ctx.out <= 0
    return F.where(constant(off), 0.0, g)


@register(A.Sigmoid)
def _sigmoid(ctx: Context, g: Any) -> Any:
    s = A.Sigmoid.apply(ctx.inputs[0])
    return g * s * (1.0 - s)


@register(A.Tanh)
def _tanh(ctx: Context, g: Any) -> Any:
    t = A.Tanh.apply(ctx.inputs[0])
    return g * (1.0 - t * t)


@register(A.ELU)
def _elu(ctx: Context, g: Any) -> Any:
    """f' = 1 for x > 0, f(x) + alpha = alpha e^x otherwise."""
    x = ctx.inputs[0]
    neg = F.exp(F.minimum(x, 0.0)) * ctx.alpha
    return g * F.where(constant(ctx.pos), 1.0, neg)


@register(A.LeakyReLU)
def _leaky_relu(ctx: Context, g: Any) -> Any:
    slope = get_array_module(ctx.pos).where(ctx.pos, 1.0, ctx.slope).astype(g.dtype)
    return g * constant(slope)


@register(A.Softplus)
def _softplus(ctx: Context, g: Any) -> Any:
    """f' = sigmoid(beta x), exactly 1 on the linear part above the threshold."""
    sig = A.Sigmoid.apply(ctx.inputs[0] * float(ctx.beta))
    return g * F.where(constant(ctx.linear), 1.0, sig)


@register(A.Softmax)
def _softmax(ctx: Context, g: Any) -> Any:
    """dL/dx = p (g - sum_j g_j p_j)."""
    p = A.Softmax.apply(ctx.inputs[0], axis=ctx.axis)
    return p * (g - F.sum(g * p, axis=ctx.axis, keepdims=True))


@register(A.LogSoftmax)
def _log_softmax(ctx: Context, g: Any) -> Any:
    """dL/dx = g - softmax(x) sum_j g_j."""
    p = A.Softmax.apply(ctx.inputs[0], axis=ctx.axis)
    return g - p * F.sum(g, axis=ctx.axis, keepdims=True)


class NormalCDF(Function):
    """Phi(x), the standard normal CDF;  Phi'(x) = phi(x) = e^(-x^2/2) / sqrt(2 pi)."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        ctx.x = x
        return (0.5 * A.erfc_array(x * -math.sqrt(0.5))).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        x = ctx.x
        return grad * get_array_module(x).exp(-0.5 * x * x) * _INV_SQRT_2PI


@register(NormalCDF)
def _normal_cdf(ctx: Context, g: Any) -> Any:
    x = ctx.inputs[0]
    return g * F.exp(x * x * -0.5) * _INV_SQRT_2PI


@register(A.GELU)
def _gelu(ctx: Context, g: Any) -> Any:
    """f' = Phi(x) + x phi(x) (exact), or the derivative of the tanh form."""
    x = ctx.inputs[0]
    if ctx.approximate == "tanh":
        c = math.sqrt(2.0 / math.pi)
        t = F.tanh((x + x * x * x * 0.044715) * c)
        d = (1.0 + t) * 0.5 + x * (1.0 - t * t) * (c * 0.5) * (1.0 + x * x * (3 * 0.044715))
    else:
        d = NormalCDF.apply(x) + x * F.exp(x * x * -0.5) * _INV_SQRT_2PI
    return g * d
