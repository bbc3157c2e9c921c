"""Sparse COO tensors and sparse x dense products, for graph networks (``tw.sparse.mm``).

A :class:`SparseTensor` holds ``indices`` (an int64 array of shape
(sparse_dim, nnz)), ``values`` (a tensor of shape (nnz, *dense_dims), which may
require grad) and the full ``size``.  ``sparse.mm(A, X)`` multiplies a 2-D
sparse A by a dense X with ``scipy.sparse`` (``pip install 'thalweg[sparse]'``)
and is differentiable in both:

    dL/dX = A^T G,        dL/dvalues_e = sum_j G[row_e, j] X[col_e, j]

(the second is the gradient at the stored entries only, as torch's sparse gradient).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import dtypes
from ..autograd.function import Context, Function
from ..autograd.tensor import Tensor, _as_array
from ..factories import check_device

__all__ = ["SparseTensor", "sparse_coo_tensor", "mm", "spmm", "addmm", "sum", "FloatTensor", "DoubleTensor",
           "LongTensor", "to_sparse"]


def _scipy_sparse() -> Any:
    try:
        import scipy.sparse as sp
    except ImportError:  # pragma: no cover - scipy is in the dev and sparse extras
        raise ImportError("thalweg.sparse needs SciPy: pip install 'thalweg[sparse]'") from None
    return sp


class ToDense(Function):
    """z = zeros(size) with values added at indices (duplicates sum);  dL/dvalues = G[indices]."""

    @staticmethod
    def forward(ctx: Context, values: Any, indices: Any = None, size: tuple[int, ...] = ()) -> Any:
        out = np.zeros(size, dtype=values.dtype)
        np.add.at(out, tuple(indices), values)
        ctx.indices = indices
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad[tuple(ctx.indices)]


class SparseDenseMM(Function):
    """z = A X with A = coo(values, (rows, cols), shape) sparse and X dense (2-D)."""

    @staticmethod
    def forward(ctx: Context, values: Any, dense: Any, indices: Any = None, shape: tuple[int, int] = (0, 0)) -> Any:
        sp = _scipy_sparse()
        rows, cols = indices
        a = sp.csr_matrix((values, (rows, cols)), shape=shape)
        ctx.a, ctx.values, ctx.dense, ctx.rows, ctx.cols = a, values, dense, rows, cols
        return np.asarray(a @ dense).astype(np.result_type(values.dtype, dense.dtype), copy=False)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        nv, nd = ctx.needs_input_grad
        gv = (grad[ctx.rows] * ctx.dense[ctx.cols]).sum(axis=-1).astype(ctx.values.dtype) if nv else None
        gd = np.asarray(ctx.a.T @ grad).astype(ctx.dense.dtype, copy=False) if nd else None
        return gv, gd


class SparseTensor:
    """A sparse COO tensor (torch's ``layout=torch.sparse_coo``): indices, values and a size."""

    is_sparse = True
    layout = "sparse_coo"

    def __init__(self, indices: Any, values: Tensor, size: tuple[int, ...], coalesced: bool = False) -> None:
        self._idx = indices
        self._vals = values
        self._size = tuple(int(n) for n in size)
        self._coalesced = coalesced

    # ---------------------------------------------------------------- torch's accessors
    def _indices(self) -> Tensor:
        return Tensor._wrap(self._idx, False)

    def _values(self) -> Tensor:
        return self._vals

    def indices(self) -> Tensor:
        if not self._coalesced:
            raise RuntimeError("Cannot get indices on an uncoalesced tensor, please call .coalesce() first")
        return self._indices()

    def values(self) -> Tensor:
        if not self._coalesced:
            raise RuntimeError("Cannot get values on an uncoalesced tensor, please call .coalesce() first")
        return self._vals

    def _nnz(self) -> int:
        return int(self._idx.shape[1])

    def sparse_dim(self) -> int:
        return int(self._idx.shape[0])

    def dense_dim(self) -> int:
        return len(self._size) - self.sparse_dim()

    def is_coalesced(self) -> bool:
        return self._coalesced

    @property
    def shape(self) -> tuple[int, ...]:
        return self._size

    def size(self, dim: int | None = None) -> Any:
        return self._size if dim is None else self._size[dim]

    @property
    def ndim(self) -> int:
        return len(self._size)

    def dim(self) -> int:
        return len(self._size)

    @property
    def dtype(self) -> np.dtype:
        return self._vals.dtype

    @property
    def device(self) -> Any:
        from ..autograd.tensor import device

        return device("cpu")

    @property
    def requires_grad(self) -> bool:
        return self._vals.requires_grad

    def requires_grad_(self, requires_grad: bool = True) -> "SparseTensor":
        self._vals.requires_grad_(requires_grad)
        return self

    def to(self, *args: Any, **kwargs: Any) -> "SparseTensor":
        """``.to("cpu")`` or ``.to(dtype)``: the CPU is a no-op; a dtype converts the values."""
        return SparseTensor(self._idx, self._vals.to(*args, **kwargs), self._size, self._coalesced)

    def cpu(self) -> "SparseTensor":
        return self

    def float(self) -> "SparseTensor":
        return self.to(dtypes.float32)

    def double(self) -> "SparseTensor":
        return self.to(dtypes.float64)

    def detach(self) -> "SparseTensor":
        return SparseTensor(self._idx, self._vals.detach(), self._size, self._coalesced)

    # ---------------------------------------------------------------- conversions
    def coalesce(self) -> "SparseTensor":
        """Sorted, unique indices; the values of duplicates summed (differentiably)."""
        if self._coalesced:
            return self
        from ..ops.indexing import index_add
        from ..ops.api import reshape

        if self._nnz() == 0:
            return SparseTensor(self._idx, self._vals, self._size, True)
        flat = np.ravel_multi_index(tuple(self._idx), self._size[:self.sparse_dim()])
        uniq, inverse = np.unique(flat, return_inverse=True)
        idx = np.stack(np.unravel_index(uniq, self._size[:self.sparse_dim()])).astype(np.int64)
        zeros = Tensor(np.zeros((uniq.size,) + self._vals.shape[1:], dtype=self._vals.dtype))
        vals = index_add(zeros, 0, reshape(Tensor._wrap(inverse.astype(np.int64), False), (-1,)), self._vals)
        return SparseTensor(idx, vals, self._size, True)

    def to_dense(self) -> Tensor:
        """The dense tensor (duplicates summed), differentiable in the values."""
        return ToDense.apply(self._vals, indices=self._idx, size=self._size)

    def to_sparse(self) -> "SparseTensor":
        return self

    def t(self) -> "SparseTensor":
        if self.ndim != 2 or self.dense_dim():
            raise RuntimeError(f"t(): expects a 2-D sparse tensor, got size {self._size}")
        return SparseTensor(self._idx[::-1].copy(), self._vals, self._size[::-1], False)

    def mm(self, other: Tensor) -> Tensor:
        return mm(self, other)

    def __matmul__(self, other: Tensor) -> Tensor:
        return mm(self, other)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """The dense values as a NumPy array (so ``dense + sparse`` and ``np.asarray(sparse)`` work, as dense)."""
        out = np.zeros(self._size, dtype=self.dtype if dtype is None else dtype)
        np.add.at(out, tuple(self._idx), self._vals.array)
        return out

    def __add__(self, other: Any) -> Tensor:
        """sparse + dense (or a number) is dense, as in torch; differentiable in both."""
        return self.to_dense() + (other.to_dense() if isinstance(other, SparseTensor) else other)

    __radd__ = __add__

    def __mul__(self, other: Any) -> "SparseTensor":
        if isinstance(other, (int, float)) or (isinstance(other, Tensor) and other.ndim == 0):
            return SparseTensor(self._idx, self._vals * other, self._size, self._coalesced)
        raise TypeError("SparseTensor * ...: only a number or a 0-d tensor is supported; use to_dense()")

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return (f"tensor(indices={self._idx.tolist()},\n       values={self._vals.array.tolist()},\n"
                f"       size={self._size}, nnz={self._nnz()}, layout=torch.sparse_coo)")


def sparse_coo_tensor(indices: Any, values: Any, size: Any = None, *, dtype: Any = None, device: Any = None,
                      requires_grad: bool = False, is_coalesced: bool | None = None,
                      check_invariants: bool | None = None) -> SparseTensor:
    """A sparse COO tensor from ``indices`` (sparse_dim, nnz) and ``values`` (nnz, ...).

    Without ``size`` it is the smallest that holds the indices.  The values tensor is used
    as given (so a values tensor that requires grad receives gradients).
    """
    check_device(device, "sparse_coo_tensor")
    idx = np.asarray(indices.array if isinstance(indices, Tensor) else indices)
    if idx.size == 0:
        idx = idx.reshape(idx.shape[0] if idx.ndim == 2 else (len(size) if size is not None else 1), 0)
    if idx.ndim != 2 or idx.dtype.kind not in "iu":
        raise RuntimeError(f"sparse_coo_tensor: indices must be a 2-D integer tensor, got shape {idx.shape} "
                           f"and dtype {idx.dtype}")
    idx = idx.astype(np.int64)
    if isinstance(values, Tensor):
        vals = values if dtype is None else values.astype(dtype)
    else:
        vals = Tensor(_as_array(values, dtype))
    if requires_grad:
        vals.requires_grad_(True)
    if vals.ndim < 1 or vals.shape[0] != idx.shape[1]:
        raise RuntimeError(f"sparse_coo_tensor: {idx.shape[1]} indices but values of shape {vals.shape}")
    if size is None:
        sparse_size = tuple(int(m) + 1 for m in idx.max(axis=1)) if idx.shape[1] else (0,) * idx.shape[0]
        size = sparse_size + vals.shape[1:]
    size = tuple(int(n) for n in (size.shape if isinstance(size, Tensor) else size))
    if len(size) != idx.shape[0] + vals.ndim - 1:
        raise RuntimeError(f"sparse_coo_tensor: size {size} does not match {idx.shape[0]} sparse dimensions and "
                           f"values of shape {vals.shape}")
    if idx.shape[1] and ((idx < 0).any() or (idx.max(axis=1) >= np.asarray(size[:idx.shape[0]])).any()):
        raise RuntimeError(f"sparse_coo_tensor: indices out of range for size {size}")
    return SparseTensor(idx, vals, size, bool(is_coalesced))


def _legacy(dtype: Any) -> Any:
    def make(indices: Any, values: Any, size: Any = None) -> SparseTensor:
        return sparse_coo_tensor(indices, values, size, dtype=dtype)
    make.__doc__ = f"torch.sparse's legacy constructor: sparse_coo_tensor with {np.dtype(dtype)} values."
    return make


FloatTensor = _legacy(np.float32)
DoubleTensor = _legacy(np.float64)
LongTensor = _legacy(np.int64)


def to_sparse(x: Tensor, sparse_dim: int | None = None) -> SparseTensor:
    """The nonzero entries of a dense tensor as a coalesced sparse tensor (differentiable in x)."""
    from ..ops.api import getitem

    nd = x.ndim if sparse_dim is None else int(sparse_dim)
    if not 0 < nd <= x.ndim:
        raise RuntimeError(f"to_sparse: sparse_dim {sparse_dim} out of range for shape {x.shape}")
    a = x.array
    nz = a.reshape(a.shape[:nd] + (-1,)).any(axis=-1) if nd < x.ndim else a != 0
    idx = np.stack(np.nonzero(nz)).astype(np.int64).reshape(nd, -1)
    vals = getitem(x, tuple(idx))
    return SparseTensor(idx, vals, x.shape, True)


def mm(mat1: Any, mat2: Any) -> Any:
    """sparse @ dense -> dense (torch.sparse.mm); dense @ dense falls back to matmul."""
    if isinstance(mat1, SparseTensor):
        if isinstance(mat2, SparseTensor):
            raise NotImplementedError("sparse.mm: sparse @ sparse is not supported; call to_dense() on one side")
        if mat1.ndim != 2 or mat1.dense_dim():
            raise RuntimeError(f"sparse.mm: expected a 2-D sparse matrix, got size {mat1.shape}")
        dense = mat2 if isinstance(mat2, Tensor) else Tensor(_as_array(mat2))
        vec = dense.ndim == 1
        if vec:
            dense = dense.reshape(-1, 1)
        if dense.ndim != 2 or dense.shape[0] != mat1.shape[1]:
            raise RuntimeError(f"sparse.mm: shapes {mat1.shape} and {tuple(mat2.shape)} cannot be multiplied")
        vals = mat1._values()
        if vals.dtype != dense.dtype and dense.dtype.kind == "f":
            vals = vals.astype(dense.dtype)
        out = SparseDenseMM.apply(vals, dense, indices=mat1._idx, shape=mat1.shape)
        return out.reshape(-1) if vec else out
    if isinstance(mat2, SparseTensor):  # dense @ sparse = (sparse^T @ dense^T)^T
        return mm(mat2.t(), mat1.T).T
    from ..ops.structure import mm as dense_mm

    return dense_mm(mat1, mat2)


spmm = mm


def addmm(input: Tensor, mat1: Any, mat2: Any, *, beta: float = 1, alpha: float = 1) -> Tensor:  # noqa: A002
    """beta * input + alpha * (sparse mat1 @ dense mat2)."""
    return input * beta + mm(mat1, mat2) * alpha


def sum(input: SparseTensor, dim: Any = None) -> Tensor:  # noqa: A001,A002
    """The sum of a sparse tensor's entries (over ``dim``), as a dense tensor."""
    dense = input.to_dense()
    return dense.sum() if dim is None else dense.sum(dim=dim)
