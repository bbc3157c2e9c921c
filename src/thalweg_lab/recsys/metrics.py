"""Recall@K and MRR@K for next-item prediction (Hidasi et al. 2016, Section 4).

At each event of a test session the recommender scores every item; the rank
of the item that actually comes next is ``1 + (number of items scored
higher)``.  Ties count against the target (``ties="pessimistic"``: every item
with an equal score is placed above it), so a recommender cannot gain from
giving many items the same score; ``"optimistic"`` places ties below.

* Recall@K: the fraction of events whose next item has rank <= K.
* MRR@K: the mean of ``1 / rank``, with ``1 / rank`` taken as 0 when the rank
  is above K.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from thalweg.autograd.tensor import Tensor

__all__ = ["target_ranks", "recall_at_k", "mrr_at_k", "RankingMetrics"]


def target_ranks(scores: Any, targets: Any, *, ties: str = "pessimistic") -> np.ndarray:
    """The 1-based rank of ``targets[b]`` among the scores of row ``b`` (``scores``: ``(B, n_items)``)."""
    scores = np.asarray(scores.array if isinstance(scores, Tensor) else scores)
    targets = np.asarray(targets)
    if scores.ndim != 2 or targets.shape != (scores.shape[0],):
        raise ValueError(f"target_ranks: need scores (B, n_items) and one target per row, got {scores.shape} "
                         f"and {targets.shape}")
    if targets.size and (targets.min() < 0 or targets.max() >= scores.shape[1]):
        raise ValueError(f"target_ranks: targets must lie in [0, {scores.shape[1] - 1}]")
    own = scores[np.arange(len(targets)), targets][:, None]
    higher = (scores > own).sum(axis=1)
    if ties == "optimistic":
        return higher + 1
    if ties == "pessimistic":
        return higher + (scores == own).sum(axis=1)  # the target itself counts once among the equal scores
    raise ValueError(f"target_ranks: ties must be 'pessimistic' or 'optimistic', got {ties!r}")


def recall_at_k(ranks: Any, k: int = 20) -> float:
    """Fraction of ranks <= k."""
    ranks = np.asarray(ranks)
    return float(np.mean(ranks <= k)) if ranks.size else float("nan")


def mrr_at_k(ranks: Any, k: int = 20) -> float:
    """Mean of 1/rank, counting ranks above k as 0."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return float(np.mean(np.where(ranks <= k, 1.0 / ranks, 0.0))) if ranks.size else float("nan")


@dataclass
class RankingMetrics:
    """Accumulates ranks over many steps; ``recall``/``mrr`` at ``k``."""

    k: int = 20
    ranks: list[np.ndarray] = field(default_factory=list)

    def update(self, scores: Any, targets: Any) -> None:
        self.ranks.append(target_ranks(scores, targets))

    @property
    def all_ranks(self) -> np.ndarray:
        return np.concatenate(self.ranks) if self.ranks else np.zeros(0, dtype=np.int64)

    @property
    def count(self) -> int:
        return int(sum(len(r) for r in self.ranks))

    @property
    def recall(self) -> float:
        return recall_at_k(self.all_ranks, self.k)

    @property
    def mrr(self) -> float:
        return mrr_at_k(self.all_ranks, self.k)
