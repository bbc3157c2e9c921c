"""Pooling: max and average over sliding windows, and adaptive average pooling.

All windows of a pooling layer are visited *together*, one kernel offset at a
time: for offset (i, j) the elements at that place in every window form one
strided view of the (padded) input,

    v_ij[n, c, p, q] = xpad[n, c, p*sh + i*dh, q*sw + j*dw],

so max pooling is a running ``maximum`` over the KH*KW views and average
pooling a running sum.  The loop is over kernel offsets, never over the batch
or the pixels.  (NumPy's reductions over small reshaped axes, ``x.reshape(N, C,
OH, 2, OW, 2).max(axis=(3, 5))``, measured 10-20x slower than this loop.)

Backward:
- max:  dL/dx receives g at the position of each window's maximum.  Like
  PyTorch, a tie sends the gradient to the *first* maximal element in the
  window (row-major order): walking the offsets in order, a view takes g where
  it equals the maximum and no earlier offset of that window did.
- average:  every element of a window receives g / divisor.
- adaptive average: the pooling is linear and separable, y = P_h x P_w^T with
  averaging matrices P (row i is 1/len over [floor(i*in/out), ceil((i+1)*in/out))),
  so dL/dx = P_h^T g P_w.

When windows do not overlap (stride >= window extent, the usual kernel ==
stride) the backward writes each view directly instead of accumulating.

With the optional compiled kernels (``ops/kernels.py``), 2x2 max pooling at
stride 2 of contiguous float32 input, the common case, is one pass that also
records each window's maximum position (torch's rules above), and the backward
scatters the gradient to those positions: 3x faster than the strided passes.
1-D pooling is the same computation with H = 1.
"""

from __future__ import annotations

from typing import Any

from ..autograd.function import Context, Function
from ..backend import get_array_module
from . import kernels


def pool_output_size(size: int, kernel: int, stride: int, pad: int, dilation: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output length: floor (or ceil) of (L + 2p - d(k-1) - 1)/s + 1.

    With ``ceil_mode`` the last window may hang over the right edge, but it must
    start inside the input or the left padding.
    """
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


class PoolGeometry:
    """Sizes of one 2-D pooling: input (N, C, H, W), window, output and padded extents.

    The padded extents ``hp, wp`` cover every window, including a ceil-mode
    window that hangs over the right or bottom edge.
    """

    __slots__ = ("shape", "kh", "kw", "sh", "sw", "ph", "pw", "dh", "dw", "oh", "ow", "hp", "wp",
                 "padded", "disjoint", "tiles", "two_by_two")

    def __init__(self, shape: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int],
                 padding: tuple[int, int], dilation: tuple[int, int], ceil_mode: bool) -> None:
        self.shape = shape
        _, _, h, w = shape
        self.kh, self.kw = kernel
        self.sh, self.sw = stride
        self.ph, self.pw = padding
        self.dh, self.dw = dilation
        self.oh = pool_output_size(h, self.kh, self.sh, self.ph, self.dh, ceil_mode)
        self.ow = pool_output_size(w, self.kw, self.sw, self.pw, self.dw, ceil_mode)
        self.hp = max(h + 2 * self.ph, (self.oh - 1) * self.sh + self.dh * (self.kh - 1) + 1)
        self.wp = max(w + 2 * self.pw, (self.ow - 1) * self.sw + self.dw * (self.kw - 1) + 1)
        self.padded = (self.hp, self.wp) != (h, w) or self.ph > 0 or self.pw > 0
        self.disjoint = self.sh >= self.dh * (self.kh - 1) + 1 and self.sw >= self.dw * (self.kw - 1) + 1
        # windows that tile the input exactly: every input element is in exactly one window
        self.tiles = (self.disjoint and not self.padded and self.dh == 1 and self.dw == 1
                      and (self.sh, self.sw) == (self.kh, self.kw)
                      and self.oh * self.kh == h and self.ow * self.kw == w)
        # 2x2 windows at stride 2 that stay inside the input (the compiled kernel's case)
        self.two_by_two = ((self.kh, self.kw, self.sh, self.sw, self.dh, self.dw) == (2, 2, 2, 2, 1, 1)
                           and not self.padded and self.oh == h // 2 and self.ow == w // 2 and h * w < 2 ** 31)

    def offsets(self) -> list[tuple[int, int]]:
        return [(i, j) for i in range(self.kh) for j in range(self.kw)]

    def view(self, a: Any, i: int, j: int) -> Any:
        """The strided view of padded array ``a`` holding kernel offset (i, j) of every window."""
        r, c = i * self.dh, j * self.dw
        return a[:, :, r:r + self.sh * (self.oh - 1) + 1:self.sh, c:c + self.sw * (self.ow - 1) + 1:self.sw]

    def inside(self, i: int, j: int, xp: Any) -> Any:
        """(OH, OW) mask: the windows whose element at offset (i, j) lies inside the input, not in the padding."""
        _, _, h, w = self.shape
        rows = xp.arange(self.oh) * self.sh + i * self.dh - self.ph
        cols = xp.arange(self.ow) * self.sw + j * self.dw - self.pw
        return ((rows >= 0) & (rows < h))[:, None] & ((cols >= 0) & (cols < w))[None, :]

    def pad(self, x: Any, value: float) -> Any:
        """``x`` inside a border of ``value`` covering all windows (``x`` itself if none is needed)."""
        if not self.padded:
            return x
        xp = get_array_module(x)
        n, c, h, w = self.shape
        out = xp.full((n, c, self.hp, self.wp), value, dtype=x.dtype)
        out[:, :, self.ph:self.ph + h, self.pw:self.pw + w] = x
        return out

    def unpad(self, a: Any) -> Any:
        if not self.padded:
            return a
        _, _, h, w = self.shape
        return a[:, :, self.ph:self.ph + h, self.pw:self.pw + w]


def _as_2d(x: Any) -> tuple[Any, bool]:
    return (x[:, :, None, :], True) if x.ndim == 3 else (x, False)


def _lowest(dtype: Any, xp: Any) -> Any:
    return -xp.inf if dtype.kind == "f" else xp.iinfo(dtype).min


class MaxPool(Function):
    """y[n, c, p, q] = max over the window of xpad (padding with -inf); see the module docstring.

    Keyword arguments: ``kernel``, ``stride``, ``padding``, ``dilation`` as (h, w)
    pairs and ``ceil_mode``.  ``indices``, if a list, receives the flat index
    (into each input plane, as PyTorch's ``return_indices``) of every maximum.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, *, kernel: tuple[int, int], stride: tuple[int, int],
                padding: tuple[int, int], dilation: tuple[int, int], ceil_mode: bool,
                indices: list | None = None) -> Any:
        xp = get_array_module(x)
        x4, one_d = _as_2d(x)
        geo = PoolGeometry(x4.shape, kernel, stride, padding, dilation, ceil_mode)
        needs_grad = getattr(ctx, "needs_input_grad", None) is not None
        if geo.two_by_two and kernels.usable(x4):
            out, which = kernels.max_pool_2x2_forward(x4)
            if indices is not None:
                indices.append(which.astype(xp.int64))
            if needs_grad:
                ctx.geo, ctx.which, ctx.one_d = geo, which, one_d
            return out
        xpad = geo.pad(x4, _lowest(x.dtype, xp))
        offsets = geo.offsets()
        out = geo.view(xpad, *offsets[0]).copy()
        for i, j in offsets[1:]:
            xp.maximum(out, geo.view(xpad, i, j), out=out)
        if indices is not None:
            flat = _argmax_indices(xpad, out, geo)
            indices.append(flat[:, :, 0, :] if one_d else flat)
        if needs_grad:
            ctx.geo, ctx.xpad, ctx.out, ctx.one_d = geo, xpad, out, one_d
        return out[:, :, 0, :] if one_d else out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        xp = get_array_module(grad)
        geo: PoolGeometry = ctx.geo
        if hasattr(ctx, "which"):  # the compiled forward kept each window's maximum position
            return kernels.max_pool_backward(grad, ctx.which, geo.shape)
        g = grad[:, :, None, :] if ctx.one_d else grad
        alloc = xp.empty if geo.tiles else xp.zeros
        dxpad = alloc(ctx.xpad.shape, dtype=grad.dtype)
        for i, j, chosen in _chosen_offsets(ctx.xpad, ctx.out, geo):
            target = geo.view(dxpad, i, j)
            if geo.disjoint:
                xp.multiply(g, chosen, out=target)
            else:
                target += g * chosen
        dx = geo.unpad(dxpad)
        return dx[:, :, 0, :] if ctx.one_d else dx


def _chosen_offsets(xpad: Any, out: Any, geo: PoolGeometry) -> Any:
    """Yield (i, j, mask) for each kernel offset: the windows whose chosen maximum sits at offset (i, j).

    torch's rule: the first maximal element in row-major order, never the
    padding (a window of -inf chooses its first element inside the input);
    a window holding a NaN chooses its last NaN.
    """
    xp = get_array_module(xpad)
    offsets = geo.offsets()
    last_nan = _last_nans(xpad, geo) if out.dtype.kind == "f" and xp.isnan(out).any() else None
    seen = None  # windows whose maximum was found at an earlier offset
    for k, (i, j) in enumerate(offsets):
        hit = geo.view(xpad, i, j) == out
        if geo.padded:
            hit &= geo.inside(i, j, xp)
        chosen = hit if seen is None else hit > seen  # hit and not seen (booleans)
        if k + 1 < len(offsets):
            seen = hit if seen is None else seen | hit
        yield i, j, (chosen if last_nan is None else chosen | last_nan[k])


def _last_nans(xpad: Any, geo: PoolGeometry) -> list[Any]:
    """Per kernel offset, the windows whose last NaN sits there."""
    xp = get_array_module(xpad)
    masks, later = [], None
    for i, j in reversed(geo.offsets()):
        nan = xp.isnan(geo.view(xpad, i, j))
        masks.append(nan if later is None else nan > later)
        later = nan if later is None else later | nan
    return masks[::-1]


def max_positions(ctx: Context) -> Any:
    """Flat index (row * W + col) in its input plane of every window's chosen maximum, from MaxPool's saved values."""
    if hasattr(ctx, "which"):
        return ctx.which.astype(get_array_module(ctx.which).int64)
    return _argmax_indices(ctx.xpad, ctx.out, ctx.geo)


def _argmax_indices(xpad: Any, out: Any, geo: PoolGeometry) -> Any:
    """Flat index (row * W + col, in the unpadded plane) of each window's chosen maximum (``_chosen_offsets``)."""
    xp = get_array_module(xpad)
    w = geo.shape[3]
    which = xp.zeros(out.shape, dtype=xp.int64)
    for k, (i, j, chosen) in enumerate(_chosen_offsets(xpad, out, geo)):
        which[chosen] = k
    rows = (xp.arange(geo.oh) * geo.sh - geo.ph)[:, None] + (which // geo.kw) * geo.dh
    cols = (xp.arange(geo.ow) * geo.sw - geo.pw)[None, :] + (which % geo.kw) * geo.dw
    return rows * w + cols


def avg_pool_divisor(size: int, kernel: int, stride: int, pad: int, out: int, count_include_pad: bool) -> list[int]:
    """Per-output window sizes along one axis, counted as PyTorch does.

    A window [start, start + k) is first clipped to the padded input [-p, L + p)
    (that length is the divisor with ``count_include_pad``), then to the input
    [0, L) (the divisor without it).
    """
    sizes = []
    for o in range(out):
        start = o * stride - pad
        end = min(start + kernel, size + pad)
        length = end - start
        if not count_include_pad:
            length = min(end, size) - max(start, 0)
        sizes.append(length)
    return sizes


class AvgPool(Function):
    """y = (sum over the window of xpad, zero padding) / divisor; see the module docstring.

    Keyword arguments: ``kernel``, ``stride``, ``padding`` as (h, w) pairs,
    ``ceil_mode``, ``count_include_pad`` and ``divisor_override`` as in PyTorch.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, *, kernel: tuple[int, int], stride: tuple[int, int],
                padding: tuple[int, int], ceil_mode: bool, count_include_pad: bool = True,
                divisor_override: int | None = None) -> Any:
        xp = get_array_module(x)
        x4, one_d = _as_2d(x)
        geo = PoolGeometry(x4.shape, kernel, stride, padding, (1, 1), ceil_mode)
        xpad = geo.pad(x4, 0)
        offsets = geo.offsets()
        acc = geo.view(xpad, *offsets[0]).copy()
        for i, j in offsets[1:]:
            acc += geo.view(xpad, i, j)
        scale = _inverse_divisor(geo, count_include_pad, divisor_override, x.dtype, xp)
        acc *= scale
        if getattr(ctx, "needs_input_grad", None) is not None:
            ctx.geo, ctx.scale, ctx.one_d = geo, scale, one_d
        return acc[:, :, 0, :] if one_d else acc

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        xp = get_array_module(grad)
        geo: PoolGeometry = ctx.geo
        g = (grad[:, :, None, :] if ctx.one_d else grad) * ctx.scale
        n, c, _, _ = geo.shape
        dxpad = (xp.empty if geo.tiles else xp.zeros)((n, c, geo.hp, geo.wp), dtype=grad.dtype)
        for i, j in geo.offsets():
            target = geo.view(dxpad, i, j)
            if geo.disjoint:
                target[...] = g
            else:
                target += g
        dx = geo.unpad(dxpad)
        return dx[:, :, 0, :] if ctx.one_d else dx


def _inverse_divisor(geo: PoolGeometry, count_include_pad: bool, divisor_override: int | None,
                     dtype: Any, xp: Any) -> Any:
    """1 / divisor as a scalar of ``dtype`` or, when windows differ in size, an (OH, OW) array."""
    if divisor_override is not None:
        return dtype.type(1.0 / divisor_override)
    _, _, h, w = geo.shape
    rows = avg_pool_divisor(h, geo.kh, geo.sh, geo.ph, geo.oh, count_include_pad)
    cols = avg_pool_divisor(w, geo.kw, geo.sw, geo.pw, geo.ow, count_include_pad)
    if len(set(rows)) == 1 and len(set(cols)) == 1:
        return dtype.type(1.0 / (rows[0] * cols[0]))
    return 1.0 / (xp.asarray(rows, dtype=dtype)[:, None] * xp.asarray(cols, dtype=dtype)[None, :])


def adaptive_pool_matrix(size: int, out: int, dtype: Any, xp: Any) -> Any:
    """The (out, size) averaging matrix of adaptive pooling along one axis.

    Row i averages input positions [floor(i*size/out), ceil((i+1)*size/out)),
    PyTorch's bins (they overlap when ``size`` is not a multiple of ``out``).
    """
    m = xp.zeros((out, size), dtype=dtype)
    for i in range(out):
        start = (i * size) // out
        end = -(-((i + 1) * size) // out)
        m[i, start:end] = 1.0 / (end - start)
    return m


class AdaptiveAvgPool(Function):
    """y = P_h x P_w^T over the last two axes (1-D: y = x P_w^T); dL/dx = P_h^T g P_w."""

    @staticmethod
    def forward(ctx: Context, x: Any, *, output_size: tuple[int, ...]) -> Any:
        xp = get_array_module(x)
        pw = adaptive_pool_matrix(x.shape[-1], output_size[-1], x.dtype, xp)
        y = _right_multiply(x, pw.T)
        ph = None
        if len(output_size) == 2:
            ph = adaptive_pool_matrix(x.shape[-2], output_size[0], x.dtype, xp)
            y = xp.matmul(ph, y)
        ctx.ph, ctx.pw = ph, pw
        return y

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        xp = get_array_module(grad)
        g = grad if ctx.ph is None else xp.matmul(ctx.ph.T, grad)
        return _right_multiply(g, ctx.pw)


def _right_multiply(a: Any, m: Any) -> Any:
    """``a @ m`` over the last axis as one 2-D matrix product."""
    xp = get_array_module(a)
    a = xp.ascontiguousarray(a)
    return (a.reshape(-1, a.shape[-1]) @ m).reshape(a.shape[:-1] + (m.shape[1],))

