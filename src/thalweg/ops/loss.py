"""Fused loss functions: the forward value and the hand-derived gradient side by side.

A loss is the last node of the graph; fusing it (softmax + log + pick + mean in
one node for cross-entropy) avoids materialising log-probabilities and is the
numerically stable form: log-softmax is computed as x - max(x) - log sum
exp(x - max(x)), which never overflows, even for logits of 1e4.

Every loss takes ``reduction``: ``"none"`` (one value per element or sample),
``"sum"`` or ``"mean"``.  In backward the incoming gradient ``g`` is a scalar for
``sum``/``mean`` and has the loss's shape for ``none``; ``_scale`` turns it into
the per-element factor s that multiplies each local derivative.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from ..autograd.function import Context, Function
from ..backend import get_array_module
from . import kernels

REDUCTIONS = ("none", "mean", "sum")


def check_reduction(reduction: str, op: str, extra: tuple[str, ...] = ()) -> None:
    """Raise ``ValueError`` naming the op when ``reduction`` is not one it knows."""
    if reduction not in REDUCTIONS + extra:
        allowed = ", ".join(repr(r) for r in REDUCTIONS + extra)
        raise ValueError(f"{op}: reduction must be one of {allowed}, got {reduction!r}")


def _reduce(xp: Any, loss: Any, reduction: str, count: Any = None) -> Any:
    """Apply the reduction to an elementwise loss (``count`` overrides the mean's divisor)."""
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return xp.asarray(total)
    n = loss.size if count is None else count
    if n:
        return xp.asarray(total / n, dtype=loss.dtype)
    with _quiet(xp):  # every target ignored: 0 / 0 = nan, as in torch
        return xp.asarray(total / n, dtype=loss.dtype)


def sign_nan_zero(xp: Any, d: Any) -> Any:
    """sign(d) with torch's value 0 at NaN (NumPy's sign gives NaN): l1_loss's gradient at a NaN is 0 in torch."""
    s = xp.sign(d)
    return xp.nan_to_num(s, copy=getattr(s, "ndim", 0) == 0, nan=0.0)  # in place, except for scalars


def _quiet(xp: Any) -> Any:
    """A context that silences NumPy's 1/0 and 0/0 warnings (a no-op for other array libraries)."""
    errstate = getattr(xp, "errstate", None)
    return errstate(divide="ignore", invalid="ignore") if errstate is not None else contextlib.nullcontext()


def _scale(grad: Any, reduction: str, count: Any) -> Any:
    """dL/d(elementwise loss): g itself for none/sum, g / count for mean (NaN, quietly, for a count of 0)."""
    if reduction != "mean":
        return grad
    if count:
        return grad / grad.dtype.type(count)
    with _quiet(get_array_module(grad)):  # every target ignored in a mean: the loss is nan, as in torch
        return grad / grad.dtype.type(count)


# ----------------------------------------------------------- cross-entropy
def _gather(a: Any, idx: Any) -> Any:
    """a[n, idx[n, ...], ...]: pick one entry per sample along the class axis 1."""
    xp = get_array_module(a)
    if a.ndim == 2:
        return a[xp.arange(a.shape[0]), idx]
    return xp.take_along_axis(a, idx[:, None], axis=1)[:, 0]


def _scatter_sub(a: Any, idx: Any, values: Any) -> None:
    """a[n, idx[n, ...], ...] -= values, in place (each position is hit once)."""
    xp = get_array_module(a)
    if a.ndim == 2:
        a[xp.arange(a.shape[0]), idx] -= values
        return
    ix = idx[:, None]
    xp.put_along_axis(a, ix, xp.take_along_axis(a, ix, axis=1) - values[:, None], axis=1)


def _class_view(w: Any, ndim: int) -> Any:
    """A per-class vector shaped (1, C, 1, ...) to broadcast against (N, C, d1, ...)."""
    return w.reshape((1, -1) + (1,) * (ndim - 2))


def _mean_divisor(loss: Any, wt: Any, valid: Any) -> Any:
    """torch's divisor of a class-target loss's mean: the summed weights of the counted targets, or their number."""
    if wt is not None:
        return (wt * valid).sum() if valid is not None else wt.sum()
    return valid.sum() if valid is not None else loss.size


def check_class_targets(target: Any, num_classes: int, ignore_index: int, op: str) -> tuple[Any, Any]:
    """Validate class indices; return (indices with ignored entries replaced by 0, valid mask or None)."""
    xp = get_array_module(target)
    valid = target != ignore_index
    all_valid = bool(valid.all())
    safe = target if all_valid else xp.where(valid, target, 0)
    if safe.size and (int(safe.min()) < 0 or int(safe.max()) >= num_classes):
        bad = safe[(safe < 0) | (safe >= num_classes)]
        raise IndexError(
            f"{op}: target class index {int(bad.reshape(-1)[0])} is out of range for {num_classes} classes "
            f"(valid indices are 0..{num_classes - 1}, or ignore_index={ignore_index})"
        )
    return safe, (None if all_valid else valid)


class CrossEntropyFunction(Function):
    """Cross-entropy of logits x (N, C, d1, ...) against class indices t (N, d1, ...).

    With p = softmax(x) over the class axis, w the class weights (1 if not
    given), W = sum_c w_c and smoothing e (label smoothing, Szegedy et al.
    2016), the loss of one sample is

        l = (1 - e) w_t (-log p_t) + (e / C) sum_c w_c (-log p_c)

    and, for s = dL/dl,

        dl/dx_k = s [ p_k ((1 - e) w_t + e W / C) - (1 - e) w_t [k = t] - (e / C) w_k ].

    Without weights and smoothing this is the familiar p - onehot(t).  The
    ``mean`` divides by the summed weight of the non-ignored targets, as torch
    does; ignored targets contribute nothing.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, *, target: Any = None, weight: Any = None, ignore_index: int = -100,
                reduction: str = "mean", label_smoothing: float = 0.0) -> Any:
        xp = get_array_module(x)
        C = x.shape[1]
        if weight is None and label_smoothing == 0 and x.ndim == 2 and kernels.usable(x):
            return _compiled_cross_entropy(ctx, x, target, ignore_index, reduction)
        tgt, valid = check_class_targets(target, C, ignore_index, "cross_entropy")
        shifted = x - x.max(axis=1, keepdims=True)
        picked = _gather(shifted, tgt)
        eps = label_smoothing
        smooth_sum = None
        if eps > 0:
            smooth_sum = (shifted * _class_view(weight, x.ndim)).sum(axis=1) if weight is not None \
                else shifted.sum(axis=1)
        e = xp.exp(shifted, out=shifted)  # shifted is no longer needed: reuse its memory
        S = e.sum(axis=1)
        log_s = xp.log(S)
        loss = log_s - picked  # -log p_t
        wt = None
        if weight is not None:
            wt = weight[tgt]
            loss *= wt
        if eps > 0:
            total_w = weight.sum() if weight is not None else C
            loss *= 1 - eps
            loss += (eps / C) * (total_w * log_s - smooth_sum)
        if valid is not None:  # an ignored target contributes exactly 0, whatever its logits
            loss = xp.where(valid, loss, loss.dtype.type(0))
        count = _mean_divisor(loss, wt, valid) if reduction == "mean" else None
        ctx.e, ctx.S, ctx.tgt, ctx.valid, ctx.wt, ctx.weight = e, S, tgt, valid, wt, weight
        ctx.reduction, ctx.count, ctx.eps = reduction, count, eps
        return _reduce(xp, loss, reduction, count)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        e, S, tgt, valid, wt, weight, eps = ctx.e, ctx.S, ctx.tgt, ctx.valid, ctx.wt, ctx.weight, ctx.eps
        xp = get_array_module(e)
        s = xp.broadcast_to(_scale(grad, ctx.reduction, ctx.count), tgt.shape)
        if valid is not None:  # ignored targets get exactly 0 (torch), not 0 * (g / 0) = nan
            s = xp.where(valid, s, s.dtype.type(0))
        if S is None:  # the compiled forward: e holds softmax(x) itself
            return kernels.cross_entropy_backward(e, tgt, s)
        b = s if wt is None else s * wt  # s w_t
        if eps > 0:
            C = e.shape[1]
            total_w = weight.sum() if weight is not None else C
            a = (1 - eps) * b + (eps * total_w / C) * s
            b = (1 - eps) * b
        else:
            a = b
        gx = e * (a / S)[:, None]
        _scatter_sub(gx, tgt, b)
        if eps > 0:
            w = 1 if weight is None else _class_view(weight, e.ndim)
            gx -= (s * (eps / C))[:, None] * w
        return gx


def _compiled_cross_entropy(ctx: Context, x: Any, target: Any, ignore_index: int, reduction: str) -> Any:
    """CrossEntropyFunction.forward without weights or smoothing, for contiguous float32 (N, C) logits: one
    compiled pass (``numba_kernels.cross_entropy_forward``) validates the targets and computes the losses and
    softmax(x), which the backward turns into p - onehot(t) (about 10 NumPy calls and their passes otherwise)."""
    count, bad, loss, p, safe = kernels.cross_entropy_forward(x, target, ignore_index)
    if bad >= 0:
        check_class_targets(target, x.shape[1], ignore_index, "cross_entropy")  # raises, naming the index
    valid = None if count == x.shape[0] else target != ignore_index
    divisor = _mean_divisor(loss, None, valid) if reduction == "mean" else None
    ctx.e, ctx.S, ctx.tgt, ctx.valid, ctx.wt, ctx.weight = p, None, safe, valid, None, None
    ctx.reduction, ctx.count, ctx.eps = reduction, divisor, 0.0
    return _reduce(np, loss, reduction, divisor)


class SoftCrossEntropyFunction(Function):
    """Cross-entropy of logits x (N, C, ...) against class probabilities q of the same shape.

    With q' = (1 - e) q + e / C (label smoothing) and class weights w:

        l = -sum_c w_c q'_c log p_c,
        dl/dx_k = p_k sum_c w_c q'_c - w_k q'_k,      dl/dq_k = -(1 - e) w_k log p_k.

    ``mean`` divides by the number of samples N d1 ... (not by the weights), as torch does.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, q: Any, *, weight: Any = None, reduction: str = "mean",
                label_smoothing: float = 0.0) -> Any:
        xp = get_array_module(x)
        C = x.shape[1]
        shifted = x - x.max(axis=1, keepdims=True)
        e = xp.exp(shifted)
        S = e.sum(axis=1)
        log_s = xp.log(S)
        eps = label_smoothing
        qs = q * (1 - eps) + eps / C if eps > 0 else q
        wq = qs * _class_view(weight, x.ndim) if weight is not None else qs
        sum_wq = wq.sum(axis=1)
        loss = log_s * sum_wq - (wq * shifted).sum(axis=1)
        count = loss.size
        ctx.e, ctx.S, ctx.wq, ctx.sum_wq, ctx.weight, ctx.eps = e, S, wq, sum_wq, weight, eps
        ctx.reduction, ctx.count = reduction, count
        if getattr(ctx, "needs_input_grad", (False, False))[1]:  # only set when recording
            ctx.logp = shifted - log_s[:, None]
        return _reduce(xp, loss, reduction, count)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        xp = get_array_module(ctx.e)
        s = xp.broadcast_to(_scale(grad, ctx.reduction, ctx.count), ctx.S.shape)
        gx = gq = None
        if ctx.needs_input_grad[0]:
            gx = ctx.e * (s * ctx.sum_wq / ctx.S)[:, None]
            gx -= s[:, None] * ctx.wq
        if ctx.needs_input_grad[1]:
            gq = ctx.logp * (-(1 - ctx.eps) * s)[:, None]
            if ctx.weight is not None:
                gq *= _class_view(ctx.weight, gq.ndim)
        return gx, gq


class NLLLossFunction(Function):
    """Negative log-likelihood of log-probabilities x (N, C, ...) at class indices t.

    l = -w_t x_t;  dl/dx = -w_t at the target class, 0 elsewhere.  ``mean``
    divides by the summed weight of the non-ignored targets.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, *, target: Any = None, weight: Any = None, ignore_index: int = -100,
                reduction: str = "mean") -> Any:
        xp = get_array_module(x)
        tgt, valid = check_class_targets(target, x.shape[1], ignore_index, "nll_loss")
        loss = -_gather(x, tgt)
        wt = None
        if weight is not None:
            wt = weight[tgt]
            loss *= wt
        if valid is not None:  # an ignored target contributes exactly 0
            loss = xp.where(valid, loss, loss.dtype.type(0))
        count = _mean_divisor(loss, wt, valid) if reduction == "mean" else None
        ctx.shape, ctx.dtype, ctx.tgt, ctx.valid, ctx.wt = x.shape, x.dtype, tgt, valid, wt
        ctx.reduction, ctx.count = reduction, count
        return _reduce(xp, loss, reduction, count)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        xp = get_array_module(grad)
        s = xp.broadcast_to(_scale(grad, ctx.reduction, ctx.count), ctx.tgt.shape)
        if ctx.valid is not None:  # ignored targets get exactly 0 (torch), not 0 * (g / 0) = nan
            s = xp.where(ctx.valid, s, s.dtype.type(0))
        if ctx.wt is not None:
            s = s * ctx.wt
        gx = xp.zeros(ctx.shape, dtype=ctx.dtype)
        _scatter_sub(gx, ctx.tgt, s)
        return gx


# ------------------------------------------------------------ binary losses
def check_broadcast_to_input(x: Any, named: tuple[tuple[str, Any], ...], op: str) -> None:
    """Weights may broadcast *to* the input's shape, never make the loss larger (torch raises there)."""
    xp = get_array_module(x)
    for name, w in named:
        if w is None:
            continue
        try:
            shape = xp.broadcast_shapes(x.shape, w.shape)
        except ValueError:
            shape = None
        if shape != x.shape:
            raise RuntimeError(f"{op}: {name} of shape {tuple(w.shape)} does not broadcast to the input's shape "
                               f"{tuple(x.shape)}" + ("" if shape is None else
                                                      f" (it would make the loss {tuple(shape)})"))


class BCEWithLogitsFunction(Function):
    """Binary cross-entropy on logits x with targets t, weight w and positive-class weight P.

    l = -w [P t log sigma(x) + (1 - t) log(1 - sigma(x))]
      = w [(1 - t) x + (P t + 1 - t) softplus(-x)]              (the stable form)
    dl/dx = w [(1 - t) - (P t + 1 - t) sigma(-x)],   dl/dt = w [(P - 1) softplus(-x) - x],
    dl/dw = l / w,   dl/dP = w t softplus(-x).
    softplus(-x) = max(-x, 0) + log(1 + e^-|x|) never overflows.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, t: Any, weight: Any = None, pos_weight: Any = None, *,
                reduction: str = "mean") -> Any:
        xp = get_array_module(x)
        check_broadcast_to_input(x, (("weight", weight), ("pos_weight", pos_weight)),
                                 "binary_cross_entropy_with_logits")
        sp = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))  # softplus(-x)
        coef = None if pos_weight is None else (pos_weight - 1) * t + 1  # P t + 1 - t (1 without P)
        raw = (1 - t) * x + (sp if coef is None else coef * sp)
        loss = raw if weight is None else raw * weight
        ctx.x, ctx.t, ctx.sp, ctx.coef, ctx.raw, ctx.weight, ctx.pos_weight = x, t, sp, coef, raw, weight, pos_weight
        ctx.reduction, ctx.count = reduction, loss.size
        return _reduce(xp, loss, reduction)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any, Any, Any]:
        from .activation import sigmoid_array

        nx, nt, nw, npw = ctx.needs_input_grad
        s = _scale(grad, ctx.reduction, ctx.count)
        sw = s if ctx.weight is None else s * ctx.weight
        x, t, sp = ctx.x, ctx.t, ctx.sp
        gx = gt = gw = gp = None
        if nx:
            sig = sigmoid_array(-x)
            gx = sw * ((1 - t) - (sig if ctx.coef is None else ctx.coef * sig))
        if nt:
            gt = sw * ((0 if ctx.pos_weight is None else (ctx.pos_weight - 1) * sp) - x)
        if nw:
            gw = s * ctx.raw
        if npw:
            gp = sw * t * sp
        return gx, gt, gw, gp


class BCEFunction(Function):
    """Binary cross-entropy on probabilities x in [0, 1] with targets t and weight w.

    l = -w [t log x + (1 - t) log(1 - x)], each log clamped at -100 as torch does;
    dl/dx = w (x - t) / max(x (1 - x), 1e-12),   dl/dt = -w (log x - log(1 - x)),   dl/dw = l / w.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, t: Any, weight: Any = None, *, reduction: str = "mean") -> Any:
        xp = get_array_module(x)
        check_broadcast_to_input(x, (("weight", weight),), "binary_cross_entropy")
        if x.size and not bool(((x >= 0) & (x <= 1)).all()):  # (a NaN fails this too, as in torch)
            raise ValueError("binary_cross_entropy: all elements of input should be between 0 and 1 "
                             "(pass probabilities, or use binary_cross_entropy_with_logits for logits)")
        with _quiet(xp):  # log(0) = -inf is expected here; it is clamped to -100
            log_x = xp.maximum(xp.log(x), -100)
            log_1mx = xp.maximum(xp.log1p(-x), -100)
        raw = -(t * log_x + (1 - t) * log_1mx)
        loss = raw if weight is None else raw * weight
        ctx.x, ctx.t, ctx.log_x, ctx.log_1mx, ctx.raw, ctx.weight = x, t, log_x, log_1mx, raw, weight
        ctx.reduction, ctx.count = reduction, loss.size
        return _reduce(xp, loss, reduction)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any, Any]:
        xp = get_array_module(grad)
        nx, nt, nw = ctx.needs_input_grad
        s = _scale(grad, ctx.reduction, ctx.count)
        sw = s if ctx.weight is None else s * ctx.weight
        x = ctx.x
        gx = gt = gw = None
        if nx:
            gx = sw * (x - ctx.t) / xp.maximum(x * (1 - x), x.dtype.type(1e-12))
        if nt:
            gt = sw * (ctx.log_1mx - ctx.log_x)
        if nw:
            gw = s * ctx.raw
        return gx, gt, gw


# ------------------------------------------------------- regression losses
class _PointwiseLoss(Function):
    """Base of losses l(d), d = x - t, elementwise; dl/dx = l'(d), dl/dt = -l'(d).

    Subclasses define ``values(xp, d, **options) -> (l(d), l'(d))``.
    """

    @classmethod
    def forward(cls, ctx: Context, x: Any, t: Any, *,  # type: ignore[override]
                reduction: str = "mean", **options: Any) -> Any:
        xp = get_array_module(x)
        loss, deriv = cls.values(xp, x - t, **options)  # type: ignore[attr-defined]  # each subclass's l and l'
        ctx.deriv, ctx.reduction, ctx.count, ctx.options = deriv, reduction, loss.size, options
        return _reduce(xp, loss, reduction)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        g = _scale(grad, ctx.reduction, ctx.count) * ctx.deriv
        return (g if ctx.needs_input_grad[0] else None), (-g if ctx.needs_input_grad[1] else None)


class MSELossFunction(_PointwiseLoss):
    """l = d^2;  l' = 2 d."""

    @staticmethod
    def values(xp: Any, d: Any, **options: Any) -> tuple[Any, Any]:
        return d * d, d + d


class L1LossFunction(_PointwiseLoss):
    """l = |d|;  l' = sign(d) (0 at d = 0, as torch)."""

    @staticmethod
    def values(xp: Any, d: Any, **options: Any) -> tuple[Any, Any]:
        return xp.abs(d), sign_nan_zero(xp, d)


class HuberLossFunction(_PointwiseLoss):
    """Huber (1964): l = d^2 / 2 if |d| < delta else delta (|d| - delta / 2);  l' = clip(d, -delta, delta)."""

    @staticmethod
    def values(xp: Any, d: Any, delta: float = 1.0, **options: Any) -> tuple[Any, Any]:
        ad = xp.abs(d)
        small = ad < delta
        loss = xp.where(small, 0.5 * d * d, delta * (ad - 0.5 * delta))
        return loss, xp.clip(d, -delta, delta)


class SmoothL1LossFunction(_PointwiseLoss):
    """Smooth L1 (Girshick 2015, Fast R-CNN): l = d^2 / (2 beta) if |d| < beta else |d| - beta / 2;
    l' = d / beta or sign(d).  beta = 0 is the L1 loss.  (Huber with delta = beta, divided by beta.)"""

    @staticmethod
    def values(xp: Any, d: Any, beta: float = 1.0, **options: Any) -> tuple[Any, Any]:
        ad = xp.abs(d)
        if beta == 0:
            return ad, sign_nan_zero(xp, d)  # torch hands beta = 0 to l1_loss
        small = ad < beta
        loss = xp.where(small, (0.5 / beta) * d * d, ad - 0.5 * beta)
        deriv = xp.where(small, d / d.dtype.type(beta), xp.sign(d))
        return loss, deriv


class KLDivFunction(Function):
    """Kullback-Leibler divergence with x = log q (log-probabilities) and target p.

    l = p (log p - x)       (0 where p = 0);   dl/dx = -p,   dl/dp = log p + 1 - x
    with ``log_target`` (target given as log p):
    l = e^lp (lp - x);   dl/dx = -e^lp,   dl/dlp = e^lp (lp - x + 1).
    ``batchmean`` divides the sum by the batch size, the true KL divergence per sample.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, t: Any, *, reduction: str = "mean", log_target: bool = False) -> Any:
        xp = get_array_module(x)
        if log_target:
            p = xp.exp(t)
            log_p = t
        else:
            p = t
            pos = t > 0
            log_p = xp.log(xp.where(pos, t, 1))
        diff = log_p - x
        if log_target:
            loss = p * diff
        else:  # torch's xlogy(p, p) - p x: NaN for a negative target (log of it), and for p = 0 and x = -inf
            with xp.errstate(invalid="ignore", divide="ignore"):
                loss = (xp.where(t == 0, 0, t * xp.log(t)) - t * x).astype(x.dtype, copy=False)
        ctx.p, ctx.diff, ctx.log_target, ctx.reduction = p, diff, log_target, reduction
        if reduction == "batchmean":
            count = x.shape[0] if x.ndim else 1
            ctx.reduction = "mean"
            ctx.count = count
            return _reduce(xp, loss, "mean", count)
        ctx.count = loss.size
        return _reduce(xp, loss, reduction)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        s = _scale(grad, ctx.reduction, ctx.count)
        xp = get_array_module(grad)
        gx = gt = None
        if ctx.needs_input_grad[0]:
            gx = -s * ctx.p
        if ctx.needs_input_grad[1]:
            if ctx.log_target:
                gt = s * ctx.p * (ctx.diff + 1)
            else:  # torch: log p + 1 - x where p > 0; NaN at p = 0 (xlogy's p / p) and below (log p)
                gt = s * xp.where(ctx.p > 0, ctx.diff + 1, xp.nan).astype(ctx.diff.dtype, copy=False)
        return gx, gt


class CosineSimilarityFunction(Function):
    """c = <a, b> / (max(||a||, eps) max(||b||, eps)) along ``axis``.

    With d_a = max(||a||, eps):  dc/da = b / (d_a d_b) - c a / d_a^2  (the second
    term only where ||a|| > eps; there d_a = ||a||), and symmetrically for b.
    """

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any, *, axis: int = 1, eps: float = 1e-8) -> Any:
        xp = get_array_module(a)
        a, b = xp.broadcast_arrays(a, b)
        na = xp.sqrt(xp.square(a).sum(axis=axis, keepdims=True))
        nb = xp.sqrt(xp.square(b).sum(axis=axis, keepdims=True))
        e = a.dtype.type(eps)
        da, db = xp.maximum(na, e), xp.maximum(nb, e)
        c = (a * b).sum(axis=axis, keepdims=True) / (da * db)
        ctx.a, ctx.b, ctx.na, ctx.nb, ctx.da, ctx.db, ctx.c = a, b, na, nb, da, db, c
        ctx.axis, ctx.eps = axis, eps
        return c.squeeze(axis)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        xp = get_array_module(grad)
        g = xp.expand_dims(grad, ctx.axis)
        a, b, c, da, db = ctx.a, ctx.b, ctx.c, ctx.da, ctx.db
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = g * (b / (da * db) - (c / (da * da)) * (ctx.na > ctx.eps) * a)
        if ctx.needs_input_grad[1]:
            gb = g * (a / (da * db) - (c / (db * db)) * (ctx.nb > ctx.eps) * b)
        return ga, gb
