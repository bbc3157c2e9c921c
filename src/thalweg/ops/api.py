"""The public, tensor-level face of the ops: ``tw.exp(x)``, ``x.sum(dim=1)``...

Functions here turn Python values into tensors where needed, accept both
NumPy's (``axis``, ``keepdims``) and PyTorch's (``dim``, ``keepdim``) spellings,
and call the ``Function`` that does the work.  ``Tensor`` methods are bound to
these functions at import time (bottom of this file).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .. import dtypes
from ..autograd.tensor import (Tensor, _as_array, _binary, _broadcast_error, _compare, _divide, _index_arrays,  # noqa: F401
                               _matmul, _operand, _promote_int)
from ..backend import as_array, get_array_module
from . import activation as A
from . import elementwise as E
from . import linalg as L
from . import reduce as R
from . import shape as S

_FLOAT_KINDS = "f"


def _axis(axis: Any, dim: Any, op: str) -> Any:
    """Merge ``axis=`` (NumPy) and ``dim=`` (PyTorch); giving both is an error."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{op}: pass either axis= or dim=, not both")
        return dim
    return axis


def _keep(keepdims: Any, keepdim: Any) -> bool:
    return bool(keepdim) if keepdim is not None else bool(keepdims)


# The operand rules of the binary ops (_operand, _promote_int, _binary) live in autograd/tensor.py,
# beside the operators that use them.


# ------------------------------------------------------------------ arithmetic
def add(x: Any, y: Any, *, alpha: float = 1.0) -> Tensor:
    """x + alpha * y."""
    return _binary(E.Add, x, y if alpha == 1.0 else mul(y, alpha))


def sub(x: Any, y: Any, *, alpha: float = 1.0) -> Tensor:
    """x - alpha * y."""
    return _binary(E.Sub, x, y if alpha == 1.0 else mul(y, alpha))


def mul(x: Any, y: Any) -> Tensor:
    return _binary(E.Mul, x, y)


def div(x: Any, y: Any) -> Tensor:
    """x / y (true division: integer tensors become floating first)."""
    return _divide(x, y)


def neg(x: Tensor) -> Tensor:
    return E.Neg.apply(x)


def pow(x: Any, y: Any) -> Tensor:  # noqa: A001 - torch's name
    return _binary(E.Pow, x, y)


def matmul(x: Any, y: Any) -> Tensor:
    """Matrix product with NumPy's rules (batched, 1-D operands); see ``ops/linalg.py``."""
    return _matmul(x, y)


# ----------------------------------------------------------------- elementwise
def exp(x: Tensor) -> Tensor:
    return E.Exp.apply(_float(x))


def log(x: Tensor) -> Tensor:
    return E.Log.apply(_float(x))


def sqrt(x: Tensor) -> Tensor:
    return E.Sqrt.apply(_float(x))


def abs(x: Tensor) -> Tensor:  # noqa: A001 - torch's name
    return E.Abs.apply(x)


def sign(x: Tensor) -> Tensor:
    return E.Sign.apply(x)


def clamp(x: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 - torch's names
    """Clip to [min, max]; the gradient is 1 inside the interval, 0 outside."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):  # tensor bounds get gradients too
        return _clamp_tensor(x, min, max)
    return E.Clamp.apply(x, lo=min, hi=max)


def _clamp_tensor(x: Tensor, lo: Any, hi: Any) -> Tensor:
    """clamp with tensor bounds, with torch's subgradients (``clamp_backward`` / ``clamp_backward_min_max``).

    The value is min(max(x, lo), hi).  The gradient goes to x where lo <= x <= hi
    (ties included), to lo where x < lo < hi, and to hi where x > hi or hi < lo;
    nowhere else (x < lo = hi, or a NaN).  Built from ``where`` over masks, so it
    is differentiable again.
    """
    xa = x.array
    lo_a = None if lo is None else (lo.array if isinstance(lo, Tensor) else np.asarray(lo))
    hi_a = None if hi is None else (hi.array if isinstance(hi, Tensor) else np.asarray(hi))
    value = xa if lo_a is None else np.maximum(xa, lo_a)
    value = value if hi_a is None else np.minimum(value, hi_a)
    with np.errstate(invalid="ignore"):
        take_x = np.ones(np.shape(value), dtype=bool)
        if lo_a is not None:
            take_x = take_x & (xa >= lo_a)
        if hi_a is not None:
            take_x = take_x & (xa <= hi_a)
        take_lo = take_hi = None
        if lo_a is not None:
            take_lo = (xa < lo_a) & (lo_a < hi_a) if hi_a is not None else xa < lo_a
        if hi_a is not None:
            take_hi = ((xa > hi_a) | (hi_a < lo_a)) if lo_a is not None else xa > hi_a

    def mask(m: Any) -> Tensor:
        return Tensor._wrap(np.broadcast_to(m, np.shape(value)), False)

    out: Any = Tensor._wrap(np.asarray(value, dtype=xa.dtype), False)  # no gradient where nothing is chosen
    if take_hi is not None:
        out = where(mask(take_hi), hi, out)
    if take_lo is not None:
        out = where(mask(take_lo), lo, out)
    return where(mask(take_x), x, out)


clip = clamp


def maximum(x: Any, y: Any) -> Tensor:
    return _binary(E.Maximum, x, y)


def minimum(x: Any, y: Any) -> Tensor:
    return _binary(E.Minimum, x, y)


def where(cond: Any, x: Any = None, y: Any = None) -> Any:
    """Elementwise ``x if cond else y``; the gradient goes to the chosen side.

    ``where(cond)`` alone is ``nonzero(cond, as_tuple=True)``, as in torch.
    """
    if x is None and y is None:
        from .indexing import nonzero

        return nonzero(cond, as_tuple=True)
    if x is None or y is None:
        raise TypeError("where: give both x and y, or neither (where(cond) gives the indices)")
    cond = cond if isinstance(cond, Tensor) else Tensor(_as_array(cond))
    if cond.array.dtype != np.bool_:
        cond = Tensor._wrap(cond.array.astype(bool), False)
    like = x if isinstance(x, Tensor) else y if isinstance(y, Tensor) else None
    if like is None:  # two constants: Python floats become the default float dtype
        x, y = Tensor(_as_array(x)), Tensor(_as_array(y))
    else:
        x, y = _operand(x, like), _operand(y, like)
    if isinstance(x, Tensor) and x.array.dtype.kind in "iub":
        x = _promote_int(x, y)
    if isinstance(y, Tensor) and y.array.dtype.kind in "iub":
        y = _promote_int(y, x)
    return E.Where.apply(cond, x, y)


def _float(x: Tensor) -> Tensor:
    if x.array.dtype.kind not in _FLOAT_KINDS:
        return x.astype(dtypes.get_default_dtype())
    return x


# ------------------------------------------------------------------ comparisons
def _comparison(ufunc: Any, name: str, symbol: str) -> Callable[[Tensor, Any], Tensor]:
    """The comparison ``name(x, y)``: x ``symbol`` y elementwise, broadcast, a bool tensor without gradient."""

    def op(x: Tensor, y: Any) -> Tensor:
        return _compare(ufunc, x, y)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"x {symbol} y elementwise (broadcast): a bool tensor, no gradient."
    return op


eq = _comparison(np.equal, "eq", "==")
ne = _comparison(np.not_equal, "ne", "!=")
lt = _comparison(np.less, "lt", "<")
le = _comparison(np.less_equal, "le", "<=")
gt = _comparison(np.greater, "gt", ">")
ge = _comparison(np.greater_equal, "ge", ">=")


def isnan(x: Tensor) -> Tensor:
    return Tensor._wrap(get_array_module(x.array).isnan(x.array), False)


def isfinite(x: Tensor) -> Tensor:
    return Tensor._wrap(get_array_module(x.array).isfinite(x.array), False)


def allclose(x: Any, y: Any, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    xv = x.array if isinstance(x, Tensor) else x
    yv = y.array if isinstance(y, Tensor) else y
    return bool(np.allclose(xv, yv, rtol=rtol, atol=atol))


def equal(x: Tensor, y: Tensor) -> bool:
    return x.shape == y.shape and bool((x.array == y.array).all())


# ------------------------------------------------------------------ reductions
def sum(x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None,  # noqa: A001
        dtype: Any = None) -> Tensor:
    """Sum over ``axis``/``dim`` (all axes by default)."""
    if x.array.dtype.kind in "b":
        x = x.astype(dtypes.int64)
    out = R.Sum.apply(x, axis=_axis(axis, dim, "sum"), keepdims=_keep(keepdims, keepdim))
    return out if dtype is None else out.astype(dtype)


def mean(x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None) -> Tensor:
    """Arithmetic mean over ``axis``/``dim``."""
    return R.Mean.apply(_float(x), axis=_axis(axis, dim, "mean"), keepdims=_keep(keepdims, keepdim))


class _ValuesIndices(tuple):
    """``(values, indices)`` with torch's attribute names, as ``x.max(dim=1)`` returns."""

    @property
    def values(self) -> Tensor:
        return self[0]

    @property
    def indices(self) -> Tensor:
        return self[1]


def _extreme(fn: Any, argfn: Any, x: Tensor, args: tuple[Any, ...], axis: Any, keepdims: Any, dim: Any,
             keepdim: Any, name: str) -> Any:
    if args:
        if isinstance(args[0], Tensor):  # torch.max(a, b) is the elementwise maximum
            if len(args) != 1:
                raise TypeError(f"{name}(a, b): expected two tensors, got {1 + len(args)} arguments")
            return (maximum if name == "max" else minimum)(x, args[0])
        if dim is not None or len(args) > 2:
            raise TypeError(f"{name}: expected {name}(dim, keepdim), got {args} and dim={dim}")
        dim = args[0]
        if len(args) == 2:
            keepdim = args[1]
    ax = _axis(axis, dim, name)
    keep = _keep(keepdims, keepdim)
    if dim is not None and isinstance(dim, int):  # torch: (values, indices), the gradient to the index
        d = R.check_dim(dim, x.ndim, name)
        R.check_nonempty_reduction(x.array, (d,) if x.ndim else (), name, whole=False)
        if x.ndim == 0:  # torch: a 0-d tensor is its own max over dim 0 / -1, at index 0
            return _ValuesIndices((x * 1, Tensor._wrap(as_array(np.zeros((), dtype=np.int64), dtype=np.int64), False)))
        indices = argfn(x, dim=dim, keepdim=True)
        values = S.Gather.apply(x, index=indices.array, axis=dim)
        if not keep:
            values, indices = squeeze(values, dim), squeeze(indices, dim)
        return _ValuesIndices((values, indices))
    # x.max() over everything shares a NaN result's gradient among the NaNs (torch's evenly_distribute_backward)
    return fn.apply(x, axis=ax, keepdims=keep, nan_ties=ax is None)


def max(x: Tensor, *args: Any, axis: Any = None, keepdims: bool = False, dim: Any = None,  # noqa: A001
        keepdim: Any = None) -> Any:
    """The maximum, spelled as in NumPy or as in PyTorch.

    ``x.max()`` and ``x.max(axis=1, keepdims=True)`` give the values, with ties
    sharing the gradient (NumPy, ``torch.amax``).  ``x.max(1)``, ``x.max(1, True)``
    and ``x.max(dim=1)`` give ``(values, indices)`` as torch does, the gradient
    going to the returned index.  ``tw.max(a, b)`` is the elementwise maximum.
    """
    return _extreme(R.Max, argmax, x, args, axis, keepdims, dim, keepdim, "max")


def min(x: Tensor, *args: Any, axis: Any = None, keepdims: bool = False, dim: Any = None,  # noqa: A001
        keepdim: Any = None) -> Any:
    """The minimum; the same spellings as :func:`max`."""
    return _extreme(R.Min, argmin, x, args, axis, keepdims, dim, keepdim, "min")


def amax(x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None) -> Tensor:
    return R.Max.apply(x, axis=_axis(axis, dim, "amax"), keepdims=_keep(keepdims, keepdim))


def amin(x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None) -> Tensor:
    return R.Min.apply(x, axis=_axis(axis, dim, "amin"), keepdims=_keep(keepdims, keepdim))


def _correction(correction: Any, unbiased: Any, ddof: Any) -> float:
    given = [v for v in (correction, unbiased, ddof) if v is not None]
    if len(given) > 1:
        raise TypeError("var/std: pass only one of correction=, unbiased= and ddof=")
    if unbiased is not None:
        return 1 if unbiased else 0
    if ddof is not None:
        return ddof
    return 1 if correction is None else correction


def var(x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None,
        correction: Any = None, unbiased: Any = None, ddof: Any = None) -> Tensor:
    """Variance; unbiased (correction=1) by default as in torch; ``ddof=0`` gives NumPy's."""
    return R.Var.apply(_float(x), axis=_axis(axis, dim, "var"), keepdims=_keep(keepdims, keepdim),
                       correction=_correction(correction, unbiased, ddof))


def std(x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None,
        correction: Any = None, unbiased: Any = None, ddof: Any = None) -> Tensor:
    """Standard deviation, sqrt(var) (same correction rules; the gradient is 0 where it is 0)."""
    return R.Std.apply(_float(x), axis=_axis(axis, dim, "std"), keepdims=_keep(keepdims, keepdim),
                       correction=_correction(correction, unbiased, ddof))


def logsumexp(x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None) -> Tensor:
    """log sum exp over ``axis``, computed stably."""
    return R.LogSumExp.apply(_float(x), axis=_axis(axis, dim, "logsumexp"), keepdims=_keep(keepdims, keepdim))


def argmax(x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None) -> Tensor:
    """Index of the maximum (no gradient); over the flattened tensor when no axis is given."""
    return _arg_extreme(x, _axis(axis, dim, "argmax"), _keep(keepdims, keepdim), "argmax")


def _arg_extreme(x: Tensor, ax: Any, keep: bool, name: str) -> Tensor:
    """argmax/argmin with torch's checks; ``keepdim`` without a dim keeps every dimension, as size 1 (torch)."""
    a = x.array
    if ax is None:
        R.check_nonempty_reduction(a, (), name, whole=True)
        flat = a.argmax() if name == "argmax" else a.argmin()
        out = np.asarray(flat, dtype=np.int64).reshape((1,) * a.ndim if keep else ())
        return Tensor._wrap(as_array(out, dtype=np.int64), False)
    d = R.check_dim(ax, a.ndim, name)
    if a.ndim == 0:
        return Tensor._wrap(as_array(np.zeros((), dtype=np.int64), dtype=np.int64), False)
    R.check_nonempty_reduction(a, (d,), name, whole=False)
    out = a.argmax(axis=d, keepdims=keep) if name == "argmax" else a.argmin(axis=d, keepdims=keep)
    return Tensor._wrap(as_array(out, dtype=np.int64), False)


def argmin(x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None) -> Tensor:
    """Index of the minimum (no gradient)."""
    return _arg_extreme(x, _axis(axis, dim, "argmin"), _keep(keepdims, keepdim), "argmin")


def prod(x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None) -> Tensor:
    """Product over ``axis``/``dim`` (all elements by default); exact gradients at zeros too."""
    return R.Prod.apply(x, axis=_axis(axis, dim, "prod"), keepdims=_keep(keepdims, keepdim))


def norm(x: Tensor, p: Any = 2, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
         keepdim: Any = None) -> Tensor:
    """Vector p-norm over ``axis`` (all elements by default): (sum |x|^p)^(1/p)."""
    ax = _axis(axis, dim, "norm")
    keep = _keep(keepdims, keepdim)
    if x.array.size == 0 and not isinstance(p, str) and (p < 0 or p == float("inf")):  # no identity: torch refuses
        reduced = range(x.ndim) if ax is None else [R.check_dim(a, x.ndim, "norm")
                                                    for a in (ax if isinstance(ax, (tuple, list)) else (ax,))]
        if ax is None or any(x.shape[a] == 0 for a in reduced):
            where_ = "an empty tensor" if ax is None else f"dimension {ax} of shape {tuple(x.shape)}, which is empty"
            raise RuntimeError(f"norm: cannot compute the {p} norm over {where_}: the operation has no identity")
    if p == 2 or p == "fro":
        return R.VectorNorm2.apply(_float(x), axis=ax, keepdims=keep)
    if p == 1:
        return sum(abs(x), ax, keep)
    if p == float("inf"):
        return amax(abs(x), ax, keep)
    if p == float("-inf"):
        return amin(abs(x), ax, keep)
    xf = _float(x)
    if p == 0:  # the number of non-zero elements; no gradient (torch)
        return R.NonzeroCount.apply(xf, axis=ax, keepdims=keep)
    # (sum |x|^p)^(1/p) with torch's subgradients: 0 at x_i = 0 (|x|^(p-1) would be inf for p < 1) and
    # 0 where the norm is 0 (n^(1-p) would be inf for p > 1).  Masks keep 0 * inf out of the chain rule.
    zero = Tensor._wrap(xf.array == 0, False)
    safe = where(zero, 1.0, abs(xf))
    terms = where(zero, 0.0 if p > 0 else float("inf"), pow(safe, float(p)))
    total = sum(terms, ax, keep)
    empty = Tensor._wrap(total.array == 0, False)
    return where(empty, 0.0, pow(where(empty, 1.0, total), 1.0 / p))


# ----------------------------------------------------------------------- shape
def reshape(x: Tensor, *shape: Any) -> Tensor:
    shp = S.normalize_shape(shape)
    if shp == x.array.shape:
        return x
    return S.Reshape.apply(x, shape=shp)


def view_as(x: Tensor, other: Tensor) -> Tensor:
    return reshape(x, other.shape)


def permute(x: Tensor, *axes: Any) -> Tensor:
    return S.Transpose.apply(x, axes=S.normalize_shape(axes))


def transpose(x: Tensor, *axes: Any) -> Tensor:
    """``transpose()`` reverses the axes (NumPy); ``transpose(d0, d1)`` swaps two (torch)."""
    if len(axes) == 2 and all(isinstance(a, int) for a in axes):
        order = list(range(x.ndim))
        if x.ndim == 0:  # torch: a 0-d tensor accepts dims 0 and -1 and stays as it is
            R.check_dim(axes[0], 0, "transpose"), R.check_dim(axes[1], 0, "transpose")
            return x
        d0, d1 = R.check_dim(axes[0], x.ndim, "transpose"), R.check_dim(axes[1], x.ndim, "transpose")
        order[d0], order[d1] = order[d1], order[d0]
        return S.Transpose.apply(x, axes=tuple(order))
    if not axes:
        return S.Transpose.apply(x, axes=None)
    return permute(x, *axes)


def swapaxes(x: Tensor, a: int, b: int) -> Tensor:
    return transpose(x, a, b)


def t(x: Tensor) -> Tensor:
    if x.ndim > 2:
        raise ValueError(f"t(): expects a tensor with <= 2 dimensions, got shape {x.shape}")
    return S.Transpose.apply(x, axes=None)


def broadcast_to(x: Tensor, *shape: Any) -> Tensor:
    shp = S.normalize_shape(shape)
    return S.BroadcastTo.apply(x, shape=shp)


def expand(x: Tensor, *shape: Any) -> Tensor:
    """torch's expand: -1 keeps a dimension's size."""
    shp = list(S.normalize_shape(shape))
    offset = len(shp) - x.ndim
    for i, s in enumerate(shp):
        if s == -1:
            shp[i] = x.shape[i - offset]
    return broadcast_to(x, tuple(shp))


def expand_as(x: Tensor, other: Tensor) -> Tensor:
    return broadcast_to(x, other.shape)


def squeeze(x: Tensor, axis: Any = None, *, dim: Any = None) -> Tensor:
    """Drop size-1 dimensions (all, or the given ones; a non-1 dimension is left alone as in torch)."""
    ax = _axis(axis, dim, "squeeze")
    if ax is None:
        shape = tuple(n for n in x.shape if n != 1)
    else:
        axes = R.normalize_axis(ax, x.ndim, "squeeze")
        shape = tuple(n for i, n in enumerate(x.shape) if not (i in axes and n == 1))
    return reshape(x, shape)


def unsqueeze(x: Tensor, axis: Any = None, *, dim: Any = None) -> Tensor:
    """Insert a size-1 dimension at ``axis``/``dim``."""
    ax = _axis(axis, dim, "unsqueeze")
    if ax is None:
        raise TypeError("unsqueeze: missing the dimension")
    ax = R.check_dim(ax, x.ndim + 1, "unsqueeze")
    shape = x.shape[:ax] + (1,) + x.shape[ax:]
    return reshape(x, shape)


expand_dims = unsqueeze


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions ``start_dim..end_dim`` into one (torch's flatten)."""
    if x.ndim == 0:
        R.check_dim(start_dim, 0, "flatten"), R.check_dim(end_dim, 0, "flatten")
        return reshape(x, (1,))
    s, e = R.check_dim(start_dim, x.ndim, "flatten"), R.check_dim(end_dim, x.ndim, "flatten")
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {x.shape}")
    n = 1
    for d in x.shape[s:e + 1]:
        n *= d
    return reshape(x, x.shape[:s] + (n,) + x.shape[e + 1:])


def ravel(x: Tensor) -> Tensor:
    return reshape(x, (-1,))


def _tensors(xs: Sequence[Any]) -> list[Tensor]:
    return [x if isinstance(x, Tensor) else Tensor(_as_array(x)) for x in xs]


def cat(tensors: Sequence[Any], axis: Any = None, *, dim: Any = None) -> Tensor:
    """Concatenate along an existing dimension (``tw.cat`` / ``tw.concatenate``)."""
    ax = _axis(axis, dim, "cat")
    xs = _tensors(tensors)
    return S.Concatenate.apply(*xs, axis=0 if ax is None else ax)


concatenate = cat


def stack(tensors: Sequence[Any], axis: Any = None, *, dim: Any = None) -> Tensor:
    """Stack along a new dimension."""
    ax = _axis(axis, dim, "stack")
    return S.Stack.apply(*_tensors(tensors), axis=0 if ax is None else ax)


def split(x: Tensor, split_size_or_sections: Any, axis: Any = None, *, dim: Any = None) -> list[Tensor]:
    """torch's split: an int is the size of each chunk; a list gives each chunk's size."""
    ax = _axis(axis, dim, "split")
    ax = R.check_dim(0 if ax is None else ax, x.ndim, "split")
    n = x.shape[ax]
    if isinstance(split_size_or_sections, int):
        if split_size_or_sections <= 0:
            raise ValueError(f"split: split_size must be positive, got {split_size_or_sections}")
        sizes = [split_size_or_sections] * (n // split_size_or_sections)
        if n % split_size_or_sections:
            sizes.append(n % split_size_or_sections)
    else:
        sizes = list(split_size_or_sections)
        if builtins_sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} do not add up to {n} (dimension {ax} of shape {x.shape})")
    out = []
    start = 0
    for s in sizes:
        index = (slice(None),) * ax + (slice(start, start + s),)
        out.append(getitem(x, index))
        start += s
    return out


def chunk(x: Tensor, chunks: int, axis: Any = None, *, dim: Any = None) -> list[Tensor]:
    """Split into ``chunks`` pieces of (nearly) equal size, as torch.chunk."""
    ax = _axis(axis, dim, "chunk")
    ax = R.check_dim(0 if ax is None else ax, x.ndim, "chunk")
    if not isinstance(chunks, int) or chunks <= 0:
        raise RuntimeError(f"chunk: chunks must be a positive int, got {chunks!r}")
    n = x.shape[ax]
    size = -(-n // chunks)
    return split(x, size, ax)


def pad(x: Tensor, pad_width: Any, value: float = 0.0) -> Tensor:
    """Constant padding with ``numpy.pad``'s ``pad_width`` (see ``nn.functional.pad`` for torch's form)."""
    pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64).reshape(-1, 2) if np.ndim(pad_width) else
                         np.asarray([[pad_width, pad_width]]), (x.ndim, 2))
    return S.Pad.apply(x, pad_width=tuple(map(tuple, pw.tolist())), value=value)


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]``: slices, masks and integer arrays; repeated indices accumulate in backward."""
    return S.GetItem.apply(x, index=_index_arrays(index))


def gather(x: Tensor, dim: int, index: Any) -> Tensor:
    """torch.gather: ``out[i][j] = x[i][index[i][j]]`` for ``dim=1``; repeated indices accumulate in backward."""
    idx = index.array if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"gather: index must be an integer tensor, got dtype {idx.dtype}")
    return S.Gather.apply(x, index=idx, axis=R.check_dim(dim, x.ndim, "gather"))


def masked_fill(x: Tensor, mask: Any, value: Any) -> Tensor:
    """``x`` with ``value`` (a number or a 0-d tensor, which gets a gradient) where ``mask`` is true.

    The mask broadcasts to x's shape; the result keeps x's shape and dtype, as in torch.
    """
    m = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {m.dtype}")
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"masked_fill: value must be a 0-d tensor, got shape {value.shape}")
        value = value if value.dtype == x.dtype else value.astype(x.dtype)
    elif x.array.dtype.kind != "f":
        value = Tensor._wrap(np.asarray(value, dtype=x.dtype), False)
    try:
        out = where(Tensor._wrap(np.broadcast_to(m, x.shape), False), value, x)
    except ValueError:
        raise RuntimeError(f"masked_fill: mask of shape {m.shape} does not broadcast to {x.shape}") from None
    return out


def repeat(x: Tensor, *sizes: Any) -> Tensor:
    """torch's repeat (NumPy's tile), as broadcast + reshape so its backward is a sum."""
    if not sizes:
        raise TypeError("repeat: missing the repeats (one per dimension, e.g. x.repeat(2, 1))")
    reps = S.normalize_shape(sizes)
    if any(r < 0 for r in reps):
        raise RuntimeError(f"repeat: repeats can not be negative, got {reps}")
    if len(reps) < x.ndim:
        raise ValueError(f"repeat: {len(reps)} repeats for a tensor with {x.ndim} dimensions")
    xs = reshape(x, (1,) * (len(reps) - x.ndim) + x.shape)
    inter = []
    target = []
    for r, n in zip(reps, xs.shape):
        inter += [1, n]
        target += [r, n]
    out = broadcast_to(reshape(xs, tuple(inter)), tuple(target))
    return reshape(out, tuple(r * n for r, n in zip(reps, xs.shape)))


# ----------------------------------------------------------------- activations
def relu(x: Tensor) -> Tensor:
    return A.ReLU.apply(x)


def sigmoid(x: Tensor) -> Tensor:
    return A.Sigmoid.apply(_float(x))


def tanh(x: Tensor) -> Tensor:
    return A.Tanh.apply(_float(x))


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    return A.ELU.apply(_float(x), alpha=alpha)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return A.LeakyReLU.apply(_float(x), negative_slope=negative_slope)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return A.Softplus.apply(_float(x), beta=beta, threshold=threshold)


def softmax(x: Tensor, axis: Any = None, *, dim: Any = None) -> Tensor:
    ax = _axis(axis, dim, "softmax")
    return A.Softmax.apply(_float(x), axis=-1 if ax is None else ax)


def log_softmax(x: Tensor, axis: Any = None, *, dim: Any = None) -> Tensor:
    ax = _axis(axis, dim, "log_softmax")
    return A.LogSoftmax.apply(_float(x), axis=-1 if ax is None else ax)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    return A.GELU.apply(_float(x), approximate=approximate)


import builtins as _builtins  # noqa: E402

builtins_sum = _builtins.sum


# ------------------------------------------------------- binding to the Tensor
def _bind() -> None:
    T = Tensor  # the operators (__add__, __getitem__, ...) are defined in the class itself
    for name in ("add", "sub", "mul", "div", "pow", "matmul", "exp", "log", "sqrt", "abs", "sign",
                 "clamp", "clip", "maximum", "minimum", "eq", "ne", "lt", "le", "gt", "ge", "isnan",
                 "isfinite", "sum", "mean", "max", "min", "amax", "amin", "var", "std", "logsumexp",
                 "argmax", "argmin", "prod", "norm", "reshape", "view_as", "permute", "transpose",
                 "swapaxes", "t", "broadcast_to", "expand", "expand_as", "squeeze", "unsqueeze",
                 "flatten", "ravel", "split", "chunk", "repeat", "relu", "sigmoid", "tanh", "elu",
                 "leaky_relu", "softplus", "softmax", "log_softmax", "gelu", "gather", "masked_fill"):
        setattr(T, name, globals()[name])
    T.view = reshape
    T.T = property(lambda a: S.Transpose.apply(a, axes=None))
    T.mT = property(lambda a: swapaxes(a, -1, -2))
    T.greater = gt
    T.less = lt
    T.multiply = mul
    T.divide = div
    T.subtract = sub
    T.negative = neg
    T.square = lambda a: mul(a, a)


_bind()
