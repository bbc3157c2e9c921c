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

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Iterator

MIN_WORK = 10_000_000  # multiply-adds per part below which the threads cost more than they save (measured)

_state: dict[str, Any] = {}
_lock = threading.Lock()
_inside = threading.local()  # .part: this thread is running a part (parts never split again)


def _blas() -> list[Any]:
    """threadpoolctl's controllers of the BLAS that NumPy calls (found once; empty without threadpoolctl)."""
    if "blas" not in _state:
        with _lock:
            if "blas" not in _state:
                try:
                    from threadpoolctl import ThreadpoolController
                    found = ThreadpoolController().select(user_api="blas").lib_controllers
                except Exception:  # not installed, or no BLAS it recognises
                    found = []
                _state["blas"] = numpy_blas(found)
    return _state["blas"]


def numpy_blas(controllers: list[Any]) -> list[Any]:
    """Those of ``controllers`` (threadpoolctl's, one per loaded BLAS library) that are NumPy's own BLAS.

    A process may hold several: SciPy's wheel brings its own OpenBLAS, loaded
    when numba is imported, with as many threads as cores whatever limit was
    set before it loaded.  thalweg's products go through NumPy, so only
    NumPy's library counts; counting SciPy's made a one-thread run split its
    convolutions over two threads.  A NumPy wheel keeps its BLAS beside the
    package (``numpy.libs``, ``numpy/.libs``, ``numpy/.dylibs``); where none is
    there (a system BLAS), all the controllers are kept.
    """
    import numpy

    root = os.path.dirname(os.path.dirname(os.path.abspath(numpy.__file__)))  # the folder that holds numpy

    def beside_numpy(c: Any) -> bool:
        try:
            return os.path.relpath(os.path.abspath(c.filepath), root).split(os.sep)[0] in ("numpy", "numpy.libs")
        except (TypeError, ValueError):  # no path, or another drive
            return False

    bundled = [c for c in controllers if beside_numpy(c)]
    return bundled or list(controllers)


def blas_thread_count() -> int:
    """The thread count NumPy's BLAS uses now (1 when it cannot be read)."""
    blas = _blas()
    if not blas:
        return 1
    return max(int(c.num_threads or 1) for c in blas)


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
def _single_threaded_blas() -> Iterator[None]:
    """NumPy's BLAS at one thread inside the block; afterwards each library back at its own count."""
    blas = _blas()
    before = [c.num_threads for c in blas]
    for c in blas:
        c.set_num_threads(1)
    try:
        yield
    finally:
        for c, n in zip(blas, before):
            if n:
                c.set_num_threads(n)


def run_parts(fn: Callable[[int], Any], parts: int) -> list[Any]:
    """``[fn(0), ..., fn(parts - 1)]``, run on ``parts`` threads (this one included) with BLAS single-threaded."""
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

    with _single_threaded_blas():
        futures = [pool.submit(in_part, i) for i in range(1, parts)]
        first = in_part(0)
        return [first] + [f.result() for f in futures]

