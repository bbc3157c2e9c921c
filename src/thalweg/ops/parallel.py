"""One op's batch split over threads, when the user has given BLAS several threads.

``tw.set_num_threads(n)`` (as torch's; or threadpoolctl, or
``OPENBLAS_NUM_THREADS``) sets how many threads OpenBLAS may use.  A large matrix product uses them all by
itself, but a convolution is many small products (one per sample and kernel
row), which OpenBLAS runs no faster on two threads than on one (measured:
ResNet convolutions 0-10% *slower*).  So a convolution with enough samples
runs as ``n`` parts of its batch on ``n`` Python threads instead, with BLAS at
one thread meanwhile (NumPy's copies and products release the GIL, so the
parts do run at the same time).  Each part is the ordinary single-threaded
op on a slice of the batch, so the results are the same numbers as one call
computes (per sample; the weight gradient's sum over the parts is added in a
fixed order).

threadpoolctl (a dependency) reads and sets OpenBLAS's thread count;
should it fail to find the library, everything runs as one part.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Iterator

MIN_WORK = 10_000_000  # multiply-adds per part below which the threads cost more than they save (measured)

_state: dict[str, Any] = {}
_lock = threading.Lock()
_inside = threading.local()  # .part: this thread is running a part (parts never split again)


def _blas() -> Any:
    """threadpoolctl's controller of the loaded BLAS libraries (made once), or None without threadpoolctl."""
    if "blas" not in _state:
        with _lock:
            if "blas" not in _state:
                try:
                    from threadpoolctl import ThreadpoolController
                    _state["blas"] = ThreadpoolController().select(user_api="blas")
                except Exception:  # not installed, or no BLAS it recognises
                    _state["blas"] = None
    return _state["blas"]


def blas_thread_count() -> int:
    """The thread count BLAS uses now (1 when it cannot be read)."""
    blas = _blas()
    if blas is None or not blas.lib_controllers:
        return 1
    return max(int(c.num_threads or 1) for c in blas.lib_controllers)


def part_count(batch: int, work_per_item: float) -> int:
    """How many parts to split a batch into: BLAS's thread count, if every part gets enough work, else 1."""
    if getattr(_inside, "part", False):
        return 1  # already inside a part
    threads = blas_thread_count()
    if threads < 2 or batch < 2:
        return 1
    parts = min(threads, batch)
    return parts if work_per_item * (batch // parts) >= MIN_WORK else 1


def batch_slices(batch: int, parts: int) -> list[slice]:
    """``parts`` contiguous slices of ``range(batch)``, sizes differing by at most one."""
    bounds = [batch * i // parts for i in range(parts + 1)]
    return [slice(bounds[i], bounds[i + 1]) for i in range(parts)]


@contextmanager
def _single_threaded_blas(threads: int) -> Iterator[None]:
    blas = _blas()
    for c in blas.lib_controllers:
        c.set_num_threads(1)
    try:
        yield
    finally:
        for c in blas.lib_controllers:
            c.set_num_threads(threads)


def run_parts(fn: Callable[[int], Any], parts: int) -> list[Any]:
    """``[fn(0), ..., fn(parts - 1)]``, run on ``parts`` threads (this one included) with BLAS single-threaded."""
    threads = blas_thread_count()
    with _lock:
        pool = _state.get("pool")
        if pool is None or _state["pool_size"] < parts - 1:
            pool = _state["pool"] = ThreadPoolExecutor(max_workers=parts - 1, thread_name_prefix="thalweg-part")
            _state["pool_size"] = parts - 1

    def in_part(i: int) -> Any:
        _inside.part = True
        try:
            return fn(i)
        finally:
            _inside.part = False

    with _single_threaded_blas(threads):
        futures = [pool.submit(in_part, i) for i in range(1, parts)]
        first = in_part(0)
        return [first] + [f.result() for f in futures]

