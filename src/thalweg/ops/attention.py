"""Scaled dot-product attention as one fused op (Vaswani et al. 2017, "Attention Is All You Need", arXiv 1706.03762).

For queries Q (..., L, E), keys K (..., S, E) and values V (..., S, Ev):

    S = scale Q K^T + M          scores (..., L, S); M is the additive mask (0 or -inf for a boolean mask)
    P = softmax_rows(S)          attention weights
    O = (P * D) V                D the scaled dropout mask (1 when there is no dropout)

Backward, with G = dL/dO and Pd = P * D:

    dV = Pd^T G
    dP = (G V^T) * D
    dS = P * (dP - rowsum(dP * P))      (the softmax Jacobian-vector product)
    dQ = scale dS K,   dK = scale dS^T Q,   dM = dS (for a float mask that requires grad)

One graph node replaces the eight of the composite form (matmul, scale, mask,
max, exp, sum, divide, matmul), the score matrix is computed and normalised in
place, and nothing is kept but Q, K, V, P and the dropout mask.

A row whose scores are all -inf (a fully masked query) gives weights 0, so its
output and gradients are 0: that is what torch 2.13's CPU kernels return for
``F.scaled_dot_product_attention`` (the explicit softmax in ``MultiheadAttention``
with ``need_weights=True`` gives NaN there instead, and so does ours).
"""

from __future__ import annotations

from typing import Any

from ..autograd.function import Context, Function
from ..backend import get_array_module

_CAUSAL: dict[tuple[int, int, Any], Any] = {}  # (L, S, dtype) -> read-only additive mask; never handed out


def causal_additive(L: int, S: int, dtype: Any, xp: Any) -> Any:
    """The (L, S) additive causal mask: 0 on and below the diagonal, -inf above (keys a query may not see).

    Masks are *added* to the scores rather than applied with ``copyto(where=)``:
    a masked ufunc is several times slower than a broadcast add.
    """
    key = (L, S, dtype)
    out = _CAUSAL.get(key)
    if out is None or get_array_module(out) is not xp:
        out = xp.where(xp.tri(L, S, dtype=bool), dtype.type(0), dtype.type(-xp.inf))
        out.flags.writeable = False
        if L * S <= 1 << 20:
            _CAUSAL[key] = out
    return out


def _fit(s: Any, mask_shape: tuple[int, ...]) -> Any:
    """``s`` grown (a copy) to the broadcast shape with a mask whose batch dimensions are larger."""
    xp = get_array_module(s)
    shape = xp.broadcast_shapes(s.shape, mask_shape)
    return s if shape == s.shape else xp.broadcast_to(s, shape).copy()


class ScaledDotProductAttention(Function):
    """softmax(scale Q K^T + M) V in one node; see the module docstring for the math.

    Positional inputs: q, k, v and ``float_mask`` (an additive mask, or None).
    Keywords: ``blocked`` (a boolean array, True where a query may *not* attend),
    ``causal`` (mask the upper triangle), ``scale`` and ``drop`` (the scaled
    dropout mask on the weights, or None).
    """

    @staticmethod
    def forward(ctx: Context, q: Any, k: Any, v: Any, float_mask: Any = None, *, blocked: Any = None,
                causal: bool = False, scale: float = 1.0, drop: Any = None) -> Any:
        xp = get_array_module(q)
        s = xp.matmul(q, xp.swapaxes(k, -1, -2))
        s *= s.dtype.type(scale)
        masked = causal or blocked is not None
        if float_mask is not None:
            s = _fit(s, float_mask.shape)
            s += float_mask
            masked = True
        if blocked is not None:  # as an additive mask of the mask's (usually small) shape
            s = _fit(s, blocked.shape)
            s += xp.where(blocked, s.dtype.type(-xp.inf), s.dtype.type(0))
        if causal:
            s += causal_additive(s.shape[-2], s.shape[-1], s.dtype, xp)
        # softmax along the keys, in place
        m = s.max(axis=-1, keepdims=True)
        if masked:
            m[m == -xp.inf] = 0  # a fully masked row: exp(-inf) = 0 everywhere, not NaN
        s -= m
        xp.exp(s, out=s)
        ones = xp.ones(s.shape[-1], dtype=s.dtype)
        z = (s @ ones)[..., None]  # row sums as a batched gemv: much faster than a reduce over a short axis
        if masked:
            z[z == 0] = 1  # ... and its weights stay 0
        s /= z
        p = s
        pd = p if drop is None else p * drop
        out = xp.matmul(pd, v)
        ctx.save_for_backward(q, k, v, p, drop)
        ctx.scale = scale
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any, Any, Any]:
        xp = get_array_module(grad)
        need_q, need_k, need_v, need_m = ctx.needs_input_grad
        q, k, v, p, drop = ctx.saved_tensors
        scale = p.dtype.type(ctx.scale)
        dv = None
        if need_v:
            pd = p if drop is None else p * drop
            dv = xp.matmul(xp.swapaxes(pd, -1, -2), grad)
        if not (need_q or need_k or need_m):
            return None, None, dv, None
        ds = xp.matmul(grad, xp.swapaxes(v, -1, -2))  # dP, a new array: turned into dS in place
        if drop is not None:
            ds *= drop
        row = ((ds * p) @ xp.ones(p.shape[-1], dtype=p.dtype))[..., None]
        ds -= row
        ds *= p
        dm = ds.copy() if need_m else None
        ds *= scale
        dq = xp.matmul(ds, k) if need_q else None
        dk = xp.matmul(xp.swapaxes(ds, -1, -2), q) if need_k else None
        return dq, dk, dv, dm
