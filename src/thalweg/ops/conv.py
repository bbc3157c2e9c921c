"""Convolution as one matrix product over strided windows (im2col), with its exact adjoint (col2im).

A convolution layer (a cross-correlation, as in every deep-learning library)
with input ``x`` of shape (N, C, H, W), weight ``w`` of shape (O, C/G, KH, KW)
and ``G`` groups computes, for an output channel ``o`` in group ``g``,

    y[n, o, p, q] = b[o] + sum_{c in group g, i, j} w[o, c, i, j] * xpad[n, c, p*sh + i*dh, q*sw + j*dw]

where ``xpad`` is ``x`` with zeros around it, ``(sh, sw)`` the stride and
``(dh, dw)`` the dilation.  Gather every window into a column ("im2col"):

    cols[n, (c, i, j), (p, q)] = xpad[n, c, p*sh + i*dh, q*sw + j*dw]

and the layer is one (batched) matrix product per group, ``y[n] = W @ cols[n]``
with ``W = w.reshape(O, C/G * KH * KW)``.  The windows are read through a
strided *view* of ``xpad`` (``as_strided``), so gathering them is a single
copy.  Backpropagating through ``y = W @ cols + b``:

    dL/db      = sum over n, p, q of g                      (g = dL/dy)
    dL/dW      = sum_n g[n] @ cols[n]^T
    dL/dcols   = W^T @ g[n]
    dL/dxpad   = col2im(dL/dcols)

``col2im`` is the adjoint of the gather: every window element sends its
gradient back to the pixel it was read from, and because windows overlap, the
contributions are *added*.  It loops over the KH*KW kernel offsets (never over
the batch or the pixels): for offset (i, j) the columns form one strided slab of
``xpad`` and one vectorised ``+=`` adds them all.

The flat-row trick (stride 1).  Seen as a flat array of rows of length Wp (the
padded width), the window element (i, j) of output pixel (p, q) sits at
``(p + i*dh) * Wp + q + j*dw`` -- the same contiguous run ``p*Wp + q`` shifted
by ``i*dh*Wp + j*dw``.  If each output row is computed Wp wide instead of OW
wide (the extra ``Wp - OW`` values are never used), a window's columns are
*one contiguous run* of the input, so the gather copies long runs and col2im
adds long runs, which is several times faster in NumPy than the 2-D strided
form.  The unused outputs cost ``Wp/OW - 1`` extra arithmetic, so the trick is
used only when that ratio is at most 2 (and the stride is 1); otherwise the
compact 2-D windows are used.  The extra gradient columns are zero, so they add
nothing in col2im.

1-D convolutions are the same computation with H = 1.  Reference: the im2col
lowering is K. Chellapilla, S. Puri, P. Simard, "High Performance
Convolutional Neural Networks for Document Processing" (2006).
"""

from __future__ import annotations

from typing import Any

from ..autograd.function import Context, Function
from ..backend import get_array_module


class ConvGeometry:
    """Sizes of one convolution: input, kernel, padding, output and the column layout.

    ``pad`` is (top, bottom, left, right); padded sizes are ``hp, wp``;
    ``width`` is the row pitch of the columns (``wp`` in flat-row mode, ``ow``
    in compact mode) and ``length = oh * width`` the columns per sample.
    """

    __slots__ = ("n", "c", "h", "w", "o", "groups", "kh", "kw", "sh", "sw", "dh", "dw", "pad", "hp", "wp",
                 "oh", "ow", "flat", "width", "length", "tail")

    def __init__(self, x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: tuple[int, int],
                 pad: tuple[int, int, int, int], dilation: tuple[int, int], groups: int) -> None:
        self.n, self.c, self.h, self.w = x_shape
        self.o, _, self.kh, self.kw = w_shape
        self.groups = groups
        self.sh, self.sw = stride
        self.dh, self.dw = dilation
        self.pad = pad
        top, bottom, left, right = pad
        self.hp = self.h + top + bottom
        self.wp = self.w + left + right
        self.oh = (self.hp - self.dh * (self.kh - 1) - 1) // self.sh + 1
        self.ow = (self.wp - self.dw * (self.kw - 1) - 1) // self.sw + 1
        self.flat = self.sh == 1 and self.sw == 1 and self.wp <= 2 * self.ow
        self.width = self.wp if self.flat else self.ow
        self.length = self.oh * self.width
        # flat mode reads (kw-1)*dw values past the last padded row for the unused outputs
        self.tail = self.dw * (self.kw - 1) if self.flat else 0


def padded_input(x: Any, geo: ConvGeometry) -> Any:
    """``x`` with its zero border, as a view of a buffer that also holds ``geo.tail`` spare zeros.

    Returns ``(xpad, mem)``: ``xpad`` of shape (N, C, Hp, Wp) and ``mem`` the flat
    buffer behind it (``None`` when ``x`` is used as it is, in compact mode
    without padding).
    """
    xp = get_array_module(x)
    top, _, left, _ = geo.pad
    if not geo.flat and not any(geo.pad):
        return x, None
    size = geo.n * geo.c * geo.hp * geo.wp
    if any(geo.pad) or geo.tail:
        mem = xp.zeros(size + geo.tail, dtype=x.dtype)
    else:
        mem = xp.empty(size, dtype=x.dtype)
    xpad = mem[:size].reshape(geo.n, geo.c, geo.hp, geo.wp)
    xpad[:, :, top:top + geo.h, left:left + geo.w] = x
    return xpad, mem


def im2col(x: Any, geo: ConvGeometry) -> Any:
    """The windows of ``x`` as columns: an array (N, G, C/G * KH * KW, length)."""
    xp = get_array_module(x)
    as_strided = xp.lib.stride_tricks.as_strided
    xpad, mem = padded_input(x, geo)
    s_n, s_c, s_h, s_w = xpad.strides
    if geo.flat:
        view = as_strided(mem, (geo.n, geo.c, geo.kh, geo.kw, geo.length),
                          (s_n, s_c, geo.dh * s_h, geo.dw * s_w, s_w), writeable=False)
    else:
        view = as_strided(xpad, (geo.n, geo.c, geo.kh, geo.kw, geo.oh, geo.ow),
                          (s_n, s_c, geo.dh * s_h, geo.dw * s_w, geo.sh * s_h, geo.sw * s_w), writeable=False)
    cols = xp.ascontiguousarray(view)
    return cols.reshape(geo.n, geo.groups, (geo.c // geo.groups) * geo.kh * geo.kw, geo.length)


def col2im(dcols: Any, geo: ConvGeometry) -> Any:
    """The adjoint of :func:`im2col`: add every column entry back to its pixel; returns (N, C, H, W)."""
    xp = get_array_module(dcols)
    as_strided = xp.lib.stride_tricks.as_strided
    top, _, left, _ = geo.pad
    d = dcols.reshape(geo.n, geo.c, geo.kh, geo.kw, geo.length)
    size = geo.n * geo.c * geo.hp * geo.wp
    mem = xp.zeros(size + geo.tail, dtype=dcols.dtype)
    xpad = mem[:size].reshape(geo.n, geo.c, geo.hp, geo.wp)
    s_n, s_c, s_h, s_w = xpad.strides
    for i in range(geo.kh):
        for j in range(geo.kw):
            if geo.flat:  # one contiguous run per (sample, channel), shifted by the offset
                off = i * geo.dh * geo.wp + j * geo.dw
                target = as_strided(mem[off:], (geo.n, geo.c, geo.length), (s_n, s_c, s_w))
                target += d[:, :, i, j]
            else:
                r, c = i * geo.dh, j * geo.dw
                target = xpad[:, :, r:r + geo.sh * (geo.oh - 1) + 1:geo.sh, c:c + geo.sw * (geo.ow - 1) + 1:geo.sw]
                target += d[:, :, i, j].reshape(geo.n, geo.c, geo.oh, geo.ow)
    return xpad[:, :, top:top + geo.h, left:left + geo.w]


def columns_to_image(y: Any, geo: ConvGeometry, bias: Any) -> Any:
    """(N, O, length) products -> the (N, O, OH, OW) output, adding the bias in the same pass."""
    xp = get_array_module(y)
    img = y.reshape(geo.n, geo.o, geo.oh, geo.width)
    if geo.flat:
        img = img[..., :geo.ow]
    if bias is not None:
        return xp.add(img, bias.reshape(geo.o, 1, 1))
    return xp.ascontiguousarray(img)


def image_to_columns(g: Any, geo: ConvGeometry) -> Any:
    """(N, O, OH, OW) output gradient -> (N, G, O/G, length), zeros in the unused flat-mode outputs."""
    xp = get_array_module(g)
    og = geo.o // geo.groups
    if geo.flat and geo.width != geo.ow:
        ext = xp.zeros((geo.n, geo.o, geo.oh, geo.width), dtype=g.dtype)
        ext[..., :geo.ow] = g
        g = ext
    return g.reshape(geo.n, geo.groups, og, geo.length)


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
        if one_d:
            x, w = x[:, :, None, :], w[:, :, None, :]
        geo = ConvGeometry(x.shape, w.shape, stride, padding, dilation, groups)
        cols = im2col(x, geo)
        wm = w.reshape(groups, geo.o // groups, -1)
        y = xp.matmul(wm, cols).reshape(geo.n, geo.o, geo.length)
        out = columns_to_image(y, geo, b)
        needs = getattr(ctx, "needs_input_grad", None)
        if needs is not None:
            ctx.geo, ctx.one_d, ctx.w_shape = geo, one_d, w.shape
            ctx.wm = wm if needs[0] else None
            ctx.cols = cols if needs[1] else None
        return out[:, :, 0, :] if one_d else out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any, Any]:
        xp = get_array_module(grad)
        geo: ConvGeometry = ctx.geo
        need_x, need_w, need_b = ctx.needs_input_grad
        if ctx.one_d:
            grad = grad[:, :, None, :]
        gx = gw = gb = None
        if need_b:
            gb = grad.sum(axis=(0, 2, 3))
        if need_x or need_w:
            gcols = image_to_columns(grad, geo)  # (N, G, O/G, length)
        if need_w:
            # sum_n cols[n] @ g[n]^T, then transpose: the (K x length) @ (length x O/G) orientation is
            # the fastest for BLAS here because the long length axis is the contraction
            gt = xp.ascontiguousarray(gcols.swapaxes(-1, -2))
            gw = xp.matmul(ctx.cols, gt).sum(axis=0).swapaxes(-1, -2).reshape(ctx.w_shape)
            if ctx.one_d:
                gw = gw[:, :, 0, :]
        if need_x:
            dcols = xp.matmul(ctx.wm.swapaxes(-1, -2), gcols)  # (N, G, C/G*KH*KW, length)
            gx = col2im(dcols, geo)
            if ctx.one_d:
                gx = gx[:, :, 0, :]
        return gx, gw, gb

