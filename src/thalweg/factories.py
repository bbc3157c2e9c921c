"""Ways to make tensors: ``tw.tensor``, ``tw.zeros``, ``tw.randn``...

Floating factories default to float32.  Random factories draw from the run's
seeded generator (``tw.manual_seed``) unless a ``generator=`` is given.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import dtypes
from . import random as _random
from .autograd.tensor import Tensor, _as_array
from .ops.shape import normalize_shape


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A new leaf tensor holding a *copy* of ``data``.

    Python floats and lists become float32, ints int64, bools bool; an ndarray
    keeps its dtype (as ``torch.tensor`` does).  ``dtype`` may be ``tw.float64``,
    ``np.float64``, ``"float64"`` or a torch dtype.
    """
    arr = _as_array(data.array if isinstance(data, Tensor) else data, dtype)
    arr = np.array(arr, copy=True)
    return Tensor(arr, requires_grad=requires_grad)


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    """Like ``tensor`` but shares memory with an ndarray when possible."""
    if isinstance(data, Tensor) and dtype is None:
        return data
    return Tensor(_as_array(data, dtype))


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (its dtype is kept)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected an np.ndarray, got {type(array).__name__}")
    return Tensor(array)


def _shape(size: tuple[Any, ...]) -> tuple[int, ...]:
    return normalize_shape(size) if size else ()


def _make(arr: np.ndarray, requires_grad: bool) -> Tensor:
    return Tensor(arr, requires_grad=requires_grad)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return _make(np.zeros(_shape(size), dtype=dtypes.resolve(dtype)), requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return _make(np.ones(_shape(size), dtype=dtypes.resolve(dtype)), requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return _make(np.empty(_shape(size), dtype=dtypes.resolve(dtype)), requires_grad)


def full(size: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    if dtype is None and isinstance(fill_value, bool):
        dtype = dtypes.bool_
    elif dtype is None and isinstance(fill_value, int):
        dtype = dtypes.int64
    return _make(np.full(_shape((size,)), fill_value, dtype=dtypes.resolve(dtype)), requires_grad)


def zeros_like(x: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros(x.shape, dtype=x.dtype if dtype is None else dtypes.resolve(dtype)), requires_grad)


def ones_like(x: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.ones(x.shape, dtype=x.dtype if dtype is None else dtypes.resolve(dtype)), requires_grad)


def full_like(x: Tensor, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.full(x.shape, fill_value, dtype=x.dtype if dtype is None else dtypes.resolve(dtype)),
                 requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.eye(n, m, dtype=dtypes.resolve(dtype)), requires_grad)


def arange(start: Any, end: Any = None, step: Any = 1, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in [start, end); int64 for integer arguments, else float32."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = dtypes.int64 if is_int else dtypes.get_default_dtype()
    return _make(np.arange(start, end, step, dtype=dtypes.resolve(dtype)), requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.linspace(start, end, steps, dtype=dtypes.resolve(dtype)), requires_grad)


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False, generator: Any = None,
          device: Any = None) -> Tensor:
    """Standard normal samples from the run's generator."""
    g = _random.get_generator(generator)
    return _make(g.standard_normal(_shape(size)).astype(dtypes.resolve(dtype)), requires_grad)


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False, generator: Any = None,
         device: Any = None) -> Tensor:
    """Uniform samples in [0, 1) from the run's generator."""
    g = _random.get_generator(generator)
    return _make(g.random(_shape(size)).astype(dtypes.resolve(dtype)), requires_grad)


def randint(low: int, high: Any = None, size: Any = (), dtype: Any = None, generator: Any = None) -> Tensor:
    """Integers in [low, high) (int64), torch's argument order: ``randint(low, high, size)``."""
    if high is None:
        low, high = 0, low
    g = _random.get_generator(generator)
    return _make(g.integers(low, high, size=_shape((size,)) if not isinstance(size, tuple) else size)
                 .astype(dtypes.resolve(dtype or dtypes.int64)), False)


def randperm(n: int, generator: Any = None) -> Tensor:
    """A random permutation of 0..n-1 (int64)."""
    return _make(_random.get_generator(generator).permutation(n).astype(np.int64), False)


def randn_like(x: Tensor, generator: Any = None) -> Tensor:
    return randn(x.shape, dtype=x.dtype, generator=generator)


def rand_like(x: Tensor, generator: Any = None) -> Tensor:
    return rand(x.shape, dtype=x.dtype, generator=generator)
