"""Differentiable backward rule of fused scaled dot-product attention (``ops/attention.py``).

The node is recomputed from primitive ops,

    P = softmax(scale Q K^T + M + C),   out = (P * D) V,

where D is the saved dropout mask and C = log P0 - S0 is a constant fixed from
the forward's saved weights P0 and scores S0: it reproduces P0 exactly,
including the -inf of every masked position (boolean and causal masks need
not be known), while the derivatives in Q, K and an additive mask M are
those of the softmax at P0.  Fully masked rows (all weights 0) stay 0.
"""

from __future__ import annotations

from typing import Any

from ...backend import get_array_module
from ...ops import activation as A
from ...ops import api as F
from ...ops import attention as AT
from ..function import Context
from ..higher_order import constant, register
from .common import decompose


@register(AT.ScaledDotProductAttention)
def _attention(ctx: Context, g: Any) -> tuple[Any, Any, Any, Any]:
    q0, k0, v0, p0, drop = ctx.saved_tensors
    xp = get_array_module(p0)
    scale = float(ctx.scale)
    m_in = ctx.inputs[3]
    s0 = xp.matmul(q0, xp.swapaxes(k0, -1, -2)) * scale
    if m_in is not None:
        s0 = s0 + m_in.array
    dead = p0.sum(axis=-1, keepdims=True) == 0
    with xp.errstate(divide="ignore", invalid="ignore"):
        offset = xp.where(p0 > 0, xp.log(xp.where(p0 > 0, p0, 1)) - s0, -xp.inf)
    offset = xp.where(dead, 0, offset).astype(p0.dtype)
    alive = constant((~dead).astype(p0.dtype)) if dead.any() else None

    def build(q: Any, k: Any, v: Any, m: Any) -> Any:
        s = F.matmul(q, F.swapaxes(k, -1, -2)) * scale
        if m is not None:
            s = s + m
        p = A.Softmax.apply(s + constant(offset), axis=-1)
        if alive is not None:
            p = p * alive
        if drop is not None:
            p = p * constant(drop)
        return F.matmul(p, v)

    return decompose(ctx, g, build, (q0, k0, v0, None))
