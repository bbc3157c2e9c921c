"""How many BLAS threads to use, and a warning when the machine is oversubscribed.

Why: a BLAS library starts one thread per core it *sees* and spins them in
lock-step on every matrix product.  When other processes already keep those
cores busy (a shared machine, several data-parallel workers, a CPU affinity
mask narrower than ``os.cpu_count()``), each product waits for its slowest
thread, which shares a core with somebody else, and training slows down by an
order of magnitude (measured on a 2-core machine at load 10: both thalweg and
torch collapse).  One thread per *free* core, and never more than the cores the
process may run on, avoids that.

The decision is a pure function, :func:`decide_threads`, of the numbers
(available cores, load average, current BLAS threads), so it is tested with
made-up inputs; :func:`check_threads` reads the real ones, warns once, and
with ``apply=True`` sets the BLAS thread count through ``threadpoolctl`` when
that package is installed (it is optional: without it only the warning is
given).  Nothing runs at import: the trainer and the benchmarks call
:func:`check_threads` themselves, and ``THALWEG_NUM_THREADS`` (an integer)
overrides the rule.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any

__all__ = ["ThreadAdvice", "available_cores", "blas_threads", "check_threads", "decide_threads", "get_num_threads",
           "set_num_threads"]


@dataclass(frozen=True)
class ThreadAdvice:
    """The decision: ``threads`` to use; ``oversubscribed`` whether the current setting is too many; ``reason``."""

    threads: int
    oversubscribed: bool
    reason: str


def available_cores() -> int:
    """The cores this process may run on: the affinity mask where the OS has one, else ``os.cpu_count()``."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def blas_threads() -> int | None:
    """The largest thread count among the loaded BLAS/OpenMP pools, or None when threadpoolctl is missing."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    counts = [int(p.get("num_threads") or 0) for p in threadpool_info()]
    return max(counts) if counts else None


def decide_threads(cores: int, load: float | None, current: int | None, *, override: int | None = None,
                   own_busy: float = 0.0) -> ThreadAdvice:
    """The BLAS thread count for ``cores`` available cores at a one-minute ``load`` average.

    ``own_busy``: how much of ``load`` is this process itself (its threads
    count in the load average, so a process that was just computing should not
    count itself as a competitor).  The rule: ``free = cores - (load - own_busy)``
    rounded to the nearest integer, at least 1; use ``min(cores, free)`` threads.  The current
    setting is *oversubscribed* when it exceeds that.  ``override`` (from
    ``THALWEG_NUM_THREADS``) wins, clipped to at least 1.
    """
    cores = max(1, int(cores))
    if override is not None:
        n = max(1, int(override))
        return ThreadAdvice(n, False, f"THALWEG_NUM_THREADS={n}")
    if load is None:  # no load average (Windows): trust the affinity mask
        n = cores
        why = f"{cores} available cores"
    else:
        others = max(0.0, float(load) - max(0.0, float(own_busy)))
        n = max(1, min(cores, int(cores - others + 0.5)))  # nearest whole core
        why = f"{cores} available cores, load average {float(load):.1f} from other work {others:.1f}"
    over = current is not None and current > n
    if over:
        why += f": {current} BLAS threads would share cores with other processes"
    return ThreadAdvice(n, over, why)


_warned = [False]


def _override() -> int | None:
    raw = os.environ.get("THALWEG_NUM_THREADS", "").strip()
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def check_threads(*, apply: bool = False, warn: bool = True) -> ThreadAdvice:
    """Read the machine's cores, load and BLAS threads; warn once when oversubscribed; optionally apply.

    ``apply=True`` limits the BLAS pools to the advised count through
    threadpoolctl (a no-op without it) and returns the advice.  The warning is a
    ``RuntimeWarning`` given at most once per process.
    """
    try:
        load: float | None = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = None
    advice = decide_threads(available_cores(), load, blas_threads(), override=_override())
    if advice.oversubscribed and warn and not _warned[0]:
        _warned[0] = True
        action = "limiting BLAS to" if apply else "consider threadpoolctl.threadpool_limits(limits=...) or " \
                                                 "THALWEG_NUM_THREADS with"
        warnings.warn(f"thalweg: the machine looks oversubscribed ({advice.reason}); {action} "
                      f"{advice.threads} thread(s)", RuntimeWarning, stacklevel=2)
    if apply:
        set_blas_threads(advice.threads)
    return advice


_limiter: list[Any] = []


def set_blas_threads(n: int) -> bool:
    """Limit every BLAS/OpenMP pool of this process to ``n`` threads; False when threadpoolctl is missing."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return False
    _limiter[:] = [threadpool_limits(limits=max(1, int(n)))]  # kept alive: the limit lasts until replaced
    return True


def set_num_threads(n: int) -> None:
    """``torch.set_num_threads``: the threads thalweg's ops use within one op (BLAS, and the batch parts of
    a convolution, ``ops/parallel.py``).  Raises ValueError for n < 1."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    if not set_blas_threads(n):
        raise RuntimeError("set_num_threads needs threadpoolctl to reach the BLAS library (pip install threadpoolctl)")


def get_num_threads() -> int:
    """``torch.get_num_threads``: the threads BLAS (and so thalweg's ops) use now."""
    from .ops.parallel import blas_thread_count

    return blas_thread_count()
