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


def dim_error(dim: int, ndim: int, op: str) -> IndexError:
    """torch's error for a dimension outside [-ndim, ndim - 1] (a 0-d tensor accepts -1 and 0), naming the op."""
    n = max(ndim, 1)
    return IndexError(f"{op}: dimension {dim} out of range for a tensor with {ndim} dimensions "
                      f"(expected to be in range of [{-n}, {n - 1}], but got {dim})")


def check_dim(dim: Any, ndim: int, op: str) -> int:
    """``dim`` as a non-negative axis, with torch's range check (never NumPy's modulo or AxisError).

    A 0-d tensor accepts ``dim`` 0 and -1 (as torch) and gets 0.
    """
    if isinstance(dim, bool) or not isinstance(dim, (int,)) and not hasattr(dim, "__index__"):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    dim = int(dim)
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise dim_error(dim, ndim, op)
    return dim % n if ndim else 0


def normalize_axis(axis: Axis, ndim: int, op: str = "reduction") -> tuple[int, ...]:
    """Turn ``axis`` into a sorted tuple of non-negative axes, checking the range and repeats (as torch)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) or hasattr(axis, "__index__") else tuple(axis)
    out = []
    for a in axes:
        d = check_dim(a, ndim, op)
        if ndim:  # a 0-d tensor accepts dim 0 or -1 (as torch) and has nothing to reduce
            if d in out:
                raise RuntimeError(f"{op}: dim {d} appears multiple times in the list of dims")
            out.append(d)
    return tuple(sorted(out))


def _expand(grad: Any, shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> Any:
    """Re-insert the reduced axes of ``grad`` (if dropped) so it broadcasts against ``shape``."""
    if not keepdims and axes and len(shape):
        grad = grad.reshape(tuple(1 if i in axes else n for i, n in enumerate(shape)))
    return grad


def _root_backward(ctx: Context, grad: Any, v: Any, denom: Any = None) -> Any:
    """Backward of a root r = sqrt(sum_i v_i^2 / denom) over ``ctx.axes``, saved as ``ctx.out``:
    dr/dv_i = v_i / (denom r), and 0 where r = 0 (torch's choice for the 0/0); ``denom`` None is 1."""
    xp = get_array_module(grad)
    out = _expand(ctx.out, v.shape, ctx.axes, ctx.keepdims)
    g = _expand(grad, v.shape, ctx.axes, ctx.keepdims)
    with xp.errstate(divide="ignore", invalid="ignore"):
        scale = xp.where(out == 0, 0, g / (out if denom is None else denom * out))
    return scale * v


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
        if count == 0:  # the mean of nothing is 0/0 = nan, as torch (without NumPy's warning)
            xp = get_array_module(x)
            with xp.errstate(invalid="ignore"):
                return (x.sum(axis=axes, keepdims=keepdims) / x.dtype.type(0)).astype(x.dtype, copy=False)
        return x.mean(axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        if ctx.count == 0:  # the input is empty, and so is its gradient
            return get_array_module(grad).zeros(ctx.shape, dtype=grad.dtype)
        g = _expand(grad, ctx.shape, ctx.axes, ctx.keepdims) * (1.0 / ctx.count)
        return get_array_module(g).broadcast_to(g.astype(grad.dtype, copy=False), ctx.shape)


def check_nonempty_reduction(x: Any, axes: tuple[int, ...], op: str, whole: bool) -> None:
    """torch's errors for a max/min-like reduction with nothing to pick from.

    ``whole``: reducing every element with no dim given (``x.max()``): RuntimeError
    on an empty tensor.  Otherwise IndexError when a reduced dimension has size 0
    (reducing a non-empty dimension of an empty tensor is fine: an empty result).
    """
    if whole:
        if x.size == 0:
            error = IndexError if op.startswith("arg") else RuntimeError  # torch's types
            raise error(f"{op}(): Expected reduction dim to be specified for input.numel() == 0. "
                        "Specify the reduction dim with the 'dim' argument.")
        return
    for a in axes:
        if x.shape[a] == 0:
            raise IndexError(f"{op}(): Expected reduction dim {a} to have non-zero size (shape {tuple(x.shape)}).")


class _Extreme(Function):
    """max or min over ``axis``.

    Gradient conventions (torch's): ties share the gradient equally (``amax``/
    ``amin``; a NaN in the slice makes every gradient of that slice NaN).  With
    ``nan_ties=True`` (``x.max()`` / ``x.min()`` over all elements, torch's
    ``evenly_distribute_backward``) a NaN result counts as tied with every NaN
    input, so the gradient is shared among the NaN positions.
    """

    reducer = "max"

    @classmethod
    def forward(cls, ctx: Context, x: Any, axis: Axis = None, keepdims: bool = False,  # type: ignore[override]
                nan_ties: bool = False) -> Any:
        name = "a" + cls.reducer if not nan_ties else cls.reducer
        axes = normalize_axis(axis, x.ndim, name)
        check_nonempty_reduction(x, axes, name, whole=nan_ties)
        out = getattr(x, cls.reducer)(axis=axes, keepdims=True)
        ctx.x, ctx.out_k, ctx.axes, ctx.keepdims, ctx.nan_ties = x, out, axes, keepdims, nan_ties
        return out if keepdims else out.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        mask = ctx.x == ctx.out_k
        if getattr(ctx, "nan_ties", False):
            xp = get_array_module(grad)
            mask |= xp.isnan(ctx.x) & xp.isnan(ctx.out_k)
        count = mask.sum(axis=ctx.axes, keepdims=True)
        g = _expand(grad, ctx.x.shape, ctx.axes, ctx.keepdims)
        xp = get_array_module(grad)
        with xp.errstate(divide="ignore", invalid="ignore"):  # a NaN in an amax slice: count 0, NaN as torch
            share = (g / count).astype(grad.dtype, copy=False)
            if getattr(ctx, "nan_ties", False):  # torch fills zeros at the chosen positions: else 0 even for NaN g
                return xp.where(mask, share, grad.dtype.type(0))
            return mask * share  # amax/amin: grad * mask / count, so a NaN g reaches every element (as torch)


class NonzeroCount(Function):
    """z = the number of non-zero x_i over ``axis``, in x's float dtype: ``norm(x, p=0)``.

    Part of the graph but piecewise constant: torch gives the input no gradient
    (``x.grad`` stays None), and so does this backward.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
        axes = normalize_axis(axis, x.ndim, "norm")
        return (x != 0).sum(axis=axes, keepdims=keepdims).astype(x.dtype)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return None


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


class Std(Function):
    """Standard deviation s = sqrt(var) with Bessel's ``correction`` (see ``Var``).

    ds/dx_i = (x_i - m) / ((N - c) s), and 0 where s = 0 (all values equal),
    as torch defines it, rather than the 0/0 of composing sqrt and var.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, axis: Axis = None, keepdims: bool = False, correction: float = 1) -> Any:
        var = Var.forward(ctx, x, axis=axis, keepdims=keepdims, correction=correction)
        out = get_array_module(x).sqrt(var)
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        denom = grad.dtype.type(ctx.denom) if ctx.denom else grad.dtype.type("nan")
        return _root_backward(ctx, grad, ctx.centered, denom)


class Prod(Function):
    """z = prod_i x_i over ``axis``;  dz/dx_i = prod_{j != i} x_j.

    The product of the others is computed as (exclusive cumulative product from
    the left) * (from the right), which is exact where some x_j = 0, unlike
    z / x_i.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
        axes = normalize_axis(axis, x.ndim, "prod")
        ctx.x, ctx.axes, ctx.keepdims = x, axes, keepdims
        ctx.whole = axis is None  # x.prod(): torch's all-elements backward (zeros for two or more zeros)
        return x.prod(axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        xp = get_array_module(grad)
        x, axes = ctx.x, ctx.axes
        if x.size == 0:  # an empty input has an empty gradient
            return xp.zeros(x.shape, dtype=grad.dtype)
        if getattr(ctx, "whole", False) and int((x == 0).sum()) > 1:  # torch: zeros_like, even for a NaN grad
            return xp.zeros(x.shape, dtype=grad.dtype)
        kept = [i for i in range(x.ndim) if i not in axes]
        moved = x.transpose(kept + list(axes))  # reduced axes last, flattened into one
        flat = moved.reshape(moved.shape[:len(kept)] + (-1,))
        ones = xp.ones(flat.shape[:-1] + (1,), dtype=x.dtype)
        left = xp.cumprod(xp.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        right = xp.cumprod(xp.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
        others = (left * right).reshape(moved.shape)
        inverse = [0] * x.ndim
        for i, a in enumerate(kept + list(axes)):
            inverse[a] = i
        return _expand(grad, x.shape, axes, ctx.keepdims) * others.transpose(inverse)


class VectorNorm2(Function):
    """Euclidean norm n = sqrt(sum_i x_i^2) over ``axis``;  dn/dx_i = x_i / n, and 0 where n = 0 (as torch)."""

    @staticmethod
    def forward(ctx: Context, x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
        xp = get_array_module(x)
        axes = normalize_axis(axis, x.ndim, "norm")
        out = xp.sqrt((x * x).sum(axis=axes, keepdims=keepdims))
        ctx.x, ctx.out, ctx.axes, ctx.keepdims = x, out, axes, keepdims
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return _root_backward(ctx, grad, ctx.x)


class LogSumExp(Function):
    """z = log sum_i exp(x_i), computed as m + log sum exp(x - m) with m = max x (stable);
    dz/dx_i = softmax(x)_i.  An all -inf slice gives -inf (its gradient is NaN, as torch's)."""

    @staticmethod
    def forward(ctx: Context, x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
        xp = get_array_module(x)
        axes = normalize_axis(axis, x.ndim, "logsumexp")
        if any(x.shape[a] == 0 for a in axes):  # the log of an empty sum: -inf, as torch
            ctx.softmax, ctx.axes, ctx.keepdims = xp.zeros(x.shape, dtype=x.dtype), axes, keepdims
            shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape)) if keepdims else \
                tuple(n for i, n in enumerate(x.shape) if i not in axes)
            return xp.full(shape, -xp.inf, dtype=x.dtype)
        m = x.max(axis=axes, keepdims=True)
        finite = xp.isfinite(m)
        if not finite.all():  # an infinite max would give inf - inf = NaN below
            m = xp.where(finite, m, 0)
        e = xp.exp(x - m)
        s = e.sum(axis=axes, keepdims=True)
        with xp.errstate(divide="ignore", invalid="ignore"):
            out = xp.log(s) + m
            ctx.softmax = e / s
        ctx.axes, ctx.keepdims = axes, keepdims
        return out if keepdims else out.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return _expand(grad, ctx.softmax.shape, ctx.axes, ctx.keepdims) * ctx.softmax
