"""``F.conv_transpose1d`` / ``F.conv_transpose2d`` with torch's signatures (work in ``ops/conv_transpose.py``)."""

from __future__ import annotations

from typing import Any, Sequence

from ...autograd.tensor import Tensor
from ...ops.conv_transpose import ConvTranspose
from .conv import to_tuple

__all__ = ["conv_transpose1d", "conv_transpose2d", "transposed_output_padding"]


def transposed_output_padding(input_shape: Sequence[int], output_size: Sequence[int], stride: Sequence[int],
                              padding: Sequence[int], kernel: Sequence[int], dilation: Sequence[int],
                              op: str) -> tuple[int, ...]:
    """The ``output_padding`` that gives ``output_size`` (torch's ``_output_padding``), or a ``ValueError``.

    ``output_size`` lists the spatial sizes, optionally preceded by the batch and
    channel sizes.  Each must lie in [min, min + stride - 1] with
    min = (in - 1) stride - 2 padding + dilation (kernel - 1) + 1.
    """
    k = len(kernel)
    size = [int(s) for s in output_size]
    if len(size) == k + 2 or (len(size) == k + 1 and len(input_shape) == k + 1):
        size = size[-k:]
    if len(size) != k:
        raise ValueError(f"{op}: output_size must have {k} or {k + 2} elements (got {len(output_size)})")
    spatial = tuple(input_shape[-k:])
    out = []
    for d in range(k):
        lo = (spatial[d] - 1) * stride[d] - 2 * padding[d] + dilation[d] * (kernel[d] - 1) + 1
        hi = lo + stride[d] - 1
        if not lo <= size[d] <= hi:
            raise ValueError(f"{op}: requested an output size of {tuple(size)}, but valid sizes range from "
                             f"{lo} to {hi} in dimension {d} (for an input of {spatial})")
        out.append(size[d] - lo)
    return tuple(out)


def _conv_transpose(input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any, padding: Any,  # noqa: A002
                    output_padding: Any, groups: int, dilation: Any, spatial: int, op: str) -> Tensor:
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"{op}: input and weight must be Tensors")
    if input.ndim == spatial + 1:
        x, unbatched = input.unsqueeze(0), True
    elif input.ndim == spatial + 2:
        x, unbatched = input, False
    else:
        raise ValueError(f"{op}: expected {spatial + 1}-D (unbatched) or {spatial + 2}-D (batched) input, "
                         f"got shape {tuple(input.shape)}")
    if weight.ndim != spatial + 2:
        raise ValueError(f"{op}: expected a {spatial + 2}-D weight (in_channels, out_channels/groups, kernel...), "
                         f"got shape {tuple(weight.shape)}")
    if x.dtype.kind != "f" or x.dtype != weight.dtype:
        raise TypeError(f"{op}: input dtype {x.dtype} and weight dtype {weight.dtype} must be the same float type")
    if not isinstance(groups, int) or groups < 1 or weight.shape[0] % groups:
        raise ValueError(f"{op}: groups={groups!r} must be a positive integer dividing the weight's in_channels "
                         f"(weight shape {tuple(weight.shape)})")
    if x.shape[1] != weight.shape[0]:
        raise ValueError(f"{op}: weight of shape {tuple(weight.shape)} expects input with {weight.shape[0]} "
                         f"channels, got shape {tuple(input.shape)}")
    cout = weight.shape[1] * groups
    if bias is not None and (tuple(bias.shape) != (cout,) or bias.dtype != weight.dtype):
        raise ValueError(f"{op}: expected bias of shape ({cout},) and dtype {weight.dtype}, got "
                         f"{tuple(bias.shape)} {bias.dtype}")
    s = to_tuple(stride, spatial, "stride", op)
    p = to_tuple(padding, spatial, "padding", op, minimum=0)
    op_ = to_tuple(output_padding, spatial, "output_padding", op, minimum=0)
    d = to_tuple(dilation, spatial, "dilation", op)
    if any(o >= max(si, di) for o, si, di in zip(op_, s, d)):
        raise ValueError(f"{op}: output padding must be smaller than either stride or dilation, got "
                         f"output_padding={op_}, stride={s}, dilation={d}")
    kernel = tuple(weight.shape[2:])
    size = tuple((n - 1) * si - 2 * pi + di * (k - 1) + oi + 1
                 for n, si, pi, di, k, oi in zip(x.shape[2:], s, p, d, kernel, op_))
    if any(v < 1 for v in size):
        raise ValueError(f"{op}: input of shape {tuple(input.shape)} with kernel {kernel}, stride {s}, padding {p} "
                         f"gives an empty output {size}")
    if spatial == 1:
        x = x.unsqueeze(2)
        weight = weight.unsqueeze(2)
        s, p, op_, d = (1,) + s, (0,) + p, (0,) + op_, (1,) + d
    out = ConvTranspose.apply(x, weight, bias, stride=s, padding=p, output_padding=op_, dilation=d, groups=groups)
    if spatial == 1:
        out = out.squeeze(2)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,  # noqa: A002
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """Transposed 1-D convolution of (N, C_in, L) or (C_in, L) input with a (C_in, C_out/groups, K) weight.

    L_out = (L - 1) stride - 2 padding + dilation (K - 1) + output_padding + 1.
    The adjoint of ``conv1d`` (see ``thalweg.ops.conv_transpose``).
    """
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 1,
                           "conv_transpose1d")


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,  # noqa: A002
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """Transposed 2-D convolution of (N, C_in, H, W) or (C_in, H, W) input with a (C_in, C_out/groups, KH, KW)
    weight: every input pixel adds a weighted copy of the kernel to the output (Dumoulin and Visin 2016).

    H_out = (H - 1) sh - 2 ph + dh (KH - 1) + oph + 1 (W_out likewise).  Argument order as torch
    (``groups`` before ``dilation``).
    """
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 2,
                           "conv_transpose2d")
