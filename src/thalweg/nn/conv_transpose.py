"""Transposed convolution layers: ``ConvTranspose1d`` and ``ConvTranspose2d`` (torch's arguments and layout).

Used to upsample learned feature maps (decoders, GAN generators, U-Nets); each
is the adjoint of the convolution with the same arguments, so with the same
stride and padding it maps a convolution's output shape back to its input shape
(``output_size=`` picks among the shapes a strided convolution folds together).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .. import dtypes
from ..autograd.tensor import Tensor
from . import init
from .conv import conv_repr
from .functional_parts.conv import to_tuple
from .functional_parts.conv_transpose import _conv_transpose, transposed_output_padding
from .module import Module
from .parameter import Parameter

__all__ = ["ConvTranspose1d", "ConvTranspose2d"]


class _ConvTransposeNd(Module):
    _spatial = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        name, n = type(self).__name__, self._spatial
        for arg, value in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: {arg} must be a positive integer, got {value!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels={in_channels} and out_channels={out_channels} must be divisible "
                             f"by groups={groups}")
        if padding_mode != "zeros":
            raise ValueError(f'{name}: only "zeros" padding mode is supported, got {padding_mode!r}')
        if isinstance(padding, str):
            raise ValueError(f"{name}: padding must be an int or a tuple of ints, got {padding!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = to_tuple(kernel_size, n, "kernel_size", name)
        self.stride = to_tuple(stride, n, "stride", name)
        self.padding = to_tuple(padding, n, "padding", name, minimum=0)
        self.output_padding = to_tuple(output_padding, n, "output_padding", name, minimum=0)
        self.dilation = to_tuple(dilation, n, "dilation", name)
        self.padding_mode = padding_mode
        self.transposed = True
        d = dtypes.resolve(dtype)
        self.weight = Parameter(np.empty((in_channels, out_channels // groups) + self.kernel_size, dtype=d))
        if bias:
            self.bias = Parameter(np.empty((out_channels,), dtype=d))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self, *, generator: Any = None) -> None:
        """torch's default: ``kaiming_uniform_(w, a=sqrt(5))`` (fan_in = out_channels/groups * prod(kernel)
        from the weight's layout) and the bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        if self.bias is not None:
            fan_in = (self.out_channels // self.groups) * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound, generator=generator)

    def forward(self, input: Tensor, output_size: Sequence[int] | None = None) -> Tensor:  # noqa: A002
        name = type(self).__name__
        n = self._spatial
        if input.ndim not in (n + 1, n + 2):
            raise ValueError(f"{name}: expected {n + 1}-D (unbatched) or {n + 2}-D (batched) input, "
                             f"got shape {tuple(input.shape)}")
        if input.shape[-n - 1] != self.in_channels:
            raise ValueError(f"{name}({self.in_channels}, {self.out_channels}): expected input with "
                             f"{self.in_channels} channels, got shape {tuple(input.shape)}")
        out_pad: Any = self.output_padding
        if output_size is not None:
            out_pad = transposed_output_padding(tuple(input.shape), output_size, self.stride, self.padding,
                                                self.kernel_size, self.dilation, name)
        return _conv_transpose(input, self.weight, self.bias, self.stride, self.padding, out_pad, self.groups,
                               self.dilation, n, name)

    def extra_repr(self) -> str:
        return conv_repr(self, output_padding=self.output_padding)


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution: (N, C_in, L) -> (N, C_out, L_out), weight (C_in, C_out/groups, K).

    L_out = (L - 1) stride - 2 padding + dilation (K - 1) + output_padding + 1;
    ``forward(input, output_size=None)`` may ask for a size instead of ``output_padding``.
    """

    _spatial = 1


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution: (N, C_in, H, W) -> (N, C_out, H_out, W_out), weight (C_in, C_out/groups, KH, KW).

    H_out = (H - 1) sh - 2 ph + dh (KH - 1) + oph + 1 (W_out likewise);
    ``forward(input, output_size=None)`` may ask for a size instead of ``output_padding``.
    """

    _spatial = 2
