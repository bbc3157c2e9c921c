"""GRU4Rec's ranking losses against hand-computed values and float64 gradchecks; Recall@K / MRR@K by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

import thalweg as tw
from thalweg.autograd import gradcheck
from thalweg_lab.recsys import (RankingMetrics, bpr_loss, mrr_at_k, recall_at_k, sampled_cross_entropy, target_ranks,
                            top1_loss)

S = [[2.0, 0.0, 1.0], [0.5, 1.0, -1.0], [0.0, 0.0, 0.0]]  # row b's positive is column b (the diagonal)


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _by_hand(kind: str) -> list[float]:
    rows = []
    for b, row in enumerate(S):
        ri, negs = row[b], [r for j, r in enumerate(row) if j != b]
        if kind == "bpr":
            rows.append(sum(-math.log(_sig(ri - rj)) for rj in negs) / len(negs))
        elif kind == "top1":
            rows.append(sum(_sig(rj - ri) + _sig(rj * rj) for rj in negs) / len(negs))
        else:
            rows.append(-math.log(math.exp(ri) / sum(math.exp(r) for r in row)))
    return rows


@pytest.mark.parametrize("kind,fn", [("bpr", bpr_loss), ("top1", top1_loss), ("ce", sampled_cross_entropy)])
def test_losses_match_the_formulas_computed_by_hand(kind: str, fn) -> None:
    expected = _by_hand(kind)
    per_row = fn(tw.tensor(S), reduction="none")
    np.testing.assert_allclose(per_row.array, expected, rtol=1e-6)
    np.testing.assert_allclose(fn(tw.tensor(S)).array, np.mean(expected), rtol=1e-6)
    np.testing.assert_allclose(fn(tw.tensor(S), reduction="sum").array, np.sum(expected), rtol=1e-6)
    assert fn(tw.tensor(S)).dtype == np.float32


@pytest.mark.parametrize("fn", [bpr_loss, top1_loss, sampled_cross_entropy])
def test_losses_pass_a_float64_gradcheck_with_explicit_positives(fn) -> None:
    rng = np.random.default_rng(0)
    x = tw.tensor(rng.normal(size=(4, 6)), dtype=tw.float64, requires_grad=True)
    pos = np.array([5, 0, 2, 2])
    assert gradcheck(lambda s: fn(s, pos), [x])
    assert gradcheck(lambda s: fn(s[:, :4]), [x])  # the square in-batch form


def test_losses_push_the_right_way_and_refuse_bad_input() -> None:
    x = tw.tensor(S, requires_grad=True)
    bpr_loss(x).backward()
    g = x.grad
    assert np.all(np.diag(g) < 0)  # raising a positive's score lowers the loss
    assert np.all(g[~np.eye(3, dtype=bool)] > 0)  # raising a negative's score raises it
    with pytest.raises(ValueError, match="2-D"):
        top1_loss(tw.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="at least one negative"):
        bpr_loss(tw.tensor([[1.0]]))
    with pytest.raises(ValueError, match="positive columns"):
        bpr_loss(tw.tensor(S), [0, 1, 3])
    with pytest.raises(ValueError, match="reduction"):
        top1_loss(tw.tensor(S), reduction="avg")


def test_bpr_top1_and_cross_entropy_agree_with_torch_formulations() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 5)).astype(np.float32)
    t = torch.tensor(x, requires_grad=True)
    diag = torch.diagonal(t).unsqueeze(1)
    neg = ~torch.eye(5, dtype=torch.bool)
    ref_bpr = (-torch.nn.functional.logsigmoid(diag - t))[neg].view(5, 4).mean(1).mean()
    ref_top1 = (torch.sigmoid(t - diag) + torch.sigmoid(t ** 2))[neg].view(5, 4).mean(1).mean()
    ref_ce = torch.nn.functional.cross_entropy(t, torch.arange(5))
    for ours, ref in ((bpr_loss, ref_bpr), (top1_loss, ref_top1), (sampled_cross_entropy, ref_ce)):
        mine = tw.tensor(x, requires_grad=True)
        out = ours(mine)
        out.backward()
        t.grad = None
        ref.backward(retain_graph=True)
        np.testing.assert_allclose(out.array, ref.detach().numpy(), rtol=1e-5)
        np.testing.assert_allclose(mine.grad, t.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_ranks_recall_and_mrr_on_a_hand_made_ranking() -> None:
    scores = np.array([[0.1, 0.9, 0.5, 0.5],   # target 2: one higher, one tie
                       [0.4, 0.3, 0.2, 0.1],   # target 0: first
                       [0.0, 0.1, 0.2, 0.3]])  # target 0: last
    targets = np.array([2, 0, 0])
    np.testing.assert_array_equal(target_ranks(scores, targets), [3, 1, 4])
    np.testing.assert_array_equal(target_ranks(scores, targets, ties="optimistic"), [2, 1, 4])
    ranks = target_ranks(scores, targets)
    assert recall_at_k(ranks, 3) == pytest.approx(2 / 3)
    assert recall_at_k(ranks, 1) == pytest.approx(1 / 3)
    assert mrr_at_k(ranks, 3) == pytest.approx((1 / 3 + 1) / 3)
    assert mrr_at_k(ranks, 2) == pytest.approx(1 / 3)  # rank 3 is past the cut-off and counts 0
    m = RankingMetrics(k=3)
    m.update(scores[:2], targets[:2])
    m.update(scores[2:], targets[2:])
    assert m.count == 3 and m.recall == pytest.approx(2 / 3) and m.mrr == pytest.approx((1 / 3 + 1) / 3)
    with pytest.raises(ValueError, match="ties"):
        target_ranks(scores, targets, ties="random")
    with pytest.raises(ValueError, match="targets must lie"):
        target_ranks(scores, np.array([0, 0, 4]))
