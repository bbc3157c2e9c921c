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

Ownership rule: a pooled buffer is *lent* to one op for the length of one call
(or, through a lease, for the life of one graph node).  Nothing handed to a
caller (an op's output, a gradient) and nothing saved outside a lease may be,
or view, a buffer that goes back.  The API makes the rule explicit and checks
it where that is cheap:

- :func:`give` and :class:`Lease` take ``alive=``: the arrays that outlive the
  call (outputs, returned gradients).  Giving back a buffer that shares memory
  with one of them raises ``RuntimeError`` (an O(1) bounds test per pair), so
  an output that is a view of scratch memory is caught where it would escape.
- :func:`give` refuses views (only the whole array that :func:`take` lent can
  go back) and arrays already in the pool (a second ``give`` would lend one
  buffer to two takers).
- Debug mode: with ``THALWEG_POOL_POISON=1`` in the environment (or
  :func:`set_poison`), every buffer given back is filled with NaN (integers
  with their minimum, booleans with True) and every buffer taken is filled the
  same way, and arrays of every size are pooled.  Any result that still reads a
  returned buffer, or reads scratch memory before writing it, then shows NaN
  instead of plausible stale numbers.  The conv, pool and recurrent tests run
  under it (``tests/ops/test_workspace.py``).

Only NumPy arrays are pooled; other array libraries allocate normally.  The
pool keeps at most ``MAX_BYTES``, dropping the least recently used shapes.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any, Iterable

import numpy as np

MAX_BYTES = 256 * 2**20
MIN_BYTES = 64 * 2**10  # smaller arrays come from the allocator's own free lists anyway

_free: "OrderedDict[tuple, list[np.ndarray]]" = OrderedDict()
_pooled: set[int] = set()  # id() of every array in _free: an O(1) "given back twice" test (they are alive there)
_held = [0]
_lock = threading.Lock()  # ops may run parts of a batch on several threads (ops/parallel.py)
misses = [0]  # fresh NumPy allocations made by take() (a steady training loop should make none)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


_poison = [_env_flag("THALWEG_POOL_POISON")]


def set_poison(on: bool) -> bool:
    """Switch the poisoning debug mode on or off (see the module docstring); returns the previous setting."""
    previous = _poison[0]
    _poison[0] = bool(on)
    return previous


def poisoning() -> bool:
    """Whether the poisoning debug mode is on."""
    return _poison[0]


def _fill_poison(a: np.ndarray) -> None:
    kind = a.dtype.kind
    if kind in "fc":
        a.fill(np.nan)
    elif kind in "iu":
        a.fill(np.iinfo(a.dtype).min)
    elif kind == "b":
        a.fill(True)


def take(xp: Any, shape: tuple[int, ...], dtype: Any) -> Any:
    """An uninitialised array of ``shape`` and ``dtype``, reused when one is free.

    The caller owns it until it calls :func:`give` (or hands it to a :class:`Lease`);
    it must not return it, or a view of it, to its own caller.
    """
    if xp is not np:
        return xp.empty(shape, dtype=dtype)
    key = (tuple(shape), np.dtype(dtype).str)
    a = None
    with _lock:
        stack = _free.get(key)
        if stack:
            a = stack.pop()
            _pooled.discard(id(a))
            _held[0] -= a.nbytes
    if a is None:
        misses[0] += 1
        a = np.empty(shape, dtype=dtype)
    if _poison[0]:
        _fill_poison(a)
    return a


def _check_not_viewed(a: np.ndarray, alive: Iterable[Any], where: str) -> None:
    for keep in alive:
        if keep is None:
            continue
        target = getattr(keep, "array", keep)  # a Tensor's ndarray, or the ndarray itself
        if isinstance(target, np.ndarray) and np.may_share_memory(a, target):
            raise RuntimeError(
                f"workspace.{where}: a scratch buffer {a.shape} {a.dtype} shares memory with an array "
                f"{target.shape} that outlives the op; copy the result out before giving the buffer back")


def give(*arrays: Any, alive: Iterable[Any] = ()) -> None:
    """Return arrays lent by :func:`take`, that nobody reads any more, to the pool.

    ``alive``: arrays that outlive the call (outputs, returned gradients); a
    buffer sharing memory with any of them is refused with ``RuntimeError``.
    ``None`` entries and non-NumPy arrays are skipped.
    """
    alive = tuple(alive)
    poison = _poison[0]
    for a in arrays:
        if type(a) is not np.ndarray:
            continue
        if a.base is not None:
            raise RuntimeError(f"workspace.give: got a view {a.shape} {a.dtype}; give back the whole array "
                               "that take() lent")
        if alive:
            _check_not_viewed(a, alive, "give")
        if poison:
            _fill_poison(a)
        elif a.nbytes < MIN_BYTES:
            continue
        key = (a.shape, a.dtype.str)
        with _lock:
            if id(a) in _pooled:  # a linear scan of the stack here made long unrolled graphs quadratic
                raise RuntimeError(f"workspace.give: the buffer {a.shape} {a.dtype} was given back twice")
            _free.setdefault(key, []).append(a)
            _pooled.add(id(a))
            _free.move_to_end(key)
            _held[0] += a.nbytes
    with _lock:
        while _held[0] > MAX_BYTES and _free:
            _, stack = _free.popitem(last=False)
            _held[0] -= sum(x.nbytes for x in stack)
            _pooled.difference_update(id(x) for x in stack)


def clear() -> None:
    """Drop every pooled array (frees the memory)."""
    with _lock:
        _free.clear()
        _pooled.clear()
        _held[0] = 0


class Lease:
    """Holds arrays for a graph node; gives them back to the pool when the node lets go of it.

    ``alive``: the op's outputs; a leased buffer that shares memory with one of
    them is refused at once with ``RuntimeError`` (the output would outlive the lease).
    """

    __slots__ = ("arrays",)

    def __init__(self, *arrays: Any, alive: Iterable[Any] = ()) -> None:
        self.arrays: tuple[Any, ...] = ()  # (a refused lease gives nothing back)
        alive = tuple(alive)
        if alive:
            for a in arrays:
                if type(a) is np.ndarray:
                    _check_not_viewed(a, alive, "Lease")
        self.arrays = arrays

    def __del__(self) -> None:
        if give is not None:  # None only while the interpreter shuts down
            try:
                give(*self.arrays)
            except RuntimeError:  # a finalizer must not raise; a refused buffer is simply not pooled
                pass
