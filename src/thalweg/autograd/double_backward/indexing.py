"""Differentiable backward rules of the scatter-style indexing ops (``ops/indexing.py``).

Each of these ops writes (or adds) some of ``src`` into a copy of ``x``, so
its gradients are fixed selections of the output gradient g: the written
places of g are zeroed for x, and read back (``g[where]``, a recorded
``GetItem`` whose own backward is the scatter-add) for src.  ``scatter_reduce``
with ``amax``/``amin``/``mean`` scales them by constant shares; its ``prod``
form has no rule (its gradient raises when differentiated again).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...ops import api as F
from ...ops import indexing as IX
from ...ops import shape as S
from ..function import Context
from ..higher_order import constant, first_order_only, register


def _into(picked: Any, shape: tuple[int, ...]) -> Any:
    """``picked`` (the index's shape) placed at the start of a zero tensor of ``shape``."""
    if tuple(picked.shape) == tuple(shape):
        return picked
    return F.pad(picked, [(0, n - m) for n, m in zip(shape, picked.shape)])


def _kept(shape: tuple[int, ...], where: Any) -> Any:
    """1 where nothing was written, 0 at ``where``."""
    mask = np.ones(shape, dtype=bool)
    mask[where] = False
    return constant(mask)


@register(IX.Scatter)
def _scatter(ctx: Context, g: Any) -> tuple[Any, Any]:
    nx, ns = ctx.needs_input_grad
    index = ctx.index
    if not index.size:
        return (g if nx else None), (constant(np.zeros(ctx.src_shape, g.dtype)) if ns else None)
    where = IX._coords(index, ctx.dim)
    gx = g * _kept(g.shape, where) if nx else None
    gs = _into(S.GetItem.apply(g, index=where), ctx.src_shape) if ns else None
    return gx, gs


@register(IX.IndexAdd)
def _index_add(ctx: Context, g: Any) -> tuple[Any, Any]:
    nx, ns = ctx.needs_input_grad
    return (g if nx else None), (S.GetItem.apply(g, index=ctx.sel) * ctx.alpha if ns else None)


@register(IX.IndexCopy)
def _index_copy(ctx: Context, g: Any) -> tuple[Any, Any]:
    nx, ns = ctx.needs_input_grad
    gx = g * _kept(g.shape, ctx.sel) if nx else None
    gs = None
    if ns:
        picked = S.GetItem.apply(g, index=ctx.sel)
        gs = picked if tuple(picked.shape) == tuple(ctx.source_shape) else \
            F.reshape(F.sum(picked), ctx.source_shape)
    return gx, gs


@register(IX.MaskedScatter)
def _masked_scatter(ctx: Context, g: Any) -> tuple[Any, Any]:
    nx, ns = ctx.needs_input_grad
    mask = ctx.mask
    gx = g * constant(~mask) if nx else None
    gs = None
    if ns:
        size = int(np.prod(ctx.source_shape))
        picked = _into(S.GetItem.apply(g, index=mask), (size,))
        gs = F.reshape(picked, ctx.source_shape)
    return gx, gs


@register(IX.ScatterReduce)
def _scatter_reduce(ctx: Context, g: Any) -> tuple[Any, Any]:
    """sum: g to every contributor; mean: g / count; amax/amin: g shared among the tied contributors."""
    reduce, index = ctx.reduce, ctx.index
    if reduce == "prod" or not index.size:
        return first_order_only(ctx, g)
    nx, ns = ctx.needs_input_grad
    where = IX._coords(index, ctx.dim)
    touched, x = ctx.touched, ctx.x
    self_kept = ~touched | ctx.include_self
    dtype = g.dtype
    if reduce == "sum":
        x_share = np.where(self_kept, 1, 0)
        src_share = None
    elif reduce == "mean":
        inv = 1.0 / np.maximum(ctx.count, 1)
        x_share = np.where(touched, np.where(self_kept, inv, 0), 1)
        src_share = inv[where]
    else:  # amax / amin: ties share equally
        vals = IX._src_part(ctx.src, index)
        out = ctx.out
        ties = np.zeros(x.shape, np.int64)
        np.add.at(ties, where, (vals == out[where]).astype(np.int64))
        self_hit = touched & self_kept & (x == out)
        ties = ties + self_hit
        inv = 1.0 / np.maximum(ties, 1)
        x_share = np.where(touched, np.where(self_hit, inv, 0), 1)
        src_share = np.where(vals == out[where], inv[where], 0)
    gx = g * constant(x_share.astype(dtype)) if nx else None
    gs = None
    if ns:
        picked = S.GetItem.apply(g, index=where)
        if src_share is not None:
            picked = picked * constant(src_share.astype(dtype))
        gs = _into(picked, ctx.src_shape)
    return gx, gs
