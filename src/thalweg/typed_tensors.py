"""torch's legacy typed constructors: ``tw.FloatTensor([1, 2])``, ``tw.LongTensor(3, 4)``...

Each takes data (a copy in that dtype) or integer sizes (an uninitialized
tensor of that shape), as torch does, and ``isinstance(x, tw.FloatTensor)``
checks the dtype.  They are constructors only: every result is a plain ``Tensor``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .autograd.tensor import Tensor


def _is_size(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


class _TypedTensorMeta(type):
    dtype: np.dtype

    def __call__(cls, *data: Any, device: Any = None) -> Tensor:  # type: ignore[override]
        from .factories import check_device

        check_device(device, cls.__name__)
        if not data:
            return Tensor(np.empty((0,), dtype=cls.dtype))
        if all(_is_size(d) for d in data):
            shape = tuple(int(d) for d in data)
            if any(n < 0 for n in shape):
                raise RuntimeError(f"{cls.__name__}: negative dimension in {shape}")
            return Tensor(np.empty(shape, dtype=cls.dtype))
        if len(data) != 1:
            raise TypeError(f"{cls.__name__}(): expected data or integer sizes, got {data!r}")
        value = data[0]
        arr = value.array if isinstance(value, Tensor) else value
        return Tensor(np.array(arr, dtype=cls.dtype))

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype


def _typed(name: str, dtype: Any) -> Any:
    return _TypedTensorMeta(name, (), {"dtype": np.dtype(dtype), "__doc__": f"A {np.dtype(dtype)} tensor "
                                       "from data, or uninitialized from sizes."})


FloatTensor = _typed("FloatTensor", np.float32)
DoubleTensor = _typed("DoubleTensor", np.float64)
HalfTensor = _typed("HalfTensor", np.float16)
LongTensor = _typed("LongTensor", np.int64)
IntTensor = _typed("IntTensor", np.int32)
ShortTensor = _typed("ShortTensor", np.int16)
CharTensor = _typed("CharTensor", np.int8)
ByteTensor = _typed("ByteTensor", np.uint8)
BoolTensor = _typed("BoolTensor", np.bool_)


class Size(tuple):
    """torch.Size: a tuple of dimension sizes (``tw.Size([2, 3])``), with ``numel()``."""

    def __new__(cls, sizes: Any = ()) -> "Size":
        return super().__new__(cls, (int(n) for n in sizes))

    def numel(self) -> int:
        """The number of elements of a tensor of this size."""
        n = 1
        for d in self:
            n *= d
        return n

    def __repr__(self) -> str:
        return f"thalweg.Size({list(self)})"
