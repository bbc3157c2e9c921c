"""Collectives on tensors, in place on their buffers (torch.distributed's functions).

With ``p`` processes holding tensors ``x_0 ... x_{p-1}`` of the same shape:

* ``all_reduce(x, op)``: every rank ends with ``op(x_0, ..., x_{p-1})``
  elementwise (SUM, AVG = SUM / p, PRODUCT, MIN, MAX);
* ``reduce(x, dst, op)``: the same, on rank ``dst`` only (the others keep ``x``);
* ``broadcast(x, src)``: every rank ends with ``x_src``;
* ``all_gather(list, x)``: ``list[r] = x_r`` on every rank;
  ``all_gather_into_tensor(out, x)``: ``out = concat(x_0, ..., x_{p-1})`` along dim 0;
* ``barrier()``: no rank leaves before all have entered.

Every rank must call the same collectives in the same order, as with MPI.
The tensor's ``.array`` is handed to MPI as a buffer (no pickling); it must
be contiguous, which every tensor thalweg creates is.  ``async_op=True``
returns a work handle whose ``wait()`` completes the operation.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .backends import ReduceOp, Request
from .process_group import default_group

__all__ = ["all_reduce", "reduce", "broadcast", "all_gather", "all_gather_into_tensor", "barrier"]


def _buffer(tensor: Any, name: str) -> np.ndarray:
    arr = tensor.array if hasattr(tensor, "array") else tensor
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{name}: expected a tensor, got {type(tensor).__name__}")
    return arr


def _op(op: Any) -> ReduceOp:
    if isinstance(op, ReduceOp):
        return op
    try:
        return ReduceOp(str(op).lower())
    except ValueError:
        raise ValueError(f"unknown reduce op {op!r}: use ReduceOp.SUM, AVG, PRODUCT, MIN or MAX") from None


def all_reduce(tensor: Any, op: Any = ReduceOp.SUM, group: Any = None, async_op: bool = False) -> Request | None:
    """Reduce ``tensor`` across all ranks in place; every rank gets the result."""
    backend = default_group()
    buf = _buffer(tensor, "all_reduce")
    if async_op:
        return backend.iallreduce(buf, _op(op))
    backend.allreduce(buf, _op(op))
    return None


def reduce(tensor: Any, dst: int = 0, op: Any = ReduceOp.SUM, group: Any = None,
           async_op: bool = False) -> Request | None:
    """Reduce ``tensor`` across ranks into rank ``dst``'s tensor (in place); the others keep theirs."""
    backend = default_group()
    _check_rank(dst, backend.size, "reduce", "dst")
    backend.reduce(_buffer(tensor, "reduce"), dst, _op(op))
    return Request() if async_op else None


def broadcast(tensor: Any, src: int = 0, group: Any = None, async_op: bool = False) -> Request | None:
    """Overwrite ``tensor`` on every rank with rank ``src``'s."""
    backend = default_group()
    _check_rank(src, backend.size, "broadcast", "src")
    backend.bcast(_buffer(tensor, "broadcast"), src)
    return Request() if async_op else None


def all_gather(tensor_list: Sequence[Any], tensor: Any, group: Any = None, async_op: bool = False) -> Request | None:
    """Fill ``tensor_list[r]`` with rank ``r``'s ``tensor`` (one tensor per rank, each of its shape)."""
    backend = default_group()
    send = _buffer(tensor, "all_gather")
    if len(tensor_list) != backend.size:
        raise ValueError(f"all_gather: tensor_list has {len(tensor_list)} tensors, the world size is {backend.size}")
    outs = [_buffer(t, "all_gather") for t in tensor_list]
    for o in outs:
        if o.shape != send.shape or o.dtype != send.dtype:
            raise ValueError(f"all_gather: output tensors must have the input's shape {send.shape} and dtype "
                             f"{send.dtype}, got {o.shape} {o.dtype}")
    recv = np.empty((backend.size,) + send.shape, dtype=send.dtype)
    backend.allgather(send, recv)
    for o, r in zip(outs, recv):
        o[...] = r
    return Request() if async_op else None


def all_gather_into_tensor(output_tensor: Any, input_tensor: Any, group: Any = None,
                           async_op: bool = False) -> Request | None:
    """``output = cat([input of rank 0, ..., input of rank p-1], dim=0)``, written into ``output_tensor``."""
    backend = default_group()
    send = _buffer(input_tensor, "all_gather_into_tensor")
    out = _buffer(output_tensor, "all_gather_into_tensor")
    lead = send.shape[0] if send.ndim else 1
    want = (backend.size * lead,) + send.shape[1:]
    if out.shape != want or out.dtype != send.dtype:
        raise ValueError(f"all_gather_into_tensor: output must have shape {want} and dtype {send.dtype} "
                         f"for input {send.shape} on {backend.size} ranks, got {out.shape} {out.dtype}")
    if out.flags.c_contiguous and out.flags.writeable:
        backend.allgather(send, out)
    else:
        recv = np.empty(want, dtype=send.dtype)
        backend.allgather(send, recv)
        out[...] = recv
    return Request() if async_op else None


def barrier(group: Any = None, async_op: bool = False) -> Request | None:
    """Wait until every rank has reached this call."""
    default_group().barrier()
    return Request() if async_op else None


def _check_rank(r: int, size: int, fn: str, name: str) -> None:
    if not isinstance(r, (int, np.integer)) or not 0 <= r < size:
        raise ValueError(f"{fn}: {name}={r!r} is not a rank of this group (world size {size})")
