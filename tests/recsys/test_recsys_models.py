"""POP / S-POP / item-KNN by hand, the evaluation loop, and GRU4Rec learning a sequential pattern."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from thalweg_lab.sessions import Sessions
from thalweg.optim import Adagrad
from thalweg_lab.recsys import (GRU4Rec, GRU4RecRecommender, ItemKNN, Popularity, SessionPopularity, evaluate_sessions,
                            train_epoch)


def _sessions(seqs: list[list[int]]) -> Sessions:
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in seqs])]).astype(np.int64)
    n = len(seqs)
    return Sessions(np.concatenate([np.asarray(s, dtype=np.int64) for s in seqs]), offsets,
                    np.zeros(n, dtype=np.int64), np.arange(n, dtype=np.float64), np.arange(n, dtype=np.float64))


TRAIN = _sessions([[0, 1], [0, 1, 2], [2, 3], [1, 1]])


def test_popularity_baselines_by_hand() -> None:
    pop = Popularity(TRAIN, 5)
    np.testing.assert_array_equal(pop.counts, [2, 4, 2, 1, 0])
    spop = SessionPopularity(TRAIN, 5)
    spop.start(2)
    s = spop.scores(np.array([3, 0]), np.array([True, True]), np.array([True, True]))
    assert np.argmax(s[0]) == 3 and np.argmax(s[1]) == 0
    assert s[0, 1] > s[0, 0] > s[0, 4]  # ties (count 0) broken by training popularity
    s = spop.scores(np.array([3, 2]), np.array([False, True]), np.array([True, True]))
    assert s[0, 3] >= 2 and s[1, 0] < 1  # row 0 saw item 3 twice; row 1's reset forgot item 0


def test_item_knn_is_the_regularised_cosine_of_session_cooccurrence() -> None:
    knn = ItemKNN(TRAIN, 5, lam=0.0, alpha=0.5)
    # session sets: {0,1}, {0,1,2}, {2,3}, {1}; supports 0:2, 1:3, 2:2, 3:1
    assert knn.sim[0, 1] == pytest.approx(2 / np.sqrt(2 * 3))
    assert knn.sim[1, 2] == pytest.approx(1 / np.sqrt(3 * 2))
    assert knn.sim[2, 3] == pytest.approx(1 / np.sqrt(2 * 1))
    assert knn.sim[0, 3] == 0 and knn.sim[1, 1] == 0  # no co-occurrence; no self-similarity
    reg = ItemKNN(TRAIN, 5, lam=20.0)
    assert reg.sim[0, 1] == pytest.approx(2 / (20 + np.sqrt(6)))
    with pytest.raises(ValueError, match="alpha"):
        ItemKNN(TRAIN, 5, alpha=2.0)


class _Oracle:
    """Knows each session's next item: a check of the evaluation loop."""

    def __init__(self, sessions: Sessions, n_items: int) -> None:
        self.next = {}
        for k in range(len(sessions)):
            s = sessions[k]
            for a, b in zip(s[:-1], s[1:]):
                self.next[int(a)] = int(b)
        self.n = n_items

    def start(self, batch_size: int) -> None:
        pass

    def scores(self, inputs: np.ndarray, reset: np.ndarray, valid: np.ndarray) -> np.ndarray:
        out = np.zeros((len(inputs), self.n))
        for r, i in enumerate(inputs):
            if valid[r]:
                out[r, self.next[int(i)]] = 1.0
        return out


def test_evaluation_covers_every_pair_and_an_oracle_scores_one() -> None:
    test = _sessions([[0, 1, 2, 3], [4, 5], [6, 7, 8]])
    m = evaluate_sessions(_Oracle(test, 9), test, batch_size=2, k=1)
    assert m.count == 3 + 1 + 2 and m.recall == 1.0 and m.mrr == 1.0
    pop = evaluate_sessions(Popularity(test, 9), test, batch_size=2, k=20)
    assert pop.recall == 1.0 and pop.count == 6  # 9 items: every target is within the top 20


def test_gru4rec_learns_a_sequential_pattern_that_item_knn_cannot_see() -> None:
    # sessions walk i -> i + 1 (mod 12) from a random start: the next item depends on the order, and every
    # item co-occurs with many others, so the GRU should rank the successor first
    rng = np.random.default_rng(0)
    seqs = [[(s + k) % 12 for k in range(6)] for s in rng.integers(0, 12, size=120)]
    train, test = _sessions(seqs[:100]), _sessions(seqs[100:])
    tw.manual_seed(0)
    model = GRU4Rec(12, 16, embedding_dim=8, final_act="linear")
    opt = Adagrad(model.parameters(), lr=0.2)
    losses = []
    for epoch in range(6):
        losses += train_epoch(model, opt, train, loss="cross-entropy", batch_size=10, seed=epoch)
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    m = evaluate_sessions(GRU4RecRecommender(model), test, batch_size=5, k=1)
    assert m.recall > 0.9
    with pytest.raises(ValueError, match="loss"):
        train_epoch(model, opt, train, loss="hinge")


@pytest.mark.parametrize("loss", ["top1", "bpr"])
def test_gru4rec_ranking_losses_train_and_the_model_checks_its_arguments(loss: str) -> None:
    rng = np.random.default_rng(1)
    seqs = [[(s + k) % 12 for k in range(6)] for s in rng.integers(0, 12, size=60)]
    tw.manual_seed(1)
    model = GRU4Rec(12, 16, embedding_dim=8, dropout=0.2)
    opt = Adagrad(model.parameters(), lr=0.1)
    losses = []
    for epoch in range(4):
        losses += train_epoch(model, opt, _sessions(seqs), loss=loss, batch_size=10, seed=epoch)
    assert np.all(np.isfinite(losses)) and np.mean(losses[-10:]) < np.mean(losses[:10])
    out, h = model.step(np.array([0, 1]), model.init_hidden(2))
    assert out.shape == (2, 16) and h.shape == (1, 2, 16)
    assert model.score(out).shape == (2, 12) and model.score(out, [3, 4, 5]).shape == (2, 3)
    with pytest.raises(ValueError, match="final_act"):
        GRU4Rec(12, final_act="softmax")
    with pytest.raises(ValueError, match="n_items"):
        GRU4Rec(0)
