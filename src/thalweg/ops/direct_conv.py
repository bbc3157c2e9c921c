"""Stride-1 convolutions with few channels per group, computed directly (no im2col).

im2col (``ops/conv.py``) copies every input value KH*KW times into columns and
then runs one matrix product.  That pays when the product is deep and wide,
because BLAS then does many multiply-adds per copied value.  With few channels
per group the product is thin and short, and the copy dominates: LeNet's first
layer (1 -> 6 channels, 5x5) has columns 25x the input, 4.3 MB at batch 64,
and a depthwise convolution has one input and one output channel per group.
In a training step the columns have also left the cache by the time BLAS reads
them: LeNet's first layer took 0.4 ms alone and 1.0 ms inside the step.

Here each output plane is one accumulator, computed as a sum of shifted input
planes.  Seen as one flat row of length Hp*Wp, output row ``y`` of a plane is the
run ``acc[y*Wp : y*Wp + OW]``, and kernel tap (i, j) adds the input run that
starts at ``i*dh*Wp + j*dw``:

    acc = b[o] + sum_{c, i, j} w[o, c, i, j] * xpad[n, c].flat[i*dh*Wp + j*dw : ... + len]

(the ``Wp - OW`` values between output rows are computed and dropped).  The
gradients are the same loops read backwards, with ``g`` laid out at the same
row pitch (zeros between the rows):

    dL/dw[o, c, i, j] = sum_n  <g[n, o].flat, xpad[n, c].flat[i*dh*Wp + j*dw : ...]>
    dL/dxpad[n, c].flat[i*dh*Wp + j*dw : ...] += w[o, c, i, j] * g[n, o].flat

Each is a compiled loop (``numba_kernels.direct_conv_forward`` and ``direct_conv_gradient``) over contiguous runs
that the compiler vectorises.  They touch only the input, the output and
their gradients, so nothing large is kept for the backward pass.

When it is used (:func:`applies`): stride 1, (input channels per group) x
(output channels per group) at most ``MAX_CHANNEL_PAIRS``, rows at most twice
the output width (as for conv.py's flat rows), and the compiled kernels on
(contiguous float32).  Measured on one core, forward and backward against the
im2col path (``python benchmarks/run.py --cases lenet_b64`` for the model):

* LeNet-5's first layer inside its training step: forward 0.98-1.17 ->
  0.54-0.64 ms, weight gradient 0.71-0.87 -> 0.54-0.59 ms; the whole step
  0.95-0.97 -> 0.81-0.86 of torch's (two runs of each version).
* Depthwise 3x3, 32-64 channels, batch 32: 0.34-0.43 of the im2col time.
* 1-2 input channels, 8 outputs, 5x5 and 7x7: 0.62-0.75.
* 3 or more input channels with 4-8 outputs (24-64 pairs): im2col was as
  fast (0.96) or faster (1.06-1.8x), hence the limit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.function import Context
from . import conv, kernels, workspace

MAX_CHANNEL_PAIRS = 16  # (C/G) * (O/G) up to this; beyond, BLAS's product over im2col columns wins (see above)


def applies(geo: Any, x: Any, w: Any) -> bool:
    """Whether this convolution (``ops.conv.ConvGeometry``) runs here (see the module docstring)."""
    return (geo.flat and (geo.c // geo.groups) * (geo.o // geo.groups) <= MAX_CHANNEL_PAIRS
            and geo.oh > 0 and geo.ow > 0 and kernels.usable(x, w))


def _flat_input(x: Any, geo: Any) -> tuple[Any, Any]:
    """x inside its zero border, as (N, C, Hp*Wp), and the workspace buffer to give back after use: a view of x
    and None when there is no border, else ``conv.padded``'s copy (the runs end inside Hp*Wp: no tail is read)."""
    if not any(geo.pad):
        return x.reshape(geo.n, geo.c, geo.hp * geo.wp), None
    xpad, _, scratch = conv.padded(x, geo)
    return xpad.reshape(geo.n, geo.c, geo.hp * geo.wp), scratch


def forward(ctx: Context, x: Any, w: Any, b: Any, geo: Any) -> Any:
    """y = conv(x, w) + b, (N, O, OH, OW); marks ``ctx`` for :func:`backward` when a gradient is needed."""
    out = np.empty((geo.n, geo.o, geo.oh, geo.ow), x.dtype)
    bias = np.empty(0, x.dtype) if b is None else np.ascontiguousarray(b, dtype=x.dtype)
    planes, scratch = _flat_input(x, geo)
    kernels.get("direct_conv_forward")(planes, w, bias, geo.wp, geo.dh, geo.dw, out)
    workspace.give(scratch, alive=(out,))
    if getattr(ctx, "needs_input_grad", None) is not None:
        ctx.direct = True
    return out


def backward(ctx: Context, grad: Any, geo: Any) -> tuple[Any, Any]:
    """(dL/dx or None, dL/dw or None) from ``grad`` (N, O, OH, OW) and the saved x and w."""
    need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
    x = ctx.x
    grad = np.ascontiguousarray(grad, dtype=x.dtype)
    gx = gw = None
    if need_w:
        gw = np.zeros(ctx.w_shape, x.dtype)
        planes, scratch = _flat_input(x, geo)
        kernels.get("direct_conv_gradient")(grad, planes, gw, geo.wp, geo.dh, geo.dw, True)
        workspace.give(scratch, alive=(gw,))
    if need_x:
        gxpad = np.zeros((geo.n, geo.c, geo.hp, geo.wp), x.dtype)
        kernels.get("direct_conv_gradient")(grad, gxpad.reshape(geo.n, geo.c, geo.hp * geo.wp),
                                            np.ascontiguousarray(ctx.w), geo.wp, geo.dh, geo.dw, False)
        top, _, left, _ = geo.pad
        gx = gxpad if not any(geo.pad) else gxpad[:, :, top:top + geo.h, left:left + geo.w].copy()
    return gx, gw
