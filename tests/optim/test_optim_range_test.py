"""The CLR paper's LR range test: curves, suggested bounds, divergence stop, and full restoration."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from thalweg import nn, optim
from thalweg.optim.range_test import suggest_bounds


def _regression(seed: int = 0, n_batches: int = 8):
    rng = np.random.default_rng(seed)
    w = np.array([[2.0], [-1.0], [0.5]])
    batches = []
    for _ in range(n_batches):
        x = rng.standard_normal((16, 3)).astype(np.float32)
        batches.append((x, (x @ w).astype(np.float32)))
    return batches


def _mse(out, y):
    return ((out - y) ** 2).mean()


def test_suggest_bounds_rule_on_a_known_curve():
    lrs = np.linspace(0.0, 1.0, 11)
    loss = np.array([10.0, 10.0, 9.9, 9.0, 7.0, 5.0, 3.0, 2.0, 4.0, 9.0, 20.0])
    base, top = suggest_bounds(lrs, loss, higher_is_better=False)
    assert top == pytest.approx(0.7)  # the minimum
    assert base == pytest.approx(0.3)  # first point with >= 10% of the 8.0 total drop (9.0 <= 10 - 0.8)
    acc = np.array([0.1, 0.1, 0.12, 0.3, 0.5, 0.6, 0.62, 0.5, 0.2, 0.1, 0.1])
    assert suggest_bounds(lrs, acc, higher_is_better=True) == (pytest.approx(0.3), pytest.approx(0.6))
    assert suggest_bounds(lrs, np.linspace(1, 2, 11), higher_is_better=False) == (None, None)


def test_range_test_records_curves_suggests_bounds_and_restores_everything():
    tw.manual_seed(0)
    model = nn.Linear(3, 1)
    opt = optim.SGD(model.named_parameters(), lr=0.123, momentum=0.9)
    data = _regression()
    # give the optimizer some state and the parameters a gradient, which must come back unchanged
    _mse(model(tw.tensor(data[0][0])), tw.tensor(data[0][1])).backward()
    opt.step()
    weights = {k: v.copy() for k, v in model.state_dict().items()}
    grads = [p.grad.array.copy() for p in model.parameters()]
    opt_state = opt.state_dict()
    model.eval()

    r = optim.lr_range_test(model, _mse, opt, data, start_lr=1e-3, end_lr=0.5, num_iters=40)
    assert r.mode == "linear" and len(r.lrs) == len(r.losses) == len(r.smoothed_losses)
    np.testing.assert_allclose(r.lrs, np.linspace(1e-3, 0.5, 40)[: len(r.lrs)])  # raised linearly, as the paper
    assert r.accuracies is None and r.losses[-1] < r.losses[0]
    assert r.base_lr is not None and 1e-3 <= r.base_lr < r.max_lr <= 0.5
    assert set(r.as_dict()) >= {"lrs", "losses", "smoothed_losses", "base_lr", "max_lr"}

    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, weights[k])
    for p, g in zip(model.parameters(), grads):
        np.testing.assert_array_equal(p.grad, g)
    assert not model.training
    assert opt.param_groups[0]["lr"] == 0.123
    restored = opt.state_dict()
    for key, entries in opt_state["state"].items():
        for path, value in entries.items():
            np.testing.assert_array_equal(restored["state"][key][path], value)


def test_exponential_sweep_stops_when_the_loss_diverges():
    tw.manual_seed(1)
    model = nn.Linear(3, 1)
    opt = optim.SGD(model.parameters(), lr=0.01)
    r = optim.lr_range_test(model, _mse, opt, _regression(), start_lr=1e-4, end_lr=100.0, num_iters=60,
                            mode="exp", diverge_threshold=4.0)
    assert r.diverged and len(r.lrs) < 60
    np.testing.assert_allclose(r.lrs, np.geomspace(1e-4, 100.0, 60)[: len(r.lrs)])
    assert r.max_lr < r.lrs[-1]


def test_accuracy_curve_is_used_when_given():
    tw.manual_seed(2)
    rng = np.random.default_rng(3)
    batches = []
    for _ in range(5):
        x = rng.standard_normal((32, 2)).astype(np.float32)
        batches.append((x, (x[:, :1] + x[:, 1:] > 0).astype(np.float32)))
    model = nn.Linear(2, 1)
    opt = optim.SGD(model.parameters(), lr=0.1)

    def bce(out, y):
        p = out.sigmoid()
        return -(y * (p + 1e-7).log() + (1 - y) * (1 - p + 1e-7).log()).mean()

    def accuracy(out, y):
        return float(((out.array > 0) == (y.array > 0.5)).mean())

    r = optim.lr_range_test(model, bce, opt, iter(batches * 6), 1e-3, 2.0, num_iters=25, accuracy_fn=accuracy)
    assert r.accuracies is not None and len(r.accuracies) == len(r.lrs) == 25
    assert r.max_lr == pytest.approx(r.lrs[int(np.argmax(r.smoothed_accuracies))])


def test_range_test_bad_arguments():
    model = nn.Linear(2, 1)
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="mode must be 'linear' or 'exp'"):
        optim.lr_range_test(model, _mse, opt, [], 1e-3, 1.0, mode="log")
    with pytest.raises(ValueError, match="start_lr < end_lr"):
        optim.lr_range_test(model, _mse, opt, [], 1.0, 1e-3)
