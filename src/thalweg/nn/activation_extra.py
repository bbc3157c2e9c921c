"""The rest of torch's activation layers: thin modules around ``functional_parts/activation.py``.

One implementation serves both forms (``nn.Hardswish()(x)`` is ``F.hardswish(x)``).
``inplace=True`` is accepted for PyTorch compatibility and shown in the repr,
but the result is always a new tensor, as for ``nn.ReLU``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import dtypes
from ..autograd.tensor import Tensor
from .functional_parts import activation as FA
from .module import Module
from .parameter import Parameter

__all__ = ["CELU", "GLU", "Hardshrink", "Hardsigmoid", "Hardswish", "Hardtanh", "LogSigmoid", "Mish", "PReLU",
           "RReLU", "ReLU6", "SELU", "SiLU", "Softmin", "Softshrink", "Softsign", "Tanhshrink", "Threshold",
           "Bilinear", "PairwiseDistance", "Unfold", "Fold"]


def _inplace(inplace: bool) -> str:
    return ", inplace=True" if inplace else ""


class Hardtanh(Module):
    """clamp(x, min_val, max_val); gradient 1 strictly inside the bounds."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return FA.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + _inplace(self.inplace)


class ReLU6(Hardtanh):
    """min(max(0, x), 6)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class _Plain(Module):
    """An activation with no options beyond ``inplace``: ``fn`` is its functional form."""

    fn: Any = None

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return type(self).fn(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class SELU(_Plain):
    """scale * elu(x, alpha) with the self-normalizing constants (Klambauer et al. 2017)."""

    fn = staticmethod(FA.selu)


class Hardsigmoid(_Plain):
    """relu6(x + 3) / 6."""

    fn = staticmethod(FA.hardsigmoid)


class Hardswish(_Plain):
    """x relu6(x + 3) / 6 (Howard et al. 2019)."""

    fn = staticmethod(FA.hardswish)


class SiLU(_Plain):
    """x sigmoid(x) (swish)."""

    fn = staticmethod(FA.silu)


class Mish(_Plain):
    """x tanh(softplus(x)) (Misra 2019)."""

    fn = staticmethod(FA.mish)


class _NoOption(Module):
    fn: Any = None

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return type(self).fn(input)


class Softsign(_NoOption):
    """x / (1 + |x|)."""

    fn = staticmethod(FA.softsign)


class Tanhshrink(_NoOption):
    """x - tanh(x)."""

    fn = staticmethod(FA.tanhshrink)


class LogSigmoid(_NoOption):
    """log sigmoid(x), computed stably."""

    fn = staticmethod(FA.logsigmoid)


class CELU(Module):
    """max(0, x) + min(0, alpha (e^(x/alpha) - 1)) (Barron 2017)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return FA.celu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + _inplace(self.inplace)


class Hardshrink(Module):
    """x where |x| > lambd, else 0."""

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return FA.hardshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Softshrink(Hardshrink):
    """x - lambd sign(x) where |x| > lambd, else 0."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return FA.softshrink(input, self.lambd)


class GLU(Module):
    """a sigmoid(b) over the two halves of ``dim`` (Dauphin et al. 2017)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return FA.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmin(Module):
    """softmax(-x) along ``dim``."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return FA.softmin(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class PReLU(Module):
    """x for x > 0, w x otherwise, w learned: one slope, or one per channel (He et al. 2015, arXiv 1502.01852)."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(Tensor(np.full((num_parameters,), init, dtype=dtypes.resolve(dtype))))

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return FA.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class RReLU(Module):
    """Randomized leaky ReLU: random slopes in [lower, upper] in training, their mean in evaluation."""

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False) -> None:
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return FA.rrelu(input, self.lower, self.upper, self.training)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}" + _inplace(self.inplace)


class Threshold(Module):
    """x where x > threshold, else ``value``."""

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return FA.threshold(input, self.threshold, self.value)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}" + _inplace(self.inplace)


class PairwiseDistance(Module):
    """||x1 - x2 + eps||_p over the last dimension."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return FA.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class Bilinear(Module):
    """y = x1^T W x2 + b, W of shape (out_features, in1_features, in2_features); U(-1/sqrt(in1), 1/sqrt(in1)) init."""

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        from .. import random as _random

        self.in1_features, self.in2_features, self.out_features = in1_features, in2_features, out_features
        bound = 1.0 / np.sqrt(in1_features) if in1_features else 0.0
        rng = _random.get_generator(None)
        dt = dtypes.resolve(dtype)
        self.weight = Parameter(Tensor(rng.uniform(-bound, bound, (out_features, in1_features, in2_features))
                                       .astype(dt)))
        self.bias = Parameter(Tensor(rng.uniform(-bound, bound, (out_features,)).astype(dt))) if bias else None

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return FA.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class Unfold(Module):
    """im2col: the sliding blocks of the input as columns (``F.unfold``)."""

    def __init__(self, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> None:
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return FA.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")


class Fold(Module):
    """col2im: sums columns back into an image of ``output_size`` (``F.fold``)."""

    def __init__(self, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
                 stride: Any = 1) -> None:
        super().__init__()
        self.output_size = output_size
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return FA.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")
