"""Group normalization as one fused op (Y. Wu and K. He, "Group Normalization", ECCV 2018, arXiv 1803.08494).

The C channels of x (N, C, *) are split into G groups of C/G channels; each
(sample, group) is normalised over its channels and positions (m values),
then each channel gets its own scale and shift:

    mu = mean x,  var = mean (x - mu)^2,  r = 1 / sqrt(var + eps)      (per sample and group)
    xhat = (x - mu) r,   y = gamma_c xhat + beta_c

Backward is LayerNorm's within each group, with dxhat = g gamma_c:

    dL/dx = r (dxhat - mean dxhat - xhat mean(dxhat xhat))       (means over the group's m values)
    dL/dgamma_c = sum_{n, positions} g xhat,   dL/dbeta_c = sum_{n, positions} g

G = 1 is LayerNorm over (C, *) with per-channel affine; G = C is InstanceNorm.
"""

from __future__ import annotations

from typing import Any

from ..autograd.function import Context, Function
from ..backend import get_array_module


class GroupNormFunction(Function):
    """y = GroupNorm(x; G, gamma, beta, eps) for x (N, C, *); see the module docstring."""

    @staticmethod
    def forward(ctx: Context, x: Any, weight: Any = None, bias: Any = None, *, groups: int = 1,
                eps: float = 1e-5) -> Any:
        xp = get_array_module(x)
        n, c = x.shape[:2]
        xg = x.reshape(n, groups, -1)
        mean = xg.mean(axis=2, keepdims=True)
        xhat = xg - mean
        var = xp.square(xhat).mean(axis=2, keepdims=True)
        rstd = 1 / xp.sqrt(var + x.dtype.type(eps))
        xhat *= rstd
        ctx.xhat, ctx.rstd, ctx.weight, ctx.groups = xhat, rstd, weight, groups
        out = xhat.reshape(n, c, -1)
        if weight is None:
            out = out.copy() if bias is None else out + bias[:, None]
        else:
            out = out * weight[:, None]
            if bias is not None:
                out += bias[:, None]
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any, Any]:
        need_x, need_w, need_b = ctx.needs_input_grad
        xhat, rstd, weight, groups = ctx.xhat, ctx.rstd, ctx.weight, ctx.groups
        n, c = grad.shape[:2]
        g3 = grad.reshape(n, c, -1)
        xhat_c = xhat.reshape(n, c, -1)
        gw = (g3 * xhat_c).sum(axis=(0, 2)) if need_w else None
        gb = g3.sum(axis=(0, 2)) if need_b else None
        gx = None
        if need_x:
            dxhat = (g3 if weight is None else g3 * weight[:, None]).reshape(n, groups, -1)
            mean_d = dxhat.mean(axis=2, keepdims=True)
            mean_dx = (dxhat * xhat).mean(axis=2, keepdims=True)
            gx = dxhat - mean_d
            gx -= xhat * mean_dx
            gx *= rstd
            gx = gx.reshape(grad.shape)
        return gx, gw, gb
