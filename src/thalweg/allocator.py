"""Keep freed array memory for reuse instead of handing it back to the kernel.

glibc's ``malloc`` serves large requests (over a dynamic threshold of 128 KiB
to 32 MiB) with fresh ``mmap`` pages and returns them on ``free``.  A training
step allocates and frees the same large activations and gradients every time,
so every step page-faults on brand-new memory; on these machines the faults
cost more than the arithmetic of a small CNN or RNN step.  Raising the mmap
and trim thresholds makes glibc keep freed blocks in its heap, so the next step
reuses warm pages.

This is process-wide, so it is done once, at ``import thalweg``, only on Linux
with glibc, and can be switched off with ``THALWEG_MALLOC_TUNING=0`` in the
environment (then nothing is changed).  The price is that the process keeps
its peak heap instead of shrinking after a large step.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 256 * 1024 * 1024  # requests above this still get their own mapping
TRIM_THRESHOLD_BYTES = 1024 * 1024 * 1024

_state = {"tuned": False}


def tune_allocator() -> bool:
    """Raise glibc's mmap/trim thresholds (see the module docstring); returns whether it did."""
    if _state["tuned"]:
        return True
    if os.environ.get("THALWEG_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    _state["tuned"] = ok
    return ok


def is_tuned() -> bool:
    """Whether ``tune_allocator`` changed the allocator in this process."""
    return _state["tuned"]
