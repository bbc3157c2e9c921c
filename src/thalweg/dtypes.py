"""Data types: thalweg uses NumPy's dtypes, with PyTorch's names as aliases.

float32 is the default for Python numbers and lists; float64 is used for
gradient checks.  Integer and boolean tensors exist (indices, masks, labels) but
cannot require a gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

float16 = half = np.dtype(np.float16)
float32 = float = np.dtype(np.float32)  # noqa: A001 - torch's spelling
float64 = double = np.dtype(np.float64)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
int16 = short = np.dtype(np.int16)
int32 = int = np.dtype(np.int32)  # noqa: A001 - torch's spelling
int64 = long = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)

DEFAULT_FLOAT = float32
SUPPORTED = frozenset([float16, float32, float64, int8, uint8, int16, int32, int64, bool_])
FLOATING = frozenset([float16, float32, float64])

_default_dtype = [DEFAULT_FLOAT]


def set_default_dtype(dtype: Any) -> None:
    """Set the dtype used for Python floats and lists (float32 unless changed)."""
    d = resolve(dtype)
    if d not in FLOATING:
        raise TypeError(f"set_default_dtype: only floating dtypes are allowed, got {d}")
    _default_dtype[0] = d


def get_default_dtype() -> np.dtype:
    """The dtype Python floats and lists become (float32 by default)."""
    return _default_dtype[0]


def resolve(dtype: Any) -> np.dtype:
    """Turn ``tw.float32``, ``np.float64``, ``"float32"``, ``torch.float32``... into a NumPy dtype.

    Raises ``TypeError`` naming the dtype when it is not one thalweg supports.
    """
    if dtype is None:
        return get_default_dtype()
    if isinstance(dtype, np.dtype) and dtype in SUPPORTED:
        return dtype
    name = str(dtype)
    if name.startswith("torch."):
        name = name[len("torch."):]
    try:
        d = np.dtype(dtype) if not isinstance(dtype, str) or not name else np.dtype(name)
    except TypeError:
        try:
            d = np.dtype(name)
        except TypeError:
            raise TypeError(f"unsupported dtype: {dtype!r}") from None
    if d not in SUPPORTED:
        raise TypeError(
            f"unsupported dtype: {d} (thalweg supports float16/32/64, int8/16/32/64, uint8 and bool)"
        )
    return d


def is_floating(dtype: np.dtype) -> bool:
    """True for the floating dtypes, the only ones that can carry gradients."""
    return dtype in FLOATING
