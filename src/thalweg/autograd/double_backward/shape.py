"""Differentiable backward rules of the shape and indexing ops (``ops/shape.py``).

These rules only move the gradient; indexing and gather scatter-add it, which
is recorded as a linear map whose adjoint is the indexing itself.
"""

from __future__ import annotations

from typing import Any

from ...backend import get_array_module
from ...ops import shape as S
from ..function import Context
from ..higher_order import register
from .common import linear_backward


@register(S.Reshape)
def _reshape(ctx: Context, g: Any) -> Any:
    return S.Reshape.apply(g, shape=ctx.in_shape)


@register(S.Transpose)
def _transpose(ctx: Context, g: Any) -> Any:
    inverse = [0] * len(ctx.axes)
    for i, a in enumerate(ctx.axes):
        inverse[a % len(ctx.axes)] = i
    return S.Transpose.apply(g, axes=tuple(inverse))


@register(S.BroadcastTo)
def _broadcast(ctx: Context, g: Any) -> Any:
    return g  # the walk sums it back to the input's shape


@register(S.Concatenate)
def _concatenate(ctx: Context, g: Any) -> tuple[Any, ...]:
    # torch's legacy rule skips 1-d empty inputs: ``ctx.sizes`` lists the kept ones only
    skipped = getattr(ctx, "skipped", None) or [False] * len(ctx.inputs)
    sizes = iter(ctx.sizes)
    out = []
    start = 0
    index = [slice(None)] * g.ndim
    for t, skip in zip(ctx.inputs, skipped):
        n = 0 if skip and len(ctx.sizes) < len(ctx.inputs) else next(sizes)
        if t is None:
            out.append(None)
        elif skip and len(ctx.sizes) < len(ctx.inputs):
            out.append(S.GetItem.apply(S.Reshape.apply(g, shape=(-1,)), index=(slice(0, 0),)))  # shape (0,)
        else:
            index[ctx.axis] = slice(start, start + n)
            out.append(S.GetItem.apply(g, index=tuple(index)))
        start += n
    return tuple(out)


@register(S.Stack)
def _stack(ctx: Context, g: Any) -> tuple[Any, ...]:
    lead = (slice(None),) * ctx.axis
    return tuple(S.GetItem.apply(g, index=lead + (i,)) if t is not None else None
                 for i, t in enumerate(ctx.inputs))


@register(S.Pad)
def _pad(ctx: Context, g: Any) -> Any:
    return S.GetItem.apply(g, index=ctx.slices)


@register(S.GetItem)
def _getitem(ctx: Context, g: Any) -> Any:
    index = ctx.index
    return linear_backward(ctx, g, lambda u: u[index])


@register(S.Gather)
def _gather(ctx: Context, g: Any) -> Any:
    index, axis = ctx.index, ctx.axis

    def adj(u: Any) -> Any:
        if index.shape != u.shape:
            u = u[tuple(slice(None) if d == axis else slice(0, n) for d, n in enumerate(index.shape))]
        return get_array_module(u).take_along_axis(u, index, axis=axis)

    return linear_backward(ctx, g, adj)
