"""Differentiable backward rules of the remaining structural and fused ops.

* Linear ops (cumsum, roll, diagonal, diag_embed, masking): their backward is
  a fixed linear map of the gradient whose adjoint is the op itself.
* ``einsum``: each operand's gradient is another einsum of the gradient and
  the other operands, recorded as such (with the diagonal write for a
  repeated index as a linear map).
* Transposed convolution is the input-gradient of a convolution,
  ``conv_transpose(x, w) = Tx(x, w)``, so it reuses the convolution's closed
  set of rules (``conv_pool.py``).
* Group normalization is recomputed from primitive ops, as layer norm.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...backend import get_array_module
from ...ops import api as F
from ...ops import conv as C
from ...ops import conv_transpose as CT
from ...ops import einsum as ES
from ...ops import group_norm as GN
from ...ops import scan as SC
from ...ops import structure as ST
from ..function import Context
from ..higher_order import register
from .common import LinearOp, arg, decompose, linear_backward
from .conv_pool import ConvWeightGrad
from .nn_layers import _normalized


@register(SC.CumSum)
def _cumsum(ctx: Context, g: Any) -> Any:
    axis = ctx.axis
    return linear_backward(ctx, g, lambda u: get_array_module(u).cumsum(u, axis=axis, dtype=u.dtype))


@register(ST.KeepMask)
def _keep_mask(ctx: Context, g: Any) -> Any:
    mask = ctx.mask
    return linear_backward(ctx, g, lambda u: np.where(mask, u, u.dtype.type(0)))


@register(ST.Roll)
def _roll(ctx: Context, g: Any) -> Any:
    shifts, axes = ctx.shifts, ctx.axes
    return linear_backward(ctx, g, lambda u: np.roll(u, shifts, axes))


@register(ST.Diagonal)
def _diagonal(ctx: Context, g: Any) -> Any:
    offset, (d1, d2) = ctx.offset, ctx.dims
    return linear_backward(ctx, g, lambda u: np.diagonal(u, offset, d1, d2).copy())


@register(ST.DiagEmbed)
def _diag_embed(ctx: Context, g: Any) -> Any:
    rows, cols = ctx.rows, ctx.cols
    n = int(max(rows.max(initial=-1), cols.max(initial=-1))) + 1

    def adj(u: Any) -> Any:
        out = np.zeros(u.shape[:-1] + (n, n), dtype=u.dtype)
        out[..., rows, cols] = u
        return out

    return linear_backward(ctx, g, adj)


@register(ES.Einsum)
def _einsum(ctx: Context, g: Any) -> tuple[Any, ...]:
    """d/da of einsum("A,B->O", a, b) applied to g is einsum("O,B->A'", g, b), A' without repeats,
    broadcast over indices of a that appear nowhere else and written onto a's diagonal for repeats."""
    subs, arrays, out_sub = ctx.subs, ctx.arrays, ctx.out_sub
    tensors = [arg(ctx, i, a) for i, a in enumerate(arrays)]
    grads: list[Any] = []
    for i, target in enumerate(subs):
        if not ctx.needs_input_grad[i]:
            grads.append(None)
            continue
        others = [s for k, s in enumerate(subs) if k != i]
        uniq = "".join(dict.fromkeys(target))
        avail = set(out_sub).union(*others) if others else set(out_sub)
        present = "".join(c for c in uniq if c in avail)
        expr = ",".join([out_sub] + others) + "->" + present
        gi = ES.Einsum.apply(g, *[t for k, t in enumerate(tensors) if k != i], equation=expr)
        sizes = {c: n for c, n in zip(target, arrays[i].shape)}
        for j, c in enumerate(present):  # a size-1 dimension broadcast against the others: sum it back
            if gi.shape[j] != sizes[c]:
                gi = F.sum(gi, axis=j, keepdims=True)
        gi = F.reshape(gi, tuple(sizes[c] if c in present else 1 for c in uniq))
        gi = F.broadcast_to(gi, tuple(sizes[c] for c in uniq))
        if len(uniq) != len(target):
            grid = {c: np.arange(sizes[c]).reshape([-1 if k == j else 1 for k in range(len(uniq))])
                    for j, c in enumerate(uniq)}
            where = tuple(grid[c] for c in target)
            shape = arrays[i].shape

            def scatter(u: Any, where: Any = where, shape: Any = shape) -> Any:
                full = np.zeros(shape, dtype=u.dtype)
                full[where] = u
                return full

            gi = LinearOp.apply(gi, fwd=scatter, adj=lambda u, where=where: u[where], name="Einsum")
        grads.append(gi)
    return tuple(grads)


@register(CT.ConvTranspose)
def _conv_transpose(ctx: Context, g: Any) -> tuple[Any, Any, Any]:
    """y = Tx(x, w) for the convolution mapping y's shape to x's; so dy^T g = (conv(g, w), Tw(g, x))."""
    G, cin_g, cout_g, kh, kw, sh, sw, ph, pw, dh, dw, hf, wf = ctx.geo
    opts = {"stride": (sh, sw), "padding": (ph, ph, pw, pw), "dilation": (dh, dw), "groups": G}
    nx, nw, nb = ctx.needs_input_grad
    x, w = arg(ctx, 0, ctx.x), arg(ctx, 1, ctx.w)
    return (C.Conv.apply(g, w, None, **opts) if nx else None,
            ConvWeightGrad.apply(g, x, w_shape=ctx.w.shape, opts=opts) if nw else None,
            F.sum(g, axis=(0, 2, 3)) if nb else None)


@register(GN.GroupNormFunction)
def _group_norm(ctx: Context, g: Any) -> tuple[Any, Any, Any]:
    xhat_arr, rstd, groups = ctx.xhat, ctx.rstd, ctx.groups

    def build(x: Any, w: Any, b: Any) -> Any:
        n, c = g.shape[:2]
        xg = None if x is None else F.reshape(x, (n, groups, -1))
        xhat = _normalized(xg, None if xg is None else xg.array, xhat_arr, rstd, (2,))
        out = F.reshape(xhat, (n, c, -1))
        if w is not None:
            out = out * F.reshape(w, (c, 1))
        if b is not None:
            out = out + F.reshape(b, (c, 1))
        return F.reshape(out, g.shape)

    return decompose(ctx, g, build, (None, ctx.weight, None))

