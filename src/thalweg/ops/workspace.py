"""Scratch arrays reused across calls, for fused ops with large private buffers.

Why: the C allocator hands large blocks (over ~128 KiB) straight back to the
operating system when they are freed, so a fresh multi-megabyte array costs a
page fault for every 4 KiB page the first time it is written.  For the fused
recurrent layers, whose gate buffers are a few megabytes per call, those faults
cost about as much as the arithmetic (measured: an LSTM forward+backward went
from 20.7 ms to 18 ms of CPU time once its buffers were reused).

How: an op *takes* arrays from the pool instead of ``empty``, and gives them
back when nothing can read them any more.  Arrays the forward saves for the
backward are handed to a :class:`Lease` stored on the graph node: the engine
clears the node after the backward pass (or the node is garbage-collected, for
example after a forward under ``no_grad``), the lease dies with it, and only
then do its arrays return to the pool, so ``retain_graph=True`` stays correct.
Never give back an array that is, or is viewed by, something returned to the
caller.

Only NumPy arrays are pooled; other array libraries allocate normally.  The
pool keeps at most ``MAX_BYTES``, dropping the least recently used shapes.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

MAX_BYTES = 256 * 2**20
MIN_BYTES = 64 * 2**10  # smaller arrays come from the allocator's own free lists anyway

_free: "OrderedDict[tuple, list[np.ndarray]]" = OrderedDict()
_held = [0]
misses = [0]  # fresh NumPy allocations made by take() (a steady training loop should make none)


def take(xp: Any, shape: tuple[int, ...], dtype: Any) -> Any:
    """An uninitialised array of ``shape`` and ``dtype``, reused when one is free."""
    if xp is not np:
        return xp.empty(shape, dtype=dtype)
    key = (tuple(shape), np.dtype(dtype).str)
    stack = _free.get(key)
    if stack:
        try:
            a = stack.pop()
            _held[0] -= a.nbytes
            return a
        except IndexError:  # another thread emptied it
            pass
    misses[0] += 1
    return np.empty(shape, dtype=dtype)


def give(*arrays: Any) -> None:
    """Return arrays (taken with :func:`take`, and no longer read by anyone) to the pool."""
    for a in arrays:
        if type(a) is not np.ndarray or a.base is not None or a.nbytes < MIN_BYTES:
            continue
        key = (a.shape, a.dtype.str)
        _free.setdefault(key, []).append(a)
        _free.move_to_end(key)
        _held[0] += a.nbytes
    while _held[0] > MAX_BYTES and _free:
        _, stack = _free.popitem(last=False)
        _held[0] -= sum(x.nbytes for x in stack)


def clear() -> None:
    """Drop every pooled array (frees the memory)."""
    _free.clear()
    _held[0] = 0


class Lease:
    """Holds arrays for a graph node; gives them back to the pool when the node lets go of it."""

    __slots__ = ("arrays",)

    def __init__(self, *arrays: Any) -> None:
        self.arrays = arrays

    def __del__(self) -> None:
        if give is not None:  # None only while the interpreter shuts down
            give(*self.arrays)
