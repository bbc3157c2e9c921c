"""Scans along one dimension: cumsum, cumprod, logcumsumexp, cummax, cummin.

The backward of a prefix sum is a suffix sum: z_k = sum_{i<=k} x_i gives
dL/dx_j = sum_{k>=j} g_k.  The others reduce to it:

    cumprod:       dL/dx_j = sum_{k>=j} g_k z_k / x_j   (no zero before or at j; see below for zeros)
    logcumsumexp:  dL/dx_j = e^{x_j} sum_{k>=j} g_k e^{-z_k}, computed in log space per sign of g
    cummax/cummin: the gradient goes to the index each running extreme came from.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import dtypes
from ..autograd.function import Context, Function
from ..autograd.tensor import Tensor
from ..backend import get_array_module
from . import api
from . import shape as S


def _dim(dim: Any, ndim: int, op: str) -> int:
    if dim is None:
        raise TypeError(f"{op}: missing the dimension (dim=)")
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: dimension {dim} out of range for a tensor with {ndim} dimensions")
    return dim % n


def _suffix_sum(a: Any, axis: int) -> Any:
    return np.flip(np.cumsum(np.flip(a, axis), axis), axis)


class CumSum(Function):
    """z_k = sum_{i<=k} x_i along ``axis``;  dL/dx_j = sum_{k>=j} g_k."""

    @staticmethod
    def forward(ctx: Context, x: Any, axis: int = 0) -> Any:
        ctx.axis = axis
        return get_array_module(x).cumsum(x, axis=axis, dtype=x.dtype)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return _suffix_sum(grad, ctx.axis)


class CumProd(Function):
    """z_k = prod_{i<=k} x_i along ``axis``, with torch's exact gradient where x has zeros.

    Before the first zero z_0 of a row dL/dx_j = sum_{k>=j} g_k z_k / x_j; at the first
    zero dL/dx_z0 = z_{z0-1} sum_{k>=z0} g_k prod_{z0<i<=k} x_i; after it the gradient is 0.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, axis: int = 0) -> Any:
        out = get_array_module(x).cumprod(x, axis=axis, dtype=x.dtype)
        ctx.x, ctx.out, ctx.axis = x, out, axis
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        x = np.moveaxis(ctx.x, ctx.axis, -1)
        out = np.moveaxis(ctx.out, ctx.axis, -1)
        g = np.moveaxis(grad, ctx.axis, -1)
        n = x.shape[-1]
        if n == 0:
            return grad
        zero = x == 0
        with np.errstate(all="ignore"):
            gx = np.where(zero, 0, _suffix_sum(g * out, -1) / np.where(zero, 1, x))
        first = np.argmax(zero, axis=-1)
        has_zero = zero.any(axis=-1)
        after = np.arange(n) > first[..., None]
        gx = np.where(after & has_zero[..., None], 0, gx)
        for row in map(tuple, np.argwhere(has_zero)):  # argwhere: also a 1-d x, whose has_zero is 0-d
            z0 = int(first[row])
            before = out[row][z0 - 1] if z0 > 0 else 1
            tail = np.cumprod(np.concatenate([[1], x[row][z0 + 1:]]).astype(x.dtype))
            gx[row][z0] = before * (g[row][z0:] * tail).sum()
        return np.moveaxis(gx.astype(grad.dtype, copy=False), -1, ctx.axis)


class LogCumSumExp(Function):
    """z_k = ln sum_{i<=k} e^{x_i};  dL/dx_j = sum_{k>=j} g_k e^{x_j - z_k} (positive and negative g apart)."""

    @staticmethod
    def forward(ctx: Context, x: Any, axis: int = 0) -> Any:
        out = np.logaddexp.accumulate(x, axis=axis) if x.shape[axis] else x.copy()
        ctx.x, ctx.out, ctx.axis = x, out, axis
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        ax = ctx.axis
        if grad.shape[ax] == 0:
            return grad

        def suffix_logsumexp(a: Any) -> Any:
            return np.flip(np.logaddexp.accumulate(np.flip(a, ax), axis=ax), ax)

        with np.errstate(divide="ignore"):
            pos = suffix_logsumexp(np.log(np.where(grad > 0, grad, 0)) - ctx.out)
            neg = suffix_logsumexp(np.log(np.where(grad < 0, -grad, 0)) - ctx.out)
        return (np.exp(ctx.x + pos) - np.exp(ctx.x + neg)).astype(grad.dtype, copy=False)


def _prepare(input: Tensor, dim: Any, dtype: Any, op: str) -> tuple[Tensor, int]:  # noqa: A002
    x = input
    if dtype is not None:
        x = x.astype(dtype)
    elif x.array.dtype.kind in "biu":  # torch: integer and bool scans accumulate in int64
        x = x.astype(dtypes.int64)
    return x, _dim(dim, x.ndim, op)


def _scan(fn: Any, x: Tensor, axis: int) -> Tensor:
    if x.ndim == 0:
        return fn.apply(x.reshape(1), axis=0).reshape(())
    return fn.apply(x, axis=axis)


def cumsum(input: Tensor, dim: Any = None, *, dtype: Any = None, axis: Any = None) -> Tensor:  # noqa: A002
    """Running sum along ``dim`` (torch.cumsum); integers accumulate in int64."""
    x, d = _prepare(input, api._axis(axis, dim, "cumsum"), dtype, "cumsum")
    return _scan(CumSum, x, d)


def cumprod(input: Tensor, dim: Any = None, *, dtype: Any = None, axis: Any = None) -> Tensor:  # noqa: A002
    """Running product along ``dim`` (torch.cumprod), with exact gradients at zeros."""
    x, d = _prepare(input, api._axis(axis, dim, "cumprod"), dtype, "cumprod")
    return _scan(CumProd, x, d)


def logcumsumexp(input: Tensor, dim: Any = None, *, axis: Any = None) -> Tensor:  # noqa: A002
    """ln of the running sum of e^x along ``dim``, stably."""
    x = api._float(input)
    return _scan(LogCumSumExp, x, _dim(api._axis(axis, dim, "logcumsumexp"), x.ndim, "logcumsumexp"))


def _cumextreme(input: Tensor, dim: int, op: str, better: Any) -> Any:  # noqa: A002
    x = input
    if x.ndim == 0:
        return api._ValuesIndices((Tensor._wrap(x.array.copy(), False) if not x.requires_grad else x * 1,
                                   Tensor._wrap(np.zeros((), np.int64), False)))
    d = _dim(dim, x.ndim, op)
    a = x.array
    running = better.accumulate(a, axis=d) if a.shape[d] else a.copy()
    shape = [1] * a.ndim
    shape[d] = a.shape[d]
    positions = np.arange(a.shape[d]).reshape(shape)
    is_new = a == running  # ties move the index to the latest position, as torch
    idx = np.maximum.accumulate(np.where(is_new, positions, 0), axis=d) if a.shape[d] else \
        np.zeros(a.shape, np.int64)
    idx = idx.astype(np.int64)
    values = S.Gather.apply(x, index=idx, axis=d)
    return api._ValuesIndices((values, Tensor._wrap(idx, False)))


def cummax(input: Tensor, dim: int) -> Any:  # noqa: A002
    """(values, indices) of the running maximum along ``dim``; the gradient goes to the indices."""
    return _cumextreme(input, dim, "cummax", np.maximum)


def cummin(input: Tensor, dim: int) -> Any:  # noqa: A002
    """(values, indices) of the running minimum along ``dim``."""
    return _cumextreme(input, dim, "cummin", np.minimum)
