"""Elementwise math beyond arithmetic: trigonometry, logs, rounding, special functions.

A unary op z = f(x) is one ``Function`` whose backward is grad * f'(x); each is
made by :func:`_unary` from the forward and the derivative, written next to
each other in the table below, so the whole family reads as a list of
(f, f') pairs.  The derivatives follow torch's formulas (``derivatives.yaml``),
including the edge conventions noted at each op.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ..autograd.function import Context, Function
from ..backend import get_array_module
from . import special

def _unary(name: str, f: Callable[[Any], Any], df: Callable[[Any, Any], Any] | None, doc: str) -> type[Function]:
    """A ``Function`` z = f(x) with dz/dx = df(x, z) (``None``: the derivative is 0 everywhere)."""

    def forward(ctx: Context, x: Any) -> Any:
        with np.errstate(all="ignore"):
            out = np.asarray(f(x)).astype(x.dtype, copy=False)
        ctx.x, ctx.out = x, out
        return out

    def backward(ctx: Context, grad: Any) -> Any:
        if df is None:
            return get_array_module(grad).zeros_like(grad)
        with np.errstate(all="ignore"):
            return (grad * df(ctx.x, ctx.out)).astype(grad.dtype, copy=False)

    return type(name, (Function,), {"forward": staticmethod(forward), "backward": staticmethod(backward),
                                    "__doc__": doc})


_LN2, _LN10 = math.log(2.0), math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

Sin = _unary("Sin", np.sin, lambda x, z: np.cos(x), "z = sin x;  dz/dx = cos x.")
Cos = _unary("Cos", np.cos, lambda x, z: -np.sin(x), "z = cos x;  dz/dx = -sin x.")
Tan = _unary("Tan", np.tan, lambda x, z: 1 + z * z, "z = tan x;  dz/dx = 1 + z^2.")
Asin = _unary("Asin", np.arcsin, lambda x, z: 1 / np.sqrt(1 - x * x), "z = asin x;  dz/dx = 1/sqrt(1 - x^2).")
Acos = _unary("Acos", np.arccos, lambda x, z: -1 / np.sqrt(1 - x * x), "z = acos x;  dz/dx = -1/sqrt(1 - x^2).")
Atan = _unary("Atan", np.arctan, lambda x, z: 1 / (1 + x * x), "z = atan x;  dz/dx = 1/(1 + x^2).")
Sinh = _unary("Sinh", np.sinh, lambda x, z: np.cosh(x), "z = sinh x;  dz/dx = cosh x.")
Cosh = _unary("Cosh", np.cosh, lambda x, z: np.sinh(x), "z = cosh x;  dz/dx = sinh x.")
Asinh = _unary("Asinh", np.arcsinh, lambda x, z: 1 / np.sqrt(x * x + 1), "z = asinh x;  dz/dx = 1/sqrt(x^2 + 1).")
Acosh = _unary("Acosh", np.arccosh, lambda x, z: 1 / np.sqrt((x - 1) * (x + 1)),
               "z = acosh x;  dz/dx = 1/sqrt((x - 1)(x + 1)).")
Atanh = _unary("Atanh", np.arctanh, lambda x, z: 1 / (1 - x * x), "z = atanh x;  dz/dx = 1/(1 - x^2).")
Log1p = _unary("Log1p", np.log1p, lambda x, z: 1 / (1 + x), "z = ln(1 + x);  dz/dx = 1/(1 + x).")
Expm1 = _unary("Expm1", np.expm1, lambda x, z: z + 1, "z = e^x - 1;  dz/dx = z + 1.")
Log2 = _unary("Log2", np.log2, lambda x, z: 1 / (x * _LN2), "z = log2 x;  dz/dx = 1/(x ln 2).")
Log10 = _unary("Log10", np.log10, lambda x, z: 1 / (x * _LN10), "z = log10 x;  dz/dx = 1/(x ln 10).")
Exp2 = _unary("Exp2", np.exp2, lambda x, z: z * _LN2, "z = 2^x;  dz/dx = z ln 2.")
Rsqrt = _unary("Rsqrt", lambda x: 1 / np.sqrt(x), lambda x, z: -0.5 * z * z * z,
               "z = 1/sqrt x;  dz/dx = -z^3 / 2.")
Reciprocal = _unary("Reciprocal", lambda x: 1 / x, lambda x, z: -z * z, "z = 1/x;  dz/dx = -z^2.")
Square = _unary("Square", np.square, lambda x, z: 2 * x, "z = x^2;  dz/dx = 2x.")
Floor = _unary("Floor", np.floor, None, "z = floor x; the derivative is 0 (torch's convention).")
Ceil = _unary("Ceil", np.ceil, None, "z = ceil x; the derivative is 0.")
Trunc = _unary("Trunc", np.trunc, None, "z = trunc x (toward zero); the derivative is 0.")
Frac = _unary("Frac", lambda x: x - np.trunc(x), lambda x, z: 1, "z = x - trunc x;  dz/dx = 1.")
Erf = _unary("Erf", special.erf, lambda x, z: _TWO_OVER_SQRT_PI * np.exp(-x * x),
             "z = erf x;  dz/dx = 2/sqrt(pi) e^(-x^2).")
Erfc = _unary("Erfc", special.erfc, lambda x, z: -_TWO_OVER_SQRT_PI * np.exp(-x * x),
              "z = 1 - erf x;  dz/dx = -2/sqrt(pi) e^(-x^2).")
Erfinv = _unary("Erfinv", special.erfinv, lambda x, z: 0.5 * math.sqrt(math.pi) * np.exp(z * z),
                "z = erf^-1 x;  dz/dx = sqrt(pi)/2 e^(z^2).")
Lgamma = _unary("Lgamma", special.lgamma, lambda x, z: special.digamma(x),
                "z = ln|Gamma(x)|;  dz/dx = psi(x).")
Digamma = _unary("Digamma", special.digamma, lambda x, z: special.trigamma(x),
                 "z = psi(x);  dz/dx = psi1(x) (the trigamma function).")
Sinc = _unary("Sinc", np.sinc,
              lambda x, z: np.where(x == 0, 0.0, (np.cos(np.pi * x) * np.pi * x - np.sin(np.pi * x))
                                    / (np.pi * x * x)),
              "z = sin(pi x)/(pi x), 1 at 0;  dz/dx = (pi x cos(pi x) - sin(pi x)) / (pi x^2), 0 at 0.")
Deg2Rad = _unary("Deg2Rad", np.deg2rad, lambda x, z: math.pi / 180, "z = x pi/180.")
Rad2Deg = _unary("Rad2Deg", np.rad2deg, lambda x, z: 180 / math.pi, "z = x 180/pi.")


class Round(Function):
    """z = x rounded half to even to ``decimals`` places (torch's rule); the derivative is 0."""

    @staticmethod
    def forward(ctx: Context, x: Any, decimals: int = 0) -> Any:
        return get_array_module(x).round(x, decimals)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return get_array_module(grad).zeros_like(grad)


class Logit(Function):
    """z = ln(x / (1 - x)), x first clamped to [eps, 1 - eps] when ``eps`` is given.

    dz/dx = 1 / (x (1 - x)); with ``eps`` it is 0 outside [eps, 1 - eps] (torch).
    """

    @staticmethod
    def forward(ctx: Context, x: Any, eps: float | None = None) -> Any:
        xp = get_array_module(x)
        ctx.x, ctx.eps = x, eps
        xc = x if eps is None else xp.clip(x, eps, 1 - eps)
        with np.errstate(all="ignore"):
            return xp.log(xc / (1 - xc)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        x, eps = ctx.x, ctx.eps
        with np.errstate(all="ignore"):
            g = grad / (x * (1 - x))
        if eps is not None:
            g = get_array_module(grad).where((x < eps) | (x > 1 - eps), 0, g)
        return g.astype(grad.dtype, copy=False)


class NanToNum(Function):
    """z = x with NaN, +inf, -inf replaced;  dz/dx = 1 where x is finite, else 0."""

    @staticmethod
    def forward(ctx: Context, x: Any, nan: float = 0.0, posinf: Any = None, neginf: Any = None) -> Any:
        ctx.finite = get_array_module(x).isfinite(x)
        return get_array_module(x).nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad * ctx.finite


# ------------------------------------------------------------------ binary
class Atan2(Function):
    """z = atan2(y, x);  dz/dy = x / (x^2 + y^2),  dz/dx = -y / (x^2 + y^2).

    At y = x = 0 both are 0, as torch (its 1 / (x^2 + y^2) is masked to 0 where infinite).
    """

    @staticmethod
    def forward(ctx: Context, y: Any, x: Any) -> Any:
        ctx.y, ctx.x = y, x
        return get_array_module(y).arctan2(y, x)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        y, x = ctx.y, ctx.x
        xp = get_array_module(grad)
        with np.errstate(all="ignore"):
            recip = 1 / (x * x + y * y)
            recip = xp.where(xp.isinf(recip), recip.dtype.type(0), recip)
            return grad * x * recip, -grad * y * recip


class Hypot(Function):
    """z = sqrt(x^2 + y^2);  dz/dx = x / z,  dz/dy = y / z."""

    @staticmethod
    def forward(ctx: Context, x: Any, y: Any) -> Any:
        out = get_array_module(x).hypot(x, y)
        ctx.x, ctx.y, ctx.out = x, y, out
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        with np.errstate(all="ignore"):
            return grad * ctx.x / ctx.out, grad * ctx.y / ctx.out


class Fmod(Function):
    """z = x - trunc(x / y) y (C's fmod, the sign of x);  dz/dx = 1,  dz/dy = -trunc(x / y)."""

    @staticmethod
    def forward(ctx: Context, x: Any, y: Any) -> Any:
        ctx.x, ctx.y = x, y
        return get_array_module(x).fmod(x, y)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        with np.errstate(all="ignore"):
            return grad, -grad * np.trunc(ctx.x / ctx.y)


class Remainder(Function):
    """z = x - floor(x / y) y (Python's %, the sign of y);  dz/dx = 1,  dz/dy = -floor(x / y)."""

    @staticmethod
    def forward(ctx: Context, x: Any, y: Any) -> Any:
        ctx.x, ctx.y = x, y
        return get_array_module(x).remainder(x, y)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        with np.errstate(all="ignore"):
            return grad, -grad * np.floor(ctx.x / ctx.y)


class Xlogy(Function):
    """z = x ln y, with 0 where x = 0 (unless y is NaN);  dz/dx = ln y (also at x = 0, as torch),  dz/dy = x / y."""

    @staticmethod
    def forward(ctx: Context, x: Any, y: Any) -> Any:
        xp = get_array_module(x)
        ctx.x, ctx.y = x, y
        with np.errstate(all="ignore"):
            out = x * xp.log(y)
        return xp.where((x == 0) & ~xp.isnan(y), 0, out).astype(out.dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        xp = get_array_module(grad)
        x, y = ctx.x, ctx.y
        with np.errstate(all="ignore"):
            return grad * xp.log(y), grad * x / y


class Copysign(Function):
    """z = |x| with the sign of y;  dz/dx = z / x (0 where x = 0),  dz/dy = 0."""

    @staticmethod
    def forward(ctx: Context, x: Any, y: Any) -> Any:
        out = get_array_module(x).copysign(x, y)
        ctx.x, ctx.out = x, out
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        xp = get_array_module(grad)
        with np.errstate(all="ignore"):
            gx = xp.where(ctx.x == 0, 0, grad * ctx.out / ctx.x)
        return gx, xp.zeros_like(grad)


class LogAddExp(Function):
    """z = ln(e^x + e^y);  dz/dx = e^(x - z),  dz/dy = e^(y - z)."""

    @staticmethod
    def forward(ctx: Context, x: Any, y: Any) -> Any:
        out = get_array_module(x).logaddexp(x, y)
        ctx.x, ctx.y, ctx.out = x, y, out
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        xp = get_array_module(grad)
        return grad * xp.exp(ctx.x - ctx.out), grad * xp.exp(ctx.y - ctx.out)


class Lerp(Function):
    """z = start + w (end - start);  dz/dstart = 1 - w,  dz/dend = w,  dz/dw = end - start."""

    @staticmethod
    def forward(ctx: Context, start: Any, end: Any, weight: Any) -> Any:
        ctx.start, ctx.end, ctx.weight = start, end, weight
        return start + weight * (end - start)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any, Any]:
        w = ctx.weight
        gw = grad * (ctx.end - ctx.start) if ctx.needs_input_grad[2] else None
        return grad * (1 - w), grad * w, gw
