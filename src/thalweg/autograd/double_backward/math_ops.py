"""Differentiable backward rules of the elementwise math ops (``ops/math_ops.py``).

For z = f(x) the rule is g * f'(x), with f' written with thalweg ops (often f's
neighbours: sin' = cos, cos' = -sin, lgamma' = digamma), so every higher
derivative follows.  Ops are looked up by name, and only those the module
defines are registered; an op without an entry here keeps the engine's
error on double backward.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ...ops import api as F
from ...ops import math_ops as M
from ..function import Context
from ..higher_order import constant, register

_LN2, _LN10 = math.log(2.0), math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _op(name: str) -> Callable[[Any], Any]:
    fn = getattr(M, name)
    return lambda x: fn.apply(x)


def _zero(x: Any) -> Any:
    return constant(x.array * 0)


DERIVATIVES: dict[str, Callable[[Any], Any]] = {
    "Sin": lambda x: _op("Cos")(x),
    "Cos": lambda x: -_op("Sin")(x),
    "Tan": lambda x: 1.0 + _op("Tan")(x) ** 2,
    "Asin": lambda x: 1.0 / F.sqrt(1.0 - x * x),
    "Acos": lambda x: -1.0 / F.sqrt(1.0 - x * x),
    "Atan": lambda x: 1.0 / (1.0 + x * x),
    "Sinh": lambda x: _op("Cosh")(x),
    "Cosh": lambda x: _op("Sinh")(x),
    "Asinh": lambda x: 1.0 / F.sqrt(x * x + 1.0),
    "Acosh": lambda x: 1.0 / F.sqrt((x - 1.0) * (x + 1.0)),
    "Atanh": lambda x: 1.0 / (1.0 - x * x),
    "Log1p": lambda x: 1.0 / (1.0 + x),
    "Expm1": lambda x: F.exp(x),
    "Log2": lambda x: 1.0 / (x * _LN2),
    "Log10": lambda x: 1.0 / (x * _LN10),
    "Exp2": lambda x: _op("Exp2")(x) * _LN2,
    "Rsqrt": lambda x: _op("Rsqrt")(x) ** 3 * -0.5,
    "Reciprocal": lambda x: -(_op("Reciprocal")(x) ** 2),
    "Square": lambda x: x * 2.0,
    "Floor": _zero,
    "Ceil": _zero,
    "Trunc": _zero,
    "Frac": lambda x: constant(x.array * 0 + 1),
    "Erf": lambda x: F.exp(-(x * x)) * _TWO_OVER_SQRT_PI,
    "Erfc": lambda x: F.exp(-(x * x)) * -_TWO_OVER_SQRT_PI,
    "Erfinv": lambda x: F.exp(_op("Erfinv")(x) ** 2) * (0.5 * math.sqrt(math.pi)),
    "Lgamma": lambda x: _op("Digamma")(x),
    "Deg2Rad": lambda x: constant(x.array * 0 + math.pi / 180),
    "Rad2Deg": lambda x: constant(x.array * 0 + 180 / math.pi),
}


def _unary_rule(derivative: Callable[[Any], Any]) -> Callable[[Context, Any], Any]:
    def rule(ctx: Context, g: Any) -> Any:
        return g * derivative(ctx.inputs[0])

    return rule


for _name, _derivative in DERIVATIVES.items():
    _cls = getattr(M, _name, None)
    if _cls is not None:
        register(_cls)(_unary_rule(_derivative))


def _symmetric_rule(fn: type, partial: Callable[[Any, Any, Any], Any]) -> Callable[[Context, Any], Any]:
    """The rule of z = f(x, y) symmetric in x and y, whose dz/dx is a formula in (x, z), and dz/dy
    the same formula in (y, z): ``partial(g, v, z)`` gives g dz/dv.  z is computed again as a tensor."""

    def rule(ctx: Context, g: Any) -> tuple[Any, Any]:
        x, y = ctx.inputs
        xv = x if x is not None else constant(ctx.x)
        yv = y if y is not None else constant(ctx.y)
        z = fn.apply(xv, yv)
        return (partial(g, xv, z) if x is not None else None), (partial(g, yv, z) if y is not None else None)

    return rule


# z = log(e^x + e^y);  dz/dx = e^(x - z), dz/dy = e^(y - z)
register(M.LogAddExp)(_symmetric_rule(M.LogAddExp, lambda g, v, z: g * F.exp(v - z)))
# z = sqrt(x^2 + y^2);  dz/dx = x / z, dz/dy = y / z
register(M.Hypot)(_symmetric_rule(M.Hypot, lambda g, v, z: g * v / z))


@register(M.Atan2)
def _atan2(ctx: Context, g: Any) -> tuple[Any, Any]:
    """z = atan2(y, x);  dz/dy = x / (x^2 + y^2), dz/dx = -y / (x^2 + y^2)."""
    y, x = ctx.inputs
    yv = y if y is not None else constant(ctx.y)
    xv = x if x is not None else constant(ctx.x)
    r2 = xv * xv + yv * yv
    inf = constant(r2.array == 0)  # 1 / r2 is infinite there: masked to 0, as the first-order rule (torch)
    recip = F.where(inf, 0.0, 1.0 / F.where(inf, 1.0, r2))
    return (g * xv * recip if y is not None else None), (-(g * yv) * recip if x is not None else None)


@register(M.Lerp)
def _lerp(ctx: Context, g: Any) -> tuple[Any, Any, Any]:
    """z = s + w (e - s);  dz/ds = 1 - w, dz/de = w, dz/dw = e - s."""
    s, e, w = ctx.inputs
    sv = s if s is not None else constant(ctx.start)
    ev = e if e is not None else constant(ctx.end)
    wv = w if w is not None else constant(ctx.weight)
    return ((g * (1.0 - wv)) if s is not None else None, (g * wv) if e is not None else None,
            (g * (ev - sv)) if w is not None else None)


@register(M.Round)
def _round(ctx: Context, g: Any) -> Any:
    return g * 0.0


@register(M.NanToNum)
def _nan_to_num(ctx: Context, g: Any) -> Any:
    return g * constant(ctx.finite)


def _quotient_rule(ctx: Context, g: Any, rounding: Callable[[Any], Any]) -> tuple[Any, Any]:
    """z = x - round(x / y) y with a piecewise-constant rounding: dz/dx = 1, dz/dy = -round(x / y)."""
    nx, ny = ctx.needs_input_grad
    with np.errstate(all="ignore"):
        q = rounding(np.asarray(ctx.x) / np.asarray(ctx.y))
    return (g if nx else None), (-(g * constant(q)) if ny else None)


@register(M.Fmod)
def _fmod(ctx: Context, g: Any) -> tuple[Any, Any]:
    return _quotient_rule(ctx, g, np.trunc)


@register(M.Remainder)
def _remainder(ctx: Context, g: Any) -> tuple[Any, Any]:
    return _quotient_rule(ctx, g, np.floor)


@register(M.Copysign)
def _copysign(ctx: Context, g: Any) -> tuple[Any, Any]:
    """dz/dx = sign(z) sign(x), piecewise constant (0 at x = 0); dz/dy = 0."""
    nx, ny = ctx.needs_input_grad
    x = np.asarray(ctx.x)
    with np.errstate(all="ignore"):
        ratio = np.where(x == 0, 0, ctx.out / np.where(x == 0, 1, x)).astype(ctx.out.dtype)
    return (g * constant(ratio) if nx else None), (g * 0.0 if ny else None)


@register(M.Logit)
def _logit(ctx: Context, g: Any) -> Any:
    """dz/dx = 1 / (x (1 - x)), 0 outside [eps, 1 - eps] when ``eps`` clamps the input."""
    x = ctx.inputs[0]
    d = g / (x * (1.0 - x))
    if ctx.eps is None:
        return d
    outside = constant((ctx.x < ctx.eps) | (ctx.x > 1 - ctx.eps))
    return F.where(outside, 0.0, d)


@register(M.Xlogy)
def _xlogy(ctx: Context, g: Any) -> tuple[Any, Any]:
    """dz/dx = ln y, dz/dy = x / y."""
    x, y = ctx.inputs
    xv = x if x is not None else constant(ctx.x)
    yv = y if y is not None else constant(ctx.y)
    return (g * F.log(yv) if x is not None else None), (g * xv / yv if y is not None else None)
