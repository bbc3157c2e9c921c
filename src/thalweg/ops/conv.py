"""Convolution as matrix products over strided windows (im2col), with exact backward passes.

A convolution layer (a cross-correlation, as in every deep-learning library)
with input ``x`` of shape (N, C, H, W), weight ``w`` of shape (O, C/G, KH, KW)
and ``G`` groups computes, for an output channel ``o`` in group ``g``,

    y[n, o, p, q] = b[o] + sum_{c in group g, i, j} w[o, c, i, j] * xpad[n, c, p*sh + i*dh, q*sw + j*dw]

where ``xpad`` is ``x`` with zeros around it, ``(sh, sw)`` the stride and
``(dh, dw)`` the dilation.  Gather every window into a column ("im2col"):

    cols[n, (c, i, j), (p, q)] = xpad[n, c, p*sh + i*dh, q*sw + j*dw]

and the layer is one (batched) matrix product per group, ``y[n] = W @ cols[n]``
with ``W = w.reshape(O, C/G * KH * KW)``.  The windows are read through a
strided *view* of ``xpad`` (``as_strided``), so gathering them is one copy.
Backpropagating through ``y = W @ cols + b``:

    dL/db      = sum over n, p, q of g                      (g = dL/dy)
    dL/dW      = sum_n g[n] @ cols[n]^T                     (cols kept from the forward or gathered again)
    dL/dcols   = W^T @ g[n]
    dL/dxpad   = col2im(dL/dcols)

``col2im`` is the adjoint of the gather: every window element sends its
gradient back to the pixel it was read from, and because windows overlap the
contributions are *added*.  It loops over the KH*KW kernel offsets (never over
the batch or the pixels): for offset (i, j) the columns form one strided slab of
``xpad`` and one vectorised ``+=`` adds them all (or one compiled pass, with
numba: ``ops/kernels.py``).

3x3 stride-1 layers with 16 or more channels do not come here: they run by
Winograd's algorithm (``ops/winograd.py``), which needs a quarter of the arithmetic.
Nor do stride-1 layers with few channels per group (LeNet's first layer,
depthwise convolutions): their columns would cost more to copy than the
product saves, and compiled direct loops compute them (``ops/direct_conv.py``).

Three speed-ups for stride 1, the common case (``ConvGeometry.flat``):

- Flat rows.  Seen as a flat array of rows of length Wp (the padded width), the
  window element (i, j) of output pixel (p, q) sits at ``(p + i*dh) * Wp + q +
  j*dw``: the run ``p*Wp + q`` shifted by ``i*dh*Wp + j*dw``.  Computing each
  output row Wp wide instead of OW wide (the extra ``Wp - OW`` values are thrown
  away) makes a window's columns *one contiguous run* of the input, so the
  gather copies long runs, several times faster in NumPy than the 2-D strided
  form.  The extra outputs cost ``Wp/OW - 1`` more arithmetic, so this is used
  only when that ratio is at most 2.  Their gradient is set to zero, so they
  add nothing to dL/dW.
- Kernel-row products (``ConvGeometry.rows``, :func:`gather_rows`).  In flat
  rows the columns of kernel row i are the columns of kernel row 0 shifted by
  i*dh*Wp, so gather only the KW shifted copies of each padded plane (KW times
  the input instead of KH*KW) and compute W @ cols as KH products of depth
  C/G*KW on shifted slabs, added up.  dL/dW is KH products on the same slabs.
  OpenBLAS runs these shallower products faster than the one deep product, and
  the gather writes a third of the memory: on ResNet layers (16-64 channels,
  3x3, batch 32) forward and weight gradient take 35-60% less time.  Used when
  the kernel rows are at least ``ROWS_MIN_DEPTH`` deep and full columns would
  not fit in cache (``ROWS_MIN_COLUMNS``); small layers keep full columns.
- dL/dx for stride 1.  It is a convolution of g by the flipped kernel with in-
  and out-channels swapped (:func:`input_grad_as_conv`), so it reuses the
  kernel-row products where that convolution's border is no wider than the
  forward's ("same" padding).  Otherwise dL/dcols = W^T g and col2im, whose
  flat-row form adds each kernel offset's columns as one contiguous run (one
  compiled pass: LeNet-5's second layer, forward and backward, 1.88 -> 1.50 ms;
  16 -> 32 channels 5x5 at 28x28, 19.6 -> 14.6 ms).  Without the compiled
  kernels, or when g's columns are not needed for dL/dW, by kernel rows of g
  (:func:`input_grad_by_rows`): for one kernel row the adjoint is a correlation
  along the width only, so KH matrix products on a row-wise gather of g replace
  the KH*KW-fold dL/dcols and its KH*KW NumPy additions (measured 25-30% faster
  than those).  Strided convolutions use col2im.

With several BLAS threads (``tw.set_num_threads``), a large convolution runs
as parts of its batch, one thread each, with BLAS single-threaded meanwhile
(``ops/parallel.py``): its many small products gain nothing from a threaded
BLAS, while the parts run side by side (the ResNet benchmark at 2 threads:
0.90 of its 1-thread time, from 1.02-1.06 slower before).

Columns that would not stay in cache (kernel rows always, full columns from
``BLOCKS_FROM_BYTES``) are gathered and multiplied one block of about
``COLUMNS_BLOCK_BYTES`` at a time, and gathered again for dL/dW instead of
being kept (:func:`gather_and_multiply`).

Large work arrays (im2col's columns are KH*KW times the input: about 12 MB per
LeNet-5 step at batch 64) come from the shared scratch pool of
``ops/workspace.py`` instead of fresh memory each call; see its docstring for
why that matters (measured here: ~2,500 page faults a step without it).

1-D convolutions are the same computation with H = 1.  Reference for the
lowering to matrix products: K. Chellapilla, S. Puri, P. Simard, "High
Performance Convolutional Neural Networks for Document Processing" (2006).
"""

from __future__ import annotations

import copy
from typing import Any


from ..autograd.function import Context, Function
from ..backend import get_array_module
from . import direct_conv, kernels, parallel, winograd, workspace
from .gemm import matmul


FLAT_MAX_WIDTH = 2.0  # flat rows when the padded width is at most this many times the output width
# When the kernel-row products of gather_rows beat full columns (measured on 3x3 and 5x5 layers, batch 32-64):
ROWS_MIN_DEPTH = 16  # at least this many rows (C/G * KW) per kernel row: thinner products run far below peak
ROWS_MIN_COLUMNS = 1_400_000  # and full columns this large (about 5.6 MB in float32), which fall out of cache
COLUMNS_BLOCK_BYTES = 2 * 2**20  # gathered columns per block of samples, so its products read them from cache
BLOCKS_FROM_BYTES = 8 * 2**20  # full (im2col) columns and dL/dx's gradient rows go in blocks from this size


class ConvGeometry:
    """Sizes of one convolution: input, kernel, padding, output and the column layout.

    ``pad`` is (top, bottom, left, right); padded sizes are ``hp, wp``;
    ``width`` is the row pitch of the columns (``wp`` in flat-row mode, ``ow``
    in compact mode), ``length = oh * width`` the columns per sample and
    ``depth = C/G * KH * KW`` the rows per group.  ``rows`` selects the
    kernel-row products of :func:`gather_rows` (flat mode, KH > 1, at least
    ``ROWS_MIN_DEPTH`` rows per kernel row and full columns of at least
    ``ROWS_MIN_COLUMNS`` values) over full columns.
    """

    __slots__ = ("n", "c", "h", "w", "o", "groups", "kh", "kw", "sh", "sw", "dh", "dw", "pad", "hp", "wp",
                 "oh", "ow", "flat", "rows", "width", "length", "depth", "tail")

    def __init__(self, x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: tuple[int, int],
                 pad: tuple[int, int, int, int], dilation: tuple[int, int], groups: int) -> None:
        self.n, self.c, self.h, self.w = x_shape
        self.o, cg, self.kh, self.kw = w_shape
        self.groups = groups
        self.sh, self.sw = stride
        self.dh, self.dw = dilation
        self.pad = pad
        top, bottom, left, right = pad
        self.hp = self.h + top + bottom
        self.wp = self.w + left + right
        self.oh = (self.hp - self.dh * (self.kh - 1) - 1) // self.sh + 1
        self.ow = (self.wp - self.dw * (self.kw - 1) - 1) // self.sw + 1
        self.flat = self.sh == 1 and self.sw == 1 and self.wp <= FLAT_MAX_WIDTH * self.ow
        self.width = self.wp if self.flat else self.ow
        self.length = self.oh * self.width
        self.depth = cg * self.kh * self.kw
        self.rows = (self.flat and self.kh > 1 and cg * self.kw >= ROWS_MIN_DEPTH
                     and self.n * groups * self.depth * self.length >= ROWS_MIN_COLUMNS)
        # in flat mode the thrown-away outputs of the last row read (kw-1)*dw values past the input
        self.tail = self.dw * (self.kw - 1) if self.flat else 0

    def for_batch(self, n: int) -> "ConvGeometry":
        """The same geometry for ``n`` samples (the layout mode, ``rows`` included, stays as it is)."""
        part = copy.copy(self)
        part.n = n
        return part


def padded(x: Any, geo: ConvGeometry) -> tuple[Any, Any, Any]:
    """``x`` inside its zero border, (N, C, Hp, Wp), plus a zero tail of ``geo.tail`` values in flat mode.

    Returns (xpad, src, scratch): ``src`` is the flat array the windows are read
    from and ``scratch`` the workspace buffer to give back (None when ``x``
    itself serves).
    """
    xp = get_array_module(x)
    if not (geo.flat or any(geo.pad)):
        return x, x, None
    top, _, left, _ = geo.pad
    size = geo.n * geo.c * geo.hp * geo.wp
    scratch = workspace.take(xp, (size + geo.tail,), x.dtype)
    if any(geo.pad):
        scratch.fill(0)
    else:
        scratch[size:] = 0
    xpad = scratch[:size].reshape(geo.n, geo.c, geo.hp, geo.wp)
    xpad[:, :, top:top + geo.h, left:left + geo.w] = x
    return xpad, scratch, scratch


def gather(x: Any, geo: ConvGeometry) -> tuple[Any, Any]:
    """What the weight gradient reads: :func:`gather_rows` in rows mode, else :func:`im2col`."""
    return gather_rows(x, geo) if geo.rows else im2col(x, geo)


def gather_rows(x: Any, geo: ConvGeometry) -> tuple[Any, Any]:
    """KW shifted copies of every padded plane, (N, G, C/G * KW, Hp * Wp); returns (rows, buffer).

    rows[n, (c, j), s] = xpad_flat[n, c, s + j*dw].  Kernel row i of the flat
    columns is then the slab rows[..., i*dh*Wp : i*dh*Wp + length]: the window
    element (i, j) of output (p, q) is xpad_flat[(p + i*dh)*Wp + q + j*dw].
    KW times the input instead of im2col's KH*KW.
    """
    xp = get_array_module(x)
    xpad, src, scratch = padded(x, geo)
    s_n, s_c, _, s_w = xpad.strides
    plane = geo.hp * geo.wp
    view = xp.lib.stride_tricks.as_strided(src, (geo.n, geo.c, geo.kw, plane), (s_n, s_c, geo.dw * s_w, s_w),
                                           writeable=False)
    buf = workspace.take(xp, (geo.n * geo.c * geo.kw * plane,), x.dtype)
    buf.reshape(view.shape)[...] = view
    if scratch is not None:
        workspace.give(scratch, alive=(buf,))
    return buf.reshape(geo.n, geo.groups, geo.depth // geo.kh, plane), buf


def kernel_row(rows: Any, geo: ConvGeometry, i: int) -> Any:
    """Kernel row i's columns (N, G, C/G * KW, length): a slab of :func:`gather_rows`' result (a view)."""
    start = i * geo.dh * geo.wp
    return rows[..., start:start + geo.length]


def weight_by_rows(w: Any, geo: ConvGeometry) -> Any:
    """w (O, C/G, KH, KW) as (KH, G, O/G, C/G * KW), matching :func:`gather_rows`' row order."""
    xp = get_array_module(w)
    og, cg = geo.o // geo.groups, geo.c // geo.groups
    wr = xp.ascontiguousarray(w.reshape(geo.groups, og, cg, geo.kh, geo.kw).transpose(3, 0, 1, 2, 4))
    return wr.reshape(geo.kh, geo.groups, og, cg * geo.kw)


def product_by_rows(w: Any, rows: Any, geo: ConvGeometry, out: Any) -> None:
    """out (N, G, O/G, length) = sum_i W_i @ kernel_row(i): KH products of depth C/G * KW, accumulated."""
    xp = get_array_module(w)
    wr = weight_by_rows(w, geo)
    matmul(wr[0], kernel_row(rows, geo, 0), out=out)
    if geo.kh > 1:
        part = workspace.take(xp, out.shape, out.dtype)
        for i in range(1, geo.kh):
            matmul(wr[i], kernel_row(rows, geo, i), out=part)
            out += part
        workspace.give(part, alive=(out,))


def im2col(x: Any, geo: ConvGeometry) -> tuple[Any, Any]:
    """The windows of ``x`` as columns (N, G, depth, length), in a workspace array; returns (cols, buffer)."""
    xp = get_array_module(x)
    as_strided = xp.lib.stride_tricks.as_strided
    xpad, src, scratch = padded(x, geo)
    s_n, s_c, s_h, s_w = xpad.strides
    if geo.flat:
        view = as_strided(src, (geo.n, geo.c, geo.kh, geo.kw, geo.length),
                          (s_n, s_c, geo.dh * s_h, geo.dw * s_w, s_w), writeable=False)
    else:
        view = as_strided(src, (geo.n, geo.c, geo.kh, geo.kw, geo.oh, geo.ow),
                          (s_n, s_c, geo.dh * s_h, geo.dw * s_w, geo.sh * s_h, geo.sw * s_w), writeable=False)
    buf = workspace.take(xp, (geo.n * geo.c * geo.kh * geo.kw * geo.length,), x.dtype)
    buf.reshape(view.shape)[...] = view
    if scratch is not None:
        workspace.give(scratch, alive=(buf,))
    return buf.reshape(geo.n, geo.groups, geo.depth, geo.length), buf


def col2im(dcols: Any, geo: ConvGeometry) -> Any:
    """The adjoint of :func:`im2col`: add every column entry back to its pixel.

    Returns (N, C, H, W).  One strided ``+=`` per kernel offset (i, j), or one compiled pass.
    """
    xp = get_array_module(dcols)
    top, _, left, _ = geo.pad
    if geo.flat:  # kernel offset (i, j)'s columns are one run of the flat padded image, from i*dh*Wp + j*dw
        d = dcols.reshape(geo.n, geo.c, geo.kh, geo.kw, geo.length)
        flat = xp.zeros((geo.n, geo.c, geo.hp * geo.wp + geo.tail), dtype=dcols.dtype)
        if kernels.usable(d):
            kernels.get("col2im_flat")(d, geo.wp, geo.dh, geo.dw, flat)
        else:
            for i in range(geo.kh):
                for j in range(geo.kw):
                    start = i * geo.dh * geo.wp + j * geo.dw
                    flat[:, :, start:start + geo.length] += d[:, :, i, j]
        xpad = flat[:, :, :geo.hp * geo.wp].reshape(geo.n, geo.c, geo.hp, geo.wp)
        return xpad[:, :, top:top + geo.h, left:left + geo.w]
    d = dcols.reshape(geo.n, geo.c, geo.kh, geo.kw, geo.oh, geo.ow)
    xpad = xp.zeros((geo.n, geo.c, geo.hp, geo.wp), dtype=dcols.dtype)
    if kernels.usable(d):  # one compiled pass (NumPy's strided += ran at a tenth of memory speed)
        kernels.get("col2im")(d, geo.sh, geo.sw, geo.dh, geo.dw, xpad)
        return xpad[:, :, top:top + geo.h, left:left + geo.w]
    rows, cols = geo.sh * (geo.oh - 1) + 1, geo.sw * (geo.ow - 1) + 1
    for i in range(geo.kh):
        for j in range(geo.kw):
            r, c = i * geo.dh, j * geo.dw
            target = xpad[:, :, r:r + rows:geo.sh, c:c + cols:geo.sw]
            target += d[:, :, i, j]
    return xpad[:, :, top:top + geo.h, left:left + geo.w]


def input_grad_by_rows(g: Any, w: Any, geo: ConvGeometry) -> Any:
    """dL/dx for stride 1 (flat mode) by :func:`input_grad_by_rows_block`, one cache-sized block of samples at a
    time (its gathered gradient rows are KW times the gradient: 33 MB for one step of PyTorch's MNIST example,
    whose dL/dx went from 34 to 23 ms in blocks)."""
    xp = get_array_module(g)
    pitch = geo.wp + geo.dw * (geo.kw - 1)
    blocks = _blocks(geo.n, geo.o * geo.kw * geo.oh * pitch * g.dtype.itemsize, BLOCKS_FROM_BYTES)
    if blocks is None:  # (in blocks, LeNet's 2.6 MB were 2.5% slower)
        return input_grad_by_rows_block(g, w, geo)
    gx = xp.empty((geo.n, geo.c, geo.h, geo.w), dtype=g.dtype)
    for s in blocks:
        gx[s] = input_grad_by_rows_block(g[s], w, geo.for_batch(s.stop - s.start))
    return gx


def input_grad_by_rows_block(g: Any, w: Any, geo: ConvGeometry) -> Any:
    """dL/dx for stride 1 (flat mode), one kernel *row* at a time; returns (N, C, H, W).

    dxpad[n, c, r, s] = sum_{o, i, j} w[o, c, i, j] g[n, o, r - i*dh, s - j*dw].  For
    one kernel row i this is a correlation along the width only, so gather the KW
    shifted copies of every gradient row once (a row-wise im2col of g, KW times
    the size of g instead of KH*KW times for full columns), and each kernel row
    is one matrix product with w[:, :, i, :] whose result is added to dxpad
    shifted down by i*dh rows.  Measured 25-30% faster than full columns plus
    col2im (KH additions of long runs instead of KH*KW of short ones).

    Layout: rows of pitch P = Wp + E, E = (KW-1)*dw, with g at columns [E, E+OW)
    and zeros around it, so the shifted copies read zeros where g has no value.
    Columns past Wp of the result are thrown away.
    """
    xp = get_array_module(g)
    n, c, o, groups = geo.n, geo.c, geo.o, geo.groups
    og, cg = o // groups, c // groups
    e = geo.dw * (geo.kw - 1)
    pitch = geo.wp + e
    run = geo.oh * pitch  # one output plane in rows of the new pitch
    gsize = n * o * run
    gpad = workspace.take(xp, (gsize + e,), g.dtype)
    gpad.fill(0)
    gpad[:gsize].reshape(n, o, geo.oh, pitch)[..., e:e + geo.ow] = g
    s = gpad.strides[0]
    shifted = xp.lib.stride_tricks.as_strided(gpad, (n, o, geo.kw, run), (o * run * s, run * s, geo.dw * s, s),
                                              writeable=False)
    rows = workspace.take(xp, (n, o, geo.kw, run), g.dtype)
    rows[...] = shifted  # rows[n, o, j', (r, s)] = g[n, o, r, s - (KW-1-j')*dw]
    rows_g = rows.reshape(n, groups, og * geo.kw, run)
    # w_rows[i, group, c, (o, j')] = w[o, c, i, KW-1-j']
    w_rows = xp.ascontiguousarray(w.reshape(groups, og, cg, geo.kh, geo.kw)[..., ::-1].transpose(3, 0, 2, 1, 4))
    w_rows = w_rows.reshape(geo.kh, groups, cg, og * geo.kw)
    plane = geo.hp * pitch
    size = n * c * plane
    mem = xp.zeros(size + geo.dh * (geo.kh - 1) * pitch, dtype=g.dtype)
    part = workspace.take(xp, (n, groups, cg, run), g.dtype)
    for i in range(geo.kh):
        matmul(w_rows[i], rows_g, out=part)
        off = i * geo.dh * pitch
        target = mem[off:off + size].reshape(n, c, plane)[:, :, :run]
        target += part.reshape(n, c, run)
    workspace.give(gpad, rows, part, alive=(mem,))
    top, _, left, _ = geo.pad
    return mem[:size].reshape(n, c, geo.hp, pitch)[:, :, top:top + geo.h, left:left + geo.w]


def input_grad_as_conv(g: Any, w: Any, geo: ConvGeometry) -> Any:
    """dL/dx for stride 1 as a convolution of g, when that runs in rows mode; else None.

    With stride 1, dxpad[n, c, r, s] = sum_{o, i, j} w[o, c, i, j] g[n, o, r - i*dh, s - j*dw]
    is the correlation of g, padded by dh*(KH-1) - top (and so on for each
    side), with the kernel flipped in both directions and its in- and
    out-channels swapped within each group:
    w'[g*C/G + c, o, i, j] = w[g*O/G + o, c, KH-1-i, KW-1-j].  The result is
    (N, C, H, W) directly.  That convolution is computed by the forward's
    kernel-row products (measured 25-45% faster than :func:`input_grad_by_rows`
    on ResNet-sized layers).  Padding wider than the kernel's reach would need a
    negative pad: None then, as when the transposed geometry is not in rows mode.
    """
    top, bottom, left, right = geo.pad
    reach_h, reach_w = geo.dh * (geo.kh - 1), geo.dw * (geo.kw - 1)
    pad = (reach_h - top, reach_h - bottom, reach_w - left, reach_w - right)
    if min(pad) < 0 or max(pad) > max(geo.pad):  # wider than the forward's border: the row method wastes less
        return None
    og, cg = geo.o // geo.groups, geo.c // geo.groups
    w_t = w.reshape(geo.groups, og, cg, geo.kh, geo.kw)[..., ::-1, ::-1].swapaxes(1, 2)
    w_t = w_t.reshape(geo.c, og, geo.kh, geo.kw)
    geo_t = ConvGeometry(g.shape, w_t.shape, (1, 1), pad, (geo.dh, geo.dw), geo.groups)
    if not geo_t.rows:
        return None
    return Conv.forward(Context(), g, w_t, None, padding=pad, dilation=(geo.dh, geo.dw), groups=geo.groups)


def grad_columns(g: Any, geo: ConvGeometry) -> tuple[Any, Any]:
    """(N, O, OH, OW) output gradient as (N, G, O/G, length) columns, zero at the thrown-away outputs.

    Returns (columns, workspace buffer or None).
    """
    xp = get_array_module(g)
    og = geo.o // geo.groups
    if geo.flat and geo.width != geo.ow:
        buf = workspace.take(xp, (geo.n, geo.o, geo.oh, geo.width), g.dtype)
        buf[..., :geo.ow] = g
        buf[..., geo.ow:] = 0
        return buf.reshape(geo.n, geo.groups, og, geo.length), buf
    return xp.ascontiguousarray(g).reshape(geo.n, geo.groups, og, geo.length), None


def sample_blocks(geo: ConvGeometry, itemsize: int) -> list[slice] | None:
    """Blocks of samples whose gathered columns (rows in rows mode) take about ``COLUMNS_BLOCK_BYTES``;
    None when the whole batch's do.  Full columns are gathered twice in blocks (again for dL/dW), so they go in
    blocks only from ``BLOCKS_FROM_BYTES``; kernel rows always."""
    per_sample = geo.c * geo.kw * itemsize * (geo.hp * geo.wp if geo.rows else geo.kh * geo.length)
    return _blocks(geo.n, per_sample, 0 if geo.rows else BLOCKS_FROM_BYTES)


def _blocks(n: int, per_sample: int, from_bytes: int) -> list[slice] | None:
    """Slices of ``range(n)`` of about ``COLUMNS_BLOCK_BYTES`` each, at ``per_sample`` bytes a sample; None when
    all ``n`` fit in one block or take less than ``from_bytes``."""
    size = max(1, COLUMNS_BLOCK_BYTES // per_sample)
    if size >= n or per_sample * n < from_bytes:
        return None
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def gather_and_multiply(x: Any, w: Any, geo: ConvGeometry, out: Any) -> tuple[Any, Any]:
    """out (N, G, O/G, length) = W @ columns of x; returns (columns, their buffer) to keep for dL/dW.

    When the whole batch's columns would not stay in cache, one block of
    samples at a time: gather its columns into a small buffer and multiply
    while they are in cache (otherwise the columns, up to KH*KW times the
    input, go to memory and are read back, KH times in rows mode: the
    ResNet's 16-channel layer at batch 128 went from 21 to 10.5 ms).  Nothing
    is kept then, (None, None): dL/dW gathers again, block by block
    (:func:`weight_grad_by_blocks`).
    """
    blocks = sample_blocks(geo, x.dtype.itemsize)
    if blocks is None:
        cols, buf = gather(x, geo)
        columns_product(w, cols, geo, out)
        return cols, buf
    for s in blocks:
        part = geo.for_batch(s.stop - s.start)
        cols, buf = gather(x[s], part)
        columns_product(w, cols, part, out[s])
        workspace.give(buf, alive=(out,))
    return None, None


def weight_grad_by_blocks(x: Any, gcols: Any, geo: ConvGeometry) -> Any:
    """dL/dW as :func:`weight_grad`, gathering the columns of one block of samples at a time (see
    :func:`gather_and_multiply`); the blocks' sums are added in order."""
    total = None
    for s in sample_blocks(geo, x.dtype.itemsize):
        part = geo.for_batch(s.stop - s.start)
        cols, buf = gather(x[s], part)
        gw = weight_grad(cols, gcols[s], part)
        workspace.give(buf, alive=(gw, total))
        if total is None:
            total = gw
        else:
            total += gw
    return total


def input_grad_by_columns(w: Any, gcols: Any, geo: ConvGeometry) -> Any:
    """dL/dx = col2im(W^T @ g columns), (N, C, H, W), one cache-sized block of samples at a time."""
    xp = get_array_module(gcols)
    blocks = sample_blocks(geo, gcols.dtype.itemsize) or [slice(0, geo.n)]
    w_t = w.reshape(geo.groups, geo.o // geo.groups, geo.depth).swapaxes(-1, -2)
    gx = xp.empty((geo.n, geo.c, geo.h, geo.w), dtype=gcols.dtype)
    for s in blocks:
        part = geo.for_batch(s.stop - s.start)
        dcols = workspace.take(xp, (part.n, geo.groups, geo.depth, geo.length), gcols.dtype)
        matmul(w_t, gcols[s], out=dcols)
        gx[s] = col2im(dcols, part)
        workspace.give(dcols, alive=(gx,))
    return gx


def columns_product(w: Any, cols: Any, geo: ConvGeometry, out: Any) -> None:
    """out (N, G, O/G, length) = W @ columns, from :func:`gather`'s result in either mode."""
    if geo.rows:
        product_by_rows(w, cols, geo, out)
    else:
        matmul(w.reshape(geo.groups, geo.o // geo.groups, geo.depth), cols, out=out)


class Conv(Function):
    """y = conv(x, w) + b for 1-D (N, C, L) or 2-D (N, C, H, W) input, grouped, strided, dilated.

    ``padding`` is (top, bottom, left, right) zeros (1-D: top = bottom = 0),
    ``stride`` and ``dilation`` are (h, w) pairs.  See the module docstring for
    the forward product and the three gradients.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, w: Any, b: Any = None, *, stride: tuple[int, int] = (1, 1),
                padding: tuple[int, int, int, int] = (0, 0, 0, 0), dilation: tuple[int, int] = (1, 1),
                groups: int = 1) -> Any:
        xp = get_array_module(x, w)
        one_d = x.ndim == 3
        x_in, w_in = x, w
        if one_d:
            x, w = x[:, :, None, :], w[:, :, None, :]
        geo = ConvGeometry(x.shape, w.shape, stride, padding, dilation, groups)
        parts = parallel.part_count(geo.n, geo.o * geo.oh * geo.ow * geo.depth) if xp.__name__ == "numpy" else 1
        if parts > 1:  # the batch in parts on BLAS's threads (ops/parallel.py)
            opts = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
            return _forward_in_parts(ctx, x_in, w_in, b, opts, parts, geo, x, w)
        special = winograd if winograd.applies(geo, x, w) else direct_conv if direct_conv.applies(geo, x, w) else None
        if special is not None:  # 3x3 with 16+ channels: Winograd; few outputs per group: direct loops
            out = special.forward(ctx, x, w, b, geo)
            if getattr(ctx, "needs_input_grad", None) is not None:
                ctx.geo, ctx.one_d, ctx.w_shape, ctx.x = geo, one_d, w.shape, x
                ctx.w = w if ctx.needs_input_grad[0] else None
            return out[:, :, 0, :] if one_d else out
        product_shape = (geo.n, groups, geo.o // groups, geo.length)
        if geo.flat and geo.width == geo.ow:  # no thrown-away outputs: the product is the output itself
            out = xp.empty(product_shape, dtype=x.dtype)  # the caller's, never pooled
            cols, buf = gather_and_multiply(x, w, geo, out)
            out = out.reshape(geo.n, geo.o, geo.oh, geo.ow)
            if b is not None:
                out += b.reshape(-1, 1, 1)
        elif geo.flat:  # drop the thrown-away outputs while adding the bias (or copying out of the scratch)
            y = workspace.take(xp, product_shape, x.dtype)
            cols, buf = gather_and_multiply(x, w, geo, y)
            img = y.reshape(geo.n, geo.o, geo.oh, geo.width)[..., :geo.ow]
            out = xp.add(img, b.reshape(-1, 1, 1)) if b is not None else img.copy()
            workspace.give(y, alive=(out,))
        else:
            out = xp.empty(product_shape, dtype=x.dtype)
            cols, buf = gather_and_multiply(x, w, geo, out)
            out = out.reshape(geo.n, geo.o, geo.oh, geo.ow)
            if b is not None:
                out += b.reshape(-1, 1, 1)
        needs = getattr(ctx, "needs_input_grad", None)
        if needs is not None and needs[1]:
            # kept for dL/dW (None: gathered again block by block); the loan returns it when the node is freed
            ctx.cols, ctx.loan = cols, workspace.Lease(buf, alive=(out,))
        else:
            workspace.give(buf, alive=(out,))
        if needs is not None:
            ctx.geo, ctx.one_d, ctx.w_shape = geo, one_d, w.shape
            ctx.w = w if needs[0] else None
            ctx.x = x  # a reference, for the recorded (create_graph) backward of dL/dW
        return out[:, :, 0, :] if one_d else out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any, Any]:
        if hasattr(ctx, "parts"):
            return _backward_in_parts(ctx, grad)
        geo: ConvGeometry = ctx.geo
        need_x, need_w, need_b = ctx.needs_input_grad
        if ctx.one_d:
            grad = grad[:, :, None, :]
        special = winograd if hasattr(ctx, "winograd") else direct_conv if hasattr(ctx, "direct") else None
        if special is not None:
            gx, gw = special.backward(ctx, grad, geo)
            if ctx.one_d:
                gx = None if gx is None else gx[:, :, 0, :]
                gw = None if gw is None else gw[:, :, 0, :]
            return gx, gw, (grad.sum(axis=(0, 2, 3)) if need_b else None)
        gx = gw = gb = None
        if need_b:
            gb = grad.sum(axis=(0, 2, 3))
        gcols = gbuf = None
        if need_w or (need_x and not geo.flat):
            gcols, gbuf = grad_columns(grad, geo)  # (N, G, O/G, length)
        if need_w:
            gw = weight_grad(ctx.cols, gcols, geo) if ctx.cols is not None else weight_grad_by_blocks(ctx.x, gcols, geo)
            if ctx.one_d:
                gw = gw[:, :, 0, :]
        if need_x:
            gx = input_grad_as_conv(grad, ctx.w, geo) if geo.flat else None
            if gx is None and geo.flat and (gcols is None or not kernels.usable(gcols)):
                gx = input_grad_by_rows(grad, ctx.w, geo)
            elif gx is None:
                gx = input_grad_by_columns(ctx.w, gcols, geo)
            if ctx.one_d:
                gx = gx[:, :, 0, :]
        if gbuf is not None:
            workspace.give(gbuf, alive=(gx, gw, gb))
        return gx, gw, gb


def _forward_in_parts(ctx: Context, x: Any, w: Any, b: Any, opts: dict[str, Any], parts: int,
                      geo: ConvGeometry, x4: Any, w4: Any) -> Any:
    """Conv.forward on ``parts`` slices of the batch at once, one thread each; the parts' contexts are kept
    on ``ctx`` for the backward, and ``ctx`` gets what a whole-batch forward saves (for the recorded backward)."""
    xp = get_array_module(x)
    needs = getattr(ctx, "needs_input_grad", None)
    slices = parallel.batch_slices(geo.n, parts)
    subs = [Context() for _ in slices]
    for sub in subs:
        if needs is not None:
            sub.needs_input_grad = needs
    outs = parallel.run_parts(lambda i: Conv.forward(subs[i], x[slices[i]], w, b, **opts), parts)
    out = xp.concatenate(outs)
    if needs is not None:
        ctx.parts, ctx.slices = subs, slices
        ctx.geo, ctx.one_d, ctx.w_shape = geo, x.ndim == 3, w4.shape
        ctx.w = w4 if needs[0] else None
        ctx.x = x4
    return out


def _backward_in_parts(ctx: Context, grad: Any) -> tuple[Any, Any, Any]:
    """Conv.backward of each part of :func:`_forward_in_parts` at once; dL/dx joined, dL/dW and dL/db summed."""
    xp = get_array_module(grad)
    subs, slices = ctx.parts, ctx.slices
    results = parallel.run_parts(lambda i: Conv.backward(subs[i], grad[slices[i]]), len(subs))
    gx = xp.concatenate([r[0] for r in results]) if results[0][0] is not None else None
    gw = gb = None
    if results[0][1] is not None:
        gw = results[0][1]
        for r in results[1:]:
            gw += r[1]
    if results[0][2] is not None:
        gb = results[0][2]
        for r in results[1:]:
            gb += r[2]
    return gx, gw, gb


def weight_grad(cols: Any, gcols: Any, geo: ConvGeometry) -> Any:
    """dL/dW = sum_n g[n] @ cols[n]^T per group, from :func:`gather`'s result, as (O, C/G, KH, KW).

    In rows mode the columns of kernel row i are the slab :func:`kernel_row`, so
    dL/dW[:, :, i, :] is one such product per kernel row.
    """
    if not geo.rows:
        return _per_group_products([cols], gcols, geo)[0].reshape(geo.o, -1, geo.kh, geo.kw)
    blocks = [kernel_row(cols, geo, i) for i in range(geo.kh)]
    gw = get_array_module(cols).stack(_per_group_products(blocks, gcols, geo))  # (KH, G, O/G, C/G * KW)
    og, cg = geo.o // geo.groups, geo.c // geo.groups
    return gw.reshape(geo.kh, geo.groups, og, cg, geo.kw).transpose(1, 2, 3, 0, 4).reshape(geo.o, cg, geo.kh, geo.kw)


def _per_group_products(blocks: list[Any], gcols: Any, geo: ConvGeometry) -> list[Any]:
    """[sum_n g[n] @ block[n]^T for each block (N, G, depth, length)], each (G, O/G, depth).

    Two orientations of the per-sample product, chosen by size because
    OpenBLAS's speed differs by 2-3x between them (measured on LeNet- to
    VGG-sized layers): for thin products (O/G < 16 or depth < 64) ``g @ cols^T``
    straight from the arrays; otherwise ``(cols @ g^T)^T`` with ``g^T`` copied
    to contiguous memory first (once for all blocks; cheap next to the products).
    """
    xp = get_array_module(gcols)
    og = geo.o // geo.groups
    depth = blocks[0].shape[2]
    results = []
    if og < 16 or depth < 64:
        per_sample = workspace.take(xp, (geo.n, geo.groups, og, depth), gcols.dtype)
        for block in blocks:
            matmul(gcols, block.swapaxes(-1, -2), out=per_sample)
            results.append(per_sample.sum(axis=0))
    else:
        gt = workspace.take(xp, (geo.n, geo.groups, geo.length, og), gcols.dtype)
        gt[...] = gcols.swapaxes(-1, -2)
        per_sample = workspace.take(xp, (geo.n, geo.groups, depth, og), gcols.dtype)
        for block in blocks:
            matmul(block, gt, out=per_sample)
            results.append(xp.ascontiguousarray(per_sample.sum(axis=0).swapaxes(-1, -2)))
        workspace.give(gt, alive=results)
    workspace.give(per_sample, alive=results)
    return results
