"""Differentiable backward rules of the elementwise ops (``ops/elementwise.py``).

For z = f(x, y) each rule returns g * dz/dx and g * dz/dy written with thalweg
ops, so that their derivatives (the second derivatives of f, times g, plus
dz/dx itself for the dependence on g) are recorded.
"""

from __future__ import annotations

import math
from typing import Any

from ...backend import get_array_module
from ...ops import api as F
from ...ops import elementwise as E
from ..function import Context
from ..higher_order import constant, register
from .common import arg


@register(E.Add)
def _add(ctx: Context, g: Any) -> tuple[Any, Any]:
    return g, g


@register(E.Sub)
def _sub(ctx: Context, g: Any) -> tuple[Any, Any]:
    return g, (-g if ctx.needs_input_grad[1] else None)


@register(E.Mul)
def _mul(ctx: Context, g: Any) -> tuple[Any, Any]:
    nx, ny = ctx.needs_input_grad
    x, y = arg(ctx, 0, ctx.x), arg(ctx, 1, ctx.y)
    return (g * y if nx else None), (g * x if ny else None)


@register(E.Div)
def _div(ctx: Context, g: Any) -> tuple[Any, Any]:
    """dz/dx = 1/y, dz/dy = -x/y^2."""
    nx, ny = ctx.needs_input_grad
    y = arg(ctx, 1, ctx.y)
    gx = g / y if nx else None
    gy = None
    if ny:
        x = arg(ctx, 0, ctx.out * ctx.y)  # x itself is not saved; out * y recovers it (a constant here)
        gy = -(g * x) / (y * y)
    return gx, gy


@register(E.Neg)
def _neg(ctx: Context, g: Any) -> Any:
    return -g


@register(E.Pow)
def _pow(ctx: Context, g: Any) -> tuple[Any, Any]:
    """dz/dx = y x^(y-1) (0 where y = 0), dz/dy = x^y ln x (0 where x = 0 <= y), as the array rule."""
    nx, ny = ctx.needs_input_grad
    x, y = arg(ctx, 0, ctx.x), arg(ctx, 1, ctx.y)
    gx = gy = None
    if nx:
        if isinstance(ctx.y, (int, float)):
            gx = g * 0.0 if ctx.y == 0 else g * (2 * x) if ctx.y == 2 else g * (ctx.y * x ** (ctx.y - 1))
        else:
            zero = constant(ctx.y == 0)
            gx = F.where(zero, 0.0, g * (y * x ** F.where(zero, 1.0, y - 1)))
    if ny:
        if isinstance(ctx.x, (int, float)):
            log_x = math.log(ctx.x) if ctx.x > 0 else (-math.inf if ctx.x == 0 else math.nan)
            gy = g * F.pow(ctx.x, y) * log_x
            if ctx.x == 0:
                gy = F.where(constant(ctx.y >= 0), 0.0, gy)
        else:
            dead = constant((ctx.x == 0) & (ctx.y >= 0))
            safe_x = F.where(dead, 1.0, x)
            gy = F.where(dead, 0.0, g * (safe_x ** y) * F.log(safe_x))
    return gx, gy


@register(E.Exp)
def _exp(ctx: Context, g: Any) -> Any:
    return g * F.exp(ctx.inputs[0])


@register(E.Log)
def _log(ctx: Context, g: Any) -> Any:
    return g / ctx.inputs[0]


@register(E.Sqrt)
def _sqrt(ctx: Context, g: Any) -> Any:
    return g / (2 * F.sqrt(ctx.inputs[0]))


@register(E.Abs)
def _abs(ctx: Context, g: Any) -> Any:
    """d|x|/dx = sign(x), piecewise constant."""
    return g * constant(F.sign(constant(ctx.x)).array.astype(g.dtype, copy=False))


def _weigh(g: Any, w: Any) -> Any:
    """g * w with a weight of 0 giving 0 even for an inf/NaN g (the first-order ``_weigh``, torch's masked_fill)."""
    xp = get_array_module(g.array)
    w = xp.broadcast_to(xp.asarray(w), g.shape)
    out = g * constant(w.astype(g.dtype))
    if (w == 0).any():
        out = F.where(constant(w != 0), out, 0.0)
    return out


@register(E.Sign)
def _sign(ctx: Context, g: Any) -> Any:
    """0 everywhere, also for an inf/NaN g (the first-order rule is zeros_like)."""
    return F.where(constant(get_array_module(g.array).zeros(g.shape, dtype=bool)), g, 0.0)


@register(E.Clamp)
def _clamp(ctx: Context, g: Any) -> Any:
    return F.where(constant(ctx.mask), g, 0.0)  # torch: a NaN g stops outside the bounds


def _tie_weights(ctx: Context, g: Any, x_loses: Any, y_loses: Any) -> tuple[Any, Any]:
    """torch's weights: 1/2 at a tie, 0 on the losing side, 1 on both sides where a NaN leaves no order."""
    tie = 0.5 * (ctx.x == ctx.y)
    nx, ny = ctx.needs_input_grad
    return (_weigh(g, 1 - x_loses - tie) if nx else None), (_weigh(g, 1 - y_loses - tie) if ny else None)


@register(E.Maximum)
def _maximum(ctx: Context, g: Any) -> tuple[Any, Any]:
    return _tie_weights(ctx, g, ctx.x < ctx.y, ctx.x > ctx.y)


@register(E.Minimum)
def _minimum(ctx: Context, g: Any) -> tuple[Any, Any]:
    return _tie_weights(ctx, g, ctx.x > ctx.y, ctx.x < ctx.y)


@register(E.Where)
def _where(ctx: Context, g: Any) -> tuple[Any, Any, Any]:
    c = constant(ctx.cond)
    nx, ny = ctx.needs_input_grad[1], ctx.needs_input_grad[2]
    return None, (F.where(c, g, 0.0) if nx else None), (F.where(c, 0.0, g) if ny else None)


@register(E.Cast)
def _cast(ctx: Context, g: Any) -> Any:
    return g.astype(ctx.in_dtype)


@register(E.Clone)
def _clone(ctx: Context, g: Any) -> Any:
    return g
