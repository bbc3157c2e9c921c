"""Public elementwise math with torch's names and dtype rules: ``tw.sin(x)``, ``x.atan2(y)``...

Integer inputs of floating functions become the default float dtype, as in
torch (``tw.sin(tw.arange(3))`` is float32); rounding functions keep integers
as they are.  Logical, bitwise and test functions (``isinf``, ``signbit``...)
return tensors without gradients.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import dtypes
from ..autograd.tensor import Tensor, _as_array
from . import api
from . import math_ops as M
from .reduce import normalize_axis


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(_as_array(x))


def _float(x: Any) -> Tensor:
    return api._float(_tensor(x))


def _floats(x: Any, y: Any) -> tuple[Any, Any]:
    """Both operands of a floating binary op, integer tensors made floating (Python numbers stay)."""
    def one(v: Any, other: Any) -> Any:
        if isinstance(v, Tensor) and v.array.dtype.kind in "iub":
            like = other.dtype if isinstance(other, Tensor) and other.array.dtype.kind == "f" else None
            return v.astype(like or dtypes.get_default_dtype())
        return v
    return one(x, y), one(y, x)


def _unary_float(fn: Any, name: str) -> Any:
    def op(input: Any) -> Tensor:  # noqa: A002 - torch's argument name
        return fn.apply(_float(input))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"torch.{name}: elementwise, with gradient. {fn.__doc__}"
    return op


sin = _unary_float(M.Sin, "sin")
cos = _unary_float(M.Cos, "cos")
tan = _unary_float(M.Tan, "tan")
asin = arcsin = _unary_float(M.Asin, "asin")
acos = arccos = _unary_float(M.Acos, "acos")
atan = arctan = _unary_float(M.Atan, "atan")
sinh = _unary_float(M.Sinh, "sinh")
cosh = _unary_float(M.Cosh, "cosh")
asinh = arcsinh = _unary_float(M.Asinh, "asinh")
acosh = arccosh = _unary_float(M.Acosh, "acosh")
atanh = arctanh = _unary_float(M.Atanh, "atanh")
log1p = _unary_float(M.Log1p, "log1p")
expm1 = _unary_float(M.Expm1, "expm1")
log2 = _unary_float(M.Log2, "log2")
log10 = _unary_float(M.Log10, "log10")
exp2 = _unary_float(M.Exp2, "exp2")
rsqrt = _unary_float(M.Rsqrt, "rsqrt")
reciprocal = _unary_float(M.Reciprocal, "reciprocal")
erf = _unary_float(M.Erf, "erf")
erfc = _unary_float(M.Erfc, "erfc")
erfinv = _unary_float(M.Erfinv, "erfinv")
lgamma = _unary_float(M.Lgamma, "lgamma")
digamma = _unary_float(M.Digamma, "digamma")
sinc = _unary_float(M.Sinc, "sinc")
deg2rad = _unary_float(M.Deg2Rad, "deg2rad")
rad2deg = _unary_float(M.Rad2Deg, "rad2deg")
frac = _unary_float(M.Frac, "frac")


def square(input: Any) -> Tensor:  # noqa: A002
    """x^2 (integers stay integers, as in torch);  d/dx = 2x."""
    x = _tensor(input)
    if x.array.dtype.kind in "iu":
        return Tensor._wrap(x.array * x.array, False)
    return M.Square.apply(_float(x))


def _rounding(fn: Any, name: str) -> Any:
    def op(input: Any) -> Tensor:  # noqa: A002
        x = _tensor(input)
        if x.array.dtype.kind in "iub":  # integers are already whole: a copy, as torch
            return Tensor._wrap(x.array.copy(), False)
        return fn.apply(x)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"torch.{name}: {fn.__doc__}"
    return op


floor = _rounding(M.Floor, "floor")
ceil = _rounding(M.Ceil, "ceil")
trunc = fix = _rounding(M.Trunc, "trunc")


def round(input: Any, *, decimals: int = 0) -> Tensor:  # noqa: A001,A002 - torch's name
    """Round half to even (``round(2.5) == 2``), to ``decimals`` places; the gradient is 0."""
    x = _tensor(input)
    if x.array.dtype.kind in "iub" and decimals >= 0:
        return Tensor._wrap(x.array.copy(), False)
    return M.Round.apply(x, decimals=decimals)


def logit(input: Any, eps: float | None = None) -> Tensor:  # noqa: A002
    """ln(p / (1 - p)), p clamped to [eps, 1 - eps] when ``eps`` is given (torch.logit)."""
    return M.Logit.apply(_float(input), eps=eps)


def nan_to_num(input: Any, nan: float = 0.0, posinf: float | None = None,  # noqa: A002
               neginf: float | None = None) -> Tensor:
    """NaN -> ``nan``, +-inf -> ``posinf``/``neginf`` (the dtype's extremes by default)."""
    x = _tensor(input)
    if x.array.dtype.kind != "f":
        return Tensor._wrap(x.array.copy(), False)
    return M.NanToNum.apply(x, nan=nan, posinf=posinf, neginf=neginf)


def positive(input: Tensor) -> Tensor:  # noqa: A002
    return input


# ------------------------------------------------------------------ binary
def atan2(input: Any, other: Any) -> Tensor:  # noqa: A002
    """atan2(y=input, x=other) in (-pi, pi], with gradient in both."""
    return api._binary(M.Atan2, *_floats(input, other))


arctan2 = atan2


def hypot(input: Any, other: Any) -> Tensor:  # noqa: A002
    """sqrt(x^2 + y^2) without overflow."""
    return api._binary(M.Hypot, *_floats(input, other))


def xlogy(input: Any, other: Any) -> Tensor:  # noqa: A002
    """x ln y, 0 where x = 0 (torch.xlogy / scipy.special.xlogy)."""
    return api._binary(M.Xlogy, *_floats(input, other))


def copysign(input: Any, other: Any) -> Tensor:  # noqa: A002
    """|x| with the sign of y (the sign bit, so -0.0 counts as negative)."""
    return api._binary(M.Copysign, *_floats(input, other))


def logaddexp(input: Any, other: Any) -> Tensor:  # noqa: A002
    """ln(e^x + e^y), stably."""
    return api._binary(M.LogAddExp, *_floats(input, other))


def _is_int(v: Any) -> bool:
    return (isinstance(v, Tensor) and v.array.dtype.kind in "iu") or (
        isinstance(v, int) and not isinstance(v, bool))


def _int_binary(ufunc: Any, fn: Any, name: str, x: Any, y: Any) -> Tensor:
    if _is_int(x) and _is_int(y):  # integers: exact integer arithmetic, no gradient
        xv = x.array if isinstance(x, Tensor) else x
        yv = y.array if isinstance(y, Tensor) else y
        if np.any(np.asarray(yv) == 0):
            raise ZeroDivisionError(f"{name}: integer division by zero")
        return Tensor._wrap(np.asarray(ufunc(xv, yv)), False)
    return api._binary(fn, x, y)


def fmod(input: Any, other: Any) -> Tensor:  # noqa: A002
    """C's remainder x - trunc(x / y) y: the sign of the dividend."""
    return _int_binary(np.fmod, M.Fmod, "fmod", input, other)


def remainder(input: Any, other: Any) -> Tensor:  # noqa: A002
    """Python's remainder x - floor(x / y) y: the sign of the divisor (torch.remainder, ``%``)."""
    return _int_binary(np.remainder, M.Remainder, "remainder", input, other)


def floor_divide(input: Any, other: Any) -> Tensor:  # noqa: A002
    """floor(x / y) (torch >= 1.13 rounds toward minus infinity); not differentiable."""
    if _is_int(input) and _is_int(other):
        return _int_binary(np.floor_divide, None, "floor_divide", input, other)
    xv = input.array if isinstance(input, Tensor) else input
    yv = other.array if isinstance(other, Tensor) else other
    like = input if isinstance(input, Tensor) else other
    with np.errstate(all="ignore"):
        out = np.floor_divide(xv, yv)
    return Tensor._wrap(np.asarray(out, dtype=np.result_type(np.asarray(out), like.dtype)), False)


def float_power(input: Any, exponent: Any) -> Tensor:  # noqa: A002
    """x ** y computed in float64, as torch.float_power."""
    x = _tensor(input).astype(dtypes.float64)
    y = exponent.astype(dtypes.float64) if isinstance(exponent, Tensor) else exponent
    return api.pow(x, y)


def lerp(input: Any, end: Any, weight: Any) -> Tensor:  # noqa: A002
    """start + weight (end - start); differentiable in all three."""
    start = _tensor(input)
    end = api._operand(end, start)
    weight = api._operand(weight, start)
    return M.Lerp.apply(start, end, weight)


def addcmul(input: Any, tensor1: Any, tensor2: Any, *, value: float = 1.0) -> Tensor:  # noqa: A002
    """input + value * tensor1 * tensor2."""
    return api.add(input, api.mul(api.mul(tensor1, tensor2), value))


def addcdiv(input: Any, tensor1: Any, tensor2: Any, *, value: float = 1.0) -> Tensor:  # noqa: A002
    """input + value * tensor1 / tensor2."""
    return api.add(input, api.mul(api.div(tensor1, tensor2), value))


def clamp_min(input: Tensor, min: Any) -> Tensor:  # noqa: A002
    return api.clamp(input, min=min)


def clamp_max(input: Tensor, max: Any) -> Tensor:  # noqa: A002
    return api.clamp(input, max=max)


# ------------------------------------------------------------ tests and logic
def _arr(x: Any) -> Any:
    return x.array if isinstance(x, Tensor) else np.asarray(x)


def _bool(a: Any) -> Tensor:
    return Tensor._wrap(np.asarray(a, dtype=bool), False)


def signbit(input: Any) -> Tensor:  # noqa: A002
    return _bool(np.signbit(_arr(input)))


def isinf(input: Any) -> Tensor:  # noqa: A002
    return _bool(np.isinf(_arr(input)))


def isposinf(input: Any) -> Tensor:  # noqa: A002
    return _bool(np.isposinf(_arr(input)))


def isneginf(input: Any) -> Tensor:  # noqa: A002
    return _bool(np.isneginf(_arr(input)))


def isreal(input: Any) -> Tensor:  # noqa: A002
    return _bool(np.ones(_arr(input).shape, dtype=bool))


def isclose(input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08,  # noqa: A002
            equal_nan: bool = False) -> Tensor:
    """|x - y| <= atol + rtol |y|, elementwise."""
    return _bool(np.isclose(_arr(input), _arr(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def logical_and(input: Any, other: Any) -> Tensor:  # noqa: A002
    return _bool(np.logical_and(_arr(input), _arr(other)))


def logical_or(input: Any, other: Any) -> Tensor:  # noqa: A002
    return _bool(np.logical_or(_arr(input), _arr(other)))


def logical_xor(input: Any, other: Any) -> Tensor:  # noqa: A002
    return _bool(np.logical_xor(_arr(input), _arr(other)))


def logical_not(input: Any) -> Tensor:  # noqa: A002
    return _bool(np.logical_not(_arr(input)))


def _bitwise(ufunc: Any, name: str, *xs: Any) -> Tensor:
    arrays = [_arr(x) for x in xs]
    for a in arrays:
        if a.dtype.kind not in "iub":
            raise TypeError(f"{name}: only integer and bool tensors are supported, got dtype {a.dtype}")
    return Tensor._wrap(np.asarray(ufunc(*arrays)), False)


def bitwise_and(input: Any, other: Any) -> Tensor:  # noqa: A002
    return _bitwise(np.bitwise_and, "bitwise_and", input, other)


def bitwise_or(input: Any, other: Any) -> Tensor:  # noqa: A002
    return _bitwise(np.bitwise_or, "bitwise_or", input, other)


def bitwise_xor(input: Any, other: Any) -> Tensor:  # noqa: A002
    return _bitwise(np.bitwise_xor, "bitwise_xor", input, other)


def bitwise_not(input: Any) -> Tensor:  # noqa: A002
    return _bitwise(np.invert, "bitwise_not", input)


def bitwise_left_shift(input: Any, other: Any) -> Tensor:  # noqa: A002
    return _bitwise(np.left_shift, "bitwise_left_shift", input, other)


def bitwise_right_shift(input: Any, other: Any) -> Tensor:  # noqa: A002
    return _bitwise(np.right_shift, "bitwise_right_shift", input, other)


def _dims(x: Tensor, dim: Any, op: str) -> Any:
    return None if dim is None else normalize_axis(dim, x.ndim, op)


def all(input: Any, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001,A002
    """Whether every element (along ``dim``, an int or a tuple) is nonzero; a bool tensor."""
    x = _tensor(input)
    return _bool(np.all(x.array, axis=_dims(x, dim, "all"), keepdims=keepdim))


def any(input: Any, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001,A002
    """Whether some element (along ``dim``) is nonzero; a bool tensor."""
    x = _tensor(input)
    return _bool(np.any(x.array, axis=_dims(x, dim, "any"), keepdims=keepdim))


def count_nonzero(input: Any, dim: Any = None) -> Tensor:  # noqa: A002
    """The number of nonzero elements (along ``dim``), int64."""
    x = _tensor(input)
    out = np.count_nonzero(x.array, axis=_dims(x, dim, "count_nonzero"))
    return Tensor._wrap(np.asarray(out, dtype=np.int64), False)
