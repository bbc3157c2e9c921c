"""Convolution layers: ``Conv1d`` and ``Conv2d``, with PyTorch's arguments and parameter layout."""

from __future__ import annotations

import math
from typing import Any

from .. import dtypes
from ..autograd.tensor import Tensor, device as _device
from ..backend import get_array_module
from . import init
from .functional_parts.basic import pad as _pad
from .functional_parts.conv import _conv, conv_padding, to_tuple
from .module import Module
from .parameter import Parameter

__all__ = ["Conv1d", "Conv2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """Shared body of ``Conv1d`` and ``Conv2d`` (``_spatial`` is 1 or 2)."""

    _spatial = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None, *, generator: Any = None) -> None:
        super().__init__()
        name, n = type(self).__name__, self._spatial
        for arg, value in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if not isinstance(value, int) or isinstance(value, bool) or value < (1 if arg == "groups" else 0):
                raise ValueError(f"{name}: {arg} must be a {'positive' if arg == 'groups' else 'non-negative'} "
                                 f"integer, got {value!r}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels={in_channels} must be divisible by groups={groups}")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels={out_channels} must be divisible by groups={groups}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        if device is not None and _device(device).type != "cpu":
            raise RuntimeError(f"{name}: device {device!r} is not available; thalweg runs on the CPU here")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = to_tuple(kernel_size, n, "kernel_size", name)
        self.stride = to_tuple(stride, n, "stride", name)
        self.dilation = to_tuple(dilation, n, "dilation", name)
        if isinstance(padding, str):
            conv_padding(padding, self.kernel_size, self.dilation, self.stride, name)  # validates
            self.padding: Any = padding
        else:
            self.padding = to_tuple(padding, n, "padding", name, minimum=0)
        self.padding_mode = padding_mode
        d = dtypes.resolve(dtype)
        xp = get_array_module()
        self.weight = Parameter(xp.empty((out_channels, in_channels // groups) + self.kernel_size, dtype=d))
        if bias:
            self.bias = Parameter(xp.empty((out_channels,), dtype=d))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator=generator)

    def reset_parameters(self, *, generator: Any = None) -> None:
        """Redraw the parameters from PyTorch's default.

        ``kaiming_uniform_(w, a=sqrt(5))``, i.e. w ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        with fan_in = in_channels/groups * prod(kernel_size), and the bias from
        the same uniform.  The draws come from ``generator`` or the run's default
        generator (``tw.manual_seed``).
        """
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        if self.bias is not None:
            fan_in = (self.in_channels // self.groups) * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound, generator=generator)

    def _describe(self) -> str:
        """The short name used in error messages: ``Conv2d(1, 6, kernel_size=(5, 5))``."""
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size})"

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - torch's name
        n = self._spatial
        shape = tuple(input.shape)
        if len(shape) not in (n + 1, n + 2):
            raise ValueError(f"{self._describe()}: expected {n + 1}-D (unbatched) or {n + 2}-D (batched) input, "
                             f"got shape {shape}")
        channels = shape[-n - 1]
        if channels != self.in_channels:
            raise ValueError(f"{self._describe()}: expected input with {self.in_channels} channels, got shape {shape}")
        if input.dtype != self.weight.dtype:
            raise TypeError(f"{self._describe()}: input has dtype {input.dtype} but the weight has dtype "
                            f"{self.weight.dtype}; convert the input (x.float()) or the model (model.double())")
        op = type(self).__name__
        padding = self.padding
        if self.padding_mode != "zeros":
            pads = conv_padding(padding, self.kernel_size, self.dilation, self.stride, op)
            torch_order: list[int] = []
            for axis in reversed(range(n)):  # F.pad lists the last axis first
                torch_order += [pads[2 * axis], pads[2 * axis + 1]]
            input = _pad(input, torch_order, mode=self.padding_mode)
            padding = 0
        return _conv(input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups, n, op)

    def extra_repr(self) -> str:
        return conv_repr(self, padding_mode=self.padding_mode)


def conv_repr(m: Module, output_padding: Any = None, padding_mode: str = "zeros") -> str:
    """torch's ``extra_repr`` of a convolution or transposed convolution: the options that differ from defaults."""
    s = f"{m.in_channels}, {m.out_channels}, kernel_size={m.kernel_size}, stride={m.stride}"
    if isinstance(m.padding, str) or any(m.padding):
        s += f", padding={m.padding}"
    if output_padding is not None and any(output_padding):
        s += f", output_padding={output_padding}"
    if any(d != 1 for d in m.dilation):
        s += f", dilation={m.dilation}"
    if m.groups != 1:
        s += f", groups={m.groups}"
    if m.bias is None:
        s += ", bias=False"
    if padding_mode != "zeros":
        s += f", padding_mode={padding_mode}"
    return s


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L) (or unbatched (C_in, L)) input -> (N, C_out, L_out).

    y[n, o, t] = b[o] + sum_{c in o's group, k} w[o, c, k] x[n, c, t*stride + k*dilation - padding],
    L_out = floor((L + 2 padding - dilation (K - 1) - 1) / stride) + 1.

    Parameters (PyTorch's layout): ``weight`` (C_out, C_in/groups, K) and
    ``bias`` (C_out,).  ``padding``: int, ``"valid"`` or ``"same"``;
    ``padding_mode``: ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.
    Default initialization (PyTorch's): ``kaiming_uniform_(a=sqrt(5))``, i.e.
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = C_in/groups * K, for the
    weight and the bias.
    """

    _spatial = 1


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) (or unbatched (C_in, H, W)) input -> (N, C_out, H_out, W_out).

    y[n, o, p, q] = b[o] + sum_{c in o's group, i, j} w[o, c, i, j] x[n, c, p*sh + i*dh - ph, q*sw + j*dw - pw],
    H_out = floor((H + 2 ph - dh (KH - 1) - 1) / sh) + 1 (W_out likewise).

    Parameters (PyTorch's layout): ``weight`` (C_out, C_in/groups, KH, KW) and
    ``bias`` (C_out,).  ``kernel_size``, ``stride``, ``padding``, ``dilation``:
    int or pair; ``padding`` may be ``"valid"`` or ``"same"`` (stride 1);
    ``groups`` splits the channels into independent convolutions (groups =
    C_in is a depthwise convolution).  Default initialization (PyTorch's):
    ``kaiming_uniform_(a=sqrt(5))``, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    with fan_in = C_in/groups * KH * KW, for the weight and the bias.  The
    forward is im2col + matrix products per group, or for large stride-1
    layers KH products over kernel rows (``thalweg.ops.conv``).
    """

    _spatial = 2
