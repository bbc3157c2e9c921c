"""Differentiable backward rules of the fused losses (``ops/loss.py``).

Each fused loss is recomputed from primitive ops (log-softmax, gather, sum,
softplus...) with exactly the forward's formula, options and divisor, and
differentiated through that recomputation (``common.decompose``).  The
pointwise regression losses l(x - t) instead use their second derivative l''
directly: 2 for MSE, 0 for L1, 1 inside the quadratic zone of Huber (1/beta for
smooth L1).
"""

from __future__ import annotations

from typing import Any

from ...backend import get_array_module
from ...ops import activation as A
from ...ops import api as F
from ...ops import elementwise as E
from ...ops import loss as LS
from ...ops import reduce as R
from ...ops import shape as S
from ..function import Context
from ..higher_order import constant, register
from .common import decompose


def _reduce(loss: Any, reduction: str, count: Any) -> Any:
    """The loss's reduction on a tensor: none, sum, or sum / count (the forward's own divisor)."""
    if reduction == "none":
        return loss
    total = F.sum(loss)
    if reduction == "sum":
        return total
    return total / float(count)


def _pick(values: Any, tgt: Any) -> Any:
    """values[n, tgt[n, ...], ...] along the class axis 1, as a recorded gather."""
    xp = get_array_module(tgt)
    picked = S.Gather.apply(values, index=xp.expand_dims(tgt, 1), axis=1)
    return F.reshape(picked, tgt.shape)


def _class_view(w: Any, ndim: int) -> Any:
    return constant(LS._class_view(w, ndim))


@register(LS.CrossEntropyFunction)
def _cross_entropy(ctx: Context, g: Any) -> tuple[Any]:
    """l = (1 - e) w_t (-log p_t) + (e / C) sum_c w_c (-log p_c), masked where ignored."""
    tgt, valid, wt, weight, eps = ctx.tgt, ctx.valid, ctx.wt, ctx.weight, ctx.eps

    def build(x: Any) -> Any:
        logp = A.LogSoftmax.apply(x, axis=1)
        loss = -_pick(logp, tgt)
        if wt is not None:
            loss = loss * constant(wt)
        if eps > 0:
            weighted = logp if weight is None else logp * _class_view(weight, logp.ndim)
            loss = loss * (1.0 - eps) - F.sum(weighted, axis=1) * (eps / logp.shape[1])
        if valid is not None:
            loss = loss * constant(valid)
        return _reduce(loss, ctx.reduction, ctx.count)

    return decompose(ctx, g, build, (None,))


@register(LS.NLLLossFunction)
def _nll(ctx: Context, g: Any) -> tuple[Any]:
    """l = -w_t x_t: linear in x, so the second derivative in x is 0 (but not in the incoming gradient)."""
    tgt, valid, wt = ctx.tgt, ctx.valid, ctx.wt

    def build(x: Any) -> Any:
        loss = -_pick(x, tgt)
        if wt is not None:
            loss = loss * constant(wt)
        if valid is not None:
            loss = loss * constant(valid)
        return _reduce(loss, ctx.reduction, ctx.count)

    return decompose(ctx, g, build, (None,))


@register(LS.SoftCrossEntropyFunction)
def _soft_cross_entropy(ctx: Context, g: Any) -> tuple[Any, Any]:
    """l = -sum_c w_c q'_c log p_c with q' = (1 - e) q + e / C."""
    q_is_const = ctx.inputs[1] is None
    weight, eps = ctx.weight, ctx.eps

    def build(x: Any, q: Any) -> Any:
        logp = A.LogSoftmax.apply(x, axis=1)
        if q_is_const:
            wq = q  # the saved w q' itself
        else:
            qs = q * (1.0 - eps) + eps / logp.shape[1] if eps > 0 else q
            wq = qs if weight is None else qs * _class_view(weight, logp.ndim)
        return _reduce(-F.sum(wq * logp, axis=1), ctx.reduction, ctx.count)

    return decompose(ctx, g, build, (None, ctx.wq))


@register(LS.BCEWithLogitsFunction)
def _bce_with_logits(ctx: Context, g: Any) -> tuple[Any, Any, Any, Any]:
    """l = w [(1 - t) x + (P t + 1 - t) softplus(-x)]."""

    def build(x: Any, t: Any, w: Any, pw: Any) -> Any:
        sp = A.Softplus.apply(-x, beta=1.0, threshold=20.0)
        raw = (1.0 - t) * x + (sp if pw is None else ((pw - 1.0) * t + 1.0) * sp)
        return _reduce(raw if w is None else raw * w, ctx.reduction, ctx.count)

    return decompose(ctx, g, build, (ctx.x, ctx.t, ctx.weight, ctx.pos_weight))


@register(LS.BCEFunction)
def _bce(ctx: Context, g: Any) -> tuple[Any, Any, Any]:
    """l = -w [t log x + (1 - t) log(1 - x)], each log clamped at -100."""

    def build(x: Any, t: Any, w: Any) -> Any:
        log_x = E.Clamp.apply(F.log(x), lo=-100.0)
        log_1mx = E.Clamp.apply(F.log(1.0 - x), lo=-100.0)
        raw = -(t * log_x + (1.0 - t) * log_1mx)
        return _reduce(raw if w is None else raw * w, ctx.reduction, ctx.count)

    return decompose(ctx, g, build, (ctx.x, ctx.t, ctx.weight))


@register(LS.KLDivFunction)
def _kl_div(ctx: Context, g: Any) -> tuple[Any, Any]:
    """l = p (log p - x) (0 where p = 0), or e^t (t - x) with ``log_target``."""
    xp = get_array_module(ctx.p)
    xin, tin = ctx.inputs
    log_target = ctx.log_target
    if log_target:
        x_arr = xin.array if xin is not None else tin.array - ctx.diff
        t_arr = tin.array if tin is not None else ctx.diff + x_arr
    else:
        pos = ctx.p > 0
        log_p = xp.log(xp.where(pos, ctx.p, 1))
        x_arr = xin.array if xin is not None else log_p - ctx.diff
        t_arr = ctx.p

    def build(x: Any, t: Any) -> Any:
        if log_target:
            loss = F.exp(t) * (t - x)
        else:
            # torch's xlogy(p, p) - p x; its p-gradient is NaN at p = 0 (p / p) and below (log p): the
            # term t * nan there adds exactly that NaN to the t-gradient and nothing to the x-gradient
            zero = constant(ctx.p == 0)
            loss = F.where(zero, 0.0, t * F.log(F.where(zero, 1.0, t))) - t * x
            if tin is not None and (ctx.p <= 0).any():
                loss = loss + t * constant(xp.where(ctx.p <= 0, xp.nan, 0.0).astype(ctx.p.dtype))
        return _reduce(loss, ctx.reduction, ctx.count)

    return decompose(ctx, g, build, (x_arr, t_arr))


@register(LS.CosineSimilarityFunction)
def _cosine_similarity(ctx: Context, g: Any) -> tuple[Any, Any]:
    """c = <a, b> / (max(||a||, eps) max(||b||, eps)), the max as a constant choice of branch."""
    axis, eps = ctx.axis, float(ctx.eps)
    a_big, b_big = constant(ctx.na > ctx.eps), constant(ctx.nb > ctx.eps)
    shape = ctx.a.shape

    def build(a: Any, b: Any) -> Any:
        a = a if a.shape == shape else F.broadcast_to(a, shape)
        b = b if b.shape == shape else F.broadcast_to(b, shape)
        da = F.where(a_big, R.VectorNorm2.apply(a, axis=axis, keepdims=True), eps)
        db = F.where(b_big, R.VectorNorm2.apply(b, axis=axis, keepdims=True), eps)
        c = F.sum(a * b, axis=axis, keepdims=True) / (da * db)
        return F.squeeze(c, axis)

    return decompose(ctx, g, build, (ctx.a, ctx.b))


def _second_derivative(ctx: Context) -> Any:
    """l''(d) of a pointwise loss from its saved l'(d) and options (piecewise constant for all four)."""
    deriv, opts = ctx.deriv, ctx.options
    xp = get_array_module(deriv)
    if ctx.fn is LS.MSELossFunction:
        return 2.0
    if ctx.fn is LS.L1LossFunction:
        return None
    if ctx.fn is LS.HuberLossFunction:
        return (xp.abs(deriv) < opts.get("delta", 1.0)).astype(deriv.dtype)
    beta = opts.get("beta", 1.0)  # SmoothL1: l' = d / beta inside, sign(d) outside
    if beta == 0:
        return None
    return ((xp.abs(deriv) < 1.0) / beta).astype(deriv.dtype)


@register(LS.MSELossFunction, LS.L1LossFunction, LS.HuberLossFunction, LS.SmoothL1LossFunction)
def _pointwise(ctx: Context, g: Any) -> tuple[Any, Any]:
    """dl/dx = s l'(d), dl/dt = -s l'(d), d = x - t, with l'(d) recorded as l'(d0) + l''(d0) (d - d0)."""
    nx, nt = ctx.needs_input_grad
    s = g / float(ctx.count) if ctx.reduction == "mean" else g
    lp = constant(ctx.deriv)
    curv = _second_derivative(ctx)
    if curv is not None:
        x, t = ctx.inputs
        moved = None  # d - d0: zero-valued, with derivative 1 in x and -1 in t
        if x is not None:
            moved = x - constant(x.array)
        if t is not None:
            dt = t - constant(t.array)
            moved = -dt if moved is None else moved - dt
        lp = lp + moved * (curv if isinstance(curv, float) else constant(curv))
    gx = s * lp
    return (gx if nx else None), (-gx if nt else None)
