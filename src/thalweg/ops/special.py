"""Special functions on arrays, in NumPy only: erf, erfinv, lgamma, digamma, trigamma.

NumPy has no ``erf`` or ``lgamma`` ufunc; these use the exact ``math`` module
functions through ``numpy.frompyfunc`` (slower than a ufunc, exact to the last
bit), and closed recurrences with asymptotic series for the polygammas:

    psi(x)  = psi(x + n) - sum_{k<n} 1/(x + k),        psi(x) ~ ln x - 1/(2x) - sum B_2k / (2k x^2k)
    psi1(x) = psi1(x + n) + sum_{k<n} 1/(x + k)^2,     psi1(x) ~ 1/x + 1/(2x^2) + sum B_2k / x^(2k+1)

with the reflections psi(1-x) - psi(x) = pi cot(pi x) and psi1(1-x) + psi1(x) = pi^2 / sin^2(pi x)
for x < 1/2.  erfinv starts from Giles' single-precision approximation and takes two Newton steps.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

_ERF = np.frompyfunc(math.erf, 1, 1)
_ERFC = np.frompyfunc(math.erfc, 1, 1)


def _lgamma_scalar(v: float) -> float:
    try:
        return math.lgamma(v)
    except ValueError:  # the poles 0, -1, -2, ...: torch gives +inf
        return math.inf


_LGAMMA = np.frompyfunc(_lgamma_scalar, 1, 1)


def erf(x: Any) -> Any:
    """The error function (2/sqrt(pi)) int_0^x e^(-t^2) dt, elementwise."""
    return np.asarray(_ERF(x), dtype=x.dtype)


def erfc(x: Any) -> Any:
    """1 - erf(x), accurate in the right tail."""
    return np.asarray(_ERFC(x), dtype=x.dtype)


def lgamma(x: Any) -> Any:
    """ln |Gamma(x)|; +inf at the poles 0, -1, -2, ..."""
    return np.asarray(_LGAMMA(x), dtype=x.dtype)


def _shift_up(x64: Any, term: Callable[[Any], Any]) -> tuple[Any, Any, Any]:
    """The first step shared by digamma and trigamma: reflect, then recur up to the asymptotic range.

    ``reflect`` marks x < 1/2, where the recurrence starts from y0 = 1 - x instead of y0 = x; the
    result is ``(reflect, y0 + n, sum_{k<n} term(y0 + k))`` with n the fewest steps that reach
    y0 + n >= 10: term(y) = 1/y for psi (subtracted), 1/y^2 for psi1 (added).  Call it inside
    ``np.errstate(all="ignore")``.
    """
    reflect = x64 < 0.5
    y = np.where(reflect, 1.0 - x64, x64)
    acc = np.zeros_like(y)
    while True:
        small = y < 10.0
        if not small.any():
            break
        acc += np.where(small, term(y), 0.0)
        y = np.where(small, y + 1.0, y)
    return reflect, y, acc


def digamma(x: Any) -> Any:
    """psi(x) = d/dx ln Gamma(x); -inf at 0 and NaN at negative integers (as torch)."""
    x64 = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        reflect, y, acc = _shift_up(x64, lambda v: 1.0 / v)
        inv2 = 1.0 / (y * y)
        series = inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (1 / 240 - inv2 * (1 / 132)))))
        out = np.log(y) - 0.5 / y - series - acc
        out = np.where(reflect, out - np.pi / np.tan(np.pi * x64), out)
        out = np.where(x64 == 0, -np.inf, out)
        out = np.where((x64 < 0) & (x64 == np.floor(x64)), np.nan, out)
    return out.astype(np.asarray(x).dtype)


def trigamma(x: Any) -> Any:
    """psi1(x) = d/dx psi(x), the derivative torch uses for digamma's gradient."""
    x64 = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        reflect, y, acc = _shift_up(x64, lambda v: 1.0 / (v * v))
        inv2 = 1.0 / (y * y)
        series = (1.0 / y + 0.5 * inv2
                  + inv2 / y * (1 / 6 - inv2 * (1 / 30 - inv2 * (1 / 42 - inv2 * (1 / 30)))))
        out = series + acc
        out = np.where(reflect, (np.pi / np.sin(np.pi * x64)) ** 2 - out, out)
        out = np.where((x64 <= 0) & (x64 == np.floor(x64)), np.inf, out)
    return out.astype(np.asarray(x).dtype)


def erfinv(y: Any) -> Any:
    """The inverse of erf on (-1, 1); +-inf at +-1 and NaN outside (as torch)."""
    y64 = np.asarray(y, dtype=np.float64)
    with np.errstate(all="ignore"):
        w = -np.log((1.0 - y64) * (1.0 + y64))
        w1 = w - 2.5
        p1 = 2.81022636e-08
        for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
                  -0.00417768164, 0.246640727, 1.50140941):
            p1 = c + p1 * w1
        w2 = np.sqrt(w) - 3.0
        p2 = -0.000200214257
        for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
                  0.00943887047, 1.00167406, 2.83297682):
            p2 = c + p2 * w2
        x = np.where(w < 5.0, p1, p2) * y64
        finite = np.isfinite(x)
        for _ in range(2):  # Newton on erf(x) = y: x -= (erf(x) - y) / (2/sqrt(pi) e^(-x^2))
            xs = np.where(finite, x, 0.0)
            step = (np.asarray(_ERF(xs), dtype=np.float64) - y64) / (2.0 / math.sqrt(math.pi) * np.exp(-xs * xs))
            x = np.where(finite, x - step, x)
        x = np.where(y64 == 1.0, np.inf, np.where(y64 == -1.0, -np.inf, x))
        x = np.where(np.abs(y64) > 1.0, np.nan, x)
    return x.astype(np.asarray(y).dtype)
