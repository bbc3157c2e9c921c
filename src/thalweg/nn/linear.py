"""``Linear``: the affine layer y = x W^T + b.

The forward and backward are one fused ``Function`` (``ops/nn_ops.py``), so a
layer is a single graph node and its three gradients come from two matrix
products and one sum.
"""

from __future__ import annotations

import math
from typing import Any

from .. import dtypes
from ..autograd.tensor import Tensor
from ..backend import get_array_module
from . import init
from ..ops.nn_ops import LinearFunction
from .module import Module
from .parameter import Parameter

__all__ = ["Linear"]


class Linear(Module):
    """Apply y = x W^T + b to the last dimension of x: (..., in_features) -> (..., out_features).

    Parameters: ``weight`` of shape (out_features, in_features) and, unless
    ``bias=False``, ``bias`` of shape (out_features,) — torch's layout, so
    state dicts move between the two frameworks unchanged.

    Default initialization (torch's): W ~ U(-1/sqrt(in_features), 1/sqrt(in_features)),
    which is ``init.kaiming_uniform_(W, a=sqrt(5))``, and b from the same
    uniform.  Use ``init.xavier_uniform_`` (tanh) or ``init.kaiming_uniform_``
    with ``nonlinearity="relu"`` to get the lecture's Glorot or He scheme.
    Randomness comes from the run's generator (``tw.manual_seed``).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Linear: {name} must be a non-negative integer, got {value!r}")
        self.in_features = in_features
        self.out_features = out_features
        d = dtypes.resolve(dtype)
        xp = get_array_module()
        self.weight = Parameter(xp.empty((out_features, in_features), dtype=d))
        if bias:
            self.bias = Parameter(xp.empty((out_features,), dtype=d))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self, *, generator: Any = None) -> None:
        """Redraw the parameters from torch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound, generator=generator)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - torch's name
        shape = input.shape
        if not shape or shape[-1] != self.in_features:
            raise ValueError(f"{self!r}: expected input with last dimension {self.in_features}, "
                             f"got shape {tuple(shape)}")
        if input.dtype != self.weight.dtype:
            raise TypeError(f"{self!r}: input has dtype {input.dtype} but the weight has dtype {self.weight.dtype}; "
                            "convert the input (x.float()) or the model (model.double())")
        return LinearFunction.apply(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class NonDynamicallyQuantizableLinear(Linear):
    """torch's name for the output projection of ``MultiheadAttention``: a plain ``Linear`` (no quantization here)."""
