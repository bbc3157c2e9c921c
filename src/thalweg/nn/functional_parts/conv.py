"""Convolution and pooling functions with PyTorch's signatures (``F.conv2d``, ``F.max_pool2d``...).

They check their arguments (errors name the function, the shapes and the
values), normalise ints to tuples, add a batch axis to unbatched input, and
call the ``Function`` that does the work (``ops/conv.py``, ``ops/pool.py``).
"""

from __future__ import annotations

from typing import Any, Sequence

from ...autograd.tensor import Tensor
from ...ops.conv import Conv
from ...ops.pool import AdaptiveAvgPool, AvgPool, MaxPool, pool_output_size

__all__ = ["conv1d", "conv2d", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d",
           "adaptive_avg_pool1d", "adaptive_avg_pool2d"]


# ----------------------------------------------------------------------------- arguments
def to_tuple(value: Any, n: int, name: str, op: str, *, minimum: int = 1) -> tuple[int, ...]:
    """``value`` (an int or a sequence of 1 or ``n`` ints, each >= ``minimum``) as an ``n``-tuple."""
    items = [value] if isinstance(value, int) else list(value) if isinstance(value, (tuple, list)) else None
    if items is None or len(items) not in (1, n) or not all(isinstance(v, int) and not isinstance(v, bool)
                                                           for v in items):
        raise TypeError(f"{op}: {name} must be an int or a sequence of {n} ints, got {value!r}")
    if len(items) == 1:
        items = items * n
    if any(v < minimum for v in items):
        kind = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{op}: {name} must be {kind}, got {value!r}")
    return tuple(items)


def _as_tensor(x: Any, name: str, op: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return Tensor(x)
    raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")


def _batched(x: Tensor, spatial: int, op: str) -> tuple[Tensor, bool]:
    """Add the batch axis to unbatched input; check the rank."""
    if x.ndim == spatial + 2:
        return x, False
    if x.ndim == spatial + 1:
        return x.unsqueeze(0), True
    raise ValueError(f"{op}: expected {spatial + 1}-D (unbatched) or {spatial + 2}-D (batched) input, "
                     f"got shape {tuple(x.shape)}")


def _check_float(x: Tensor, op: str) -> None:
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got dtype {x.dtype}")


# -------------------------------------------------------------------------- convolution
def conv_padding(padding: Any, kernel: tuple[int, ...], dilation: tuple[int, ...], stride: tuple[int, ...],
                 op: str) -> tuple[int, ...]:
    """Padding as (before, after) per spatial axis, from an int, a tuple, ``"valid"`` or ``"same"``.

    ``"same"`` pads d*(k-1) in total, the odd one at the end (as PyTorch does),
    and needs stride 1.
    """
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * (2 * n)
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions, got stride {stride}")
            out: list[int] = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                out += [total // 2, total - total // 2]
            return tuple(out)
        raise ValueError(f"{op}: padding must be 'valid', 'same', an int or a tuple of ints, got {padding!r}")
    pads = to_tuple(padding, n, "padding", op, minimum=0)
    return tuple(p for p in pads for _ in range(2))


def _conv(input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any, padding: Any, dilation: Any,  # noqa: A002
          groups: int, spatial: int, op: str) -> Tensor:
    input = _as_tensor(input, "input", op)
    weight = _as_tensor(weight, "weight", op)
    x, unbatched = _batched(input, spatial, op)
    if weight.ndim != spatial + 2:
        raise ValueError(f"{op}: expected a {spatial + 2}-D weight (out_channels, in_channels/groups, kernel...), "
                         f"got shape {tuple(weight.shape)}")
    if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive integer, got {groups!r}")
    _check_float(x, op)
    if x.dtype != weight.dtype:
        raise TypeError(f"{op}: input dtype {x.dtype} and weight dtype {weight.dtype} differ")
    out_channels, cin_per_group = weight.shape[:2]
    if out_channels % groups:
        raise ValueError(f"{op}: groups={groups} must divide the weight's out_channels {out_channels} "
                         f"(weight shape {tuple(weight.shape)})")
    if x.shape[1] != cin_per_group * groups:
        raise ValueError(f"{op}: groups={groups} and weight of shape {tuple(weight.shape)} expect input with "
                         f"{cin_per_group * groups} channels, got shape {tuple(input.shape)}")
    if bias is not None:
        bias = _as_tensor(bias, "bias", op)
        if tuple(bias.shape) != (out_channels,):
            raise ValueError(f"{op}: expected bias of shape ({out_channels},), got shape {tuple(bias.shape)}")
        if bias.dtype != weight.dtype:
            raise TypeError(f"{op}: bias dtype {bias.dtype} and weight dtype {weight.dtype} differ")
    kernel = tuple(weight.shape[2:])
    stride_t = to_tuple(stride, spatial, "stride", op)
    dilation_t = to_tuple(dilation, spatial, "dilation", op)
    pads = conv_padding(padding, kernel, dilation_t, stride_t, op)
    for axis in range(spatial):
        size = x.shape[2 + axis] + pads[2 * axis] + pads[2 * axis + 1]
        extent = dilation_t[axis] * (kernel[axis] - 1) + 1
        if extent > size:
            padded = tuple(x.shape[2 + a] + pads[2 * a] + pads[2 * a + 1] for a in range(spatial))
            raise ValueError(f"{op}: the kernel {kernel} (dilated extent {extent} on axis {axis}) is larger than the "
                             f"padded input {padded} (input shape {tuple(input.shape)}, padding {padding!r})")
    if spatial == 1:
        stride_t, dilation_t, pads = (1,) + stride_t, (1,) + dilation_t, (0, 0) + pads
    out = Conv.apply(x, weight, bias, stride=stride_t, padding=pads, dilation=dilation_t, groups=groups)
    return out.squeeze(0) if unbatched else out


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,  # noqa: A002 - torch's name
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D convolution (cross-correlation) of (N, C, L) or (C, L) input with a (O, C/groups, K) weight.

    y[n, o, t] = b[o] + sum_{c, k} w[o, c, k] x[n, c, t*stride + k*dilation - pad].
    ``padding`` is an int, ``"valid"`` or ``"same"`` (stride 1 only).
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,  # noqa: A002 - torch's name
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation) of (N, C, H, W) or (C, H, W) input with a (O, C/groups, KH, KW) weight.

    y[n, o, p, q] = b[o] + sum_{c, i, j} w[o, c, i, j] x[n, c, p*sh + i*dh - ph, q*sw + j*dw - pw]
    with zeros outside x.  ``stride``, ``padding``, ``dilation`` are ints or
    pairs; ``padding`` may also be ``"valid"`` (none) or ``"same"`` (output as
    large as the input, stride 1 only).  Implemented as im2col + matrix
    products per group, by kernel rows for large stride-1 layers (see ``thalweg.ops.conv``).
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


# ------------------------------------------------------------------------------ pooling
def _pool_args(x: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool,
               spatial: int, op: str) -> tuple[tuple[int, int], ...]:
    """Check the pooling arguments; return (kernel, stride, padding, dilation) as (h, w) pairs."""
    kernel = to_tuple(kernel_size, spatial, "kernel_size", op)
    stride_t = kernel if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else \
        to_tuple(stride, spatial, "stride", op)
    pad = to_tuple(padding, spatial, "padding", op, minimum=0)
    dil = to_tuple(dilation, spatial, "dilation", op)
    for k, p, d in zip(kernel, pad, dil):
        if 2 * p > d * (k - 1) + 1:
            raise ValueError(f"{op}: padding should be at most half of the (dilated) kernel size, got padding={padding}"
                             f", kernel_size={kernel_size}, dilation={dilation}")
    sizes = tuple(x.shape[-spatial:])
    out = tuple(pool_output_size(n, k, s, p, d, ceil_mode) for n, k, s, p, d in zip(sizes, kernel, stride_t, pad, dil))
    if any(o < 1 for o in out):
        raise ValueError(f"{op}: input of shape {tuple(x.shape)} is too small for kernel_size={kernel_size}, "
                         f"padding={padding}, dilation={dilation} (output size {out})")
    if spatial == 1:
        return (1,) + kernel, (1,) + stride_t, (0,) + pad, (1,) + dil
    return kernel, stride_t, pad, dil


def _max_pool(input: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any,  # noqa: A002
              ceil_mode: bool, return_indices: bool, spatial: int, op: str) -> Any:
    input = _as_tensor(input, "input", op)
    x, unbatched = _batched(input, spatial, op)
    kernel, stride_t, pad, dil = _pool_args(x, kernel_size, stride, padding, dilation, ceil_mode, spatial, op)
    sink: list | None = [] if return_indices else None
    out = MaxPool.apply(x, kernel=kernel, stride=stride_t, padding=pad, dilation=dil, ceil_mode=bool(ceil_mode),
                        indices=sink)
    if unbatched:
        out = out.squeeze(0)
    if not return_indices:
        return out
    idx = sink[0][0] if unbatched else sink[0]
    return out, Tensor._wrap(idx, False)


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max over windows of the last axis of (N, C, L) or (C, L) input; stride defaults to the kernel size.

    Padding is -inf (at most half the window).  With ``return_indices`` also
    returns each maximum's position along L (the first one on ties).
    """
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1, "max_pool1d")


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max over (KH, KW) windows of (N, C, H, W) or (C, H, W) input; stride defaults to the kernel size.

    y[n, c, p, q] = max_{i, j} x[n, c, p*sh + i*dh - ph, q*sw + j*dw - pw], padding
    with -inf.  ``ceil_mode`` keeps a last partial window.  With
    ``return_indices`` also returns the flat index (row * W + col) of each maximum.
    The gradient goes to the first maximum of each window, as in PyTorch.
    """
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2, "max_pool2d")


def _avg_pool(input: Tensor, kernel_size: Any, stride: Any, padding: Any, ceil_mode: bool,  # noqa: A002
              count_include_pad: bool, divisor_override: int | None, spatial: int, op: str) -> Tensor:
    input = _as_tensor(input, "input", op)
    x, unbatched = _batched(input, spatial, op)
    _check_float(x, op)
    if divisor_override is not None and (not isinstance(divisor_override, int) or divisor_override < 1):
        raise ValueError(f"{op}: divisor_override must be a positive integer, got {divisor_override!r}")
    kernel, stride_t, pad, _ = _pool_args(x, kernel_size, stride, padding, 1, ceil_mode, spatial, op)
    out = AvgPool.apply(x, kernel=kernel, stride=stride_t, padding=pad, ceil_mode=bool(ceil_mode),
                        count_include_pad=bool(count_include_pad), divisor_override=divisor_override)
    return out.squeeze(0) if unbatched else out


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """Mean over windows of the last axis of (N, C, L) or (C, L) input (zero padding, see ``avg_pool2d``)."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1, "avg_pool1d")


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
               ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over (KH, KW) windows of (N, C, H, W) or (C, H, W) input; stride defaults to the kernel size.

    The sum over a window is divided by ``divisor_override`` if given, else by
    the window's size clipped to the padded input (``count_include_pad=True``,
    zeros of the padding count) or to the input itself (``False``), as PyTorch.
    """
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 2,
                     "avg_pool2d")


def _adaptive_size(output_size: Any, sizes: Sequence[int], op: str) -> tuple[int, ...]:
    n = len(sizes)
    items = [output_size] if output_size is None or isinstance(output_size, int) else list(output_size)
    if len(items) == 1:
        items = items * n
    if len(items) != n or not all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in items):
        raise TypeError(f"{op}: output_size must be an int, None or a sequence of {n} of them, got {output_size!r}")
    out = tuple(s if v is None else v for v, s in zip(items, sizes))
    if any(v < 1 for v in out):
        raise ValueError(f"{op}: output_size must be positive, got {output_size!r}")
    return out


def _adaptive_avg_pool(input: Tensor, output_size: Any, spatial: int, op: str) -> Tensor:  # noqa: A002
    input = _as_tensor(input, "input", op)
    x, unbatched = _batched(input, spatial, op)
    _check_float(x, op)
    if any(s < 1 for s in x.shape[2:]):
        raise ValueError(f"{op}: input of shape {tuple(input.shape)} has an empty spatial axis")
    size = _adaptive_size(output_size, x.shape[2:], op)
    out = AdaptiveAvgPool.apply(x, output_size=size)
    return out.squeeze(0) if unbatched else out


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:  # noqa: A002
    """Average pooling of (N, C, L) input to length ``output_size``: bin i is [floor(iL/o), ceil((i+1)L/o))."""
    return _adaptive_avg_pool(input, output_size, 1, "adaptive_avg_pool1d")


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:  # noqa: A002
    """Average pooling of (N, C, H, W) input to ``output_size`` (int, pair, None keeps an axis).

    Output bin (i, j) averages rows [floor(iH/OH), ceil((i+1)H/OH)) and columns
    [floor(jW/OW), ceil((j+1)W/OW)) -- PyTorch's bins, which overlap when the
    sizes do not divide.  ``output_size=1`` is global average pooling.
    """
    return _adaptive_avg_pool(input, output_size, 2, "adaptive_avg_pool2d")
