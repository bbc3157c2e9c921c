"""Transposed convolution ("deconvolution", fractionally strided convolution), with an exact backward.

A transposed convolution is the adjoint (the gradient with respect to its
input) of a convolution; see V. Dumoulin and F. Visin, "A guide to convolution
arithmetic for deep learning" (2016, arXiv 1603.07285), section 4.  With input
x (N, C_in, H, W), weight w (C_in, C_out/G, KH, KW) in torch's layout and G
groups, every input pixel scatters a weighted copy of the kernel into the
output:

    full[n, o, h*sh + i*dh, v*sw + j*dw] += sum_{c in o's group} w[c, o', i, j] x[n, c, h, v]
    y = full[:, :, ph : ph + OH, pw : pw + OW] + b

(o' the index of o inside its group), with OH = (H - 1) sh - 2 ph + dh (KH - 1) + oph + 1;
the output padding oph only lengthens the output at the end.  As matrices, per
group: cols = W_g^T x_g (one GEMM, cols of shape (C_out/G KH KW, H W)) and the
scatter ("col2im") adds each kernel offset's slab into a strided view of ``full``.

Backward, with g = dL/dy zero-padded back to the full size:

    dcols[n, (o', i, j), (h, v)] = gfull[n, o, h*sh + i*dh, v*sw + j*dw]     (a strided gather, "im2col")
    dL/dx_g = W_g dcols_g,   dL/dW_g = sum_n x_g[n] dcols_g[n]^T,   dL/db = sum over n, OH, OW of g

which is a convolution of g with w for dL/dx, as the adjoint relation says.
1-D is the same with H = 1.  Every array here is freshly allocated: nothing
comes from or goes back to the scratch pool.
"""

from __future__ import annotations

from typing import Any

from ..autograd.function import Context, Function
from ..backend import get_array_module
from .gemm import matmul


class ConvTranspose(Function):
    """y = conv_transpose2d(x, w, b) for x (N, C_in, H, W), w (C_in, C_out/G, KH, KW); keywords
    ``stride``, ``padding``, ``output_padding``, ``dilation`` (pairs) and ``groups``."""

    @staticmethod
    def forward(ctx: Context, x: Any, w: Any, b: Any = None, *, stride: tuple[int, int] = (1, 1),
                padding: tuple[int, int] = (0, 0), output_padding: tuple[int, int] = (0, 0),
                dilation: tuple[int, int] = (1, 1), groups: int = 1) -> Any:
        xp = get_array_module(x)
        n, cin, h, wd = x.shape
        _, cout_g, kh, kw = w.shape
        G = groups
        cin_g = cin // G
        (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
        hf = (h - 1) * sh + dh * (kh - 1) + 1 + output_padding[0]
        wf = (wd - 1) * sw + dw * (kw - 1) + 1 + output_padding[1]
        oh, ow = hf - 2 * ph, wf - 2 * pw
        wg = w.reshape(G, cin_g, cout_g * kh * kw)
        cols = matmul(xp.swapaxes(wg, -1, -2), x.reshape(n, G, cin_g, h * wd))  # (N, G, cout_g k k, H W)
        cols = cols.reshape(n, G * cout_g, kh, kw, h, wd)
        full = xp.zeros((n, G * cout_g, hf, wf), dtype=x.dtype)
        rows, cols_w = (h - 1) * sh + 1, (wd - 1) * sw + 1
        for i in range(kh):
            for j in range(kw):
                full[:, :, i * dh:i * dh + rows:sh, j * dw:j * dw + cols_w:sw] += cols[:, :, i, j]
        out = full[:, :, ph:ph + oh, pw:pw + ow]
        if ph or pw:
            out = out.copy()
        if b is not None:
            out += b.reshape(1, -1, 1, 1)
        ctx.x, ctx.w = x, w
        ctx.geo = (G, cin_g, cout_g, kh, kw, sh, sw, ph, pw, dh, dw, hf, wf)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any, Any]:
        xp = get_array_module(grad)
        need_x, need_w, need_b = ctx.needs_input_grad
        x, w = ctx.x, ctx.w
        G, cin_g, cout_g, kh, kw, sh, sw, ph, pw, dh, dw, hf, wf = ctx.geo
        n, _, h, wd = x.shape
        gb = grad.sum(axis=(0, 2, 3)) if need_b else None
        if not (need_x or need_w):
            return None, None, gb
        oh, ow = grad.shape[2:]
        if ph or pw or (hf, wf) != (oh, ow):
            gfull = xp.zeros((n, grad.shape[1], hf, wf), dtype=grad.dtype)
            gfull[:, :, ph:ph + oh, pw:pw + ow] = grad
        else:
            gfull = xp.ascontiguousarray(grad)
        s_n, s_c, s_h, s_w = gfull.strides
        view = xp.lib.stride_tricks.as_strided(gfull, (n, G * cout_g, kh, kw, h, wd),
                                               (s_n, s_c, dh * s_h, dw * s_w, sh * s_h, sw * s_w), writeable=False)
        dcols = xp.ascontiguousarray(view).reshape(n, G, cout_g * kh * kw, h * wd)
        gx = gw = None
        if need_x:
            wg = w.reshape(G, cin_g, cout_g * kh * kw)
            gx = matmul(wg, dcols).reshape(x.shape)
        if need_w:
            xg = x.reshape(n, G, cin_g, h * wd)
            gw = xp.empty_like(w).reshape(G, cin_g, cout_g * kh * kw)
            for g in range(G):
                gw[g] = xp.tensordot(xg[:, g], dcols[:, g], axes=([0, 2], [0, 2]))
            gw = gw.reshape(w.shape)
        return gx, gw, gb
