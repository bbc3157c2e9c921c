"""Elementwise arithmetic and math: the smallest building blocks of the graph.

For ``z = f(x, y)`` each backward returns ``grad * dz/dx`` and ``grad * dz/dy``
elementwise, at the broadcast shape (the engine un-broadcasts).
"""

from __future__ import annotations

import math
from typing import Any

from ..autograd.function import Context, Function
from ..backend import get_array_module


class Add(Function):
    """z = x + y;  dz/dx = 1, dz/dy = 1."""

    @staticmethod
    def forward(ctx: Context, x: Any, y: Any) -> Any:
        return x + y

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        return grad, grad


class Sub(Function):
    """z = x - y;  dz/dx = 1, dz/dy = -1."""

    @staticmethod
    def forward(ctx: Context, x: Any, y: Any) -> Any:
        return x - y

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        return grad, (-grad if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """z = x * y;  dz/dx = y, dz/dy = x."""

    @staticmethod
    def forward(ctx: Context, x: Any, y: Any) -> Any:
        ctx.x, ctx.y = x, y
        return x * y

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        nx, ny = ctx.needs_input_grad
        return (grad * ctx.y if nx else None), (grad * ctx.x if ny else None)


class Div(Function):
    """z = x / y;  dz/dx = 1/y, dz/dy = -x/y^2 = -z/y."""

    @staticmethod
    def forward(ctx: Context, x: Any, y: Any) -> Any:
        out = x / y
        ctx.y, ctx.out = y, out
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        nx, ny = ctx.needs_input_grad
        gx = grad / ctx.y if nx else None
        gy = -grad * ctx.out / ctx.y if ny else None
        return gx, gy


class Neg(Function):
    """z = -x."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        return -x

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return -grad


class Pow(Function):
    """z = x ** y (either may be a tensor);  dz/dx = y x^(y-1),  dz/dy = z ln x.

    Edge cases follow torch: dz/dx is 0 where y = 0 (x^0 is constant, even at
    x = 0), and dz/dy is 0 where x = 0 and y >= 0 (z is 0 or 1 there); a
    negative base gives NaN for dz/dy, since x^y is not real nearby.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, y: Any) -> Any:
        out = scalar_power(x, y)
        ctx.x, ctx.y, ctx.out = x, y, out
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        nx, ny = ctx.needs_input_grad
        x, y = ctx.x, ctx.y
        gx = gy = None
        xp = get_array_module(grad)
        if nx:
            if isinstance(y, (int, float)):
                if y == 0:
                    gx = xp.zeros_like(grad)
                else:
                    gx = grad * (2 * x) if y == 2 else grad * (y * scalar_power(x, y - 1))
            else:
                with xp.errstate(divide="ignore", invalid="ignore"):
                    gx = xp.where(y == 0, 0, grad * (y * x ** (y - 1)))
        if ny:
            if isinstance(x, (int, float)):  # a Python base: ln x is a number (NaN if x < 0)
                log_x = math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan)
                gy = grad * ctx.out * log_x
                if x == 0:
                    gy = xp.where(y >= 0, 0, gy)
            else:
                with xp.errstate(divide="ignore", invalid="ignore"):
                    gy = xp.where((x == 0) & (y >= 0), 0, grad * ctx.out * xp.log(x))
        return gx, gy


def scalar_power(x: Any, y: Any) -> Any:
    """``x ** y``, by multiplication for the exponents 3 and -2 and by ``1/sqrt`` for -0.5 (as torch does).

    NumPy takes fast paths for the exponents -1, 0, 0.5, 1 and 2 of a float
    array; any other calls ``pow`` value by value, about 70 ns each (GPT-2's
    ``torch.pow(x, 3.0)`` in its GELU made minGPT's adder 2x slower than torch).
    """
    xp = get_array_module(x)
    with xp.errstate(divide="ignore", invalid="ignore", over="ignore"):  # 0 ** -2 = inf, (-1) ** 0.5 = NaN, unwarned
        if type(y) in (int, float) and getattr(x, "dtype", None) is not None and x.dtype.kind == "f" and x.ndim:
            if y == 3:
                out = x * x
                out *= x
                return out
            if y == -2:
                out = x * x
                return xp.reciprocal(out, out=out)
            if y == -0.5:
                out = xp.sqrt(x)
                return xp.reciprocal(out, out=out)
        return x ** y


class Exp(Function):
    """z = e^x;  dz/dx = z."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        out = get_array_module(x).exp(x)
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad * ctx.out


class Log(Function):
    """z = ln x;  dz/dx = 1/x."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        ctx.x = x
        return get_array_module(x).log(x)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad / ctx.x


class Sqrt(Function):
    """z = sqrt(x);  dz/dx = 1 / (2 z)."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        out = get_array_module(x).sqrt(x)
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad / (2 * ctx.out)


class Abs(Function):
    """z = |x|;  dz/dx = sign(x) (0 at 0, as torch)."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        ctx.x = x
        return get_array_module(x).abs(x)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        xp = get_array_module(grad)
        s = xp.sign(ctx.x)
        return grad * xp.nan_to_num(s, copy=getattr(s, "ndim", 0) == 0, nan=0.0)  # torch: sgn(NaN) = 0


class Sign(Function):
    """z = sign(x), 0 at NaN as torch;  its derivative is 0 almost everywhere."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        xp = get_array_module(x)
        out = xp.sign(x)
        if out.dtype.kind != "f":
            return out
        return xp.nan_to_num(out, copy=getattr(out, "ndim", 0) == 0, nan=0.0)  # in place, except for scalars

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return get_array_module(grad).zeros_like(grad)


class Clamp(Function):
    """z = min(max(x, lo), hi);  dz/dx = 1 where lo <= x <= hi, else 0 (torch's convention)."""

    @staticmethod
    def forward(ctx: Context, x: Any, lo: Any = None, hi: Any = None) -> Any:
        xp = get_array_module(x)
        mask = xp.ones(x.shape, dtype=bool)
        if lo is not None:
            mask &= x >= lo
        if hi is not None:
            mask &= x <= hi
        ctx.mask = mask
        return xp.clip(x, lo, hi).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        if get_array_module(grad).isfinite(grad.sum()):  # the fast path; equal to where() for finite grads
            return grad * ctx.mask
        return get_array_module(grad).where(ctx.mask, grad, grad.dtype.type(0))  # torch: a NaN grad stops here


def _weigh(grad: Any, w: Any) -> Any:
    """grad * w, where a weight of 0 gives 0 even for an inf/NaN grad (torch's masked_fill)."""
    out = grad * w.astype(grad.dtype)
    xp = get_array_module(grad)
    if not xp.isfinite(grad.sum()):
        out = xp.where(w == 0, grad.dtype.type(0), out)
    return out


class _Extremum(Function):
    """z = max(x, y) (``Maximum``) or min(x, y) (``Minimum``) elementwise; ties split the gradient equally.

    torch's weights: the winning side gets 1, the losing side 0, a tie 1/2 each, and a NaN (no order) gives
    both sides 1.  ``_wins(x, y)`` is where x strictly beats y.
    """

    _pick: str  # the NumPy function; subclasses also define ``_wins(x, y)``

    @classmethod
    def forward(cls, ctx: Context, x: Any, y: Any) -> Any:
        ctx.x, ctx.y = x, y
        return getattr(get_array_module(x), cls._pick)(x, y)

    @classmethod
    def backward(cls, ctx: Context, grad: Any) -> tuple[Any, Any]:
        x, y = ctx.x, ctx.y
        tie = 0.5 * (x == y)
        wx, wy = 1 - cls._wins(y, x) - tie, 1 - cls._wins(x, y) - tie
        return _weigh(grad, wx), _weigh(grad, wy)


class Maximum(_Extremum):
    """z = max(x, y) elementwise; ties split the gradient equally (as torch does)."""

    _pick = "maximum"

    @staticmethod
    def _wins(x: Any, y: Any) -> Any:
        return x > y


class Minimum(_Extremum):
    """z = min(x, y) elementwise; ties split the gradient equally (as torch does)."""

    _pick = "minimum"

    @staticmethod
    def _wins(x: Any, y: Any) -> Any:
        return x < y


class Where(Function):
    """z = x where cond else y;  the gradient flows to the chosen branch only."""

    @staticmethod
    def forward(ctx: Context, cond: Any, x: Any, y: Any) -> Any:
        ctx.cond = cond
        return get_array_module(cond).where(cond, x, y)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[None, Any, Any]:
        c = ctx.cond
        zero = grad.dtype.type(0)
        nx, ny = ctx.needs_input_grad[1], ctx.needs_input_grad[2]
        xp = get_array_module(grad)
        return None, (xp.where(c, grad, zero) if nx else None), (xp.where(c, zero, grad) if ny else None)


class Cast(Function):
    """A dtype conversion; the gradient is converted back to the input's dtype."""

    @staticmethod
    def forward(ctx: Context, x: Any, dtype: Any = None) -> Any:
        ctx.in_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad.astype(ctx.in_dtype)


class Clone(Function):
    """A copy that stays in the graph (identity gradient)."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        return x.copy()

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad
