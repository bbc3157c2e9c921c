"""Matrix products through Intel MKL's GEMM where it is faster than NumPy's OpenBLAS.

Every training step is mostly matrix products, C = op(A) op(B), and NumPy hands
them to the BLAS its wheel ships: OpenBLAS.  PyTorch's x86 wheel links Intel's
MKL instead, and on Intel CPUs with AVX-512 MKL's single-precision GEMM is the
faster one.  Measured on a 2-core Intel Xeon (Sapphire Rapids, AVX-512), one
thread, float32, GFLOP/s of NumPy (OpenBLAS 0.3.31) against MKL 2026.2:

    (128 x 784) (784 x 256)^T      the MLP's first layer       122 -> 158
    (2048 x 256) (256 x 768)^T     the large LM's QKV          172 -> 205
    (1024 x 1024) (1024 x 1024)    the roofline's product      165 -> 184
    (8192 x 144) (144 x 16)        a thin convolution product   81 -> 112
    (16 x 144) (144 x 1024)        the other way round          98 -> 155

Called from compiled code (see ``_Mkl``), MKL wins from about a million
multiply-adds per matrix (0.6-0.95 of NumPy's time for most shapes and layouts;
a few at 1.0), and loses below half a million, where its own setup costs more
than OpenBLAS's ((128 x 64) (64 x 64): 1.0-1.55x NumPy's time; the stacks of
small square products of Winograd convolutions, 36 x (512 x 16) (16 x 16):
1.21x).  So a product goes to MKL from ``MIN_MULTIPLY_ADDS`` per matrix.

:func:`matmul` is ``np.matmul`` for 2-D operands and for stacks of them with the
same leading shape, or one side a single matrix (one ``cblas_?gemm_batch_strided``
call).  MKL reads either operand transposed through its leading dimension, so views such as ``W.T`` or ``x.swapaxes(-1, -2)``
pass without a copy.  Everything else (other dtypes, broadcasting, an operand
with no unit stride, an ``out`` that overlaps an input) goes to ``np.matmul``,
so the result never depends on which library ran it beyond rounding.

When MKL is used (all must hold):

- the ``mkl`` wheel and numba are installed (``pip install 'thalweg[mkl]'``; the
  dev and bench extras include both) and ``THALWEG_NUMBA`` is not off;
- the CPU is an Intel one, or ``THALWEG_BLAS=mkl`` asks for MKL anyway
  (``THALWEG_BLAS=numpy`` turns it off).  On the AMD EPYC machines of earlier
  sessions OpenBLAS already matched torch's products, so the default leaves them
  alone;
- NumPy's OpenBLAS runs on one thread (``tw.set_num_threads(1)``,
  ``threadpool_limits(1)``), or the product is one that OpenBLAS's threads do
  not speed up (:func:`sequential_pays`).  MKL runs its sequential layer (one
  thread, no second thread pool), so at more BLAS threads the larger products
  stay with OpenBLAS, which splits them over its threads.  Measured at two
  threads on the same Xeon, single-threaded MKL against two-threaded OpenBLAS:
  0.67-0.74 of the time on products of 1-2 million multiply-adds, 0.84-0.93 on
  those of 6.4 million with a side of 32 (a batch of 32 rows, or the weight
  gradient over it), 1.09-1.73 on the others of 6 million and more.  Without this
  a step whose products are all small ran slower at two threads than at one
  (the MLP at batch 32: 1.12 of its one-thread time, MKL taking its products at
  one thread only).
"""

from __future__ import annotations

import ctypes
import glob
import importlib.util
import math
import os
import sys
from typing import Any

import numpy as np

from ..backend import get_array_module
from . import kernels

MIN_MULTIPLY_ADDS = 1 << 20  # M * N * K per matrix below this: np.matmul (MKL's setup costs more than it saves)
# At more than one BLAS thread, MKL (one thread) takes a product below SMALL multiply-adds, or below THIN ones when a
# side is at most THIN_SIDE: OpenBLAS's threads do not pay there (see the module docstring)
SEQUENTIAL_SMALL, SEQUENTIAL_THIN, THIN_SIDE = 1 << 22, 1 << 23, 32
_INT_MAX = 2**31 - 1  # MKL's LP64 interface takes 32-bit sizes

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_SEQUENTIAL, _LP64 = 1, 0  # MKL_THREADING_SEQUENTIAL, MKL_INTERFACE_LP64


def _find_library(pattern: str) -> str | None:
    """The first file matching ``pattern`` in this environment's lib directories (where the wheel puts it)."""
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix)):
        found = sorted(glob.glob(os.path.join(prefix, "lib", pattern)))
        if found:
            return found[-1]
    return None


class _Mkl:
    """MKL's sequential GEMM entry points, loaded once through ctypes and called from numba-compiled functions.

    A ctypes call costs about 5 us in argument conversion (and 0.8 us more per array for its address); the same
    call from a compiled function costs about 0.6 us in all, which lets MKL take products of a million
    multiply-adds and fewer.  The callers hold the functions' addresses, so numba cannot cache them on disk: they
    are compiled in each process on first use (about 0.4 s, and 0.05 s for each further layout)."""

    def __init__(self, path: str) -> None:
        lib = ctypes.CDLL(path, mode=ctypes.RTLD_LOCAL)
        lib.MKL_Set_Threading_Layer(_SEQUENTIAL)  # must come before any other MKL call
        lib.MKL_Set_Interface_Layer(_LP64)
        i, p = ctypes.c_int, ctypes.c_int64  # addresses as 64-bit integers: passed as pointers are on x86_64
        self._entry_points = {}
        for dtype, letter, scalar in ((np.float32, "s", ctypes.c_float), (np.float64, "d", ctypes.c_double)):
            gemm = ctypes.CFUNCTYPE(None, i, i, i, i, i, i, scalar, p, i, p, i, scalar, p, i)
            batch = ctypes.CFUNCTYPE(None, i, i, i, i, i, i, scalar, p, i, i, p, i, i, scalar, p, i, i, i)
            address = ctypes.cast(getattr(lib, f"cblas_{letter}gemm"), ctypes.c_void_p).value
            batch_address = ctypes.cast(getattr(lib, f"cblas_{letter}gemm_batch_strided"), ctypes.c_void_p).value
            self._entry_points[np.dtype(dtype)] = gemm(address), batch(batch_address)
        self.gemm: dict[np.dtype, Any] = {}
        self.batch: dict[np.dtype, Any] = {}
        self.nested: dict[np.dtype, Any] = {}

    def entry_points(self, dtype: np.dtype) -> tuple[Any, Any]:
        """(gemm, batched gemm) of ``dtype`` as ctypes functions (see :func:`entry_points`)."""
        return self._entry_points[dtype]

    def compile(self) -> None:
        """The compiled callers, three per dtype, c = op(a) op(b) (row-major):
        ``gemm[dtype](ta, tb, m, n, k, a, lda, b, ldb, c, ldc)``,
        ``batch[dtype](ta, tb, m, n, k, a, lda, sa, b, ldb, sb, c, ldc, sc, count)`` and
        ``nested[dtype](ta, tb, m, n, k, a, lda, sa, a_outer, b, ldb, sb, b_outer, c, ldc, sc, c_outer, count,
        outer)``."""
        if self.gemm:
            return
        for dtype, (gemm, batch) in self._entry_points.items():
            self.gemm[dtype], self.batch[dtype], self.nested[dtype] = _callers(gemm, batch)


def _callers(gemm: Any, batch: Any) -> tuple[Any, Any, Any]:
    """numba-compiled calls of one dtype's ``cblas_?gemm`` and ``cblas_?gemm_batch_strided`` (alpha 1, beta 0); the
    third calls the batched one for each index of an outer axis, for stacks with two levels of strides."""
    import numba

    @numba.njit(nogil=True, cache=False)
    def call_gemm(ta, tb, m, n, k, a, lda, b, ldb, c, ldc):  # pragma: no cover - compiled
        gemm(_ROW_MAJOR, ta, tb, m, n, k, 1.0, a.ctypes.data, lda, b.ctypes.data, ldb, 0.0, c.ctypes.data, ldc)

    @numba.njit(nogil=True, cache=False)
    def call_batch(ta, tb, m, n, k, a, lda, sa, b, ldb, sb, c, ldc, sc, count):  # pragma: no cover - compiled
        batch(_ROW_MAJOR, ta, tb, m, n, k, 1.0, a.ctypes.data, lda, sa, b.ctypes.data, ldb, sb, 0.0, c.ctypes.data,
              ldc, sc, count)

    @numba.njit(nogil=True, cache=False)
    def call_nested(ta, tb, m, n, k, a, lda, sa, a_outer, b, ldb, sb, b_outer, c, ldc, sc, c_outer, count,
                    outer):  # pragma: no cover - compiled
        for i in range(outer):
            batch(_ROW_MAJOR, ta, tb, m, n, k, 1.0, a.ctypes.data + i * a_outer * a.itemsize, lda, sa,
                  b.ctypes.data + i * b_outer * b.itemsize, ldb, sb, 0.0, c.ctypes.data + i * c_outer * c.itemsize,
                  ldc, sc, count)

    return call_gemm, call_batch, call_nested


def _openblas_thread_query() -> Any:
    """NumPy's OpenBLAS ``get_num_threads`` as a ctypes function, or None when it cannot be found."""
    libs = glob.glob(os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs", "*openblas*"))
    for path in libs:
        lib = ctypes.CDLL(path, mode=ctypes.RTLD_LOCAL)
        for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_", "openblas_get_num_threads"):
            query = getattr(lib, name, None)
            if query is not None:
                query.restype = ctypes.c_int
                return query
    return None


def _intel_cpu() -> bool:
    """Whether /proc/cpuinfo names an Intel CPU (False where it cannot be read)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            return "GenuineIntel" in f.read(4096)
    except OSError:
        return False


def _load() -> tuple[_Mkl | None, Any, str]:
    """(MKL, OpenBLAS's thread query, why not) for this process, following ``THALWEG_BLAS``."""
    choice = os.environ.get("THALWEG_BLAS", "").strip().lower()
    if choice not in ("", "mkl", "numpy"):
        raise ValueError(f"THALWEG_BLAS must be 'mkl' or 'numpy', got {choice!r}")
    if choice == "numpy":
        return None, None, "THALWEG_BLAS=numpy"
    if choice != "mkl" and not _intel_cpu():
        return None, None, "not an Intel CPU (THALWEG_BLAS=mkl uses MKL anyway)"
    path = _find_library("libmkl_rt.so*")
    if path is None:
        return None, None, "the mkl wheel is not installed (pip install 'thalweg[mkl]')"
    if importlib.util.find_spec("numba") is None:
        return None, None, "numba is not installed (MKL is called through it; pip install 'thalweg[mkl]')"
    if not kernels.requested_by_environment():
        return None, None, "THALWEG_NUMBA is off (MKL is called through numba)"
    threads = _openblas_thread_query()
    if threads is None:
        return None, None, "NumPy's OpenBLAS thread count cannot be read"
    try:
        return _Mkl(path), threads, ""
    except (OSError, AttributeError) as e:
        return None, None, f"{path} could not be loaded: {e}"


_mkl, _openblas_threads, _why_not = _load()


def mkl_in_use() -> bool:
    """Whether the products of enough work go to MKL now (MKL loaded and NumPy's BLAS on one thread; at more
    threads only those in :func:`sequential_pays`)."""
    return _mkl is not None and _openblas_threads() == 1


def sequential_pays(m: int, n: int, k: int) -> bool:
    """Whether one thread of MKL beats OpenBLAS's threads on an (m x k) (k x n) product: below ``SEQUENTIAL_SMALL``
    multiply-adds, or below ``SEQUENTIAL_THIN`` with a side of at most ``THIN_SIDE``."""
    work = m * n * k
    return work < SEQUENTIAL_SMALL or (work < SEQUENTIAL_THIN and min(m, n, k) <= THIN_SIDE)


def entry_points(dtype: Any, m: int, n: int, k: int) -> tuple[Any, Any] | None:
    """MKL's ``cblas_?gemm`` and ``cblas_?gemm_batch_strided`` for ``dtype``, as ctypes functions that numba-compiled
    code can call (full CBLAS signatures, addresses as 64-bit integers), when MKL would take an (m x k) (k x n)
    product now (see :func:`matmul`); else None.  For loops that run a product at each of many steps
    (``ops/lstm_loops.py``), where calling back into Python for each costs more than the product saves."""
    dtype = np.dtype(dtype)
    if _mkl is None or dtype not in _DTYPES or m * n * k < MIN_MULTIPLY_ADDS or max(m, n, k) > _INT_MAX:
        return None
    if _openblas_threads() != 1 and not sequential_pays(m, n, k):
        return None
    return _mkl.entry_points(dtype)


def warm_up() -> bool:
    """Compile the callers and run one tiny product through MKL, so that it loads its kernels for this CPU (a
    library of tens of MB, mapped on the first call) now rather than inside the first training step; False when
    MKL is not loaded."""
    if _mkl is None:
        return False
    _mkl.compile()
    a = np.ones((2, 2), np.float32)
    _mkl.gemm[a.dtype](_NO_TRANS, _NO_TRANS, 2, 2, 2, a, 2, a, 2, np.empty_like(a), 2)
    return True


def mkl_status() -> str:
    """A line saying whether MKL is loaded, and why not when it is not."""
    return "MKL loaded" if _mkl is not None else f"MKL not used: {_why_not}"


def _operand(a: np.ndarray, rows: int, cols: int) -> tuple[int, int] | None:
    """(transpose flag, leading dimension) describing the last two axes of ``a`` for a row-major GEMM, or None.

    Row-major op(A) of shape (rows, cols): either rows are contiguous (unit column stride, row stride >= cols:
    no transpose) or columns are (unit row stride, column stride >= rows: A is read transposed).
    """
    item = a.itemsize
    s0, s1 = a.strides[-2], a.strides[-1]
    if s1 == item and s0 % item == 0 and s0 // item >= cols:
        return _NO_TRANS, s0 // item
    if s0 == item and s1 % item == 0 and s1 // item >= rows:
        return _TRANS, s1 // item
    return None


def _collapsed_stride(shape: tuple[int, ...], strides: tuple[int, ...], itemsize: int) -> int | None:
    """The stride in elements of axes ``shape`` (with ``strides`` in bytes) read as one axis, or None when they do
    not collapse into one axis of equal, non-negative steps (0 when there is at most one element)."""
    axes = [(n, st) for n, st in zip(shape, strides) if n != 1]
    if not axes:
        return 0
    for (_, outer), (n, inner) in zip(axes, axes[1:]):
        if outer != inner * n:
            return None
    step = axes[-1][1]
    return step // itemsize if step >= 0 and step % itemsize == 0 else None


def _batch_stride(a: np.ndarray) -> int | None:
    """The stride in elements between the matrices of a stack (N1, ..., Nj, rows, cols) read as one axis of
    N1 * ... * Nj matrices, or None (see :func:`_collapsed_stride`)."""
    return _collapsed_stride(a.shape[:-2], a.strides[:-2], a.itemsize)


def _nested_strides(a: np.ndarray, lead: tuple[int, ...]) -> tuple[int, int] | None:
    """(stride along the first leading axis, stride of the other leading axes read as one), in elements, for a
    stack whose leading axes do not collapse into one (q, k and v split from one projection and moved to
    (sample, head, time, feature) are such); (0, 0) for a single matrix broadcast over the stack; else None."""
    if math.prod(a.shape[:-2]) == 1:
        return 0, 0
    if a.shape[:-2] != lead or len(lead) < 2:
        return None
    outer, inner = a.strides[0], _collapsed_stride(a.shape[1:-2], a.strides[1:-2], a.itemsize)
    if inner is None or outer < 0 or outer % a.itemsize:
        return None
    return outer // a.itemsize, inner


def _numpy(a: Any, b: Any, out: Any) -> Any:
    """The array library's own matmul (NumPy's, or CuPy's for GPU arrays)."""
    xp = np if type(a) is np.ndarray and type(b) is np.ndarray else get_array_module(a, b)
    return xp.matmul(a, b) if out is None else xp.matmul(a, b, out=out)


def matmul(a: Any, b: Any, out: Any = None) -> Any:
    """``np.matmul(a, b, out=out)``, run by MKL's GEMM where that is loaded and pays (see the module docstring)."""
    if (_mkl is None or type(a) is not np.ndarray or type(b) is not np.ndarray or a.ndim < 2 or b.ndim < 2
            or a.shape[-2] * a.shape[-1] * b.shape[-1] < MIN_MULTIPLY_ADDS):  # the usual way out first
        return _numpy(a, b, out)
    dtype = a.dtype
    if b.dtype != dtype or dtype not in _DTYPES or b.shape[-2] != a.shape[-1]:
        return _numpy(a, b, out)
    if a.ndim > 2 and b.ndim == 2:
        flat = _rows_of_stack(a)
        if flat is not None:
            return _stack_times_matrix(a, flat, b, out)
    m, k = a.shape[-2:]
    n = b.shape[-1]
    lead, batch = (), 1
    if a.ndim > 2 or b.ndim > 2:  # stacks: the same leading shape, or one side a single matrix (stride 0)
        lead_a, lead_b = a.shape[:-2], b.shape[:-2]
        lead = lead_a if math.prod(lead_a) != 1 else lead_b
        if (lead_a != lead and math.prod(lead_a) != 1) or (lead_b != lead and math.prod(lead_b) != 1):
            return _numpy(a, b, out)
        batch = math.prod(lead)
    if batch == 0 or max(m, n, k, batch) > _INT_MAX or (_openblas_threads() != 1 and not sequential_pays(m, n, k)):
        return _numpy(a, b, out)
    op_a, op_b = _operand(a, m, k), _operand(b, k, n)
    if op_a is None or op_b is None:
        return _numpy(a, b, out)
    if out is None:
        c = np.empty(lead + (m, n), dtype=dtype)
    elif (type(out) is not np.ndarray or out.shape != lead + (m, n) or out.dtype != dtype
          or not out.flags.writeable or np.may_share_memory(out, a) or np.may_share_memory(out, b)):
        return _numpy(a, b, out)
    else:
        c = out
    op_c = _operand(c, m, n)
    if op_c is None or op_c[0] != _NO_TRANS:
        return _numpy(a, b, out)
    if not (a.flags.aligned and b.flags.aligned and c.flags.aligned) or max(op_a[1], op_b[1], op_c[1]) > _INT_MAX:
        return _numpy(a, b, out)
    _mkl.compile()
    if batch == 1:
        _mkl.gemm[dtype](op_a[0], op_b[0], m, n, k, a, op_a[1], b, op_b[1], c, op_c[1])
        return c
    sa, sb, sc = _batch_stride(a), _batch_stride(b), _batch_stride(c)
    if sa is not None and sb is not None and sc is not None:
        if sc < m * op_c[1] or max(sa, sb, sc) > _INT_MAX:
            return _numpy(a, b, out)
        _mkl.batch[dtype](op_a[0], op_b[0], m, n, k, a, op_a[1], sa, b, op_b[1], sb, c, op_c[1], sc, batch)
        return c
    na, nb, nc = _nested_strides(a, lead), _nested_strides(b, lead), _nested_strides(c, lead)
    if na is None or nb is None or nc is None:
        return _numpy(a, b, out)
    inner = batch // lead[0]
    if nc[1] < m * op_c[1] or nc[0] < inner * nc[1] or max(na + nb + nc) > _INT_MAX:  # c's matrices must not overlap
        return _numpy(a, b, out)
    _mkl.nested[dtype](op_a[0], op_b[0], m, n, k, a, op_a[1], na[1], na[0], b, op_b[1], nb[1], nb[0],
                       c, op_c[1], nc[1], nc[0], inner, lead[0])
    return c


def _rows_of_stack(a: np.ndarray) -> np.ndarray | None:
    """A stack (..., m, k) as one (batch * m, k) matrix view when its rows lie at equal steps in memory
    (as activations of shape (batch, time, features) do), else None."""
    m, k = a.shape[-2:]
    rows = _operand(a, m, k)
    step = _batch_stride(a)
    if rows is None or rows[0] != _NO_TRANS or step is None or (step != m * rows[1] and math.prod(a.shape[:-2]) > 1):
        return None
    return np.lib.stride_tricks.as_strided(a, (math.prod(a.shape[:-1]), k), (rows[1] * a.itemsize, a.itemsize),
                                           writeable=False)


def _stack_times_matrix(a: np.ndarray, flat: np.ndarray, b: np.ndarray, out: Any) -> Any:
    """A stack (..., m, k) times one matrix (k, n) as the one product ``flat`` (batch * m, k) times b."""
    shape = a.shape[:-1] + (b.shape[1],)
    if out is None:
        return matmul(flat, b).reshape(shape)
    if type(out) is not np.ndarray or out.shape != shape or not out.flags.c_contiguous:
        return _numpy(a, b, out)
    matmul(flat, b, out=out.reshape(flat.shape[0], b.shape[1]))
    return out
