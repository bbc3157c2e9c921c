"""Resampling along spatial axes (nearest and linear interpolation) as one fused op.

Both modes are separable: a 2-D bilinear resize is a linear resize of the
width followed by one of the height, and nearest is a gather along each axis.
Along one axis, each output position o reads input positions i0[o] and i1[o]
with weights w0[o] + w1[o] = 1 (nearest: i1 = i0, w0 = 1):

    y[..., o, ...] = w0[o] x[..., i0[o], ...] + w1[o] x[..., i1[o], ...]

and the backward is the transposed map, dL/dx[..., i, ...] = sum over the o
that read i of w[o] g[..., o, ...].  Because i0 and i1 never decrease with o,
that sum is one ``add.reduceat`` over runs of equal indices: no ``add.at`` and
no dense interpolation matrix.  The axes are done last first, the order of
torch's bilinear kernel (width weights inside, height weights outside).

The index and weight tables come from ``nn.functional.interpolate``, which
mirrors torch's source-index rules (``align_corners``, ``scale_factor``).
"""

from __future__ import annotations

from typing import Any, Sequence

from ..autograd.function import Context, Function
from ..backend import get_array_module

Plan = tuple[int, Any, Any, Any, Any, int]  # axis, i0, i1, w0, w1 (None for nearest), input length


def _weights_view(w: Any, axis: int, ndim: int) -> Any:
    return w.reshape((-1,) + (1,) * (ndim - axis - 1))


def _scatter_sorted(g: Any, idx: Any, n: int, axis: int) -> Any:
    """sum of g over the positions o with idx[o] = i, placed at i along ``axis`` (idx non-decreasing)."""
    xp = get_array_module(g)
    if idx.size == 0:
        shape = list(g.shape)
        shape[axis] = n
        return xp.zeros(shape, dtype=g.dtype)
    starts = xp.flatnonzero(xp.concatenate([[True], idx[1:] != idx[:-1]]))
    sums = xp.add.reduceat(g, starts, axis=axis)
    shape = list(g.shape)
    shape[axis] = n
    out = xp.zeros(shape, dtype=g.dtype)
    out[(slice(None),) * axis + (idx[starts],)] = sums
    return out


class Resample(Function):
    """y = the input resampled by ``plans``: one (axis, i0, i1, w0, w1, n_in) per axis, applied in order."""

    @staticmethod
    def forward(ctx: Context, x: Any, *, plans: Sequence[Plan] = ()) -> Any:
        xp = get_array_module(x)
        out = x
        for axis, i0, i1, w0, w1, _ in plans:
            a = xp.take(out, i0, axis=axis)
            if w0 is not None:
                a *= _weights_view(w0, axis, x.ndim)
                b = xp.take(out, i1, axis=axis)
                b *= _weights_view(w1, axis, x.ndim)
                a += b
            out = a
        ctx.plans = plans
        return out if out is not x else x.copy()

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        g = grad
        for axis, i0, i1, w0, w1, n in reversed(ctx.plans):
            if w0 is None:
                g = _scatter_sorted(g, i0, n, axis)
            else:
                nd = g.ndim
                r = _scatter_sorted(g * _weights_view(w0, axis, nd), i0, n, axis)
                r += _scatter_sorted(g * _weights_view(w1, axis, nd), i1, n, axis)
                g = r
        return g
