"""The two communication backends behind a process group: MPI (mpi4py) and a single process.

A backend moves and reduces *buffers*: every call takes NumPy arrays and works
on their memory in place with mpi4py's upper-case, buffer-based methods
(``Allreduce``, ``Bcast``, ``Allgather``, ``Reduce``, ``Iallreduce``), so no
array is ever pickled.  ``MPIBackend`` runs on whatever MPI library mpi4py was
built against (MPICH from ``pip install mpich``, a cluster's Open MPI or Intel
MPI); ``SelfBackend`` is the one-process group (``backend="self"``), where
every collective is the identity, so the same training script runs with or
without MPI.

Reductions: SUM, PRODUCT, MIN and MAX are MPI's own; AVG is SUM followed by a
division by the world size (floating-point tensors only, as in torch).
"""

from __future__ import annotations

import enum
from typing import Any

import numpy as np

MPI_MISSING = ("thalweg.distributed needs mpi4py and an MPI library: pip install 'thalweg[mpi]' "
               "(installs mpi4py and mpich)")


class ReduceOp(enum.Enum):
    """How ``all_reduce``/``reduce`` combine the ranks' tensors (torch's names)."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"


def load_mpi() -> Any:
    """Import ``mpi4py.MPI`` (which initialises MPI), or raise ``RuntimeError`` naming the extra to install."""
    try:
        from mpi4py import MPI
    except ImportError as e:  # mpi4py absent, or present without a loadable MPI library
        raise RuntimeError(f"{MPI_MISSING} ({e})") from None
    return MPI


class Request:
    """A pending non-blocking operation; ``wait()`` blocks until its buffer holds the result."""

    def __init__(self, mpi_request: Any = None, finish: Any = None) -> None:
        self._req = mpi_request
        self._finish = finish

    def is_completed(self) -> bool:
        """Drive MPI's progress engine once; True when the operation has finished."""
        if self._req is not None and self._req.Test():
            self._req = None
        return self._req is None

    def wait(self) -> bool:
        if self._req is not None:
            self._req.Wait()
            self._req = None
        if self._finish is not None:
            finish, self._finish = self._finish, None
            finish()
        return True


def _check_buffer(arr: Any, name: str) -> None:
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{name}: expected a NumPy-backed tensor, got {type(arr).__name__}")
    if not arr.flags.c_contiguous or not arr.flags.writeable:
        raise ValueError(f"{name}: the tensor must be contiguous and writable (call .contiguous() or copy it)")


class SelfBackend:
    """The group of one process: each collective leaves its buffer as it is (the reduction of one value)."""

    name = "self"
    rank = 0
    size = 1

    def allreduce(self, buf: np.ndarray, op: ReduceOp) -> None:
        _check_buffer(buf, "all_reduce")

    def iallreduce(self, buf: np.ndarray, op: ReduceOp) -> Request:
        _check_buffer(buf, "all_reduce")
        return Request()

    def bcast(self, buf: np.ndarray, src: int) -> None:
        _check_buffer(buf, "broadcast")

    def allgather(self, send: np.ndarray, recv: np.ndarray) -> None:
        recv.reshape(-1)[...] = send.reshape(-1)

    def reduce(self, buf: np.ndarray, dst: int, op: ReduceOp) -> None:
        _check_buffer(buf, "reduce")

    def barrier(self) -> None:
        pass

    def abort(self, code: int) -> None:
        raise SystemExit(code)


class MPIBackend:
    """Collectives on an MPI communicator (``MPI.COMM_WORLD`` by default), buffer to buffer."""

    name = "mpi"

    def __init__(self, comm: Any = None) -> None:
        self.MPI = load_mpi()
        self.comm = self.MPI.COMM_WORLD if comm is None else comm
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()

    def _op(self, op: ReduceOp, dtype: np.dtype) -> Any:
        MPI = self.MPI
        if dtype == np.bool_:
            return {ReduceOp.SUM: MPI.LOR, ReduceOp.MAX: MPI.LOR, ReduceOp.PRODUCT: MPI.LAND,
                    ReduceOp.MIN: MPI.LAND}[op]
        return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD, ReduceOp.MIN: MPI.MIN,
                ReduceOp.MAX: MPI.MAX}[op]

    def allreduce(self, buf: np.ndarray, op: ReduceOp) -> None:
        self.iallreduce(buf, op, blocking=True).wait()

    def iallreduce(self, buf: np.ndarray, op: ReduceOp, *, blocking: bool = False) -> Request:
        """Start ``MPI_Iallreduce`` in place on ``buf``; AVG divides once the sum has arrived."""
        _check_buffer(buf, "all_reduce")
        work, finish = _reduction_view(buf, op, self.size)
        if blocking:
            self.comm.Allreduce(self.MPI.IN_PLACE, work, op=self._op(op, work.dtype))
            if finish is not None:
                finish()
            return Request()
        req = self.comm.Iallreduce(self.MPI.IN_PLACE, work, op=self._op(op, work.dtype))
        return Request(req, finish)

    def bcast(self, buf: np.ndarray, src: int) -> None:
        _check_buffer(buf, "broadcast")
        self.comm.Bcast(_raw(buf), root=src)

    def allgather(self, send: np.ndarray, recv: np.ndarray) -> None:
        self.comm.Allgather(_raw(np.ascontiguousarray(send)), _raw(recv))

    def reduce(self, buf: np.ndarray, dst: int, op: ReduceOp) -> None:
        _check_buffer(buf, "reduce")
        work, finish = _reduction_view(buf, op, self.size)
        mpi_op = self._op(op, work.dtype)
        if self.rank == dst:
            self.comm.Reduce(self.MPI.IN_PLACE, work, op=mpi_op, root=dst)
            if finish is not None:
                finish()
        else:
            self.comm.Reduce(work, None, op=mpi_op, root=dst)

    def barrier(self) -> None:
        self.comm.Barrier()

    def abort(self, code: int) -> None:
        self.comm.Abort(code)


def _raw(arr: np.ndarray) -> np.ndarray:
    """Bytes view for data movement without arithmetic (any dtype, float16 and bool included)."""
    return arr.reshape(-1).view(np.uint8)


def _reduction_view(buf: np.ndarray, op: ReduceOp, size: int) -> tuple[np.ndarray, Any]:
    """The array MPI reduces, and what to do once it has (AVG's division, float16's round trip).

    MPI has no float16 type, so a float16 buffer is reduced in a float32 copy
    and written back.  AVG is SUM / size, for floating-point dtypes only.
    """
    if op is ReduceOp.AVG and buf.dtype.kind != "f":
        raise TypeError(f"ReduceOp.AVG needs a floating-point tensor, got {buf.dtype}")
    if buf.dtype == np.float16:
        work = buf.astype(np.float32)

        def finish() -> None:
            if op is ReduceOp.AVG:
                np.divide(work, size, out=work)
            buf[...] = work
        return work, finish
    if op is ReduceOp.AVG:
        def finish_avg() -> None:
            np.divide(buf, size, out=buf)
        return buf, finish_avg
    return buf, None
