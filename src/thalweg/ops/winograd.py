"""3x3 stride-1 convolutions by Winograd's minimal filtering F(4x4, 3x3), with the exact adjoint as the backward.

Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks" (CVPR
2016).  A 4x4 block of outputs of a 3x3 correlation reads a 6x6 patch ``d`` of
the (padded) input.  Computed directly, it costs 16 * 9 = 144 multiplications
per channel; Winograd's algorithm (a Toom-Cook product at the points 0, 1, -1,
2, -2 and infinity) needs 36:

    Y = A^T [ (G w G^T) * (B^T d B) ] A        (* elementwise, 6x6)

    B^T = [[4,  0, -5,  0, 1, 0],     G = [[ 1/4,     0,    0],    A^T = [[1, 1,  1, 1,  1, 0],
           [0, -4, -4,  1, 1, 0],          [-1/6,  -1/6, -1/6],           [0, 1, -1, 2, -2, 0],
           [0,  4, -4, -1, 1, 0],          [-1/6,   1/6, -1/6],           [0, 1,  1, 4,  4, 0],
           [0, -2, -1,  2, 1, 0],          [1/24,  1/12,  1/6],           [0, 1, -1, 8, -8, 1]]
           [0,  2, -1, -2, 1, 0],          [1/24, -1/12,  1/6],
           [0,  4,  0, -5, 0, 1]]          [   0,     0,    1]]

Summed over input channels, the elementwise product becomes, for each of the
36 positions k of the 6x6 transform domain, one matrix product over channels:

    U[k] = (G w G^T)[k]        (O, C)       the kernel, transformed once per call
    V[k] = (B^T d B)[k]        (T, C)       every input patch; T tiles of 4x4 outputs
    M[k] = V[k] @ U[k]^T       (T, O)       36 products with a quarter of the direct method's arithmetic
    y    = A^T M A             per tile     (a 4x4 block of the output)

The transforms are a few dozen additions and multiplications by small
integers per patch (the fractions are all in G, applied to the kernel), so
they are compiled loops (``numba_kernels.winograd_*``, which also supply the
zero border); the products are BLAS.  Rounding: the transforms' coefficients
(up to 8) cost a few float32 ulps more than the direct method; measured
relative errors of 3-6e-6 of the output's largest value against PyTorch.
F(2x2, 3x3), the smaller variant (4x4 patches, 16 products with 4/9 of the
arithmetic), was this module's first version: its transforms did more work per
output and its products twice the arithmetic, and the ResNet step was about 5%
slower with it.

Backward.  Every step above is linear, so the gradients are the adjoint steps
in reverse order, with ``dM = A dY A^T`` (the adjoint of the output transform):

    dL/dU[k] = dM[k]^T @ V[k]      -> dL/dw = G^T dL/dU G       (the kernel transform's adjoint)
    dL/dV[k] = dM[k] @ U[k]        -> dL/dx = B dL/dV B^T, added back onto each
                                       patch (neighbouring patches overlap by 2)

so the backward pass costs two sets of 36 products, again a quarter of the
direct method's arithmetic.

Blocks.  The transformed arrays are 2.25x the input (V) and the output (M),
and BLAS runs these products at 100+ GFLOP/s when they are in cache but at
40-60 when they are not (measured, 16-64 channels).  So the batch goes in
blocks of samples whose V takes about ``BLOCK_BYTES``: transform, multiply and
transform back while the block is in cache.

What the backward pass gets.  dL/dU needs V.  A layer whose V takes at most
``KEEP_V_MAX_BYTES`` (32 MB) writes each block's V into new memory that it
keeps (never a pooled buffer), and the backward reads it back; a larger layer
keeps only x and transforms each block again.  Reading V back from memory
costs less than the transform's scalar loops: forward and backward of the
ResNet's 16-, 32- and 64-channel layers took 0.85-0.91 of the time with V kept,
and the whole ResNet step 0.91-0.93 (batch 32 and 128, the two versions alternated
in one process).  The price is memory: V is 2.25x the layer's input (the
ResNet step's peak resident memory grew by 28 MB at batch 32 and 110 MB at
batch 128), hence the cap, which keeps layers of ImageNet size (a 64-channel
56x56 layer at batch 32 has a V of 58 MB) at the old cost in time and memory.

When it is used (:func:`applies`): 3x3 kernels, stride 1, no dilation, one
group, at least ``MIN_CHANNELS`` input and output channels, and the compiled
kernels on (float32, contiguous).  Below 16 channels the products are too thin
for BLAS and the transforms (proportional to C + O where the products are to
C * O) weigh more.  Measured numbers: the README's speed section.

Memory layout.  The 36 planes ``V[k]`` are one array (36, T, C) whose planes
are a cache line further apart than T * C values (``SKEW``): with planes
exactly T * C apart (often a multiple of 4 KiB), the 36 streams a transform
writes map to the same cache sets and the transforms ran ten times slower.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.function import Context
from . import kernels, workspace
from .gemm import matmul

MIN_CHANNELS = 16  # input and output channels at least this many (see the module docstring)
BLOCK_BYTES = 2**20  # the transformed input of one block of samples, so a block's work stays in cache
KEEP_V_MAX_BYTES = 32 * 2**20  # a layer keeps its transformed input V for the backward up to this size
SKEW = 16  # values between consecutive planes of a transformed array beyond T * C: one 64-byte cache line

# the kernel transform G (6x3), and G (x) G (36x9): U[6i + j] = sum_pq G[i, p] G[j, q] w[p, q] = (G (x) G) vec(w)
G = np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6],
              [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]])
G_KRON = np.kron(G, G)
_G_KRON32 = G_KRON.astype(np.float32)
_G_KRON32.flags.writeable = False
TILE, PATCH, PLANES = 4, 6, 36  # outputs per tile side, input patch side, transform-domain positions


def applies(geo: Any, x: Any, w: Any) -> bool:
    """Whether this convolution (``ops.conv.ConvGeometry``) runs here: 3x3, stride 1, undilated, one group, at least
    ``MIN_CHANNELS`` channels in and out, contiguous float32 NumPy arrays and the compiled kernels on."""
    return (geo.kh == 3 and geo.kw == 3 and geo.sh == 1 and geo.sw == 1 and geo.dh == 1 and geo.dw == 1
            and geo.groups == 1 and min(geo.c, geo.o) >= MIN_CHANNELS and geo.oh > 0 and geo.ow > 0
            and kernels.usable(x, w))


class Tiling:
    """The 4x4 output tiles of one convolution, TH down and TW across (the last ones partly used where the
    output size is not a multiple of 4), and the blocks of samples whose transformed input takes about
    ``BLOCK_BYTES``."""

    def __init__(self, geo: Any, itemsize: int) -> None:
        self.geo = geo
        self.th, self.tw = -(-geo.oh // TILE), -(-geo.ow // TILE)
        per_sample = PLANES * self.th * self.tw * max(geo.c, geo.o) * itemsize
        size = max(1, BLOCK_BYTES // per_sample)
        self.blocks = [slice(s, min(s + size, geo.n)) for s in range(0, geo.n, size)]

    def planes(self, channels: int, dtype: Any) -> Any:
        """A workspace buffer for (36, T, channels) of the largest block (see :meth:`view`)."""
        return workspace.take(np, (PLANES * self._plane(self.blocks[0], channels),), dtype)

    def _plane(self, block: slice, channels: int) -> int:
        return (block.stop - block.start) * self.th * self.tw * channels + SKEW

    def view(self, buf: Any, block: slice, channels: int) -> Any:
        """``buf`` as (36, T, channels) for the T tiles of ``block``, with planes ``SKEW`` values further apart than
        T * channels (see the module docstring)."""
        count, item = (block.stop - block.start) * self.th * self.tw, buf.itemsize
        strides = (self._plane(block, channels) * item, channels * item, item)
        # np.ndarray over the buffer, not as_strided: a tenth of the cost (0.3 against 2-3 us, some 175 views a
        # ResNet step), and it checks that the view fits in the buffer
        return np.ndarray((PLANES, count, channels), buf.dtype, buf, 0, strides)

    def fresh(self, block: slice, channels: int, dtype: Any) -> Any:
        """A new (never pooled) buffer for one block's (36, T, channels), to keep for the backward pass."""
        return np.empty(PLANES * self._plane(block, channels), dtype)

    def keeps_input(self, itemsize: int) -> bool:
        """Whether the transformed input of all the blocks takes at most ``KEEP_V_MAX_BYTES``."""
        return sum(PLANES * self._plane(s, self.geo.c) for s in self.blocks) * itemsize <= KEEP_V_MAX_BYTES

    def transform_input(self, x: Any, block: slice, vbuf: Any) -> Any:
        """V = B^T d B for every patch d of the block's samples of x (N, C, H, W), in ``vbuf`` as (36, T, C).

        The block is first copied channels last into a zero-padded scratch buffer (N, 4 TH + 2, 4 TW + 2, C) that
        holds every patch, so that the transform runs over contiguous channels without border checks."""
        top, _, left, _ = self.geo.pad
        v = self.view(vbuf, block, self.geo.c)
        padded = workspace.take(np, (block.stop - block.start, 4 * self.th + 2, 4 * self.tw + 2, self.geo.c), x.dtype)
        kernels.get("winograd_pad_channels_last")(x[block], top, left, padded)
        kernels.get("winograd_input_transform")(padded, self.th, self.tw, v)
        workspace.give(padded, alive=(v,))
        return v


def kernel_transform(w: Any) -> Any:
    """U^T = (G w G^T)^T for every (output, input) channel pair: (O, C, 3, 3) -> (36, C, O), one product
    (G (x) G) (36 x 9) times the kernels as columns (9 x C*O), which comes out in the (36, C, O) layout.  (The
    kernels as rows times (G (x) G)^T, then a transposing copy, took 3.4x as long with 64 channels.)"""
    o, c = w.shape[0], w.shape[1]
    columns = w.reshape(o, c, 9).transpose(2, 1, 0).reshape(9, c * o)
    return matmul(_g_kron(w.dtype), columns).reshape(PLANES, c, o)


def kernel_adjoint(du: Any) -> Any:
    """dL/dw = G^T dL/dU G, from dL/dU (36, O, C), as (O, C, 3, 3): one product (G (x) G)^T dL/dU (9 x O*C)."""
    o, c = du.shape[1], du.shape[2]
    dw = matmul(_g_kron(du.dtype).T, du.reshape(PLANES, o * c))  # (9, O*C)
    return np.ascontiguousarray(dw.reshape(3, 3, o, c).transpose(2, 3, 0, 1))


def _g_kron(dtype: Any) -> Any:
    """G (x) G in ``dtype`` (float32 or float64)."""
    return _G_KRON32 if dtype == np.float32 else G_KRON.astype(dtype, copy=False)


def forward(ctx: Context, x: Any, w: Any, b: Any, geo: Any) -> Any:
    """y = conv(x, w) + b, (N, O, OH, OW), one block of samples at a time: V, M = V U^T and y = A^T M A while they
    are in cache.  Saves U^T on ``ctx`` when a gradient is needed, and for dL/dw each block's V in new memory up to
    ``KEEP_V_MAX_BYTES`` (``ctx.winograd_v``; None when the backward must transform x again)."""
    tiling = Tiling(geo, x.itemsize)
    ut = kernel_transform(w)
    out = np.empty((geo.n, geo.o, geo.oh, geo.ow), x.dtype)
    needs = getattr(ctx, "needs_input_grad", None)
    keep = needs is not None and needs[1] and tiling.keeps_input(x.itemsize)  # V for dL/dU
    kept = [tiling.fresh(s, geo.c, x.dtype) for s in tiling.blocks] if keep else None
    vbuf = None if keep else tiling.planes(geo.c, x.dtype)
    mbuf = tiling.planes(geo.o, x.dtype)
    output_transform = kernels.get("winograd_output_transform")
    for i, s in enumerate(tiling.blocks):
        m = tiling.view(mbuf, s, geo.o)
        np.matmul(tiling.transform_input(x, s, kept[i] if keep else vbuf), ut, out=m)
        output_transform(m, tiling.th, tiling.tw, out[s])
    workspace.give(vbuf, mbuf, alive=(out,))  # (None is skipped)
    if b is not None:
        out += b.reshape(-1, 1, 1)
    if needs is not None:
        ctx.winograd, ctx.winograd_v = ut, kept
    return out


def backward(ctx: Context, grad: Any, geo: Any) -> tuple[Any, Any]:
    """(dL/dx or None, dL/dw or None), one block of samples at a time (see the module docstring): dM = A dY A^T,
    dL/dU += dM^T V with V kept by the forward or transformed again from the saved x, dL/dV = dM U and its adjoint
    transform."""
    need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
    x, ut = ctx.x, ctx.winograd
    tiling = Tiling(geo, x.itemsize)
    th, tw = tiling.th, tiling.tw
    top, _, left, _ = geo.pad
    grad = np.ascontiguousarray(grad, dtype=x.dtype)
    gx = np.zeros(x.shape, x.dtype) if need_x else None
    du = np.zeros((PLANES, geo.o, geo.c), x.dtype) if need_w else None
    du_block = np.empty_like(du) if need_w else None
    u = np.ascontiguousarray(ut.swapaxes(-1, -2)) if need_x else None  # (BLAS ran a transposed view 20-35% slower)
    kept = ctx.winograd_v
    dmbuf = tiling.planes(geo.o, x.dtype)
    # vbuf: V transformed again (when not kept), then dL/dV; not taken when neither is needed
    vbuf = tiling.planes(geo.c, x.dtype) if need_x or (need_w and kept is None) else None
    output_adjoint, input_adjoint = kernels.get("winograd_output_adjoint"), kernels.get("winograd_input_adjoint")
    for i, s in enumerate(tiling.blocks):
        dm = tiling.view(dmbuf, s, geo.o)
        output_adjoint(grad[s], th, tw, dm)
        if need_w:
            v = tiling.view(kept[i], s, geo.c) if kept is not None else tiling.transform_input(x, s, vbuf)
            du += np.matmul(dm.swapaxes(-1, -2), v, out=du_block)
        if need_x:
            dv = tiling.view(vbuf, s, geo.c)
            np.matmul(dm, u, out=dv)
            input_adjoint(dv, top, left, th, tw, gx[s])
    workspace.give(dmbuf, vbuf, alive=(gx, du))
    return gx, (kernel_adjoint(du) if need_w else None)
