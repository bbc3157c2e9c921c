"""Reductions: sum, mean, max/min, var, logsumexp.

A reduction's backward spreads the output gradient back over the reduced
axes: uniformly for sum and mean, to the arg-max positions for max, weighted by
``softmax`` for logsumexp, by ``2 (x - mean) / (N - correction)`` for var.
"""

from __future__ import annotations

from typing import Any

from ..autograd.function import Context, Function
from ..backend import get_array_module

Axis = Any  # None, an int, or a tuple of ints


def normalize_axis(axis: Axis, ndim: int, op: str = "reduction") -> tuple[int, ...]:
    """Turn ``axis`` into a sorted tuple of non-negative axes, checking the range."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise IndexError(f"{op}: dimension {a} out of range for a tensor with {ndim} dimensions")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(set(out)))


def _expand(grad: Any, shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> Any:
    """Re-insert the reduced axes of ``grad`` (if dropped) so it broadcasts against ``shape``."""
    if not keepdims and axes and len(shape):
        grad = grad.reshape(tuple(1 if i in axes else n for i, n in enumerate(shape)))
    return grad


class Sum(Function):
    """z = sum_i x_i over ``axis``;  dz/dx_i = 1."""

    @staticmethod
    def forward(ctx: Context, x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
        ctx.shape, ctx.axes, ctx.keepdims = x.shape, normalize_axis(axis, x.ndim, "sum"), keepdims
        return x.sum(axis=ctx.axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        g = _expand(grad, ctx.shape, ctx.axes, ctx.keepdims)
        return get_array_module(g).broadcast_to(g, ctx.shape)


class Mean(Function):
    """z = (1/N) sum_i x_i over ``axis``;  dz/dx_i = 1/N."""

    @staticmethod
    def forward(ctx: Context, x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
        axes = normalize_axis(axis, x.ndim, "mean")
        ctx.shape, ctx.axes, ctx.keepdims = x.shape, axes, keepdims
        count = 1
        for a in axes:
            count *= x.shape[a]
        ctx.count = count
        if x.dtype.kind not in "f":
            raise TypeError(f"mean: expected a floating tensor, got dtype {x.dtype}")
        return x.mean(axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        g = _expand(grad, ctx.shape, ctx.axes, ctx.keepdims) * (1.0 / ctx.count)
        return get_array_module(g).broadcast_to(g.astype(grad.dtype, copy=False), ctx.shape)


class _Extreme(Function):
    """max or min over ``axis``; ties share the gradient equally (as torch's amax/amin)."""

    reducer = "max"

    @classmethod
    def forward(cls, ctx: Context, x: Any, axis: Axis = None, keepdims: bool = False) -> Any:  # type: ignore[override]
        axes = normalize_axis(axis, x.ndim, cls.reducer)
        if x.size == 0:
            raise ValueError(f"{cls.reducer}: cannot reduce an empty tensor")
        out = getattr(x, cls.reducer)(axis=axes, keepdims=True)
        ctx.x, ctx.out_k, ctx.axes, ctx.keepdims = x, out, axes, keepdims
        return out if keepdims else out.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        mask = ctx.x == ctx.out_k
        count = mask.sum(axis=ctx.axes, keepdims=True)
        g = _expand(grad, ctx.x.shape, ctx.axes, ctx.keepdims)
        return mask * (g / count).astype(grad.dtype, copy=False)


class Max(_Extreme):
    reducer = "max"


class Min(_Extreme):
    reducer = "min"


class Var(Function):
    """Variance with Bessel's ``correction`` (1 = unbiased, torch's default; 0 = NumPy's).

    z = sum_i (x_i - m)^2 / (N - c);  dz/dx_i = 2 (x_i - m) / (N - c)
    (the terms through m cancel because sum_i (x_i - m) = 0).
    """

    @staticmethod
    def forward(ctx: Context, x: Any, axis: Axis = None, keepdims: bool = False, correction: float = 1) -> Any:
        axes = normalize_axis(axis, x.ndim, "var")
        n = 1
        for a in axes:
            n *= x.shape[a]
        centered = x - x.mean(axis=axes, keepdims=True)
        denom = max(n - correction, 0)
        ctx.centered, ctx.denom, ctx.axes, ctx.keepdims = centered, denom, axes, keepdims
        with_nan = (centered * centered).sum(axis=axes, keepdims=keepdims)
        xp = get_array_module(x)
        with xp.errstate(divide="ignore", invalid="ignore"):
            return (with_nan / x.dtype.type(denom)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        g = _expand(grad, ctx.centered.shape, ctx.axes, ctx.keepdims)
        scale = grad.dtype.type(2.0 / ctx.denom) if ctx.denom else grad.dtype.type("nan")
        return g * ctx.centered * scale


class LogSumExp(Function):
    """z = log sum_i exp(x_i), computed as m + log sum exp(x - m) with m = max x (stable);
    dz/dx_i = softmax(x)_i."""

    @staticmethod
    def forward(ctx: Context, x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
        xp = get_array_module(x)
        axes = normalize_axis(axis, x.ndim, "logsumexp")
        m = x.max(axis=axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        e = xp.exp(x - m)
        s = e.sum(axis=axes, keepdims=True)
        out = xp.log(s) + m
        ctx.softmax, ctx.axes, ctx.keepdims = e / s, axes, keepdims
        return out if keepdims else out.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return _expand(grad, ctx.softmax.shape, ctx.axes, ctx.keepdims) * ctx.softmax
