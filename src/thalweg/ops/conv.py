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
    dL/dW      = sum_n g[n] @ cols[n]^T                     (cols kept from the forward)
    dL/dcols   = W^T @ g[n]
    dL/dxpad   = col2im(dL/dcols)

``col2im`` is the adjoint of the gather: every window element sends its
gradient back to the pixel it was read from, and because windows overlap the
contributions are *added*.  It loops over the KH*KW kernel offsets (never over
the batch or the pixels): for offset (i, j) the columns form one strided slab of
``xpad`` and one vectorised ``+=`` adds them all.

Two speed-ups for stride 1, the common case (``ConvGeometry.flat``):

- Flat rows.  Seen as a flat array of rows of length Wp (the padded width), the
  window element (i, j) of output pixel (p, q) sits at ``(p + i*dh) * Wp + q +
  j*dw``: the run ``p*Wp + q`` shifted by ``i*dh*Wp + j*dw``.  Computing each
  output row Wp wide instead of OW wide (the extra ``Wp - OW`` values are thrown
  away) makes a window's columns *one contiguous run* of the input, so the
  gather copies long runs, several times faster in NumPy than the 2-D strided
  form.  The extra outputs cost ``Wp/OW - 1`` more arithmetic, so this is used
  only when that ratio is at most 2.  Their gradient is set to zero, so they
  add nothing to dL/dW.
- dL/dx by kernel rows (:func:`input_grad_by_rows`): for one kernel row the
  adjoint is a correlation along the width only, so KH matrix products on a
  row-wise gather of g replace the KH*KW-fold dL/dcols and its KH*KW additions
  (measured 25-30% faster).  Strided convolutions use col2im.

Large work arrays (im2col's columns are KH*KW times the input: about 12 MB per
LeNet-5 step at batch 64) come from the shared scratch pool of
``ops/workspace.py`` instead of fresh memory each call; see its docstring for
why that matters (measured here: ~2,500 page faults a step without it).

1-D convolutions are the same computation with H = 1.  Reference for the
lowering to matrix products: K. Chellapilla, S. Puri, P. Simard, "High
Performance Convolutional Neural Networks for Document Processing" (2006).
"""

from __future__ import annotations

from typing import Any


from ..autograd.function import Context, Function
from ..backend import get_array_module
from . import workspace


class ConvGeometry:
    """Sizes of one convolution: input, kernel, padding, output and the column layout.

    ``pad`` is (top, bottom, left, right); padded sizes are ``hp, wp``;
    ``width`` is the row pitch of the columns (``wp`` in flat-row mode, ``ow``
    in compact mode), ``length = oh * width`` the columns per sample and
    ``depth = C/G * KH * KW`` the rows per group.
    """

    __slots__ = ("n", "c", "h", "w", "o", "groups", "kh", "kw", "sh", "sw", "dh", "dw", "pad", "hp", "wp",
                 "oh", "ow", "flat", "width", "length", "depth", "tail")

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
        self.flat = self.sh == 1 and self.sw == 1 and self.wp <= 2 * self.ow
        self.width = self.wp if self.flat else self.ow
        self.length = self.oh * self.width
        self.depth = cg * self.kh * self.kw
        # in flat mode the thrown-away outputs of the last row read (kw-1)*dw values past the input
        self.tail = self.dw * (self.kw - 1) if self.flat else 0


def im2col(x: Any, geo: ConvGeometry) -> tuple[Any, Any]:
    """The windows of ``x`` as columns (N, G, depth, length), in a workspace array; returns (cols, buffer)."""
    xp = get_array_module(x)
    as_strided = xp.lib.stride_tricks.as_strided
    top, _, left, _ = geo.pad
    scratch = None
    if geo.flat or any(geo.pad):  # copy x into a zero border (and a zero tail in flat mode)
        size = geo.n * geo.c * geo.hp * geo.wp
        scratch = workspace.take(xp, (size + geo.tail,), x.dtype)
        if any(geo.pad):
            scratch.fill(0)
        else:
            scratch[size:] = 0
        xpad = scratch[:size].reshape(geo.n, geo.c, geo.hp, geo.wp)
        xpad[:, :, top:top + geo.h, left:left + geo.w] = x
        src = scratch
    else:
        xpad = src = x
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
    """The adjoint of :func:`im2col` (compact layout): add every column entry back to its pixel.

    Returns (N, C, H, W).  One strided ``+=`` per kernel offset (i, j).
    """
    xp = get_array_module(dcols)
    top, _, left, _ = geo.pad
    d = dcols.reshape(geo.n, geo.c, geo.kh, geo.kw, geo.oh, geo.ow)
    xpad = xp.zeros((geo.n, geo.c, geo.hp, geo.wp), dtype=dcols.dtype)
    rows, cols = geo.sh * (geo.oh - 1) + 1, geo.sw * (geo.ow - 1) + 1
    for i in range(geo.kh):
        for j in range(geo.kw):
            r, c = i * geo.dh, j * geo.dw
            target = xpad[:, :, r:r + rows:geo.sh, c:c + cols:geo.sw]
            target += d[:, :, i, j]
    return xpad[:, :, top:top + geo.h, left:left + geo.w]


def input_grad_by_rows(g: Any, w: Any, geo: ConvGeometry) -> Any:
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
        xp.matmul(w_rows[i], rows_g, out=part)
        off = i * geo.dh * pitch
        target = mem[off:off + size].reshape(n, c, plane)[:, :, :run]
        target += part.reshape(n, c, run)
    workspace.give(gpad, rows, part, alive=(mem,))
    top, _, left, _ = geo.pad
    return mem[:size].reshape(n, c, geo.hp, pitch)[:, :, top:top + geo.h, left:left + geo.w]


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
        cols, buf = im2col(x, geo)
        wm = w.reshape(groups, geo.o // groups, geo.depth)
        if geo.flat and geo.width == geo.ow:  # no thrown-away outputs: the product is the output itself
            out = xp.empty((geo.n, groups, geo.o // groups, geo.length), dtype=x.dtype)  # the caller's, never pooled
            xp.matmul(wm, cols, out=out)
            out = out.reshape(geo.n, geo.o, geo.oh, geo.ow)
            if b is not None:
                out += b.reshape(-1, 1, 1)
        elif geo.flat:  # drop the thrown-away outputs while adding the bias (or copying out of the scratch)
            y = workspace.take(xp, (geo.n, groups, geo.o // groups, geo.length), x.dtype)
            xp.matmul(wm, cols, out=y)
            img = y.reshape(geo.n, geo.o, geo.oh, geo.width)[..., :geo.ow]
            out = xp.add(img, b.reshape(-1, 1, 1)) if b is not None else img.copy()
            workspace.give(y, alive=(out,))
        else:
            out = xp.matmul(wm, cols).reshape(geo.n, geo.o, geo.oh, geo.ow)
            if b is not None:
                out += b.reshape(-1, 1, 1)
        needs = getattr(ctx, "needs_input_grad", None)
        if needs is not None and needs[1]:
            # kept for dL/dW; the loan returns it when the node is freed
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
        xp = get_array_module(grad)
        geo: ConvGeometry = ctx.geo
        need_x, need_w, need_b = ctx.needs_input_grad
        if ctx.one_d:
            grad = grad[:, :, None, :]
        gx = gw = gb = None
        if need_b:
            gb = grad.sum(axis=(0, 2, 3))
        gcols = gbuf = None
        if need_w or (need_x and not geo.flat):
            gcols, gbuf = grad_columns(grad, geo)  # (N, G, O/G, length)
        if need_w:
            gw = weight_grad(ctx.cols, gcols, geo).reshape(ctx.w_shape)
            if ctx.one_d:
                gw = gw[:, :, 0, :]
        if need_x:
            if geo.flat:
                gx = input_grad_by_rows(grad, ctx.w, geo)
            else:
                dcols = workspace.take(xp, (geo.n, geo.groups, geo.depth, geo.length), grad.dtype)
                xp.matmul(ctx.w.reshape(geo.groups, geo.o // geo.groups, geo.depth).swapaxes(-1, -2), gcols,
                          out=dcols)
                gx = col2im(dcols, geo)
                workspace.give(dcols, alive=(gx,))
            if ctx.one_d:
                gx = gx[:, :, 0, :]
        if gbuf is not None:
            workspace.give(gbuf, alive=(gx, gw, gb))
        return gx, gw, gb


def weight_grad(cols: Any, gcols: Any, geo: ConvGeometry) -> Any:
    """dL/dW = sum_n g[n] @ cols[n]^T per group, as a (G, O/G, depth) array.

    Two orientations of the per-sample product, chosen by size because
    OpenBLAS's speed differs by 2-3x between them (measured on LeNet- to
    VGG-sized layers): for thin products (O/G < 16 or depth < 64) ``g @ cols^T``
    straight from the arrays; otherwise ``(cols @ g^T)^T`` with ``g^T`` copied
    to contiguous memory first (the copy is cheap next to the product there).
    """
    xp = get_array_module(cols)
    og = geo.o // geo.groups
    per_sample_shape = (geo.n, geo.groups, og, geo.depth)
    if og < 16 or geo.depth < 64:
        per_sample = workspace.take(xp, per_sample_shape, gcols.dtype)
        xp.matmul(gcols, cols.swapaxes(-1, -2), out=per_sample)
        gw = per_sample.sum(axis=0)
    else:
        gt = workspace.take(xp, (geo.n, geo.groups, geo.length, og), gcols.dtype)
        gt[...] = gcols.swapaxes(-1, -2)
        per_sample = workspace.take(xp, (geo.n, geo.groups, geo.depth, og), gcols.dtype)
        xp.matmul(cols, gt, out=per_sample)
        gw = xp.ascontiguousarray(per_sample.sum(axis=0).swapaxes(-1, -2))
        workspace.give(gt, alive=(gw,))
    workspace.give(per_sample, alive=(gw,))
    return gw
