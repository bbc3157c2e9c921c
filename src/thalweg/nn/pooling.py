"""Pooling layers: max, average and adaptive average pooling in 1-D and 2-D (PyTorch's arguments)."""

from __future__ import annotations

from typing import Any

from ..autograd.tensor import Tensor
from .functional_parts import conv as F
from .module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d"]


class _MaxPoolNd(Module):
    _spatial = 2

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        name, n = type(self).__name__, self._spatial
        F.to_tuple(kernel_size, n, "kernel_size", name)
        if stride is not None:
            F.to_tuple(stride, n, "stride", name)
        F.to_tuple(padding, n, "padding", name, minimum=0)
        F.to_tuple(dilation, n, "dilation", name)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor) -> Any:  # noqa: A002
        fn = F.max_pool1d if self._spatial == 1 else F.max_pool2d
        return fn(input, self.kernel_size, self.stride, self.padding, self.dilation, ceil_mode=self.ceil_mode,
                  return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """Max over windows of length ``kernel_size`` along L of (N, C, L) input; stride defaults to the kernel.

    y[n, c, t] = max_k x[n, c, t*stride + k*dilation - padding] (padding is -inf,
    at most half the window).  ``return_indices=True`` also returns each
    maximum's position.  The gradient goes to the first maximum of a window.
    """

    _spatial = 1


class MaxPool2d(_MaxPoolNd):
    """Max over (KH, KW) windows of (N, C, H, W) input; stride defaults to the kernel size.

    y[n, c, p, q] = max_{i, j} x[n, c, p*sh + i*dh - ph, q*sw + j*dw - pw] with -inf
    padding; ``ceil_mode`` keeps a last partial window; ``return_indices=True``
    also returns the flat index (row * W + col) of each maximum.  The gradient
    flows to the first maximum of each window, as in PyTorch.
    """

    _spatial = 2


class AvgPool1d(Module):
    """Mean over windows along L of (N, C, L) input (zero padding; see ``AvgPool2d``)."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size = F.to_tuple(kernel_size, 1, "kernel_size", "AvgPool1d")
        self.stride = self.kernel_size if stride is None else F.to_tuple(stride, 1, "stride", "AvgPool1d")
        self.padding = F.to_tuple(padding, 1, "padding", "AvgPool1d", minimum=0)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """Mean over (KH, KW) windows of (N, C, H, W) input; stride defaults to the kernel size.

    Each window's sum is divided by ``divisor_override`` if given, else by the
    window's size within the padded input (``count_include_pad=True``) or within
    the input (``False``), as PyTorch does.
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None) -> None:
        super().__init__()
        F.to_tuple(kernel_size, 2, "kernel_size", "AvgPool2d")
        if stride is not None:
            F.to_tuple(stride, 2, "stride", "AvgPool2d")
        F.to_tuple(padding, 2, "padding", "AvgPool2d", minimum=0)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(Module):
    """Average pooling of (N, C, L) input to a fixed length: bin i averages [floor(iL/o), ceil((i+1)L/o))."""

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.adaptive_avg_pool1d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(Module):
    """Average pooling of (N, C, H, W) input to a fixed ``output_size`` whatever the input size.

    Bin (i, j) averages rows [floor(iH/OH), ceil((i+1)H/OH)) and columns
    [floor(jW/OW), ceil((j+1)W/OW)), as PyTorch; ``None`` keeps that axis's size
    and ``AdaptiveAvgPool2d(1)`` is global average pooling.
    """

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
