"""Iterative prune/retrain schedules and the paper's dropout adjustment."""

import math

import numpy as np
import pytest

from thalweg import nn, optim, prune

from prune_helpers import accuracy, blobs, mlp, train_steps


def test_sparsity_schedule_values():
    s = prune.sparsity_schedule(0.9, 3)
    # geometric: each round keeps the same fraction of what is left, (1 - 0.9) ** (1/3)
    kept = [1 - v for v in s]
    assert kept[1] / kept[0] == pytest.approx(kept[2] / kept[1]) == pytest.approx(0.1 ** (1 / 3))
    assert s[-1] == pytest.approx(0.9)
    assert prune.sparsity_schedule(0.6, 4, schedule="linear") == pytest.approx([0.15, 0.3, 0.45, 0.6])
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        prune.sparsity_schedule(0.5, 0)
    with pytest.raises(ValueError, match="schedule must be"):
        prune.sparsity_schedule(0.5, 2, schedule="cosine")


def _retrainer(x, y, log):
    def retrain(model, masks, k):
        opt = masks.wrap(optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4))
        train_steps(model, opt, x, y, 30, seed=k)
        log.append((k, masks.sparsity()))
        return accuracy(model, x, y)
    return retrain


def test_iterative_schedule_reaches_the_target_per_layer():
    x, y = blobs()
    model = mlp()
    log = []
    target = {"0.weight": 0.9, "2.weight": 0.8, "4": 0.5}
    rounds = prune.iterative_prune(model, _retrainer(x, y, log), sparsity=target, steps=3)
    assert [r.round for r in rounds] == [1, 2, 3] and [k for k, _ in log] == [1, 2, 3]
    masks = prune.masks_of(model)
    for name, s in (("0.weight", 0.9), ("2.weight", 0.8), ("4.weight", 0.5)):
        n = masks.total(name)
        assert n - masks.kept(name) == round(s * n)
        assert np.count_nonzero(dict(model.named_parameters())[name].array) <= masks.kept(name)
    # sparsity grows round by round and the retrained model still classifies the blobs
    totals = [r.total_sparsity for r in rounds]
    assert totals == sorted(totals) and totals[0] < totals[-1]
    assert rounds[-1].retrain > 0.8


def test_iterative_global_and_quality_modes():
    x, y = blobs()
    model = mlp()
    rounds = prune.iterative_prune(model, None, sparsity=0.7, steps=2, scope="global")
    masks = prune.masks_of(model)
    assert masks.total() - masks.kept() == round(0.7 * masks.total())
    assert rounds[0].total_sparsity == pytest.approx(1 - math.sqrt(0.3), abs=0.01)

    model = mlp()
    rounds = prune.iterative_prune(model, _retrainer(x, y, []), quality=[0.5, 1.0], steps=2)
    # uniform initial weights U(-a, a): std a / sqrt 3, so |w| < 0.5 std is a fraction 0.5 / sqrt 3
    assert rounds[0].total_sparsity == pytest.approx(0.5 / math.sqrt(3), abs=0.05)
    assert rounds[1].total_sparsity > rounds[0].total_sparsity


def test_iterative_bad_arguments():
    model = mlp()
    with pytest.raises(ValueError, match="exactly one of sparsity= and quality="):
        prune.iterative_prune(model, None, steps=2)
    with pytest.raises(ValueError, match="scope="):
        prune.iterative_prune(model, None, sparsity={"0": 0.5}, scope="global")
    with pytest.raises(ValueError, match="sparsity must be a number in \\[0, 1\\)"):
        prune.iterative_prune(model, None, sparsity=1.0)


def test_dropout_formula():
    # D_r = D_o sqrt(C_r / C_o): a quarter of the connections left halves the rate
    assert prune.retrain_dropout_rate(0.5, 400, 100) == pytest.approx(0.25)
    assert prune.retrain_dropout_rate(0.3, 1000, 1000) == pytest.approx(0.3)
    assert prune.retrain_dropout_rate(0.5, 1000, 90) == pytest.approx(0.5 * math.sqrt(0.09))
    with pytest.raises(ValueError, match="remaining"):
        prune.retrain_dropout_rate(0.5, 10, 20)
    with pytest.raises(ValueError, match="dropout rate must be in"):
        prune.retrain_dropout_rate(1.5, 10, 5)


def test_adjust_dropout_on_a_model_uses_the_original_rate():
    model = mlp(dropout=0.5)   # Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear
    assert isinstance(model[2], nn.Dropout) and isinstance(model[5], nn.Dropout)
    masks = prune.prune_layers(model, {"0.weight": 0.75, "3.weight": 0.36})
    rates = prune.adjust_dropout(model)
    c0, c3 = masks.total("0.weight"), masks.total("3.weight")
    assert rates["2"] == pytest.approx(0.5 * math.sqrt(masks.kept("0.weight") / c0))
    assert rates["5"] == pytest.approx(0.5 * math.sqrt(masks.kept("3.weight") / c3))
    assert model[2].p == rates["2"]
    prune.prune_layers(model, {"0.weight": 0.91})
    prune.adjust_dropout(model)
    assert model[2].p == pytest.approx(0.5 * math.sqrt(masks.kept("0.weight") / c0))  # from D_o, not the reduced p
    with pytest.raises(ValueError, match="not been pruned"):
        prune.adjust_dropout(mlp(dropout=0.5))
    with pytest.raises(ValueError, match="no dropout module named '0'"):
        prune.adjust_dropout(model, pairs={"0": "0.weight"})
