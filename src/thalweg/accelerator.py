"""``tw.accelerator``: torch's device-agnostic probe (``torch.accelerator.is_available()``), here always the CPU."""

from __future__ import annotations

from typing import Any


def is_available() -> bool:
    """False: thalweg has no accelerator, so scripts choose ``tw.device("cpu")``."""
    return False


def device_count() -> int:
    return 0


def current_accelerator(check_available: bool = False) -> Any:
    """None, as torch answers when no accelerator is present."""
    return None


def synchronize(device: Any = None) -> None:
    """Nothing to wait for on the CPU."""
