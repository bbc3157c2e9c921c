"""A click-stream with known sequential structure, and the paper's per-dataset random search for GRU4Rec.

``sequential_clickstream`` generates sessions that walk along fixed *routes*
(item sequences).  Items are shared between routes, so the item that follows
one click depends on the clicks before it (which route the session is on),
and the order matters: item-KNN, which scores by symmetric co-occurrence in
a session, cannot tell the next item from the previous one, while a sequence
model can.  That is the structure the paper's claim is about, made explicit.

``random_search`` is the paper's tuning (section 4.2: "the best parametrization
was found by a random search ... on a validation set"): configurations drawn
from ``SEARCH_SPACE`` (learning rate, batch size, dropout, loss), each trained
briefly on the training sessions without the last ones and scored by
Recall@20 on those (the dev split).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from thalweg.optim import Adagrad
from thalweg_lab.recsys.baselines import evaluate_sessions
from thalweg_lab.recsys.gru4rec import GRU4Rec, GRU4RecRecommender, train_epoch
from thalweg_lab.sessions import Sessions, split_by_time
from thalweg_lab.training import seed_everything

__all__ = ["sequential_clickstream", "SEARCH_SPACE", "Config", "random_search", "train_gru4rec"]

SEARCH_SPACE: dict[str, tuple[Any, ...]] = {
    "lr": (0.01, 0.02, 0.05, 0.1),
    "batch": (32, 50, 100, 200),
    "dropout": (0.0, 0.2, 0.5),
    "loss": ("top1", "bpr", "cross-entropy"),
}


@dataclass(frozen=True)
class Config:
    """One GRU4Rec setting of the search."""

    lr: float
    batch: int
    dropout: float
    loss: str

    @property
    def final_act(self) -> str:
        """``tanh`` scores for the pairwise losses, plain scores into the softmax for cross-entropy (the authors')."""
        return "linear" if self.loss == "cross-entropy" else "tanh"

    def describe(self) -> str:
        return f"{self.loss}, Adagrad {self.lr:g}, batch {self.batch}, dropout {self.dropout:g}"


def sequential_clickstream(n_sessions: int, *, n_items: int = 300, n_routes: int = 60, route_length: int = 10,
                           noise: float = 0.1, seed: int = 0) -> Sessions:
    """Sessions along ``n_routes`` fixed routes of ``route_length`` items drawn from ``n_items``.

    A session picks a route and a start on it and follows it for 3 to
    ``route_length`` clicks; each click is replaced by a uniformly random item
    with probability ``noise``.  Every item lies on several routes, so the
    next click is fixed by the route (known from the earlier clicks), not by
    the current item alone.  Start times increase with the session index.
    """
    if n_sessions < 1 or route_length < 3 or not 0.0 <= noise < 1.0:
        raise ValueError(f"sequential_clickstream: need n_sessions >= 1, route_length >= 3, noise in [0, 1); got "
                         f"{n_sessions}, {route_length}, {noise}")
    rng = np.random.default_rng(seed)
    routes = np.stack([rng.choice(n_items, size=route_length, replace=False) for _ in range(n_routes)])
    items, offsets = [], [0]
    for _ in range(n_sessions):
        route = routes[rng.integers(n_routes)]
        length = int(rng.integers(3, route_length + 1))
        start = int(rng.integers(0, route_length - length + 1))
        seq = route[start:start + length].copy()
        flip = rng.random(length) < noise
        seq[flip] = rng.integers(0, n_items, size=int(flip.sum()))
        items += seq.tolist()
        offsets.append(len(items))
    start_t = np.arange(n_sessions, dtype=np.float64) * 10_000.0
    return Sessions(np.asarray(items, dtype=np.int64), np.asarray(offsets, dtype=np.int64),
                    np.arange(n_sessions, dtype=np.int64), start_t, start_t + 60.0)


def train_gru4rec(train: Sessions, n_items: int, config: Config, *, epochs: int, seed: int,
                  hidden: int = 100) -> tuple[GRU4Rec, list[float]]:
    """A GRU4Rec (embedding and GRU of ``hidden``) trained ``epochs`` epochs with ``config``; its step losses."""
    seed_everything(seed)
    model = GRU4Rec(n_items, hidden, embedding_dim=hidden, dropout=config.dropout, final_act=config.final_act)
    opt = Adagrad(model.parameters(), lr=config.lr)
    losses: list[float] = []
    for epoch in range(epochs):
        losses += train_epoch(model, opt, train, loss=config.loss, batch_size=config.batch, seed=seed * 100 + epoch)
    return model, losses


def random_search(train: Sessions, n_items: int, *, trials: int, epochs: int, seed: int, hidden: int = 100,
                  dev_fraction: float = 0.1) -> tuple[Config, list[tuple[Config, float]]]:
    """The best of ``trials`` configurations drawn from ``SEARCH_SPACE`` by Recall@20 on the dev split (the last
    ``dev_fraction`` of the training sessions), each trained ``epochs`` epochs on the rest; and every trial."""
    if trials < 1:
        raise ValueError(f"random_search: trials must be >= 1, got {trials}")
    fit, dev = split_by_time(train, test_fraction=dev_fraction)
    rng = np.random.default_rng((seed, 0x5EA))
    tried: list[tuple[Config, float]] = []
    seen: set[Config] = set()
    while len(tried) < trials:
        config = Config(**{k: v[int(rng.integers(len(v)))] for k, v in SEARCH_SPACE.items()})
        if config in seen and len(seen) < np.prod([len(v) for v in SEARCH_SPACE.values()]):
            continue
        seen.add(config)
        model, _ = train_gru4rec(fit, n_items, config, epochs=epochs, seed=seed, hidden=hidden)
        tried.append((config, evaluate_sessions(GRU4RecRecommender(model), dev).recall))
    best = max(tried, key=lambda t: t[1])[0]
    return best, tried
