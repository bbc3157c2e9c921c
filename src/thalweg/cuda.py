"""``tw.cuda``: torch's probe of the GPU, answering honestly that there is none here.

Scripts write ``device = "cuda" if torch.cuda.is_available() else "cpu"``; with
thalweg that picks the CPU.  Seeding calls are accepted and do nothing, since
no CUDA generator exists.
"""

from __future__ import annotations

from typing import Any


def is_available() -> bool:
    """False: thalweg runs on the CPU."""
    return False


def device_count() -> int:
    return 0


def is_initialized() -> bool:
    return False


def manual_seed(seed: int) -> None:
    """Accepted for torch scripts; there is no CUDA generator to seed."""


def manual_seed_all(seed: int) -> None:
    """Accepted for torch scripts; there is no CUDA generator to seed."""


def synchronize(device: Any = None) -> None:
    """Nothing to wait for on the CPU."""


def empty_cache() -> None:
    """Nothing to free: no GPU memory is held."""


def current_device() -> int:
    raise RuntimeError("tw.cuda.current_device(): no CUDA device; thalweg runs on the CPU")
