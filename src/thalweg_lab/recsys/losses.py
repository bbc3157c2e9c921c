"""Ranking losses for next-item prediction with sampled negatives: BPR, TOP1 and sampled cross-entropy.

GRU4Rec (Hidasi et al. 2016, arXiv:1511.06939, Section 3.1.2-3.1.3) scores
only a few items per step: the desired next item of each row and, as
negatives, the desired items of the *other* rows of the mini-batch
("in-batch negative sampling", which samples items in proportion to their
popularity for free).  The scores form a matrix ``S`` of shape ``(B, N)``:
``S[b, j]`` is row ``b``'s score for sampled item ``j``; the positive of row
``b`` is column ``positive[b]`` (by default ``b``: the diagonal of the square
in-batch matrix), every other column is a negative.  With ``r_i`` the positive
score and ``r_j`` the ``N_S = N - 1`` negatives of a row:

* BPR (Rendle et al. 2009, used pairwise):
  ``L = -1/N_S * sum_j log sigmoid(r_i - r_j)``
* TOP1 (the paper's own): a smooth relative rank of the positive plus a
  regulariser pulling negative scores to zero,
  ``L = 1/N_S * sum_j [sigmoid(r_j - r_i) + sigmoid(r_j^2)]``
* sampled cross-entropy: the softmax over the sampled columns,
  ``L = -log( exp(r_i) / sum_k exp(r_k) )``.

Each loss is the mean over rows (``reduction="mean"``), or per row
(``"none"``) or summed (``"sum"``).  The seed text cuts TOP1's formula off;
the form above is the published one.  Unlike the original Theano code, the
positive's own column is left out of the BPR/TOP1 averages (the formulas sum
over negatives only), so ``N_S = N - 1``.  The losses are compositions of
differentiable ops (``softplus``, ``sigmoid``; the sampled cross-entropy is the
core's fused ``cross_entropy``), so their gradients come from the engine's rules;
the tests gradcheck them in float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from thalweg.autograd.tensor import Tensor
from thalweg.nn import functional as F
from thalweg.ops import api as _api
from thalweg.ops.loss import check_reduction

__all__ = ["bpr_loss", "top1_loss", "sampled_cross_entropy", "RANKING_LOSSES"]


def _prepare(name: str, scores: Any, positive: Any) -> tuple[Tensor, np.ndarray, np.ndarray]:
    """Check the score matrix; return it, the positive columns and the float mask of negatives."""
    if not isinstance(scores, Tensor):
        scores = Tensor(np.asarray(scores))
    if scores.ndim != 2:
        raise ValueError(f"{name}: scores must be 2-D (rows, sampled items), got shape {tuple(scores.shape)}")
    rows, cols = scores.shape
    pos = np.arange(rows) if positive is None else np.asarray(positive.array if isinstance(positive, Tensor)
                                                              else positive)
    if pos.shape != (rows,) or pos.dtype.kind not in "iu":
        raise ValueError(f"{name}: positive must hold one integer column per row, shape ({rows},), got "
                         f"{pos.dtype} of shape {pos.shape}")
    if rows and (pos.min() < 0 or pos.max() >= cols):
        raise ValueError(f"{name}: positive columns must lie in [0, {cols - 1}], got {pos.tolist()}")
    negatives = np.ones((rows, cols), dtype=scores.dtype)
    negatives[np.arange(rows), pos] = 0
    return scores, pos.astype(np.int64), negatives


def _reduce(name: str, per_row: Tensor, reduction: str) -> Tensor:
    check_reduction(reduction, name)  # the core's rule and message (ops/loss.py)
    if reduction == "mean":
        return per_row.mean()
    return per_row.sum() if reduction == "sum" else per_row


def _negative_mean(name: str, terms: Tensor, negatives: np.ndarray) -> Tensor:
    counts = negatives.sum(axis=1, keepdims=True)
    if np.any(counts == 0):
        raise ValueError(f"{name}: needs at least one negative per row (2 or more sampled columns), got "
                         f"{negatives.shape[1]} column(s)")
    return (terms * Tensor(negatives / counts)).sum(axis=1)


def bpr_loss(scores: Any, positive: Any = None, *, reduction: str = "mean") -> Tensor:
    """Bayesian personalised ranking over sampled negatives: ``-mean_j log sigmoid(r_i - r_j)``.

    ``scores``: ``(B, N)``; ``positive``: the positive column of each row
    (default ``arange(B)``, the in-batch diagonal).  ``-log sigmoid(x)`` is
    computed as ``softplus(-x)``, which does not overflow.
    """
    s, pos, neg = _prepare("bpr_loss", scores, positive)
    r_pos = s[np.arange(s.shape[0]), pos].reshape(-1, 1)
    return _reduce("bpr_loss", _negative_mean("bpr_loss", _api.softplus(s - r_pos), neg), reduction)


def top1_loss(scores: Any, positive: Any = None, *, reduction: str = "mean") -> Tensor:
    """GRU4Rec's TOP1: ``mean_j [sigmoid(r_j - r_i) + sigmoid(r_j^2)]`` over sampled negatives ``j``."""
    s, pos, neg = _prepare("top1_loss", scores, positive)
    r_pos = s[np.arange(s.shape[0]), pos].reshape(-1, 1)
    terms = _api.sigmoid(s - r_pos) + _api.sigmoid(s * s)
    return _reduce("top1_loss", _negative_mean("top1_loss", terms, neg), reduction)


def sampled_cross_entropy(scores: Any, positive: Any = None, *, reduction: str = "mean") -> Tensor:
    """Cross-entropy of the softmax over the sampled columns: ``-log softmax(S)[b, positive[b]]``.

    This is the core's fused ``cross_entropy`` with the positive columns as the class targets.
    """
    s, pos, _ = _prepare("sampled_cross_entropy", scores, positive)
    check_reduction(reduction, "sampled_cross_entropy")
    return F.cross_entropy(s, Tensor(pos), reduction=reduction)


RANKING_LOSSES = {"top1": top1_loss, "bpr": bpr_loss, "cross-entropy": sampled_cross_entropy}
