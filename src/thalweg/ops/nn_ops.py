"""Fused layer operations: linear, dropout, batch normalization, layer normalization.

Each is one ``Function`` whose backward is written out by hand instead of being
derived from a chain of primitives.  That keeps the graph short (one node per
layer instead of five to ten), reuses the forward's intermediates, and is the
hot path of every model, so it is written for speed: no needless copies, the
matrix products go straight to BLAS.

Notation: ``g`` is dL/d(output), the gradient arriving from above.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.function import Context, Function
from ..backend import get_array_module
from . import kernels
from .gemm import matmul
from .sums import column_sums


# When the forward product is taken as (W x^T)^T (see linear_product): at least this many rows, at most a quarter as
# many rows as out_features, and both feature counts at least this large
TRANSPOSED_MIN_ROWS, TRANSPOSED_MIN_FEATURES = 8, 128


def transposed_product_pays(rows: int, in_features: int, out_features: int) -> bool:
    """Whether :func:`linear_product` takes (W x^T)^T: 8 <= rows <= out/4 and both feature counts at least 128."""
    return (TRANSPOSED_MIN_ROWS <= rows and 4 * rows <= out_features
            and min(in_features, out_features) >= TRANSPOSED_MIN_FEATURES)


def linear_product(x2: Any, weight: Any, bias: Any) -> Any:
    """x2 W^T (+ b) for x2 (B, in) and W (out, in), as a new row-major (B, out) array.

    BLAS reads one of the two operands transposed, and OpenBLAS packs a transposed operand more slowly than a plain
    one: in x2 W^T that is the weight.  With few rows it is the larger operand, so for 8 <= B <= out/4 (in and out
    at least 128) the product is taken as (W x2^T)^T, where the transposed operand is x2, and written back
    row-major in the same pass that adds the bias.  Measured (1 thread, float32, against x2 @ W.T then += b):
    784 -> 256 with B = 8, 16, 32, 64: 0.55, 0.56, 0.70, 0.87 of the time; 512 -> 2048 with B = 8-64: 0.52-0.81.
    Outside those bounds it was as fast or slower (B = 1-4, where OpenBLAS has its own path for few rows; out or in
    of 64; B = 128 with out = 256: 0.98-1.02), so the plain form is kept there.
    """
    rows, out_features = x2.shape[0], weight.shape[0]
    if get_array_module(x2) is not np or not transposed_product_pays(rows, weight.shape[1], out_features):
        out = matmul(x2, weight.T)
        if bias is not None:
            out += bias
        return out
    product_t = matmul(weight, x2.T)  # (out, B)
    out = np.empty((rows, out_features), dtype=product_t.dtype)
    if bias is None:
        out[...] = product_t.T
    else:
        np.add(product_t.T, bias, out=out)
    return out


class LinearFunction(Function):
    """y = x W^T + b, for x of shape (..., in) and W of shape (out, in).

    Leading dimensions of x are flattened into one batch dimension B, so that
    with x2 (B, in) and g2 (B, out):

        dL/dx = g2 W          (B, out) @ (out, in)
        dL/dW = g2^T x2       (out, B) @ (B, in)
        dL/db = sum_B g2 = 1^T g2

    ``W.T`` and ``g2.T`` are views; BLAS reads them transposed without a copy.  The forward product is
    :func:`linear_product` (for few rows it is taken as (W x2^T)^T).
    """

    @staticmethod
    def forward(ctx: Context, x: Any, weight: Any, bias: Any = None) -> Any:
        if x.ndim == 2:
            x2 = x
        else:
            x2 = x.reshape(-1, x.shape[-1])
        out = linear_product(x2, weight, bias)
        ctx.x2, ctx.weight, ctx.x_shape = x2, weight, x.shape
        if x.ndim != 2:
            out = out.reshape(x.shape[:-1] + (weight.shape[0],))
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any, Any]:
        need_x, need_w, need_b = ctx.needs_input_grad
        g2 = grad if grad.ndim == 2 else grad.reshape(-1, grad.shape[-1])
        gx = gw = gb = None
        if need_x:
            gx = matmul(g2, ctx.weight)
            if len(ctx.x_shape) != 2:
                gx = gx.reshape(ctx.x_shape)
        if need_w:
            gw = matmul(g2.T, ctx.x2)
        if need_b:
            gb = column_sums(g2)  # a gemv: about 2x faster than sum(axis=0)
        return gx, gw, gb


class DropoutFunction(Function):
    """y = x * m, where m is the (already scaled) mask: 0 or 1/(1-p).

    The mask is drawn by the caller (``nn.functional.dropout``) from the run's
    generator and passed as the keyword ``mask``; it may broadcast against x
    (channel dropout).  dL/dx = g * m: no gradient reaches dropped units.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, mask: Any = None) -> Any:
        ctx.mask = mask
        return x * mask

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad * ctx.mask


def _channel_view(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape (1, C, 1, ...) that broadcasts a per-channel vector against (N, C, ...)."""
    return (1, shape[1]) + (1,) * (len(shape) - 2)


def apply_affine(xhat: Any, weight: Any, bias: Any, view: tuple[int, ...]) -> Any:
    """y = gamma * xhat + beta per channel (either may be None), as a new array: ``xhat`` stays saved."""
    out = xhat * weight.reshape(view) if weight is not None else xhat.copy()
    if bias is not None:
        out += bias.reshape(view)
    return out


def update_running_stats(running_mean: Any, running_var: Any, mean: Any, var: Any, momentum: float,
                         m: Any) -> None:
    """In place: running = (1 - momentum) running + momentum batch, per channel, for the batch ``mean``
    and biased ``var`` over m values; the variance enters unbiased, var m / (m - 1), as torch does."""
    running_mean *= 1 - momentum
    running_mean += momentum * mean.astype(running_mean.dtype, copy=False)
    running_var *= 1 - momentum
    running_var += (momentum * m / max(m - 1, 1)) * var.astype(running_var.dtype, copy=False)


def saved_xhat(ctx: Context) -> Any:
    """The normalised input xhat of a BatchNormFunction node: saved by the NumPy forward, recomputed as
    (x - shift) scale from what the compiled forward saved."""
    if ctx.xhat is not None:
        return ctx.xhat
    return (ctx.x - ctx.shift.reshape(_channel_view(ctx.x.shape))) * ctx.rstd


class BatchNormFunction(Function):
    """Batch normalization (Ioffe and Szegedy 2015, arXiv 1502.03167), channels on axis 1.

    Training (batch statistics over the axes A = all but the channel axis, m
    values per channel):

        mu = mean_A x,  var = mean_A (x - mu)^2,  r = 1 / sqrt(var + eps)
        xhat = (x - mu) r,  y = gamma xhat + beta

    and, with dbeta = sum_A g and dgamma = sum_A g xhat,

        dL/dx = gamma r (g - dbeta / m - xhat dgamma / m).

    The running statistics (keyword arrays ``running_mean``/``running_var``)
    are updated in place: running = (1 - momentum) running + momentum batch,
    with the *unbiased* batch variance var m / (m - 1), as torch does.

    Evaluation (or ``training=False``): y = gamma (x - running_mean) r + beta
    with r from the running variance, an affine map, so dL/dx = gamma r g.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, weight: Any = None, bias: Any = None, *, running_mean: Any = None,
                running_var: Any = None, training: bool = True, momentum: float = 0.1, eps: float = 1e-5) -> Any:
        xp = get_array_module(x)
        axes = (0,) + tuple(range(2, x.ndim))
        view = _channel_view(x.shape)
        dtype = x.dtype.type
        m = x.size // x.shape[1]  # values per channel
        if training and x.ndim > 1 and kernels.usable(x) and all(p is None or p.dtype == x.dtype
                                                                 for p in (weight, bias)):
            out, mean, var, shift, scale = kernels.batch_norm_forward(x, weight, bias, eps)  # one loop per channel
            if running_mean is not None:
                update_running_stats(running_mean, running_var, mean, var, momentum, m)
            # keep x, not xhat: x is alive anyway (an input), and not writing xhat saves a pass over memory
            ctx.x, ctx.shift, ctx.scale = x, shift, scale
            ctx.xhat, ctx.rstd, ctx.weight, ctx.axes, ctx.training, ctx.m = None, scale.reshape(view), weight, axes, \
                training, m
            return out
        if training:
            mean = x.mean(axis=axes, keepdims=True)
            xc = x - mean
            var = xp.square(xc).mean(axis=axes, keepdims=True)
            if running_mean is not None:
                update_running_stats(running_mean, running_var, mean.reshape(-1), var.reshape(-1), momentum, m)
        else:
            mean = running_mean.reshape(view).astype(x.dtype, copy=False)
            var = running_var.reshape(view).astype(x.dtype, copy=False)
            xc = x - mean
        rstd = 1 / xp.sqrt(var + dtype(eps))
        xhat = xc
        xhat *= rstd  # xc is ours: normalise in place
        ctx.xhat, ctx.rstd, ctx.weight, ctx.axes, ctx.training, ctx.m = xhat, rstd, weight, axes, training, m
        return apply_affine(xhat, weight, bias, view)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any, Any]:
        need_x, need_w, need_b = ctx.needs_input_grad
        xhat, rstd, axes = ctx.xhat, ctx.rstd, ctx.axes
        view = _channel_view(grad.shape)
        if xhat is None:  # the compiled forward kept x
            if kernels.usable(ctx.x) and grad.dtype == ctx.x.dtype:
                gx, dgamma, dbeta = kernels.batch_norm_backward(grad, ctx.x, ctx.shift, ctx.scale, ctx.weight, need_x)
                return gx, (dgamma if need_w else None), (dbeta if need_b else None)
            xhat = saved_xhat(ctx)  # (kernels switched off since the forward)
        dbeta = grad.sum(axis=axes) if (need_b or (need_x and ctx.training)) else None
        dgamma = (grad * xhat).sum(axis=axes) if (need_w or (need_x and ctx.training)) else None
        gx = None
        if need_x:
            scale = rstd if ctx.weight is None else rstd * ctx.weight.reshape(view)
            if ctx.training:
                inv_m = 1.0 / ctx.m
                gx = grad - (dbeta * inv_m).reshape(view)
                gx -= xhat * (dgamma * inv_m).reshape(view)
                gx *= scale
            else:
                gx = grad * scale
        return gx, (dgamma if need_w else None), (dbeta if need_b else None)


def _layer_norm_rows(xp: Any, x2: Any, weight: Any, bias: Any, eps: float) -> tuple[Any, Any, Any]:
    """(out, xhat, rstd) of LayerNorm over the rows of x2 (R, D) in NumPy (see :class:`LayerNormFunction`)."""
    D = x2.shape[1]
    if D == 0:  # nothing to normalise: empty outputs (a row's statistics are undefined, as in torch)
        return xp.empty_like(x2), xp.empty_like(x2), xp.full(x2.shape[0], xp.nan, dtype=x2.dtype)
    inv_d = xp.full(D, 1.0 / D, dtype=x2.dtype)
    xhat = x2 - (x2 @ inv_d)[:, None]  # x - mu, a fresh array normalised in place below
    out = xp.square(xhat)
    rstd = out @ inv_d
    rstd += x2.dtype.type(eps)
    xp.sqrt(rstd, out=rstd)
    xp.reciprocal(rstd, out=rstd)
    xhat *= rstd[:, None]
    if weight is None:
        out[...] = xhat
    else:
        xp.multiply(xhat, weight.reshape(D), out=out)
    if bias is not None:
        out += bias.reshape(D)
    return out, xhat, rstd


def layer_norm_xhat(ctx: Context) -> Any:
    """The normalised input xhat of a LayerNormFunction node, in the input's shape: saved by the NumPy forward,
    recomputed as (x - mean) rstd from what the compiled forward saved."""
    if ctx.xhat is not None:
        return ctx.xhat.reshape(ctx.x_shape)
    return ((ctx.x2 - ctx.mean[:, None]) * ctx.rstd.reshape(-1, 1)).reshape(ctx.x_shape)


class LayerNormFunction(Function):
    """Layer normalization (Ba, Kiros and Hinton 2016, arXiv 1607.06450) over the last k axes.

    With D the number of normalised values per sample (a row of the (R, D) view):

        mu = mean x,  var = mean (x - mu)^2,  r = 1 / sqrt(var + eps)
        xhat = (x - mu) r,  y = gamma xhat + beta          (gamma, beta of the normalised shape)
        dxhat = g gamma
        dL/dx = r (dxhat - mean dxhat - xhat mean(dxhat xhat))
        dL/dgamma = sum_batch g xhat,  dL/dbeta = sum_batch g

    With the compiled kernels (contiguous float32) the forward is one pass per row that saves x's row statistics
    mu and r, and the backward recomputes xhat from x (see ``numba_kernels.layer_norm_forward``).  Otherwise every
    mean over a row and sum over the batch is a matrix-vector product with a constant vector (BLAS gemv), 10-20x
    faster than NumPy's reductions along a short last axis, and xhat is saved; the forward's only scratch array is
    the output (it holds (x - mu)^2 first); the backward's is one (R, D) array besides dL/dx.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, weight: Any = None, bias: Any = None, *, k: int = 1,
                eps: float = 1e-5) -> Any:
        xp = get_array_module(x)
        axes = tuple(range(x.ndim - k, x.ndim))
        D = 1
        for n in x.shape[x.ndim - k:]:
            D *= n
        R = 1
        for n in x.shape[:x.ndim - k]:
            R *= n
        x2 = x.reshape(R, D)  # not (-1, D): D may be 0
        ctx.xhat = ctx.mean = None
        ctx.x_shape = x.shape
        if D and kernels.usable(x2) and all(p is None or p.dtype == x.dtype for p in (weight, bias)):
            # one pass per row, compiled; the backward recomputes xhat from x and the row statistics
            out, mean, rstd = kernels.layer_norm_forward(x2, weight, bias, eps)
            ctx.x2, ctx.mean = x2, mean
        else:
            out, xhat, rstd = _layer_norm_rows(xp, x2, weight, bias, eps)
            ctx.xhat = xhat
        keep = x.shape[:x.ndim - k] + (1,) * k
        ctx.rstd, ctx.weight, ctx.axes = rstd.reshape(keep), weight, axes
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any, Any]:
        xp = get_array_module(grad)
        need_x, need_w, need_b = ctx.needs_input_grad
        weight, axes = ctx.weight, ctx.axes
        wshape = grad.shape[grad.ndim - len(axes):]
        D = 1
        for n in wshape:
            D *= n
        R = ctx.rstd.size
        g2 = grad.reshape(R, D)
        if ctx.mean is not None:  # the compiled forward ran: x and the row statistics were saved
            if kernels.usable(g2) and (weight is None or weight.dtype == grad.dtype):
                gx, gw, gb = kernels.layer_norm_backward(g2, ctx.x2, ctx.mean, ctx.rstd.reshape(R), weight, need_x,
                                                         need_w, need_b)
                return (None if gx is None else gx.reshape(grad.shape),
                        None if gw is None else gw.reshape(wshape), None if gb is None else gb.reshape(wshape))
        xhat = layer_norm_xhat(ctx).reshape(R, D)
        gw = gb = gx = None
        if need_b:
            gb = column_sums(g2).reshape(wshape)
        if not (need_w or need_x):
            return None, None, gb
        t = g2 * xhat  # the one scratch array
        if need_w:
            gw = column_sums(t).reshape(wshape)
        if need_x:
            inv_d = xp.full(D, 1.0 / max(D, 1), dtype=grad.dtype)  # D = 0: empty rows, nothing is divided
            dxhat = g2.copy() if weight is None else g2 * weight.reshape(D)  # becomes dL/dx
            if weight is not None:
                xp.multiply(dxhat, xhat, out=t)
            mean_d = dxhat @ inv_d
            mean_dx = t @ inv_d
            gx = dxhat
            gx -= mean_d[:, None]
            xp.multiply(xhat, mean_dx[:, None], out=t)
            gx -= t
            gx *= ctx.rstd.reshape(R, 1)
            gx = gx.reshape(grad.shape)
        return gx, gw, gb


class NormalizeFunction(Function):
    """y = x / max(||x||_p, eps) along ``axis`` (Lp normalisation).

    With n = ||x||_p and d = max(n, eps), and dn/dx = sign(x) |x|^(p-1) / n^(p-1)
    (x / n for p = 2):

        dL/dx = g / d - [n > eps] (sum_axis g x) / d^2 dn/dx.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, *, p: float = 2.0, axis: int = 1, eps: float = 1e-12) -> Any:
        xp = get_array_module(x)
        if p == 2:
            n = xp.sqrt(xp.square(x).sum(axis=axis, keepdims=True))
        elif p == 1:
            n = xp.abs(x).sum(axis=axis, keepdims=True)
        else:
            n = (xp.abs(x) ** p).sum(axis=axis, keepdims=True) ** (1.0 / p)
        d = xp.maximum(n, x.dtype.type(eps))
        ctx.x, ctx.n, ctx.d, ctx.p, ctx.axis, ctx.eps = x, n, d, p, axis, eps
        return x / d

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        xp = get_array_module(grad)
        x, n, d, p = ctx.x, ctx.n, ctx.d, ctx.p
        coef = (grad * x).sum(axis=ctx.axis, keepdims=True) / (d * d) * (n > ctx.eps)
        safe_n = xp.where(n > 0, n, 1)
        if p == 2:
            dn = x / safe_n
        elif p == 1:
            dn = xp.sign(x)
        else:
            dn = xp.sign(x) * xp.abs(x) ** (p - 1) / safe_n ** (p - 1)
        return grad / d - coef * dn
