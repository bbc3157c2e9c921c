"""The baselines of GRU4Rec's Table 1 (POP, S-POP, item-KNN) and the evaluation loop they share with it.

A *session recommender* here scores every item after each event of a
session.  The evaluation walks the test sessions with the same
session-parallel mini-batches as training (``thalweg_lab.sessions``): at
each step row ``b`` has seen the events of its session up to ``inputs[b]``
and must rank ``targets[b]``, the next one.  A recommender implements

* ``start(batch_size)``: forget everything (a new evaluation);
* ``scores(inputs, reset, valid) -> (batch_size, n_items)``: rows with
  ``reset`` start a new session at this step.

Baselines (Hidasi et al. 2016, Section 4.1):

* ``Popularity`` (POP): the training set's most frequent items, whatever the session.
* ``SessionPopularity`` (S-POP): the items most frequent in the current
  session so far; ties broken by training popularity.
* ``ItemKNN``: items similar to the current item, with cosine similarity over
  session co-occurrence, regularised: ``sim(i, j) = c_ij / (lambda + n_i^alpha
  n_j^(1-alpha))`` where ``c_ij`` counts sessions holding both items and
  ``n_i`` sessions holding ``i``.  The seed text only says "regularization is
  also included"; ``lambda = 20``, ``alpha = 0.5`` are the defaults of the
  authors' published baseline code.  Ties (items never seen with the current
  one) are broken by popularity.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from thalweg_lab.sessions import Sessions, session_parallel_batches
from thalweg_lab.recsys.metrics import RankingMetrics

__all__ = ["SessionRecommender", "Popularity", "SessionPopularity", "ItemKNN", "item_counts", "evaluate_sessions"]


class SessionRecommender(Protocol):
    def start(self, batch_size: int) -> None: ...

    def scores(self, inputs: np.ndarray, reset: np.ndarray, valid: np.ndarray) -> np.ndarray: ...


def item_counts(sessions: Sessions, n_items: int) -> np.ndarray:
    """How many training events each item has (float64, length ``n_items``)."""
    return np.bincount(sessions.items, minlength=n_items).astype(np.float64)


def _tie_break(counts: np.ndarray) -> np.ndarray:
    """Popularity scaled into [0, 0.5): added to integer-valued scores, it only orders ties."""
    return 0.5 * counts / (counts.max() + 1.0)


class Popularity:
    """POP: always the training set's most popular items."""

    name = "POP"

    def __init__(self, train: Sessions, n_items: int) -> None:
        self.counts = item_counts(train, n_items)

    def start(self, batch_size: int) -> None:
        self.batch_size = batch_size

    def scores(self, inputs: np.ndarray, reset: np.ndarray, valid: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.counts, (len(inputs), len(self.counts)))


class SessionPopularity:
    """S-POP: the current session's most frequent items so far, ties broken by global popularity."""

    name = "S-POP"

    def __init__(self, train: Sessions, n_items: int) -> None:
        self.n_items = n_items
        self.prior = _tie_break(item_counts(train, n_items))

    def start(self, batch_size: int) -> None:
        self.seen = np.zeros((batch_size, self.n_items), dtype=np.float64)

    def scores(self, inputs: np.ndarray, reset: np.ndarray, valid: np.ndarray) -> np.ndarray:
        self.seen[reset] = 0.0
        rows = np.flatnonzero(valid)
        self.seen[rows, inputs[rows]] += 1.0
        return self.seen + self.prior


class ItemKNN:
    """Item-to-item recommendations by regularised cosine similarity of session co-occurrence."""

    name = "item-KNN"

    def __init__(self, train: Sessions, n_items: int, *, lam: float = 20.0, alpha: float = 0.5) -> None:
        if lam < 0 or not 0 <= alpha <= 1:
            raise ValueError(f"ItemKNN: need lam >= 0 and alpha in [0, 1], got lam={lam}, alpha={alpha}")
        # binary session x item matrix; c = X^T X counts the sessions holding both items
        x = np.zeros((len(train), n_items), dtype=np.float32)
        x[np.repeat(np.arange(len(train)), train.lengths), train.items] = 1.0
        cooc = (x.T @ x).astype(np.float64)
        support = np.diag(cooc).copy()
        denom = lam + np.power(support[:, None], alpha) * np.power(support[None, :], 1.0 - alpha)
        sim = np.divide(cooc, denom, out=np.zeros_like(cooc), where=denom > 0)  # unseen items: similarity 0
        np.fill_diagonal(sim, 0.0)
        self.sim = sim
        # a tie-break far below any difference between similarities (they lie in [0, 1), in float64)
        self.prior = 1e-9 * _tie_break(item_counts(train, n_items))

    def start(self, batch_size: int) -> None:
        self.batch_size = batch_size

    def scores(self, inputs: np.ndarray, reset: np.ndarray, valid: np.ndarray) -> np.ndarray:
        return self.sim[inputs] + self.prior


def evaluate_sessions(recommender: Any, sessions: Sessions, *, batch_size: int = 100, k: int = 20
                      ) -> RankingMetrics:
    """Recall@k and MRR@k of ``recommender`` over every (event, next event) pair of ``sessions``."""
    metrics = RankingMetrics(k=k)
    recommender.start(batch_size)
    for batch in session_parallel_batches(sessions, batch_size):
        scores = recommender.scores(batch.inputs, batch.reset, batch.valid)
        rows = np.flatnonzero(batch.valid)
        metrics.update(np.asarray(scores)[rows], batch.targets[rows])
    return metrics
