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
from . import kernels
from .gemm import matmul
from .sums import row_sums

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
        ctx.scale = scale
        groups = _batch_blocks(q, k, v, float_mask, blocked, xp)
        if groups is None:
            s = matmul(q, xp.swapaxes(k, -1, -2))
            s = _softmax_scores(s, float_mask, blocked, causal, scale, xp)
            out = matmul(s if drop is None else s * drop, v)
            ctx.save_for_backward(q, k, v, s, drop)
            return out
        # large score tensors, one block of the batch at a time, so each block's scores stay in cache
        p = xp.empty(q.shape[:-1] + (k.shape[-2],), dtype=q.dtype)
        out = xp.empty(q.shape[:-1] + (v.shape[-1],), dtype=q.dtype)
        for b in groups:
            matmul(q[b], xp.swapaxes(k[b], -1, -2), out=p[b])
            _softmax_scores(p[b], None, None, causal, scale, xp)
            matmul(p[b] if drop is None else p[b] * drop[b], v[b], out=out[b])
        ctx.save_for_backward(q, k, v, p, drop)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any, Any, Any]:
        xp = get_array_module(grad)
        need_q, need_k, need_v, need_m = ctx.needs_input_grad
        q, k, v, p, drop = ctx.saved_tensors
        groups = None if need_m else _batch_blocks(q, k, v, None, None, xp, p.shape)
        if groups is None:
            return _backward_block(grad, q, k, v, p, drop, ctx.scale, need_q, need_k, need_v, need_m, xp)
        dq = xp.empty_like(q) if need_q else None
        dk = xp.empty_like(k) if need_k else None
        dv = xp.empty_like(v) if need_v else None
        for b in groups:
            gq, gk, gv, _ = _backward_block(grad[b], q[b], k[b], v[b], p[b], None if drop is None else drop[b],
                                            ctx.scale, need_q, need_k, need_v, False, xp)
            for full, part in ((dq, gq), (dk, gk), (dv, gv)):
                if full is not None:
                    full[b] = part
        return dq, dk, dv, None


BLOCK_SCORES = 1 << 17  # scores per block of the batch (512 KB in float32), so a block's passes stay in L2


def _batch_blocks(q: Any, k: Any, v: Any, float_mask: Any, blocked: Any, xp: Any,
                  scores: tuple[int, ...] | None = None) -> list[slice] | None:
    """Slices of the first (batch) axis with about ``BLOCK_SCORES`` scores each, or None to go whole.

    Blocks are used for NumPy arrays whose scores exceed a block, with no mask
    other than the causal one, and q, k, v of one batch shape.
    """
    if xp.__name__ != "numpy" or float_mask is not None or blocked is not None or q.ndim < 3:
        return None
    if not (q.shape[:-2] == k.shape[:-2] == v.shape[:-2]):
        return None
    per_item = 1
    for n in (scores or q.shape[:-1] + (k.shape[-2],))[1:]:
        per_item *= n
    if per_item * q.shape[0] <= BLOCK_SCORES:
        return None
    step = max(1, BLOCK_SCORES // max(per_item, 1))
    return [slice(i, min(i + step, q.shape[0])) for i in range(0, q.shape[0], step)]


def _softmax_scores(s: Any, float_mask: Any, blocked: Any, causal: bool, scale: float, xp: Any) -> Any:
    """P = softmax_rows(scale s + M) of the raw scores s = Q K^T, in place where it can be; returns P.

    Without a float or boolean mask, contiguous float32 scores take one compiled pass per row
    (``numba_kernels.attention_softmax``; a causal row exponentiates only the keys it sees) instead
    of the eight NumPy passes below.
    """
    if float_mask is None and blocked is None and kernels.usable(s):
        kernels.get("attention_softmax")(s.reshape(-1, s.shape[-2], s.shape[-1]), s.dtype.type(scale), causal)
        return s
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
    z = row_sums(s)  # a batched gemv: much faster than a reduce over a short axis
    if masked:
        z[z == 0] = 1  # ... and its weights stay 0
    s /= z
    return s


def _backward_block(grad: Any, q: Any, k: Any, v: Any, p: Any, drop: Any, scale: float, need_q: bool,
                    need_k: bool, need_v: bool, need_m: bool, xp: Any) -> tuple[Any, Any, Any, Any]:
    """(dQ, dK, dV, dM) of one block (or of everything); see the module docstring."""
    scale = p.dtype.type(scale)
    dv = None
    if need_v:
        pd = p if drop is None else p * drop
        dv = matmul(xp.swapaxes(pd, -1, -2), grad)
    if not (need_q or need_k or need_m):
        return None, None, dv, None
    ds = matmul(grad, xp.swapaxes(v, -1, -2))  # dP, a new array: turned into dS in place
    if drop is not None:
        ds *= drop
    dm = None
    if not need_m and kernels.usable(ds, p):  # one compiled pass per row: ds = scale p (ds - rowsum(ds p))
        kernels.get("attention_softmax_backward")(ds.reshape(-1, ds.shape[-1]), p.reshape(-1, p.shape[-1]), scale)
    else:
        row = row_sums(ds * p)
        ds -= row
        ds *= p
        dm = ds.copy() if need_m else None
        ds *= scale
    dq = matmul(ds, k) if need_q else None
    dk = matmul(xp.swapaxes(ds, -1, -2), q) if need_k else None
    return dq, dk, dv, dm
