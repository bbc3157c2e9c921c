"""Differentiable backward rules of the reductions (``ops/reduce.py``)."""

from __future__ import annotations

from typing import Any

from ...backend import get_array_module
from ...ops import api as F
from ...ops import reduce as R
from ...ops import shape as S
from ..function import Context
from ..higher_order import constant, register


def _expand(g: Any, shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> Any:
    """Re-insert the reduced axes of the gradient tensor so it broadcasts against ``shape``."""
    if not keepdims and axes and len(shape):
        g = S.Reshape.apply(g, shape=tuple(1 if i in axes else n for i, n in enumerate(shape)))
    return g


def _count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    n = 1
    for a in axes:
        n *= shape[a]
    return n


@register(R.Sum)
def _sum(ctx: Context, g: Any) -> Any:
    return S.BroadcastTo.apply(_expand(g, ctx.shape, ctx.axes, ctx.keepdims), shape=ctx.shape)


@register(R.Mean)
def _mean(ctx: Context, g: Any) -> Any:
    # a count of 0: the input is empty, and so is its gradient (scaled by 0, not 1/0)
    g = _expand(g, ctx.shape, ctx.axes, ctx.keepdims) * (1.0 / ctx.count if ctx.count else 0.0)
    return S.BroadcastTo.apply(g, shape=ctx.shape)


@register(R._Extreme)
def _extreme(ctx: Context, g: Any) -> Any:
    """Ties share the gradient: dz/dx = mask / count, piecewise constant.

    As the first-order rule: with ``nan_ties`` a NaN result is tied with every
    NaN input, and the positions not chosen get 0 even for a NaN g; otherwise a
    NaN in the slice (no position equals the result) makes the slice NaN.
    """
    xp = get_array_module(ctx.x)
    mask = ctx.x == ctx.out_k
    nan_ties = getattr(ctx, "nan_ties", False)
    if nan_ties:
        mask |= xp.isnan(ctx.x) & xp.isnan(ctx.out_k)
    with xp.errstate(divide="ignore", invalid="ignore"):
        share = (mask / mask.sum(axis=ctx.axes, keepdims=True)).astype(g.dtype)
    out = _expand(g, ctx.x.shape, ctx.axes, ctx.keepdims) * constant(share)
    return F.where(constant(mask), out, 0.0) if nan_ties else out


@register(R.NonzeroCount)
def _nonzero_count(ctx: Context, g: Any) -> Any:
    return None  # piecewise constant: no gradient, as torch's norm(p=0)


@register(R.Var)
def _var(ctx: Context, g: Any) -> Any:
    """dz/dx_i = 2 (x_i - m) / (N - c)."""
    x = ctx.inputs[0]
    centered = x - F.mean(x, axis=ctx.axes, keepdims=True)
    scale = 2.0 / ctx.denom if ctx.denom else float("nan")
    return _expand(g, x.shape, ctx.axes, ctx.keepdims) * centered * scale


@register(R.Std)
def _std(ctx: Context, g: Any) -> Any:
    """ds/dx_i = (x_i - m) / ((N - c) s), 0 where s = 0."""
    x = ctx.inputs[0]
    n = _count(x.shape, ctx.axes)
    correction = n - ctx.denom if ctx.denom else n
    s = R.Std.apply(x, axis=ctx.axes, keepdims=True, correction=correction)
    zero = _expand(constant(ctx.out), x.shape, ctx.axes, ctx.keepdims).array == 0
    centered = x - F.mean(x, axis=ctx.axes, keepdims=True)
    denom = float(ctx.denom) if ctx.denom else float("nan")
    safe = F.where(constant(zero), 1.0, s)
    scale = F.where(constant(zero), 0.0, _expand(g, x.shape, ctx.axes, ctx.keepdims) / (safe * denom))
    return scale * centered


@register(R.Prod)
def _prod(ctx: Context, g: Any) -> Any:
    """dz/dx_i = prod_{j != i} x_j: z / x_i when no x is 0, else the products of the others, one by one."""
    x = ctx.inputs[0]
    axes = ctx.axes
    ge = _expand(g, x.shape, axes, ctx.keepdims)
    if (ctx.x != 0).all():
        return ge * R.Prod.apply(x, axis=axes, keepdims=True) / x
    kept = [i for i in range(x.ndim) if i not in axes]
    perm = tuple(kept + list(axes))
    moved = F.permute(x, *perm)
    k = _count(x.shape, axes)
    flat = F.reshape(moved, moved.shape[:len(kept)] + (k,))
    others = []
    for i in range(k):
        rest = F.cat([flat[..., :i], flat[..., i + 1:]], dim=-1)
        others.append(R.Prod.apply(rest, axis=rest.ndim - 1))
    stacked = F.reshape(F.stack(others, dim=-1), moved.shape)
    inverse = [0] * x.ndim
    for i, a in enumerate(perm):
        inverse[a] = i
    out = ge * F.permute(stacked, *inverse)
    if getattr(ctx, "whole", False) and int((ctx.x == 0).sum()) > 1:
        # the first-order rule (torch's) gives 0 even for a NaN/inf g; for a finite g the value here is 0
        # too, and the products keep the true second derivatives (d2z/dx_i dx_j with the zeros at i and j)
        xp = get_array_module(ctx.x)
        finite = xp.broadcast_to(xp.isfinite(ge.array), ctx.x.shape)
        if not finite.all():
            out = F.where(constant(finite), out, 0.0)
    return out


@register(R.VectorNorm2)
def _norm2(ctx: Context, g: Any) -> Any:
    """dn/dx_i = x_i / n, 0 where n = 0."""
    x = ctx.inputs[0]
    n = R.VectorNorm2.apply(x, axis=ctx.axes, keepdims=True)
    zero = constant(n.array == 0)
    scale = F.where(zero, 0.0, _expand(g, x.shape, ctx.axes, ctx.keepdims) / F.where(zero, 1.0, n))
    return scale * x


@register(R.LogSumExp)
def _logsumexp(ctx: Context, g: Any) -> Any:
    """dz/dx = softmax(x) over the reduced axes, exp(x - logsumexp(x))."""
    x = ctx.inputs[0]
    p = F.exp(x - R.LogSumExp.apply(x, axis=ctx.axes, keepdims=True))
    return _expand(g, x.shape, ctx.axes, ctx.keepdims) * p
