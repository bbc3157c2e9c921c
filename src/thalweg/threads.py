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
given).  Nothing runs at import: the benchmarks call :func:`check_threads`
themselves, and ``THALWEG_NUM_THREADS`` (an integer) overrides the rule.

The load average lags by a minute, so a competitor that starts during
training is caught by measuring instead (Linux): over an interval, from the
machine's CPU time in ``/proc/stat`` and this process's
(:func:`time.process_time`, all its threads),

    other cores = (machine busy seconds - this process's CPU seconds) / wall seconds

where busy is user + nice + system + irq + softirq + steal (the hypervisor's
*steal* time is a core taken away just the same).  Our own threads, spinning
BLAS workers included, are in the process time and do not count.
:class:`OversubscriptionWatch` applies :func:`decide_threads` to that
figure; ``fit`` checks it at the end of every epoch and warns once.  The
benchmarks report it next to every timing (``benchmarks/run.py``).
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CpuSample", "OversubscriptionWatch", "ThreadAdvice", "available_cores", "blas_threads", "check_threads",
           "cpu_sample", "decide_threads", "get_num_threads", "other_cores", "set_num_threads"]


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

PROC_STAT = Path("/proc/stat")
BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # user, nice, system, irq, softirq, steal in the "cpu" line (idle 3, iowait 4 not)


@dataclass(frozen=True)
class CpuSample:
    """One reading: the machine's busy CPU seconds, this process's CPU seconds, and the wall clock."""

    machine_busy: float
    own: float
    wall: float


def busy_seconds(stat_text: str, ticks_per_second: float) -> float:
    """The machine's busy CPU seconds from the text of ``/proc/stat`` (its first, all-CPU ``cpu`` line)."""
    first = stat_text.split("\n", 1)[0].split()
    if not first or first[0] != "cpu":
        raise ValueError(f"/proc/stat: expected a first line starting with 'cpu', got {first[:1]}")
    values = [int(v) for v in first[1:]]
    return sum(values[i] for i in BUSY_FIELDS if i < len(values)) / ticks_per_second


def cpu_sample() -> CpuSample | None:
    """Read the machine's and this process's CPU time now; None where ``/proc/stat`` cannot be read."""
    try:
        text = PROC_STAT.read_text()
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, AttributeError):
        return None
    return CpuSample(busy_seconds(text, ticks), time.process_time(), time.perf_counter())


def other_cores(before: CpuSample | None, after: CpuSample | None) -> float | None:
    """Cores' worth of CPU time spent outside this process between two samples (at least 0); None without both.

    The kernel counts in ticks of 10 ms per core, so intervals should last a second or more."""
    if before is None or after is None or after.wall <= before.wall:
        return None
    other = (after.machine_busy - before.machine_busy) - (after.own - before.own)
    return max(0.0, other / (after.wall - before.wall))


class OversubscriptionWatch:
    """Measures other processes' CPU use between calls of :meth:`check` and warns (once per process) when BLAS's
    threads would share cores with them: a RuntimeWarning that names the figures and the fix.

    Intervals shorter than ``min_seconds`` are merged into the next one (the kernel's clock ticks every 10 ms).
    """

    def __init__(self, min_seconds: float = 1.0, *, sample: Any = None) -> None:
        self.min_seconds = min_seconds
        self._sample = sample or cpu_sample
        self._start = self._sample()

    def check(self) -> ThreadAdvice | None:
        """The advice for the interval since the last full one; None while it is shorter than ``min_seconds``
        or nothing can be measured."""
        now = self._sample()
        if self._start is None or now is None or now.wall - self._start.wall < self.min_seconds:
            return None
        other = other_cores(self._start, now)
        self._start = now
        cores, threads = available_cores(), get_num_threads()  # NumPy's BLAS (not SciPy's, which numba loads)
        advice = decide_threads(cores, other, threads, override=_override())
        if advice.oversubscribed and not _warned[0]:  # once per process, as check_threads
            _warned[0] = True
            warnings.warn(f"thalweg: other processes kept {other:.1f} of this machine's {cores} cores busy while "
                          f"training with {threads} BLAS threads, so every matrix product waits for a thread "
                          f"that shares a core and steps slow down several-fold; use "
                          f"tw.set_num_threads({advice.threads}) or THALWEG_NUM_THREADS={advice.threads}",
                          RuntimeWarning, stacklevel=2)
        return advice


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
    advice = decide_threads(available_cores(), load, get_num_threads(), override=_override())  # NumPy's BLAS
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
