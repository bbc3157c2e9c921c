"""Differentiable backward rules of the matrix product and the fused layers.

``MatMul`` and ``LinearFunction`` are bilinear, so their rules are matrix
products of recorded tensors.  Batch and layer normalization and Lp
normalization are recomputed from primitive ops (mean, subtraction, sqrt...)
and differentiated through that recomputation (``common.decompose``): the
fused forward stays fast, and the second derivatives come from rules that are
each a line long.
"""

from __future__ import annotations

from typing import Any

from ...backend import get_array_module
from ...ops import api as F
from ...ops import linalg as L
from ...ops import nn_ops as N
from ...ops import reduce as R
from ..function import Context
from ..higher_order import constant, register
from .common import arg, decompose, linear_backward


@register(L.MatMul)
def _matmul(ctx: Context, g: Any) -> tuple[Any, Any]:
    """dL/dA = G B^T, dL/dB = A^T G, with 1-D operands as a row (left) or column (right) vector."""
    na, nb = ctx.needs_input_grad
    a, b = arg(ctx, 0, ctx.a), arg(ctx, 1, ctx.b)
    a1, b1 = ctx.a.ndim == 1, ctx.b.ndim == 1
    if a1 and b1:
        g = F.reshape(g, (1, 1))
    elif a1:
        g = F.unsqueeze(g, -2)
    elif b1:
        g = F.unsqueeze(g, -1)
    a2 = F.reshape(a, (1, -1)) if a1 else a
    b2 = F.reshape(b, (-1, 1)) if b1 else b
    ga = gb = None
    if na:
        ga = F.matmul(g, F.swapaxes(b2, -1, -2))
        if a1:
            ga = ga[..., 0, :]
    if nb:
        gb = F.matmul(F.swapaxes(a2, -1, -2), g)
        if b1:
            gb = gb[..., 0]
    return ga, gb


@register(N.LinearFunction)
def _linear(ctx: Context, g: Any) -> tuple[Any, Any, Any]:
    """dL/dx = G W, dL/dW = G^T X, dL/db = sum_B G (leading dimensions flattened into B)."""
    nx, nw, nb = ctx.needs_input_grad
    x_shape = ctx.x_shape
    g2 = g if g.ndim == 2 else F.reshape(g, (-1, g.shape[-1]))
    gx = gw = gb = None
    if nx:
        gx = F.matmul(g2, arg(ctx, 1, ctx.weight))
        if len(x_shape) != 2:
            gx = F.reshape(gx, x_shape)
    if nw:
        x = arg(ctx, 0, ctx.x2)
        x2 = x if x.ndim == 2 else F.reshape(x, (-1, x_shape[-1]))
        gw = F.matmul(F.swapaxes(g2, 0, 1), x2)
    if nb:
        gb = F.sum(g2, axis=0)
    return gx, gw, gb


@register(N.DropoutFunction)
def _dropout(ctx: Context, g: Any) -> Any:
    return g * constant(ctx.mask)


def _offset_eps(rstd: Any, xa: Any, axes: tuple[int, ...]) -> Any:
    """eps as the forward used it, recovered from the saved 1/sqrt(var + eps) and the input."""
    var = ((xa - xa.mean(axis=axes, keepdims=True)) ** 2).mean(axis=axes, keepdims=True)
    return 1.0 / (rstd * rstd) - var


def _normalized(x: Any, xa: Any, xhat: Any, rstd: Any, axes: tuple[int, ...]) -> Any:
    """xhat = (x - mean) / sqrt(var + eps) recomputed from the tensor x (a constant when x needs no grad)."""
    if x is None:
        return constant(xhat)
    eps = constant(_offset_eps(rstd, xa, axes).astype(xa.dtype))
    centered = x - F.mean(x, axis=axes, keepdims=True)
    var = F.mean(centered * centered, axis=axes, keepdims=True)
    return centered / F.sqrt(var + eps)


@register(N.BatchNormFunction)
def _batch_norm(ctx: Context, g: Any) -> tuple[Any, Any, Any]:
    axes, training = ctx.axes, ctx.training
    xhat_arr, rstd = N.saved_xhat(ctx), ctx.rstd
    view = N._channel_view(xhat_arr.shape)

    def build(x: Any, w: Any, b: Any) -> Any:
        if x is not None and training:
            xhat = _normalized(x, x.array, xhat_arr, rstd, axes)
        elif x is not None:  # evaluation: an affine map of x, xhat = x r + (xhat - x r)
            xhat = x * constant(rstd) + constant(xhat_arr - x.array * rstd)
        else:
            xhat = constant(xhat_arr)
        out = xhat if w is None else xhat * F.reshape(w, view)
        return out if b is None else out + F.reshape(b, view)

    return decompose(ctx, g, build, (None, ctx.weight, None))


@register(N.LayerNormFunction)
def _layer_norm(ctx: Context, g: Any) -> tuple[Any, Any, Any]:
    axes, xhat_arr, rstd = ctx.axes, N.layer_norm_xhat(ctx), ctx.rstd

    def build(x: Any, w: Any, b: Any) -> Any:
        xhat = _normalized(x, None if x is None else x.array, xhat_arr, rstd, axes)
        out = xhat if w is None else xhat * w
        return out if b is None else out + b

    return decompose(ctx, g, build, (None, ctx.weight, None))


@register(N.NormalizeFunction)
def _normalize(ctx: Context, g: Any) -> Any:
    """y = x / max(||x||_p, eps), the max taken as a constant choice of branch."""
    p, axis, eps = ctx.p, ctx.axis, ctx.eps
    above = constant(ctx.n > eps)

    def build(x: Any) -> Any:
        if p == 2:
            n = R.VectorNorm2.apply(x, axis=axis, keepdims=True)
        elif p == 1:
            n = F.sum(F.abs(x), axis=axis, keepdims=True)
        else:
            n = F.sum(F.abs(x) ** p, axis=axis, keepdims=True) ** (1.0 / p)
        return x / F.where(above, n, float(eps))

    return decompose(ctx, g, build, (None,))


def _gather_last_rule(ctx: Context, g: Any) -> Any:
    idx = ctx.idx
    return linear_backward(ctx, g, lambda u: get_array_module(u).take_along_axis(u, idx, axis=-1)[..., 0])


def _register_distributions() -> None:
    from ...distributions.utils import GatherLast

    register(GatherLast)(_gather_last_rule)


_register_distributions()
