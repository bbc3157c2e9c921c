"""The one seam between thalweg and its array library.

Ops never ``import numpy as np`` to do array math on tensor data; they ask the
data which namespace it belongs to (``xp = get_array_module(x)``).  Today this is
always NumPy.  If CuPy is installed and a tensor holds a ``cupy.ndarray``, the same
op code runs on the GPU, because CuPy mirrors NumPy's API (the idiom is CuPy's
own ``cupy.get_array_module``).  Host-only code (data loading, reports) may use
NumPy directly.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

try:  # pragma: no cover - exercised only where CuPy is installed
    import cupy as _cupy  # type: ignore[import-not-found]
except Exception:  # noqa: BLE001 - any import failure means "no GPU backend"
    _cupy = None

_ndarray = ndarray = np.ndarray


def get_array_module(*arrays: Any) -> ModuleType:
    """Return the array namespace (``numpy`` or ``cupy``) of the given arrays."""
    if _cupy is None:
        return np
    for a in arrays:
        if type(a) is not _ndarray and isinstance(a, _cupy.ndarray):
            return _cupy
    return np


def to_numpy(a: Any) -> np.ndarray:
    """Bring an array to host memory as a NumPy array."""
    if _cupy is not None and isinstance(a, _cupy.ndarray):  # pragma: no cover
        return _cupy.asnumpy(a)
    return np.asarray(a)


def as_array(a: Any, dtype: Any = None) -> Any:
    """``a`` as an array of the namespace it belongs to.

    NumPy returns scalars (``np.float32(3.0)``) rather than 0-d arrays from full
    reductions and 0-d arithmetic; tensors always hold arrays, so op outputs and
    gradients pass through here when they are not already ``np.ndarray``.
    """
    xp = get_array_module(a)
    return xp.asarray(a, dtype=dtype)
