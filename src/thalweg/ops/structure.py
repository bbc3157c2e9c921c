"""Ops that rearrange or select structure: tril/triu, diag, diagonal, flip, roll, narrow, movedim, mm...

Most are compositions of existing differentiable ops (slicing, reshape,
broadcast), so their gradients come for free; the few with their own backward
(``KeepMask``, ``Roll``, ``Diagonal``, ``DiagEmbed``) undo exactly what the
forward did to the positions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.function import Context, Function
from ..autograd.tensor import Tensor
from . import api
from . import shape as S
from .indexing import index_select
from .scan import _dim


class KeepMask(Function):
    """z = x where ``mask`` else 0 (mask a constant);  dz/dx = mask.  tril and triu are this."""

    @staticmethod
    def forward(ctx: Context, x: Any, mask: Any = None) -> Any:
        ctx.mask = mask
        return np.where(mask, x, x.dtype.type(0))

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return np.where(ctx.mask, grad, grad.dtype.type(0))


class Roll(Function):
    """z = x rotated by ``shifts`` along ``axes``; the gradient is rotated back."""

    @staticmethod
    def forward(ctx: Context, x: Any, shifts: Any = 0, axes: Any = None) -> Any:
        ctx.shifts, ctx.axes = shifts, axes
        return np.roll(x, shifts, axes)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        neg = tuple(-s for s in ctx.shifts) if isinstance(ctx.shifts, tuple) else -ctx.shifts
        return np.roll(grad, neg, ctx.axes)


def _diagonal_coords(shape: tuple[int, ...], offset: int, d1: int, d2: int) -> tuple[Any, Any, int]:
    n1, n2 = shape[d1], shape[d2]
    length = max(0, min(n1, n2 - offset) if offset >= 0 else min(n1 + offset, n2))
    k = np.arange(length)
    rows = k if offset >= 0 else k - offset
    cols = k + offset if offset >= 0 else k
    return rows, cols, length


class Diagonal(Function):
    """z = the diagonal (``offset``) of the planes (dim1, dim2), as a last dimension (torch.diagonal).

    The backward writes the gradient back onto that diagonal of a zero array.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Any:
        ctx.shape, ctx.offset, ctx.dims = x.shape, offset, (dim1, dim2)
        return np.diagonal(x, offset, dim1, dim2).copy()

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        d1, d2 = ctx.dims
        out = np.zeros(ctx.shape, dtype=grad.dtype)
        moved = np.moveaxis(out, (d1, d2), (-2, -1))  # a view: writing it writes out
        rows, cols, _ = _diagonal_coords(ctx.shape, ctx.offset, d1, d2)
        moved[..., rows, cols] = grad
        return out


class DiagEmbed(Function):
    """z = a matrix with x (last dimension) on its ``offset`` diagonal, zeros elsewhere (torch.diag_embed)."""

    @staticmethod
    def forward(ctx: Context, x: Any, offset: int = 0) -> Any:
        n = x.shape[-1] + abs(offset)
        out = np.zeros(x.shape[:-1] + (n, n), dtype=x.dtype)
        k = np.arange(x.shape[-1])
        ctx.rows, ctx.cols = (k, k + offset) if offset >= 0 else (k - offset, k)
        out[..., ctx.rows, ctx.cols] = x
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad[..., ctx.rows, ctx.cols]


# ---------------------------------------------------------------- triangles, diagonals
def _tri_mask(x: Tensor, diagonal: int, lower: bool, op: str) -> Any:
    if x.ndim < 2:
        raise RuntimeError(f"{op}: input must have at least 2 dimensions, got shape {x.shape}")
    n, m = x.shape[-2:]
    return np.tri(n, m, diagonal, dtype=bool) if lower else ~np.tri(n, m, diagonal - 1, dtype=bool)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The lower triangle (on and below ``diagonal``) of the last two dimensions, zeros above."""
    return KeepMask.apply(input, mask=_tri_mask(input, diagonal, True, "tril"))


def triu(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The upper triangle (on and above ``diagonal``) of the last two dimensions, zeros below."""
    return KeepMask.apply(input, mask=_tri_mask(input, diagonal, False, "triu"))


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:  # noqa: A002
    """The ``offset`` diagonal of the (dim1, dim2) planes, appended as the last dimension."""
    d1, d2 = _dim(dim1, input.ndim, "diagonal"), _dim(dim2, input.ndim, "diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal: dim1 and dim2 cannot be the same dimension ({dim1}, {dim2})")
    return Diagonal.apply(input, offset=offset, dim1=d1, dim2=d2)


def diag_embed(input: Tensor, offset: int = 0) -> Tensor:  # noqa: A002
    """Matrices with the last dimension of ``input`` on their ``offset`` diagonal."""
    return DiagEmbed.apply(input, offset=offset)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """1-D -> the square matrix with it on diagonal ``diagonal``; 2-D -> that diagonal, 1-D."""
    if input.ndim == 1:
        return DiagEmbed.apply(input, offset=diagonal)
    if input.ndim == 2:
        return Diagonal.apply(input, offset=diagonal, dim1=0, dim2=1)
    raise RuntimeError(f"diag: expected a 1-D or 2-D tensor, got shape {input.shape}")


def trace(input: Tensor) -> Tensor:  # noqa: A002
    """The sum of the main diagonal of a 2-D tensor."""
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a 2-D tensor, got shape {input.shape}")
    return api.sum(Diagonal.apply(input, offset=0, dim1=0, dim2=1))


# --------------------------------------------------------------- rearranging
def _dims(dims: Any, ndim: int, op: str) -> tuple[int, ...]:
    items = (dims,) if isinstance(dims, int) else tuple(dims)
    out = tuple(_dim(d, ndim, op) for d in items)
    if len(set(out)) != len(out):
        raise RuntimeError(f"{op}: dims {items} repeat a dimension")
    return out


def flip(input: Tensor, dims: Any) -> Tensor:  # noqa: A002
    """The tensor with the order of elements reversed along ``dims``."""
    ds = _dims(dims, input.ndim, "flip")
    if input.ndim == 0 or not ds:
        return api.getitem(input, ())
    return api.getitem(input, tuple(slice(None, None, -1) if d in ds else slice(None) for d in range(input.ndim)))


def fliplr(input: Tensor) -> Tensor:  # noqa: A002
    """Flip dimension 1 (left/right)."""
    if input.ndim < 2:
        raise RuntimeError(f"fliplr: input must have at least 2 dimensions, got shape {input.shape}")
    return flip(input, 1)


def flipud(input: Tensor) -> Tensor:  # noqa: A002
    """Flip dimension 0 (up/down)."""
    if input.ndim < 1:
        raise RuntimeError("flipud: input must have at least 1 dimension")
    return flip(input, 0)


def roll(input: Tensor, shifts: Any, dims: Any = None) -> Tensor:  # noqa: A002
    """Rotate elements by ``shifts`` along ``dims`` (the flattened tensor when dims is None)."""
    if dims is None:
        if not isinstance(shifts, int) and len(shifts) != 1:
            raise RuntimeError(f"roll: without dims, shifts must be one number, got {shifts}")
        s = shifts if isinstance(shifts, int) else shifts[0]
        return api.reshape(Roll.apply(api.reshape(input, (-1,)), shifts=int(s), axes=0), input.shape)
    ds = (dims,) if isinstance(dims, int) else tuple(dims)
    ss = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    if len(ds) != len(ss):
        raise RuntimeError(f"roll: shifts {ss} and dims {ds} must have the same length")
    axes = tuple(_dim(d, input.ndim, "roll") for d in ds)
    return Roll.apply(input, shifts=tuple(int(s) for s in ss), axes=axes)


def narrow(input: Tensor, dim: int, start: Any, length: int) -> Tensor:  # noqa: A002
    """The slice ``start:start + length`` of dimension ``dim`` (a view in torch; a graph slice here)."""
    d = _dim(dim, input.ndim, "narrow")
    n = input.shape[d]
    start = int(start)
    if not -n <= start <= n:
        raise IndexError(f"narrow: start {start} out of range for dimension {dim} of size {n}")
    if start < 0:
        start += n
    if length < 0 or start + length > n:
        raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension {dim} of size {n}")
    return api.getitem(input, (slice(None),) * d + (slice(start, start + length),))


def select(input: Tensor, dim: int, index: int) -> Tensor:  # noqa: A002
    """The slice at ``index`` of dimension ``dim``, that dimension removed."""
    d = _dim(dim, input.ndim, "select")
    n = input.shape[d]
    if not -n <= index < n:
        raise IndexError(f"select: index {index} out of range for dimension {dim} of size {n}")
    return api.getitem(input, (slice(None),) * d + (int(index),))


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002
    """The slices along ``dim``, as a tuple of tensors without that dimension."""
    d = _dim(dim, input.ndim, "unbind")
    return tuple(select(input, d, i) for i in range(input.shape[d]))


def movedim(input: Tensor, source: Any, destination: Any) -> Tensor:  # noqa: A002
    """Move dimensions ``source`` to positions ``destination`` (the others keep their order)."""
    src = _dims(source, input.ndim, "movedim")
    dst = _dims(destination, input.ndim, "movedim")
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: source {source} and destination {destination} differ in length")
    rest = iter(d for d in range(input.ndim) if d not in src)
    placed = dict(zip(dst, src))
    order = tuple(placed[i] if i in placed else next(rest) for i in range(input.ndim))
    return S.Transpose.apply(input, axes=order)


moveaxis = movedim


def tile(input: Tensor, dims: Any) -> Tensor:  # noqa: A002
    """Repeat the tensor ``dims`` times per dimension; missing leading repeats count as 1 (torch.tile)."""
    reps = (dims,) if isinstance(dims, int) else tuple(dims)
    reps = (1,) * (input.ndim - len(reps)) + reps
    return api.repeat(input, reps)


def repeat_interleave(input: Tensor, repeats: Any = None, dim: int | None = None, *,  # noqa: A002
                      output_size: int | None = None) -> Tensor:
    """Repeat each element (or each slice along ``dim``) ``repeats`` times, consecutively.

    ``repeat_interleave(t)`` with an integer tensor alone repeats 0, 1, 2... t[i] times.
    """
    if repeats is None:
        counts = input.array.reshape(-1)
        return Tensor._wrap(np.repeat(np.arange(counts.size, dtype=np.int64), counts), False)
    x = input if dim is not None else api.reshape(input, (-1,))
    d = 0 if dim is None else _dim(dim, x.ndim, "repeat_interleave")
    n = x.shape[d] if x.ndim else 1
    r = repeats.array if isinstance(repeats, Tensor) else np.asarray(repeats)
    if r.ndim and r.size not in (1, n):
        raise RuntimeError(f"repeat_interleave: repeats has {r.size} entries for a dimension of size {n}")
    if (r < 0).any():
        raise RuntimeError("repeat_interleave: repeats must be non-negative")
    index = np.repeat(np.arange(n), r.reshape(-1) if r.ndim and r.size == n else int(r.reshape(-1)[0]))
    if output_size is not None and output_size != index.size:
        raise RuntimeError(f"repeat_interleave: output_size {output_size} does not match {index.size}")
    return index_select(x, d, Tensor._wrap(index.astype(np.int64), False))


# ------------------------------------------------------------------ matrix products
def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise RuntimeError(msg)


def mm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002
    """The product of two 2-D matrices: (n, m) @ (m, p) -> (n, p); a sparse operand goes to ``sparse.mm``."""
    if getattr(input, "is_sparse", False) is True or getattr(mat2, "is_sparse", False) is True:
        from .. import sparse

        return sparse.mm(input, mat2)
    _check(input.ndim == 2 and mat2.ndim == 2, f"mm: expected 2-D tensors, got {input.shape} and {mat2.shape}")
    _check(input.shape[1] == mat2.shape[0],
           f"mm: shapes {input.shape} and {mat2.shape} cannot be multiplied ({input.shape[1]} != {mat2.shape[0]})")
    return api.matmul(input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002
    """Batched matrix product: (b, n, m) @ (b, m, p) -> (b, n, p), no broadcasting."""
    _check(input.ndim == 3 and mat2.ndim == 3, f"bmm: expected 3-D tensors, got {input.shape} and {mat2.shape}")
    _check(input.shape[0] == mat2.shape[0] and input.shape[2] == mat2.shape[1],
           f"bmm: shapes {input.shape} and {mat2.shape} do not match")
    return api.matmul(input, mat2)


def mv(input: Tensor, vec: Tensor) -> Tensor:  # noqa: A002
    """Matrix times vector: (n, m) @ (m,) -> (n,)."""
    _check(input.ndim == 2 and vec.ndim == 1, f"mv: expected a 2-D and a 1-D tensor, got {input.shape} and {vec.shape}")
    _check(input.shape[1] == vec.shape[0], f"mv: shapes {input.shape} and {vec.shape} do not match")
    return api.matmul(input, vec)


def dot(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The inner product of two 1-D tensors of the same length."""
    _check(input.ndim == 1 and other.ndim == 1 and input.shape == other.shape,
           f"dot: expected 1-D tensors of the same length, got {input.shape} and {other.shape}")
    return api.matmul(input, other)


def outer(input: Tensor, vec2: Tensor) -> Tensor:  # noqa: A002
    """The outer product x y^T of two 1-D tensors: z[i, j] = x[i] y[j]."""
    _check(input.ndim == 1 and vec2.ndim == 1, f"outer: expected 1-D tensors, got {input.shape} and {vec2.shape}")
    return api.mul(api.reshape(input, (-1, 1)), api.reshape(vec2, (1, -1)))


ger = outer


def addmm(input: Any, mat1: Tensor, mat2: Tensor, *, beta: float = 1, alpha: float = 1) -> Tensor:  # noqa: A002
    """beta * input + alpha * (mat1 @ mat2), input broadcast to the product's shape."""
    prod = mm(mat1, mat2)
    if alpha != 1:
        prod = api.mul(prod, alpha)
    if beta == 0:
        return prod
    return api.add(api.mul(input, beta) if beta != 1 else input, prod)

