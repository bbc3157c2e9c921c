"""Loss functions (``nn.functional``): the stateless form of the loss modules.

Each takes ``reduction`` = ``"mean"`` (default), ``"sum"`` or ``"none"``, as in
torch.  torch's deprecated ``size_average``/``reduce`` flags are accepted and
translated.  The fused forward/backward rules live in ``ops/loss.py``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ... import dtypes
from ...autograd.tensor import Tensor, _as_array
from ...ops import api as _api
from ...ops import loss as L

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cosine_similarity", "cross_entropy",
           "huber_loss", "kl_div", "l1_loss", "margin_ranking_loss", "mse_loss", "nll_loss", "smooth_l1_loss"]


def _legacy_reduction(size_average: Any, reduce: Any, reduction: str) -> str:
    """Translate torch's deprecated ``size_average``/``reduce`` pair into a ``reduction`` string."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(_as_array(x))


def _float_input(x: Any, op: str) -> Tensor:
    x = _tensor(x)
    if x.dtype not in dtypes.FLOATING:
        raise TypeError(f"{op}: expected a floating-point input, got dtype {x.dtype}")
    return x


def _like(t: Any, x: Tensor) -> Tensor:
    """A target or weight as a tensor of the input's floating dtype (keeping its graph)."""
    t = _tensor(t)
    return t if t.dtype == x.dtype else t.astype(x.dtype)


def _same_shape(x: Tensor, t: Tensor, op: str) -> None:
    if x.shape != t.shape:
        raise ValueError(f"{op}: target shape {tuple(t.shape)} must be the same as input shape {tuple(x.shape)}")


def _warn_broadcast(x: Tensor, t: Tensor, op: str) -> None:
    if x.shape != t.shape:
        warnings.warn(f"{op}: target shape {tuple(t.shape)} differs from input shape {tuple(x.shape)}; they "
                      "will be broadcast, which is rarely intended (e.g. (N, 1) against (N,))", stacklevel=3)


def _class_weight(weight: Any, x: Tensor, op: str) -> Any:
    if weight is None:
        return None
    w = weight.array if isinstance(weight, Tensor) else np.asarray(weight)
    C = x.shape[1]
    if w.shape != (C,):
        raise ValueError(f"{op}: weight must have shape ({C},), one entry per class, got {tuple(w.shape)}")
    return w.astype(x.dtype, copy=False)


def _batched(input: Tensor, target: Tensor, op: str) -> tuple[Tensor, Tensor, bool]:
    """Give an unbatched (C,) input a batch dimension of 1 (and its target too)."""
    if input.ndim == 0:
        raise ValueError(f"{op}: expected input of shape (C,), (N, C) or (N, C, d1, ...), got a scalar")
    if input.ndim == 1:
        return _api.reshape(input, (1,) + input.shape), _api.reshape(target, (1,) + target.shape), True
    return input, target, False


def _class_index_batch(input: Tensor, target: Tensor, op: str, kinds: str,  # noqa: A002
                       what: str) -> tuple[Tensor, Tensor, bool]:
    """Check integer class targets of shape (N, d1, ...) against an (N, C, d1, ...) input; batch an unbatched pair."""
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold {kinds}, got dtype {target.dtype}")
    expected = tuple(input.shape[:1]) + tuple(input.shape[2:]) if input.ndim > 1 else ()
    if tuple(target.shape) != expected:
        raise ValueError(f"{op}: for input of shape {tuple(input.shape)} the {what} must have shape {expected}, "
                         f"got {tuple(target.shape)}")
    return _batched(input, target, op)


def cross_entropy(input: Tensor, target: Any, weight: Any = None, size_average: Any = None,  # noqa: A002
                  ignore_index: int = -100, reduce: Any = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy between logits ``input`` and ``target``: log-softmax and NLL fused in one node.

    ``input``: (C,), (N, C) or (N, C, d1, ...) unnormalised scores.  ``target``:
    class indices (integers) of shape (), (N,) or (N, d1, ...), or class
    probabilities (floats) of the input's shape.  ``weight`` (C,) rescales each
    class; targets equal to ``ignore_index`` are skipped; ``label_smoothing`` e
    mixes the target with the uniform distribution: (1 - e) onehot + e / C.

    loss = -sum_c w_c q_c log softmax(x)_c, computed stably as
    x - max(x) - log sum exp(x - max(x)); the gradient is softmax(x) - q (times
    weights and scales).  Details in ``ops/loss.py``.
    """
    op = "cross_entropy"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    L.check_reduction(reduction, op)
    input = _float_input(input, op)
    target = _tensor(target)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if target.dtype in dtypes.FLOATING:  # class probabilities
        _same_shape(input, target, op)
        if ignore_index >= 0:
            raise ValueError(f"{op}: ignore_index is not supported with probability (floating-point) targets")
        x, q, unbatched = _batched(input, _like(target, input), op)
        out = L.SoftCrossEntropyFunction.apply(x, q, weight=_class_weight(weight, x, op), reduction=reduction,
                                               label_smoothing=float(label_smoothing))
    else:
        x, t, unbatched = _class_index_batch(input, target, op, "class indices (integers) or probabilities "
                                             "(floats)", "class-index target")
        out = L.CrossEntropyFunction.apply(x, target=t.array, weight=_class_weight(weight, x, op),
                                           ignore_index=int(ignore_index), reduction=reduction,
                                           label_smoothing=float(label_smoothing))
    if unbatched and reduction == "none":
        out = _api.reshape(out, ())
    return out


def nll_loss(input: Tensor, target: Any, weight: Any = None, size_average: Any = None,  # noqa: A002
             ignore_index: int = -100, reduce: Any = None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood: -w_t input[t] for log-probabilities ``input`` (C,), (N, C) or (N, C, d1, ...).

    ``cross_entropy(x, t)`` equals ``nll_loss(log_softmax(x, dim=1), t)``.
    """
    op = "nll_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    L.check_reduction(reduction, op)
    input = _float_input(input, op)
    target = _tensor(target)
    x, t, unbatched = _class_index_batch(input, target, op, "class indices (integers)", "target")
    out = L.NLLLossFunction.apply(x, target=t.array, weight=_class_weight(weight, x, op),
                                  ignore_index=int(ignore_index), reduction=reduction)
    if unbatched and reduction == "none":
        out = _api.reshape(out, ())
    return out


def _pointwise(fn: Any, op: str, input: Any, target: Any, reduction: str, **options: Any) -> Tensor:  # noqa: A002
    L.check_reduction(reduction, op)
    input = _float_input(input, op)
    target = _like(target, input)
    _warn_broadcast(input, target, op)
    return fn.apply(input, target, reduction=reduction, **options)


def mse_loss(input: Tensor, target: Any, size_average: Any = None, reduce: Any = None,  # noqa: A002
             reduction: str = "mean") -> Tensor:
    """Mean squared error: (x - y)^2, then reduced."""
    return _pointwise(L.MSELossFunction, "mse_loss", input, target,
                      _legacy_reduction(size_average, reduce, reduction))


def l1_loss(input: Tensor, target: Any, size_average: Any = None, reduce: Any = None,  # noqa: A002
            reduction: str = "mean") -> Tensor:
    """Mean absolute error: |x - y|, then reduced."""
    return _pointwise(L.L1LossFunction, "l1_loss", input, target, _legacy_reduction(size_average, reduce, reduction))


def huber_loss(input: Tensor, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:  # noqa: A002
    """Huber loss: (x - y)^2 / 2 where |x - y| < delta, delta (|x - y| - delta / 2) beyond (quadratic near 0,
    linear in the tails, so outliers pull with a bounded force)."""
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    return _pointwise(L.HuberLossFunction, "huber_loss", input, target, reduction, delta=float(delta))


def smooth_l1_loss(input: Tensor, target: Any, size_average: Any = None, reduce: Any = None,  # noqa: A002
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Smooth L1: (x - y)^2 / (2 beta) where |x - y| < beta, |x - y| - beta / 2 beyond (Huber / beta)."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    return _pointwise(L.SmoothL1LossFunction, "smooth_l1_loss", input, target,
                      _legacy_reduction(size_average, reduce, reduction), beta=float(beta))


def _binary_args(op: str, input: Any, target: Any, weight: Any,  # noqa: A002
                 reduction: str) -> tuple[Tensor, Tensor, Tensor | None, str]:
    """The checked arguments of the two binary cross-entropies: input, target, weight (or None), reduction."""
    L.check_reduction(reduction, op)
    input = _float_input(input, op)
    target = _like(target, input)
    _same_shape(input, target, op)
    return input, target, None if weight is None else _like(weight, input), reduction


def binary_cross_entropy(input: Tensor, target: Any, weight: Any = None, size_average: Any = None,  # noqa: A002
                         reduce: Any = None, reduction: str = "mean") -> Tensor:
    """-w [y log x + (1 - y) log(1 - x)] for probabilities x in [0, 1] (logs clamped at -100, as torch).

    Prefer ``binary_cross_entropy_with_logits`` on raw scores: it is stable where this one saturates.
    """
    input, target, w, reduction = _binary_args("binary_cross_entropy", input, target, weight,
                                               _legacy_reduction(size_average, reduce, reduction))
    return L.BCEFunction.apply(input, target, w, reduction=reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Any, weight: Any = None,  # noqa: A002
                                     size_average: Any = None, reduce: Any = None, reduction: str = "mean",
                                     pos_weight: Any = None) -> Tensor:
    """Sigmoid and binary cross-entropy fused: -w [p y log sigma(x) + (1 - y) log(1 - sigma(x))].

    ``pos_weight`` p (broadcast along the last, class dimension) weighs the
    positive examples: p > 1 raises recall, p < 1 precision.  Computed as
    (1 - y) x + (p y + 1 - y) softplus(-x), which is stable for any x.
    """
    input, target, w, reduction = _binary_args("binary_cross_entropy_with_logits", input, target, weight,
                                               _legacy_reduction(size_average, reduce, reduction))
    pw = None if pos_weight is None else _like(pos_weight, input)
    return L.BCEWithLogitsFunction.apply(input, target, w, pw, reduction=reduction)


def kl_div(input: Tensor, target: Any, size_average: Any = None, reduce: Any = None,  # noqa: A002
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence KL(p || q) with ``input`` = log q and ``target`` = p (or log p).

    Pointwise p (log p - log q); ``reduction="batchmean"`` (sum / batch size) is
    the mathematically correct KL per sample; ``"mean"`` divides by every element.
    """
    op = "kl_div"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    L.check_reduction(reduction, op, ("batchmean",))
    input = _float_input(input, op)
    target = _like(target, input)
    _warn_broadcast(input, target, op)
    return L.KLDivFunction.apply(input, target, reduction=reduction, log_target=bool(log_target))


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """<x1, x2> / (max(||x1||, eps) max(||x2||, eps)) along ``dim`` (inputs broadcast against each other)."""
    x1 = _float_input(x1, "cosine_similarity")
    x2 = _like(x2, x1)
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise ValueError(f"cosine_similarity: shapes {tuple(x1.shape)} and {tuple(x2.shape)} cannot be "
                         "broadcast together") from None
    if not -len(shape) <= dim < max(len(shape), 1):
        raise IndexError(f"cosine_similarity: dim {dim} is out of range for shape {shape}")
    return L.CosineSimilarityFunction.apply(x1, x2, axis=dim % max(len(shape), 1), eps=float(eps))


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Any, margin: float = 0.0,
                        size_average: Any = None, reduce: Any = None, reduction: str = "mean") -> Tensor:
    """max(0, -y (x1 - x2) + margin), y in {1, -1}: x1 should rank above x2 by ``margin`` when y = 1.

    Built from primitives (its backward is clamp's mask, which includes the hinge itself, times -y and +y).
    """
    op = "margin_ranking_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    L.check_reduction(reduction, op)
    input1 = _float_input(input1, op)
    input2 = _like(input2, input1)
    target = _like(target, input1)
    if not (input1.shape == input2.shape == target.shape):
        raise ValueError(f"{op}: input1, input2 and target must have the same shape, got {tuple(input1.shape)}, "
                         f"{tuple(input2.shape)} and {tuple(target.shape)}")
    # torch's clamp_min(0): at the hinge (a value of exactly 0) the gradient passes, unlike relu's
    loss = _api.clamp(target * (input2 - input1) + margin, min=0.0)
    if reduction == "none":
        return loss
    return _api.sum(loss) if reduction == "sum" else _api.mean(loss)
