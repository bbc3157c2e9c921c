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


@register(M.LogAddExp)
def _logaddexp(ctx: Context, g: Any) -> tuple[Any, Any]:
    """z = log(e^x + e^y);  dz/dx = e^(x - z), dz/dy = e^(y - z)."""
    x, y = ctx.inputs
    xv = x if x is not None else constant(ctx.x)
    yv = y if y is not None else constant(ctx.y)
    z = M.LogAddExp.apply(xv, yv)
    return (g * F.exp(xv - z) if x is not None else None), (g * F.exp(yv - z) if y is not None else None)


@register(M.Hypot)
def _hypot(ctx: Context, g: Any) -> tuple[Any, Any]:
    """z = sqrt(x^2 + y^2);  dz/dx = x / z, dz/dy = y / z."""
    x, y = ctx.inputs
    xv = x if x is not None else constant(ctx.x)
    yv = y if y is not None else constant(ctx.y)
    z = M.Hypot.apply(xv, yv)
    return (g * xv / z if x is not None else None), (g * yv / z if y is not None else None)


@register(M.Atan2)
def _atan2(ctx: Context, g: Any) -> tuple[Any, Any]:
    """z = atan2(y, x);  dz/dy = x / (x^2 + y^2), dz/dx = -y / (x^2 + y^2)."""
    y, x = ctx.inputs
    yv = y if y is not None else constant(ctx.y)
    xv = x if x is not None else constant(ctx.x)
    r2 = xv * xv + yv * yv
    return (g * xv / r2 if y is not None else None), (-(g * yv) / r2 if x is not None else None)


@register(M.Lerp)
def _lerp(ctx: Context, g: Any) -> tuple[Any, Any, Any]:
    """z = s + w (e - s);  dz/ds = 1 - w, dz/de = w, dz/dw = e - s."""
    s, e, w = ctx.inputs
    sv = s if s is not None else constant(ctx.start)
    ev = e if e is not None else constant(ctx.end)
    wv = w if w is not None else constant(ctx.weight)
    return ((g * (1.0 - wv)) if s is not None else None, (g * wv) if e is not None else None,
            (g * (ev - sv)) if w is not None else None)
