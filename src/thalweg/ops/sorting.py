"""Order statistics: sort, argsort, topk, kthvalue, median, mode.

Each finds integer indices along a dimension first (NumPy's argsort, no
gradient), then gathers the values with ``Gather``, whose backward
scatter-adds the gradient to the positions the values came from, exactly as
torch routes the gradient of ``sort``/``topk``/``median`` to the chosen indices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from . import api
from . import shape as S
from .scan import _dim


def _key(a: Any, descending: bool) -> Any:
    """A key whose ascending stable order is ``a``'s order (NaN counts as the largest, as torch)."""
    if a.dtype.kind in "bu":
        a = a.astype(np.int64)
    if not descending:
        return a
    if a.dtype.kind == "f":
        return np.where(np.isnan(a), -np.inf, -a)  # NaN first when descending
    return -a


def _sort_indices(a: Any, dim: int, descending: bool) -> Any:
    return np.argsort(_key(a, descending), axis=dim, kind="stable").astype(np.int64)


def _values(x: Tensor, idx: Any, dim: int) -> Tensor:
    return S.Gather.apply(x, index=idx, axis=dim)


def _scalar_pair(x: Tensor) -> Any:
    return api._ValuesIndices((x * 1 if x.requires_grad else Tensor._wrap(x.array.copy(), False),
                               Tensor._wrap(np.zeros((), np.int64), False)))


def sort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Any:  # noqa: A002
    """(values, indices) sorted along ``dim``; equal elements keep their order (always stable here)."""
    x = input
    if x.ndim == 0:
        return _scalar_pair(x)
    d = _dim(dim, x.ndim, "sort")
    idx = _sort_indices(x.array, d, descending)
    return api._ValuesIndices((_values(x, idx, d), Tensor._wrap(idx, False)))


def argsort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Tensor:  # noqa: A002
    """The indices that sort ``input`` along ``dim`` (int64)."""
    if input.ndim == 0:
        return Tensor._wrap(np.zeros((), np.int64), False)
    d = _dim(dim, input.ndim, "argsort")
    return Tensor._wrap(_sort_indices(input.array, d, descending), False)


def msort(input: Tensor) -> Tensor:  # noqa: A002
    return sort(input, dim=0).values


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:  # noqa: A002
    """The ``k`` largest (or smallest) elements along ``dim``: (values, indices), best first."""
    x = input
    n = x.shape[_dim(dim, x.ndim, "topk")] if x.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: k ({k}) is out of range for dimension {dim} of size {n} (shape {x.shape})")
    if x.ndim == 0:
        return _scalar_pair(x)
    d = dim % x.ndim
    idx = np.take(_sort_indices(x.array, d, largest), np.arange(k), axis=d)
    return api._ValuesIndices((_values(x, idx, d), Tensor._wrap(idx, False)))


def _select_kth(x: Tensor, k0: int, dim: int, keepdim: bool, op: str) -> Any:
    """The element of 0-based rank ``k0`` along ``dim``, as (values, indices)."""
    if x.ndim == 0:
        return _scalar_pair(x)
    d = _dim(dim, x.ndim, op)
    idx = np.take(_sort_indices(x.array, d, False), [k0], axis=d)
    values = _values(x, idx, d)
    indices = Tensor._wrap(idx, False)
    if not keepdim:
        values, indices = api.squeeze(values, d), api.squeeze(indices, d)
    return api._ValuesIndices((values, indices))


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False) -> Any:  # noqa: A002
    """The ``k``-th smallest element (1-based) along ``dim``: (values, indices)."""
    n = input.shape[_dim(dim, input.ndim, "kthvalue")] if input.ndim else 1
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue: k ({k}) is out of range for dimension {dim} of size {n} "
                           f"(shape {input.shape})")
    return _select_kth(input, k - 1, dim, keepdim, "kthvalue")


def median(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A002
    """torch's *lower* median: the element of rank (n - 1) // 2, not the mean of the middle two.

    Without ``dim`` it is a 0-d tensor over all elements; with ``dim``, (values, indices).
    A NaN anywhere in a slice makes that slice's median NaN, as in torch.
    """
    x = input
    if dim is None:
        if x.array.size == 0:
            return Tensor._wrap(np.asarray(np.nan, dtype=x.dtype), False)
        flat = api.reshape(x, (-1,))
        n = flat.shape[0]
        nan = np.isnan(flat.array) if flat.array.dtype.kind == "f" else np.zeros(n, bool)
        k0 = int(np.argmax(nan)) if nan.any() else (n - 1) // 2
        idx = np.argsort(_key(flat.array, False), kind="stable")[k0] if not nan.any() else k0
        if flat.array.dtype.kind != "f":
            return api.reshape(api.getitem(flat, np.asarray([idx])), ())
        # torch's evenly_distribute_backward: the gradient is shared by every element equal to the median
        # (every NaN, for a NaN median); the max over those ties (the rest set to -inf) has exactly that rule
        a = flat.array
        tied = (a == a[idx]) | (np.isnan(a) & np.isnan(a[idx]))
        from .reduce import Max

        return Max.apply(api.where(Tensor._wrap(tied, False), flat, float("-inf")), axis=None, nan_ties=True)
    d = _dim(dim, x.ndim, "median")
    n = x.shape[d] if x.ndim else 1
    if n == 0:
        raise IndexError(f"median: cannot take the median of an empty dimension {dim} (shape {x.shape})")
    return _select_kth(x, (n - 1) // 2, dim, keepdim, "median")


def nanmedian(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A002
    """The lower median ignoring NaNs (over all elements only)."""
    if dim is not None:
        raise TypeError("nanmedian: only the all-elements form is supported; use median(dim=) without NaNs")
    flat = api.reshape(input, (-1,))
    keep = ~np.isnan(flat.array) if flat.array.dtype.kind == "f" else np.ones(flat.shape, bool)
    return median(api.getitem(flat, keep))


def mode(input: Tensor, dim: int = -1, keepdim: bool = False) -> Any:  # noqa: A002
    """The most frequent value along ``dim`` (the smallest among equally frequent ones), with its last index."""
    x = input
    if x.ndim == 0:
        return _scalar_pair(x)
    d = _dim(dim, x.ndim, "mode")
    a = np.moveaxis(x.array, d, -1)
    rows = a.reshape(-1, a.shape[-1])
    best = np.empty(rows.shape[0], np.int64)
    for r, row in enumerate(rows):
        values, counts = np.unique(row, return_counts=True)
        value = values[np.argmax(counts)]
        best[r] = np.flatnonzero(row == value)[-1]
    idx = np.moveaxis(best.reshape(a.shape[:-1] + (1,)), -1, d)
    values = _values(x, idx, d)
    indices = Tensor._wrap(idx, False)
    if not keepdim:
        values, indices = api.squeeze(values, d), api.squeeze(indices, d)
    return api._ValuesIndices((values, indices))
