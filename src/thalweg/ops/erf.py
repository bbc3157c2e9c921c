"""The complementary error function erfc(x) = 1 - erf(x), vectorised in NumPy (which has no ``erf``).

GELU's exact form needs the normal CDF Phi(x) = erfc(-x / sqrt 2) / 2 on every
activation of a transformer's MLP, so this is on the hot path.  Two rational
approximations, chosen by dtype:

- float64: W. J. Cody, "Rational Chebyshev approximations for the error
  function", Math. Comp. 23 (1969) 631-637 (the CALERF routine of SPECFUN):
  relative error below about 1e-16 on three ranges, |x| <= 0.46875 (erf as
  x P(x^2)/Q(x^2)), up to 4 (erfc as e^{-x^2} P(x)/Q(x)) and beyond (an
  asymptotic rational in 1/x^2).  e^{-x^2} is evaluated as
  e^{-r^2} e^{-(x-r)(x+r)} with r = x rounded to 1/16, which keeps the full
  precision of the exponent for large x.
- float32 (and smaller): the Chebyshev fit of Press et al., "Numerical Recipes"
  (2nd ed., section 6.2, ``erfcc``): one branch-free formula
  erfc(|x|) = t exp(-x^2 + poly(t)), t = 1 / (1 + |x| / 2), with fractional
  error below 1.2e-7 everywhere, the tails included -- float32's own precision.

For x < 0, erfc(x) = 2 - erfc(|x|).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..backend import get_array_module

_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02, 3.20937758913846947e03,
      1.85777706184603153e-1)
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03)
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01, 2.98635138197400131e02,
      8.81952221241769090e02, 1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03,
      2.15311535474403846e-8)
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02, 1.62138957456669019e03,
      3.29079923573345963e03, 4.36261909014324716e03, 3.43936767414372164e03, 1.23033935480374942e03)
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2,
      6.58749161529837803e-4, 1.63153871373020978e-2)
_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1, 6.05183413124413191e-2,
      2.33520497626869185e-3)
_SQRPI = 5.6418958354775628695e-1  # 1 / sqrt(pi)
_NR = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587,
       -0.82215223, 0.17087277)


def _exp_neg_square(xp: Any, y: Any) -> Any:
    """e^{-y^2} without losing the exponent's low bits: e^{-r^2} e^{-(y - r)(y + r)}, r = trunc(16 y) / 16."""
    r = xp.trunc(y * 16.0) / 16.0
    return xp.exp(-r * r) * xp.exp(-(y - r) * (y + r))


def _erfc_abs64(xp: Any, y: Any) -> Any:
    """erfc(y) for y >= 0 in float64 (Cody's three ranges)."""
    out = xp.empty_like(y)
    small = y <= 0.46875
    large = y > 4.0
    mid = ~(small | large)
    if small.any():
        v = y[small]
        z = v * v
        num, den = _A[4] * z, z
        for i in range(3):
            num = (num + _A[i]) * z
            den = (den + _B[i]) * z
        out[small] = 1.0 - v * (num + _A[3]) / (den + _B[3])
    if mid.any():
        v = y[mid]
        num, den = _C[8] * v, v
        for i in range(7):
            num = (num + _C[i]) * v
            den = (den + _D[i]) * v
        out[mid] = _exp_neg_square(xp, v) * ((num + _C[7]) / (den + _D[7]))
    if large.any():
        v = y[large]
        z = 1.0 / (v * v)
        num, den = _P[5] * z, z
        for i in range(4):
            num = (num + _P[i]) * z
            den = (den + _Q[i]) * z
        r = (_SQRPI - z * (num + _P[4]) / (den + _Q[4])) / v
        out[large] = _exp_neg_square(xp, xp.minimum(v, 27.0)) * r * (v < 27.0)
    return out


def _erfc_abs32(xp: Any, y: Any) -> Any:
    """erfc(y) for y >= 0 to float32 precision (Numerical Recipes' erfcc), in place on fresh arrays."""
    t = y * y.dtype.type(0.5)
    t += 1
    xp.reciprocal(t, out=t)
    poly = t * y.dtype.type(_NR[9])
    for c in _NR[8:0:-1]:
        poly += y.dtype.type(c)
        poly *= t
    poly += y.dtype.type(_NR[0])
    poly -= y * y
    xp.exp(poly, out=poly)
    poly *= t
    return poly


def erfc(x: Any) -> Any:
    """erfc(x) elementwise for a floating array, in its dtype (see the module docstring for the accuracy)."""
    xp = get_array_module(x)
    if x.ndim == 0:  # NumPy turns 0-d arithmetic into scalars, which in-place ufuncs cannot write to
        return erfc(x.reshape(1)).reshape(())
    y = xp.abs(x)
    if x.dtype == np.float64:
        out = _erfc_abs64(xp, y)
    else:
        out = _erfc_abs32(xp, y.astype(np.float32, copy=False)).astype(x.dtype, copy=False)
    # erfc(x) = 2 - erfc(|x|) for x < 0, as arithmetic: a masked ufunc (where=) is ~10x slower on random signs,
    # and out + 0 keeps erfc(|x|) exact on the right tail (where 1 - erfc would round away)
    flip = out * -2.0
    flip += 2.0
    flip *= x < 0
    out += flip
    return out


def normal_tail(x: Any) -> Any:
    """Phi(-|x|) = erfc(|x| / sqrt 2) / 2, the normal distribution's tail beyond |x|, in x's dtype.

    The normal CDF is Phi(x) = Phi(-|x|) for x < 0 and 1 - Phi(-|x|) otherwise.
    In float32 it is Numerical Recipes' erfcc at |x| / sqrt 2 with the
    factor 1/2 folded into the exponent's constant (ln 1/2), so it costs one
    pass fewer than ``erfc(...) / 2``; other dtypes use :func:`erfc`.
    """
    xp = get_array_module(x)
    y = xp.abs(x)
    if x.dtype != np.float32:
        y *= math.sqrt(0.5)
        out = erfc(y)
        out *= 0.5
        return out
    f = np.float32
    t = y * f(0.5 * math.sqrt(0.5))  # t = 1 / (1 + z / 2), z = |x| / sqrt 2
    t += 1
    xp.reciprocal(t, out=t)
    poly = t * f(_NR[9])
    for c in _NR[8:0:-1]:
        poly += f(c)
        poly *= t
    poly += f(_NR[0] + math.log(0.5))
    y *= y  # z^2 = x^2 / 2
    y *= f(0.5)
    poly -= y
    xp.exp(poly, out=poly)
    poly *= t
    return poly
