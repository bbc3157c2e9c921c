"""More of torch's top-level functions, built from the differentiable ops (so gradients come for free).

Aliases (``multiply``, ``swapdims``, ``concat``...), stacking (``hstack``, ``vstack``...), grids and
differences (``meshgrid``, ``diff``), pairwise ops (``cdist``, ``tensordot``, ``inner``, ``cross``) and
integer utilities without gradients (``unique``, ``bincount``, ``searchsorted``, ``isin``,
``tril_indices``).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..autograd.tensor import Tensor, _as_array
from . import api
from . import math_api as M
from .einsum import einsum
from .scan import _dim
from .structure import flip


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(_as_array(x))


multiply = api.mul
subtract = api.sub
divide = true_divide = api.div
negative = api.neg
absolute = api.abs
sgn = api.sign
swapdims = api.swapaxes
concat = api.cat
ravel = api.ravel


def clone(input: Tensor) -> Tensor:  # noqa: A002
    """A copy that stays in the graph."""
    return input.clone()


def numel(input: Tensor) -> int:  # noqa: A002
    return input.numel()


def t(input: Tensor) -> Tensor:  # noqa: A002
    """Transpose a tensor of at most 2 dimensions."""
    return api.t(input)


# ------------------------------------------------------------------ stacking
def atleast_1d(input: Tensor) -> Tensor:  # noqa: A002
    return api.reshape(input, (1,)) if input.ndim == 0 else input


def atleast_2d(input: Tensor) -> Tensor:  # noqa: A002
    return api.reshape(input, (1,) * (2 - input.ndim) + input.shape) if input.ndim < 2 else input


def hstack(tensors: Sequence[Any]) -> Tensor:
    """Concatenate along dimension 1 (dimension 0 for 1-D tensors)."""
    xs = [atleast_1d(_t(x)) for x in tensors]
    return api.cat(xs, dim=0 if xs[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Any]) -> Tensor:
    """Concatenate along dimension 0, 1-D tensors becoming rows."""
    return api.cat([atleast_2d(_t(x)) for x in tensors], dim=0)


row_stack = vstack


def column_stack(tensors: Sequence[Any]) -> Tensor:
    """1-D tensors become columns, then concatenate along dimension 1."""
    xs = [_t(x) for x in tensors]
    return api.cat([api.reshape(x, (-1, 1)) if x.ndim <= 1 else x for x in xs], dim=1)


def dstack(tensors: Sequence[Any]) -> Tensor:
    """Concatenate along dimension 2 (inputs made at least 3-D as (1, n, 1) / (m, n, 1))."""
    out = []
    for x in (_t(x) for x in tensors):
        if x.ndim == 0:
            x = api.reshape(x, (1, 1, 1))
        elif x.ndim == 1:
            x = api.reshape(x, (1, -1, 1))
        elif x.ndim == 2:
            x = api.unsqueeze(x, -1)
        out.append(x)
    return api.cat(out, dim=2)


def broadcast_shapes(*shapes: Any) -> tuple[int, ...]:
    return tuple(np.broadcast_shapes(*[(s,) if isinstance(s, int) else tuple(s) for s in shapes]))


def broadcast_tensors(*tensors: Tensor) -> tuple[Tensor, ...]:
    """The tensors broadcast to their common shape (the gradients are summed back)."""
    shape = broadcast_shapes(*[x.shape for x in tensors])
    return tuple(x if x.shape == shape else api.broadcast_to(x, shape) for x in tensors)


def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids from 1-D tensors; ``indexing='ij'`` (torch's default) or ``'xy'``."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    xs = [_t(x) for x in tensors]
    n = len(xs)
    shape = [x.numel() for x in xs]
    if indexing == "xy" and n >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, x in enumerate(xs):
        axis = i
        if indexing == "xy" and n >= 2 and i < 2:
            axis = 1 - i
        view = [1] * n
        view[axis] = x.numel()
        out.append(api.broadcast_to(api.reshape(x, tuple(view)), tuple(shape)))
    return tuple(out)


# ------------------------------------------------------------------ differences and products
def diff(input: Tensor, n: int = 1, dim: int = -1, prepend: Any = None, append: Any = None) -> Tensor:  # noqa: A002
    """The n-th forward difference x[i + 1] - x[i] along ``dim``, after optional prepend/append."""
    x = input
    d = _dim(dim, x.ndim, "diff")
    if prepend is not None or append is not None:
        parts = ([_t(prepend)] if prepend is not None else []) + [x] + ([_t(append)] if append is not None else [])
        x = api.cat(parts, dim=d)
    for _ in range(n):
        size = x.shape[d]
        hi = (slice(None),) * d + (slice(1, size),)
        lo = (slice(None),) * d + (slice(0, max(size - 1, 0)),)
        x = api.getitem(x, hi) - api.getitem(x, lo) if x.dtype != np.bool_ else \
            Tensor._wrap(x.array[hi] != x.array[lo], False)
    return x


def tensordot(a: Tensor, b: Tensor, dims: Any = 2) -> Tensor:
    """Contract the last ``dims`` dimensions of a with the first of b (or the listed pairs)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    if isinstance(dims, int):
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = ([dims[0]] if isinstance(dims[0], int) else list(dims[0])), \
            ([dims[1]] if isinstance(dims[1], int) else list(dims[1]))
    da, db = [d % a.ndim for d in da], [d % b.ndim for d in db]
    sa = list(letters[:a.ndim])
    sb = list(letters[a.ndim:a.ndim + b.ndim])
    for i, j in zip(da, db):
        sb[j] = sa[i]
    out = [c for i, c in enumerate(sa) if i not in da] + [c for j, c in enumerate(sb) if j not in db]
    return einsum(f"{''.join(sa)},{''.join(sb)}->{''.join(out)}", a, b)


def inner(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """Sum over the last dimension of both: inner(a, b)[..., ...] = sum_k a[..., k] b[..., k]."""
    if input.ndim == 0 or other.ndim == 0:
        return api.mul(input, other)
    return tensordot(input, other, ([-1], [-1]))


def vdot(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    return api.sum(api.mul(input, other))


def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:  # noqa: A002
    """The 3-vector cross product along ``dim`` (the first dimension of size 3 by default, as torch.cross)."""
    a, b = broadcast_tensors(input, other)
    if dim is None:
        dim = next((i for i, n in enumerate(a.shape) if n == 3), None)
        if dim is None:
            raise RuntimeError(f"cross: no dimension of size 3 in shape {a.shape}")
    d = _dim(dim, a.ndim, "cross")
    if a.shape[d] != 3:
        raise RuntimeError(f"cross: dimension {dim} has size {a.shape[d]}, expected 3")

    def comp(x: Tensor, i: int) -> Tensor:
        return api.getitem(x, (slice(None),) * d + (i,))

    parts = [comp(a, 1) * comp(b, 2) - comp(a, 2) * comp(b, 1), comp(a, 2) * comp(b, 0) - comp(a, 0) * comp(b, 2),
             comp(a, 0) * comp(b, 1) - comp(a, 1) * comp(b, 0)]
    return api.stack(parts, dim=d)


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0) -> Tensor:
    """Pairwise p-norm distances between the rows of x1 (..., P, M) and x2 (..., R, M)."""
    diffs = api.unsqueeze(x1, -2) - api.unsqueeze(x2, -3)
    if p == 2.0:
        return api.sqrt(api.sum(diffs * diffs, dim=-1))
    if p == 1.0:
        return api.sum(api.abs(diffs), dim=-1)
    if p == float("inf"):
        return api.amax(api.abs(diffs), dim=-1)
    return api.pow(api.sum(api.pow(api.abs(diffs), p), dim=-1), 1.0 / p)


def rot90(input: Tensor, k: int = 1, dims: Sequence[int] = (0, 1)) -> Tensor:  # noqa: A002
    """Rotate by 90 degrees k times in the plane ``dims`` (from the first toward the second axis)."""
    d0, d1 = (_dim(d, input.ndim, "rot90") for d in dims)
    k %= 4
    if k == 0:
        return api.getitem(input, ())
    if k == 2:
        return flip(input, (d0, d1))
    swapped = api.transpose(input, d0, d1)
    return flip(swapped, d0) if k == 1 else flip(swapped, d1)


def unflatten(input: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:  # noqa: A002
    """Split dimension ``dim`` into ``sizes`` (one of them may be -1)."""
    d = _dim(dim, input.ndim, "unflatten")
    return api.reshape(input, input.shape[:d] + tuple(sizes) + input.shape[d + 1:])


def take(input: Tensor, index: Any) -> Tensor:  # noqa: A002
    """Elements of the flattened input at ``index`` (the result has index's shape)."""
    idx = index.array if isinstance(index, Tensor) else np.asarray(index)
    flat = api.reshape(input, (-1,))
    n = flat.shape[0]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"take: index out of range for a tensor of {n} elements")
    return api.getitem(flat, idx % max(n, 1))


def fmax(input: Any, other: Any) -> Tensor:  # noqa: A002
    """Elementwise maximum that ignores NaN (NaN only where both are NaN)."""
    a, b = _t(input), _t(other)
    return api.where(api.isnan(a), b, api.where(api.isnan(b), a, api.maximum(a, b)))


def fmin(input: Any, other: Any) -> Tensor:  # noqa: A002
    """Elementwise minimum that ignores NaN."""
    a, b = _t(input), _t(other)
    return api.where(api.isnan(a), b, api.where(api.isnan(b), a, api.minimum(a, b)))


def logaddexp2(input: Any, other: Any) -> Tensor:  # noqa: A002
    """log2(2^x + 2^y), stably."""
    ln2 = float(np.log(2.0))
    return M.logaddexp(api.mul(input, ln2), api.mul(other, ln2)) / ln2


def heaviside(input: Tensor, values: Any) -> Tensor:  # noqa: A002
    """0 for x < 0, ``values`` at x == 0, 1 for x > 0 (no gradient, as torch)."""
    v = values.array if isinstance(values, Tensor) else values
    return Tensor._wrap(np.asarray(np.heaviside(input.array, v), dtype=input.dtype), False)


def nansum(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """The sum treating NaN as 0."""
    return api.sum(api.where(api.isnan(input), 0.0, input), dim=dim, keepdim=keepdim)


def nanmean(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """The mean over the non-NaN elements."""
    keep = M.logical_not(api.isnan(input))
    count = api.sum(keep.astype(input.dtype), dim=dim, keepdim=keepdim)
    return nansum(input, dim, keepdim) / count


# ------------------------------------------------------------------ integer utilities (no gradient)
def _arr(x: Any) -> np.ndarray:
    return x.array if isinstance(x, Tensor) else np.asarray(x)


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,  # noqa: A002
           return_counts: bool = False, dim: int | None = None) -> Any:
    """The distinct values (sorted), optionally with the inverse indices and the counts."""
    values, inverse, counts = np.unique(input.array, return_inverse=True, return_counts=True, axis=dim)
    out = [Tensor._wrap(values, False)]
    if return_inverse:
        shape = input.shape if dim is None else (input.shape[dim],)
        out.append(Tensor._wrap(inverse.reshape(shape).astype(np.int64), False))
    if return_counts:
        out.append(Tensor._wrap(counts.astype(np.int64), False))
    return out[0] if len(out) == 1 else tuple(out)


def unique_consecutive(input: Tensor, return_inverse: bool = False, return_counts: bool = False,  # noqa: A002
                       dim: int | None = None) -> Any:
    """Collapse runs of equal consecutive values (of the flattened input)."""
    if dim is not None:
        raise TypeError("unique_consecutive: only dim=None (the flattened tensor) is supported")
    a = input.array.reshape(-1)
    starts = np.concatenate([[True], a[1:] != a[:-1]]) if a.size else np.zeros(0, bool)
    out = [Tensor._wrap(a[starts], False)]
    if return_inverse:
        out.append(Tensor._wrap((np.cumsum(starts) - 1).reshape(input.shape).astype(np.int64), False))
    if return_counts:
        out.append(Tensor._wrap(np.diff(np.append(np.flatnonzero(starts), a.size)).astype(np.int64), False))
    return out[0] if len(out) == 1 else tuple(out)


def bincount(input: Tensor, weights: Any = None, minlength: int = 0) -> Tensor:  # noqa: A002
    """Counts of each non-negative integer in a 1-D tensor (weighted sums with ``weights``)."""
    a = input.array
    if a.ndim != 1 or a.dtype.kind not in "iu" or (a.size and a.min() < 0):
        raise RuntimeError(f"bincount: expected a 1-D tensor of non-negative integers, got shape {a.shape} "
                           f"dtype {a.dtype}")
    w = None if weights is None else _arr(weights)
    out = np.bincount(a, weights=w, minlength=minlength)
    dtype = np.int64 if w is None else (w.dtype if w.dtype.kind == "f" else np.float64)
    return Tensor._wrap(out.astype(dtype), False)  # no gradient, as torch (bincount is not differentiable)


def searchsorted(sorted_sequence: Any, values: Any, *, out_int32: bool = False, right: bool = False,
                 side: str | None = None) -> Tensor:
    """Insertion indices of ``values`` into the sorted last dimension of ``sorted_sequence``."""
    seq, v = _arr(sorted_sequence), _arr(values)
    side = side or ("right" if right else "left")
    if seq.ndim == 1:
        out = np.searchsorted(seq, v, side=side)
    else:
        rows_s, rows_v = seq.reshape(-1, seq.shape[-1]), v.reshape(-1, v.shape[-1])
        out = np.stack([np.searchsorted(s, r, side=side) for s, r in zip(rows_s, rows_v)]).reshape(v.shape)
    return Tensor._wrap(np.asarray(out, dtype=np.int32 if out_int32 else np.int64), False)


def bucketize(input: Any, boundaries: Any, *, out_int32: bool = False, right: bool = False) -> Tensor:  # noqa: A002
    """The bucket of each input element among 1-D ``boundaries`` (torch's ``right`` convention)."""
    return searchsorted(boundaries, input, out_int32=out_int32, side="left" if not right else "right")


def isin(elements: Any, test_elements: Any, *, assume_unique: bool = False, invert: bool = False) -> Tensor:
    """Whether each element is among ``test_elements``."""
    return Tensor._wrap(np.isin(_arr(elements), _arr(test_elements), invert=invert), False)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None, device: Any = None) -> Tensor:
    """The (2, N) coordinates of the lower triangle of a row x col matrix, row by row."""
    r, c = np.tril_indices(row, offset, col)
    return Tensor._wrap(np.stack([r, c]).astype(np.int64), False)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None, device: Any = None) -> Tensor:
    """The (2, N) coordinates of the upper triangle of a row x col matrix, row by row."""
    r, c = np.triu_indices(row, offset, col)
    return Tensor._wrap(np.stack([r, c]).astype(np.int64), False)
