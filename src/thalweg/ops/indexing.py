"""Scatter, index and mask ops with torch's names: scatter, index_add, masked_scatter, nonzero...

Scatter is gather's mirror: ``scatter(x, dim, index, src)`` writes
out[..., index[i, j], ...] = src[i, j] along ``dim``.  Its backward reads the
gradient back with a gather (for ``src``) and zeroes the overwritten places
(for ``x``).  The ``index_*`` ops do the same with a 1-D index over whole
slices of one dimension.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.function import Context, Function
from ..autograd.tensor import Tensor, _as_array
from . import api
from . import shape as S
from .scan import _dim


def _index_array(index: Any, op: str) -> Any:
    idx = index.array if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.kind not in "iu" and not (idx.size == 0):
        raise TypeError(f"{op}: index must be an integer tensor, got dtype {idx.dtype}")
    return idx.astype(np.int64, copy=False)


def _coords(index: Any, dim: int) -> tuple[Any, ...]:
    """Fancy-index coordinates of the places ``index`` points to along ``dim`` (others: their own position)."""
    nd = index.ndim
    return tuple(index if d == dim else np.arange(n).reshape((1,) * d + (n,) + (1,) * (nd - d - 1))
                 for d, n in enumerate(index.shape))


def _check_scatter(x: Any, dim: int, index: Any, src: Any, op: str) -> None:
    if index.ndim != x.ndim and index.size:
        raise RuntimeError(f"{op}: index has {index.ndim} dimensions but self has {x.ndim} (shape {x.shape})")
    for d, n in enumerate(index.shape):
        if d != dim and n > x.shape[d]:
            raise RuntimeError(f"{op}: index of shape {index.shape} is larger than self {x.shape} in dimension {d}")
        if src is not None and np.ndim(src) and n > src.shape[d]:
            raise RuntimeError(f"{op}: index of shape {index.shape} is larger than src {src.shape} in dimension {d}")
    if index.size and (index.min() < 0 or index.max() >= x.shape[dim]):
        bad = int(index.min()) if index.min() < 0 else int(index.max())
        raise IndexError(f"{op}: index {bad} is out of bounds for dimension {dim} with size {x.shape[dim]}")


def _src_part(src: Any, index: Any) -> Any:
    return src[tuple(slice(0, n) for n in index.shape)]


class Scatter(Function):
    """out = x with out[coords(index)] = src (or the scalar ``value``).

    dL/dx = g with the written places zeroed; dL/dsrc = g gathered at index.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, src: Any, index: Any = None, dim: int = 0) -> Any:
        out = x.copy()
        if index.size:
            where = _coords(index, dim)
            out[where] = _src_part(src, index) if np.ndim(src) else src
        ctx.index, ctx.dim, ctx.src_shape = index, dim, np.shape(src)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        index = ctx.index
        gx = grad.copy()
        gsrc = None
        if index.size:
            where = _coords(index, ctx.dim)
            if ctx.needs_input_grad[1]:
                gsrc = np.zeros(ctx.src_shape, dtype=grad.dtype)
                gsrc[tuple(slice(0, n) for n in index.shape)] = grad[where]
            gx[where] = 0
        elif ctx.needs_input_grad[1]:
            gsrc = np.zeros(ctx.src_shape, dtype=grad.dtype)
        return gx, gsrc


class ScatterReduce(Function):
    """out[p] = reduce(x[p] (if include_self), src values sent to p): sum, prod, mean, amax, amin.

    Gradients as torch: sum sends g to every contributor; mean g / count; amax/amin split g evenly
    among the contributors equal to the result; prod g * (product of the other contributors).
    Places no index points to keep x and its gradient.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, src: Any, index: Any = None, dim: int = 0, reduce: str = "sum",
                include_self: bool = True) -> Any:
        out = x.copy()
        ctx.index, ctx.dim, ctx.reduce, ctx.include_self, ctx.src_shape = index, dim, reduce, include_self, src.shape
        ctx.x, ctx.src = x, src
        if not index.size:
            ctx.out = out
            return out
        where = _coords(index, dim)
        vals = _src_part(src, index)
        touched = np.zeros(x.shape, bool)
        touched[where] = True
        count = np.zeros(x.shape, np.int64)
        np.add.at(count, where, 1)
        if include_self:
            count = count + touched
        if reduce in ("sum", "mean"):
            if not include_self:
                out[touched] = 0
            np.add.at(out, where, vals)
            if reduce == "mean":
                safe = np.maximum(count, 1)
                out = np.where(touched, out / safe if x.dtype.kind == "f" else out // safe, out).astype(x.dtype)
        elif reduce == "prod":
            if not include_self:
                out[touched] = 1
            np.multiply.at(out, where, vals)
        elif reduce in ("amax", "amin"):
            ufunc = np.maximum if reduce == "amax" else np.minimum
            if not include_self:  # start from the reduction's identity
                info = np.finfo(x.dtype) if x.dtype.kind == "f" else np.iinfo(x.dtype)
                big = np.inf if x.dtype.kind == "f" else info.max
                out[touched] = -big if reduce == "amax" else big
            ufunc.at(out, where, vals)
        else:
            raise ValueError(f"scatter_reduce: reduce must be 'sum', 'prod', 'mean', 'amax' or 'amin', got {reduce!r}")
        ctx.out, ctx.count, ctx.touched = out, count, touched
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        index, dim, reduce = ctx.index, ctx.dim, ctx.reduce
        if not index.size:
            return grad.copy(), np.zeros(ctx.src_shape, grad.dtype)
        where = _coords(index, dim)
        vals = _src_part(ctx.src, index)
        touched, x = ctx.touched, ctx.x
        self_kept = ~touched | ctx.include_self
        gsrc_part: Any
        if reduce == "sum":
            gx = np.where(self_kept, grad, 0)
            gsrc_part = grad[where]
        elif reduce == "mean":
            scale = grad / np.maximum(ctx.count, 1)
            gx = np.where(touched, np.where(self_kept, scale, 0), grad)
            gsrc_part = scale[where]
        elif reduce in ("amax", "amin"):
            out = ctx.out
            ties = np.zeros(x.shape, np.int64)
            np.add.at(ties, where, (vals == out[where]).astype(np.int64))
            self_hit = touched & self_kept & (x == out)
            ties = ties + self_hit
            share = grad / np.maximum(ties, 1)
            gx = np.where(touched, np.where(self_hit, share, 0), grad)
            gsrc_part = np.where(vals == out[where], share[where], 0)
        else:  # prod: product of the other contributors, exact with zeros
            zeros = np.zeros(x.shape, np.int64)
            np.add.at(zeros, where, (vals == 0).astype(np.int64))
            nonzero_prod = np.where(touched & self_kept & (x != 0), x, 1).astype(x.dtype)
            zeros = zeros + (touched & self_kept & (x == 0))
            np.multiply.at(nonzero_prod, where, np.where(vals == 0, 1, vals))

            def others(v: Any, p: Any, z: Any) -> Any:
                with np.errstate(all="ignore"):
                    return np.where(z == 0, p / np.where(v == 0, 1, v), np.where((z == 1) & (v == 0), p, 0))

            gx = np.where(touched, np.where(self_kept, grad * others(x, nonzero_prod, zeros), 0), grad)
            gsrc_part = grad[where] * others(vals, nonzero_prod[where], zeros[where])
        gsrc = np.zeros(ctx.src_shape, dtype=grad.dtype)
        gsrc[tuple(slice(0, n) for n in index.shape)] = gsrc_part
        return gx.astype(grad.dtype, copy=False), gsrc


class IndexAdd(Function):
    """out = x;  out[..., index[i], ...] += alpha source[..., i, ...] along ``dim`` (repeats accumulate)."""

    @staticmethod
    def forward(ctx: Context, x: Any, source: Any, index: Any = None, dim: int = 0, alpha: float = 1) -> Any:
        out = x.copy()
        sel = (slice(None),) * dim + (index,)
        np.add.at(out, sel, source * alpha if alpha != 1 else source)
        ctx.sel, ctx.alpha = sel, alpha
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        gs = grad[ctx.sel] * ctx.alpha if ctx.needs_input_grad[1] else None
        return grad, gs


class IndexCopy(Function):
    """out = x;  out[..., index[i], ...] = source[..., i, ...] (index_copy), or a value (index_fill).

    dL/dx = g with the written slices zeroed; dL/dsource = the gradient of those slices.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, source: Any, index: Any = None, dim: int = 0) -> Any:
        out = x.copy()
        sel = (slice(None),) * dim + (index,)
        out[sel] = source
        ctx.sel, ctx.source_shape = sel, np.shape(source)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        gx = grad.copy()
        picked = grad[ctx.sel]
        gx[ctx.sel] = 0
        gs = None
        if ctx.needs_input_grad[1]:
            gs = picked if picked.shape == ctx.source_shape else np.asarray(picked.sum()).reshape(ctx.source_shape)
        return gx, gs


class MaskedScatter(Function):
    """out = x with the places where ``mask`` is true filled, in order, from source's first elements."""

    @staticmethod
    def forward(ctx: Context, x: Any, source: Any, mask: Any = None) -> Any:
        n = int(mask.sum())
        if source.size < n:
            raise RuntimeError(f"masked_scatter: the mask has {n} true elements but source has only {source.size}")
        out = x.copy()
        out[mask] = source.reshape(-1)[:n]
        ctx.mask, ctx.n, ctx.source_shape = mask, n, source.shape
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        gs = np.zeros(int(np.prod(ctx.source_shape)), dtype=grad.dtype)
        gs[:ctx.n] = grad[ctx.mask]
        return np.where(ctx.mask, 0, grad), gs.reshape(ctx.source_shape)


# ------------------------------------------------------------------ public functions
def _src(src: Any, like: Tensor) -> Any:
    if isinstance(src, Tensor):
        return src
    return src if isinstance(src, (int, float, bool)) else Tensor(_as_array(src, like.dtype))


def scatter(input: Tensor, dim: int, index: Any, src: Any = None, *, value: Any = None,  # noqa: A002
            reduce: str | None = None) -> Tensor:
    """torch.scatter: out[index[i][j]][j] = src[i][j] for dim 0 (src a tensor or a number).

    ``reduce='add'`` / ``'multiply'`` accumulate instead (torch's older spelling of scatter_reduce).
    """
    x = input
    d = _dim(dim, x.ndim, "scatter")
    idx = _index_array(index, "scatter")
    source = value if src is None else src
    if source is None:
        raise TypeError("scatter: give src (a tensor) or value (a number)")
    _check_scatter(x.array, d, idx, source.array if isinstance(source, Tensor) else None, "scatter")
    if reduce is not None:
        names = {"add": "sum", "multiply": "prod"}
        if reduce not in names:
            raise ValueError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
        if not isinstance(source, Tensor):
            source = Tensor(np.full(idx.shape, source, dtype=x.dtype))
        return ScatterReduce.apply(x, source, index=idx, dim=d, reduce=names[reduce], include_self=True)
    return Scatter.apply(x, _src(source, x), index=idx, dim=d)


def scatter_add(input: Tensor, dim: int, index: Any, src: Tensor) -> Tensor:  # noqa: A002
    """torch.scatter_add: out[index[i][j]][j] += src[i][j] for dim 0; repeated indices accumulate."""
    return scatter_reduce(input, dim, index, src, "sum")


def scatter_reduce(input: Tensor, dim: int, index: Any, src: Tensor, reduce: str, *,  # noqa: A002
                   include_self: bool = True) -> Tensor:
    """torch.scatter_reduce with reduce in 'sum', 'prod', 'mean', 'amax', 'amin'."""
    x = input
    d = _dim(dim, x.ndim, "scatter_reduce")
    idx = _index_array(index, "scatter_reduce")
    src = _src(src, x)
    _check_scatter(x.array, d, idx, src.array, "scatter_reduce")
    return ScatterReduce.apply(x, src, index=idx % max(x.shape[d], 1), dim=d, reduce=reduce,
                               include_self=include_self)


def _index1d(index: Any, size: int, op: str) -> Any:
    idx = _index_array(index, op)
    if idx.ndim > 1:
        raise IndexError(f"{op}: index must be 0-D or 1-D, got shape {idx.shape}")
    idx = idx.reshape(-1)
    if idx.size and (idx.min() < -size or idx.max() >= size):
        raise IndexError(f"{op}: index out of range for a dimension of size {size}: {idx.tolist()}")
    return idx % max(size, 1)


def index_select(input: Tensor, dim: int, index: Any) -> Tensor:  # noqa: A002
    """The slices ``index`` (1-D) along ``dim``; repeated indices accumulate in backward."""
    d = _dim(dim, input.ndim, "index_select")
    if input.ndim == 0:
        return api.getitem(api.reshape(input, (1,)), _index1d(index, 1, "index_select"))
    idx = _index1d(index, input.shape[d], "index_select")
    return api.getitem(input, (slice(None),) * d + (idx,))


def _index_source(input: Tensor, dim: int, index: Any, source: Any, op: str) -> tuple[int, Any, Any]:  # noqa: A002
    """Check the arguments of ``index_add``/``index_copy``: the dimension, the 1-D index, and a source
    with the input's shape but ``len(index)`` along ``dim``."""
    d = _dim(dim, input.ndim, op)
    idx = _index1d(index, input.shape[d], op)
    source = _src(source, input)
    expected = input.shape[:d] + (idx.size,) + input.shape[d + 1:]
    if source.shape != expected:
        raise RuntimeError(f"{op}: source has shape {source.shape}, expected {expected}")
    return d, idx, source


def index_add(input: Tensor, dim: int, index: Any, source: Any, *, alpha: float = 1) -> Tensor:  # noqa: A002
    """out = input with alpha * source[i] added to slice index[i] along ``dim``."""
    d, idx, source = _index_source(input, dim, index, source, "index_add")
    return IndexAdd.apply(input, source, index=idx, dim=d, alpha=alpha)


def index_copy(input: Tensor, dim: int, index: Any, source: Any) -> Tensor:  # noqa: A002
    """out = input with slice index[i] along ``dim`` replaced by source[i]."""
    d, idx, source = _index_source(input, dim, index, source, "index_copy")
    return IndexCopy.apply(input, source, index=idx, dim=d)


def index_fill(input: Tensor, dim: int, index: Any, value: Any) -> Tensor:  # noqa: A002
    """out = input with the slices ``index`` along ``dim`` set to ``value`` (a number or a 0-d tensor)."""
    d = _dim(dim, input.ndim, "index_fill")
    idx = _index1d(index, input.shape[d], "index_fill")
    if isinstance(value, Tensor) and value.ndim != 0:
        raise RuntimeError(f"index_fill: value must be a 0-d tensor, got shape {value.shape}")
    return IndexCopy.apply(input, _src(value, input), index=idx, dim=d)


def masked_select(input: Tensor, mask: Any) -> Tensor:  # noqa: A002
    """The elements where ``mask`` (broadcast with input) is true, as a 1-D tensor."""
    m = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_select: mask must be a bool tensor, got dtype {m.dtype}")
    shape = np.broadcast_shapes(input.shape, m.shape)
    x = input if input.shape == shape else api.broadcast_to(input, shape)
    return api.getitem(x, np.broadcast_to(m, shape))


def masked_scatter(input: Tensor, mask: Any, source: Tensor) -> Tensor:  # noqa: A002
    """input with the true places of ``mask`` filled from ``source``'s elements in order."""
    m = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_scatter: mask must be a bool tensor, got dtype {m.dtype}")
    try:
        m = np.broadcast_to(m, input.shape)
    except ValueError:
        raise RuntimeError(f"masked_scatter: mask of shape {m.shape} does not broadcast to {input.shape}") from None
    return MaskedScatter.apply(input, _src(source, input), mask=m)


def take_along_dim(input: Tensor, indices: Any, dim: int | None = None) -> Tensor:  # noqa: A002
    """Values picked by ``indices`` along ``dim`` (broadcast in the other dims); flattened when dim is None."""
    idx = _index_array(indices, "take_along_dim")
    if dim is None:
        flat = api.reshape(input, (-1,))
        return api.getitem(flat, idx.reshape(-1) % max(flat.shape[0], 1))
    d = _dim(dim, input.ndim, "take_along_dim")
    if idx.ndim != input.ndim:
        raise RuntimeError(f"take_along_dim: indices have {idx.ndim} dimensions, input has {input.ndim}")
    xs = list(input.shape)
    is_ = list(idx.shape)
    xs[d] = is_[d] = 1
    common = np.broadcast_shapes(tuple(xs), tuple(is_))
    x_shape = common[:d] + (input.shape[d],) + common[d + 1:]
    i_shape = common[:d] + (idx.shape[d],) + common[d + 1:]
    x = input if input.shape == x_shape else api.broadcast_to(input, x_shape)
    return S.Gather.apply(x, index=np.broadcast_to(idx, i_shape) % max(input.shape[d], 1), axis=d)


def nonzero(input: Any, *, as_tuple: bool = False) -> Any:  # noqa: A002
    """Indices of the nonzero elements: an (n, ndim) int64 tensor, or one 1-D tensor per dim."""
    a = input.array if isinstance(input, Tensor) else np.asarray(input)
    if as_tuple:
        if a.ndim == 0:
            return (Tensor._wrap(np.flatnonzero(a.reshape(1)).astype(np.int64), False),)
        return tuple(Tensor._wrap(i.astype(np.int64), False) for i in np.nonzero(a))
    return Tensor._wrap(np.argwhere(a).astype(np.int64), False)


def argwhere(input: Any) -> Tensor:  # noqa: A002
    """torch.argwhere: the (n, ndim) indices of the nonzero elements."""
    return nonzero(input)
