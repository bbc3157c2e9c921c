"""Differentiable backward rules of convolution and pooling (``ops/conv.py``, ``ops/pool.py``).

Convolution y = A(x, w) + b is bilinear in (x, w).  Its two gradients are the
bilinear maps

    Tx(g, w) = (dy/dx)^T g      (the "transposed convolution" of g by w),
    Tw(x, g) = (dy/dw)^T g      (the correlation of x with g),

recorded here as the Functions :class:`ConvInputGrad` and
:class:`ConvWeightGrad`.  Differentiating them again only needs A, Tx and Tw:
for a cotangent u of Tx, d<u, Tx(g, w)> = <A(u, w), dg> + <Tw(u, g), dw>, and
for a cotangent v of Tw, d<v, Tw(x, g)> = <Tx(g, v), dx> + <A(x, v), dg>.
So the set {Conv, ConvInputGrad, ConvWeightGrad} is closed under
differentiation: every order of derivative is available.

Pooling's backward is a fixed linear map of the gradient (to the arg-max of
each window, or spread over it), recorded with its adjoint.
"""

from __future__ import annotations

from typing import Any

from ...backend import get_array_module
from ...ops import conv as C
from ...ops import embedding as Emb
from ...ops import pool as P
from ...ops import workspace
from ..function import Context, Function
from ..higher_order import register
from .common import arg, linear_backward


def _options(geo: C.ConvGeometry) -> dict[str, Any]:
    return {"stride": (geo.sh, geo.sw), "padding": geo.pad, "dilation": (geo.dh, geo.dw), "groups": geo.groups}


def _four_d(shape: tuple[int, ...]) -> tuple[int, ...]:
    return shape[:2] + (1,) + shape[2:] if len(shape) == 3 else shape


def conv_forward(x: Any, w: Any, opts: dict[str, Any]) -> Any:
    """A(x, w): the convolution without bias, on arrays."""
    return C.Conv.forward(Context(), x, w, None, **opts)


def conv_input_grad(g: Any, w: Any, x_shape: tuple[int, ...], opts: dict[str, Any]) -> Any:
    """Tx(g, w) on arrays, by the convolution's own backward."""
    one_d = len(x_shape) == 3
    w4 = w[:, :, None, :] if one_d else w
    ctx = Context()
    ctx.needs_input_grad = (True, False, False)
    ctx.geo = C.ConvGeometry(_four_d(x_shape), w4.shape, opts["stride"], opts["padding"], opts["dilation"],
                             opts["groups"])
    ctx.one_d, ctx.w_shape, ctx.w = one_d, w4.shape, w4
    return C.Conv.backward(ctx, g)[0]


def conv_weight_grad(x: Any, g: Any, w_shape: tuple[int, ...], opts: dict[str, Any]) -> Any:
    """Tw(x, g) on arrays, by the convolution's own backward."""
    one_d = x.ndim == 3
    x4 = x[:, :, None, :] if one_d else x
    ctx = Context()
    ctx.needs_input_grad = (False, True, False)
    ctx.geo = C.ConvGeometry(x4.shape, _four_d(w_shape), opts["stride"], opts["padding"], opts["dilation"],
                             opts["groups"])
    ctx.cols, buf = C.gather(x4, ctx.geo)
    ctx.one_d, ctx.w_shape = one_d, _four_d(w_shape)
    gw = C.Conv.backward(ctx, g)[1]
    workspace.give(buf, alive=(gw,))
    return gw


class ConvInputGrad(Function):
    """Tx(g, w) = (d conv(x, w) / dx)^T g, differentiable in g and w (see the module docstring)."""

    @staticmethod
    def forward(ctx: Context, g: Any, w: Any, *, x_shape: tuple[int, ...] = (), opts: Any = None) -> Any:
        ctx.g, ctx.w, ctx.x_shape, ctx.opts = g, w, x_shape, opts
        return conv_input_grad(g, w, x_shape, opts)

    @staticmethod
    def backward(ctx: Context, u: Any) -> tuple[Any, Any]:
        ng, nw = ctx.needs_input_grad
        return (conv_forward(u, ctx.w, ctx.opts) if ng else None,
                conv_weight_grad(u, ctx.g, ctx.w.shape, ctx.opts) if nw else None)


class ConvWeightGrad(Function):
    """Tw(x, g) = (d conv(x, w) / dw)^T g, differentiable in x and g (see the module docstring)."""

    @staticmethod
    def forward(ctx: Context, x: Any, g: Any, *, w_shape: tuple[int, ...] = (), opts: Any = None) -> Any:
        ctx.x, ctx.g, ctx.w_shape, ctx.opts = x, g, w_shape, opts
        return conv_weight_grad(x, g, w_shape, opts)

    @staticmethod
    def backward(ctx: Context, v: Any) -> tuple[Any, Any]:
        nx, ng = ctx.needs_input_grad
        return (conv_input_grad(ctx.g, v, ctx.x.shape, ctx.opts) if nx else None,
                conv_forward(ctx.x, v, ctx.opts) if ng else None)


def _squeeze_1d(a: Any, one_d: bool) -> Any:
    return None if a is None else (a[:, :, 0, :] if one_d else a)


@register(C.Conv)
def _conv(ctx: Context, g: Any) -> tuple[Any, Any, Any]:
    nx, nw, nb = ctx.needs_input_grad
    opts = _options(ctx.geo)
    one_d = ctx.one_d
    x_shape = _squeeze_1d(ctx.x, one_d).shape
    w_shape = ctx.w_shape[:2] + ctx.w_shape[3:] if one_d else ctx.w_shape
    gx = gw = gb = None
    if nx:
        w = arg(ctx, 1, _squeeze_1d(ctx.w, one_d))
        gx = ConvInputGrad.apply(g, w, x_shape=x_shape, opts=opts)
    if nw:
        x = arg(ctx, 0, _squeeze_1d(ctx.x, one_d))
        gw = ConvWeightGrad.apply(x, g, w_shape=w_shape, opts=opts)
    if nb:
        gb = g.sum(axis=(0, 2) if one_d else (0, 2, 3))
    return gx, gw, gb


@register(ConvInputGrad)
def _conv_input_grad(ctx: Context, u: Any) -> tuple[Any, Any]:
    ng, nw = ctx.needs_input_grad
    g, w = arg(ctx, 0, ctx.g), arg(ctx, 1, ctx.w)
    return (C.Conv.apply(u, w, None, **ctx.opts) if ng else None,
            ConvWeightGrad.apply(u, g, w_shape=ctx.w.shape, opts=ctx.opts) if nw else None)


@register(ConvWeightGrad)
def _conv_weight_grad(ctx: Context, v: Any) -> tuple[Any, Any]:
    nx, ng = ctx.needs_input_grad
    x, g = arg(ctx, 0, ctx.x), arg(ctx, 1, ctx.g)
    return (ConvInputGrad.apply(g, v, x_shape=ctx.x.shape, opts=ctx.opts) if nx else None,
            C.Conv.apply(x, v, None, **ctx.opts) if ng else None)


# -------------------------------------------------------------------- pooling
@register(P.MaxPool)
def _max_pool(ctx: Context, g: Any) -> Any:
    """The gradient goes to each window's first maximum; the adjoint picks the value there."""
    one_d = ctx.one_d
    flat = P.max_positions(ctx)  # index into each (unpadded) input plane

    def adj(u: Any) -> Any:
        xp = get_array_module(u)
        u4 = u[:, :, None, :] if one_d else u
        n, c = u4.shape[:2]
        picked = xp.take_along_axis(u4.reshape(n, c, -1), flat.reshape(n, c, -1), axis=2).reshape(flat.shape)
        return picked[:, :, 0, :] if one_d else picked

    return linear_backward(ctx, g, adj)


@register(P.AvgPool)
def _avg_pool(ctx: Context, g: Any) -> Any:
    """Every window element gets g / divisor; the adjoint is the average pooling itself."""
    geo, scale, one_d = ctx.geo, ctx.scale, ctx.one_d

    def adj(u: Any) -> Any:
        u4 = u[:, :, None, :] if one_d else u
        upad = geo.pad(u4, 0)
        offsets = geo.offsets()
        acc = geo.view(upad, *offsets[0]).copy()
        for i, j in offsets[1:]:
            acc += geo.view(upad, i, j)
        acc = acc * scale
        return acc[:, :, 0, :] if one_d else acc

    return linear_backward(ctx, g, adj)


@register(P.AdaptiveAvgPool)
def _adaptive_avg_pool(ctx: Context, g: Any) -> Any:
    """y = P_h x P_w^T is linear; the adjoint of its backward is the pooling itself."""
    ph, pw = ctx.ph, ctx.pw

    def adj(u: Any) -> Any:
        y = P._right_multiply(u, pw.T)
        return y if ph is None else get_array_module(u).matmul(ph, y)

    return linear_backward(ctx, g, adj)


# ------------------------------------------------------------------ embedding
@register(Emb.EmbeddingFunction)
def _embedding(ctx: Context, g: Any) -> Any:
    """Scatter-add of rows; the adjoint reads the rows back (scaled, padding row zero)."""
    indices, rows, padding_idx, by_freq = ctx.indices, ctx.shape[0], ctx.padding_idx, ctx.scale_grad_by_freq

    def adj(u: Any) -> Any:
        xp = get_array_module(u)
        out = xp.take(u, indices, axis=0)
        if by_freq:
            counts = xp.bincount(indices.reshape(-1), minlength=rows)
            out = out / counts[indices][..., None].astype(u.dtype)
        if padding_idx is not None:
            out = out * (indices != padding_idx)[..., None]
        return out

    return linear_backward(ctx, g, adj)
