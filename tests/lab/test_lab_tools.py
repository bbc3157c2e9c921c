"""The lab's helpers: the step-counted loop, its measurements, the test surfaces' gradients, the small CNN."""

from __future__ import annotations

import math

import numpy as np
import pytest

import thalweg as tw
from thalweg import nn, optim
from thalweg_lab import lr_range, optimizer_paths
from thalweg_lab.training import TrainLog, evaluate, first_step_reaching, param_norm, predict, train


def _blobs(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = (rng.normal(size=(n, 4)) + 3.0 * np.eye(3, 4)[y]).astype(np.float32)
    return x, y.astype(np.int64)


def test_train_counts_steps_evaluates_and_learns() -> None:
    x, y = _blobs()
    tw.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    before = evaluate(model, x, y)
    seen: list[int] = []
    log = train(model, optim.SGD(model.parameters(), lr=0.1), x, y, steps=45, batch_size=20, seed=0, dev=(x, y),
                eval_every=10, after_backward=seen.append, on_eval=lambda s: {"norm": param_norm(model)})
    assert log.steps == 45 and seen == list(range(45)) and len(log.lr) == 45
    assert log.eval_steps == [0, 10, 20, 30, 40, 45]
    assert len(log.evals["dev_accuracy"]) == len(log.evals["norm"]) == 6
    assert log.evals["dev_accuracy"][0] == pytest.approx(before[1])
    after = evaluate(model, x, y)
    assert after[0] < before[0] and after[1] > 0.9
    assert np.mean(predict(model, x) == y) == pytest.approx(after[1])


def test_train_stops_on_request_and_on_divergence() -> None:
    x, y = _blobs()
    tw.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3))
    log = train(model, optim.SGD(model.parameters(), lr=0.5), x, y, steps=500, batch_size=20, seed=0, dev=(x, y),
                eval_every=10, until=lambda f: f["dev_accuracy"] >= 0.9)
    assert log.stopped_early and log.steps < 500 and log.final("dev_accuracy") >= 0.9
    model = nn.Sequential(nn.Linear(4, 3))
    x_bad = x.copy()
    x_bad[5:] = np.nan  # the first minibatch that holds one of these rows has a NaN loss
    log = train(model, optim.SGD(model.parameters(), lr=0.1), x_bad, y, steps=50, batch_size=20, seed=0)
    assert log.diverged and log.steps == 0


def test_schedules_are_stepped_once_per_step() -> None:
    x, y = _blobs(60)
    model = nn.Sequential(nn.Linear(4, 3))
    opt = optim.SGD(model.parameters(), lr=1.0)
    sched = optim.lr_scheduler.CyclicLR(opt, 0.1, 0.5, step_size_up=4, cycle_momentum=False)
    log = train(model, opt, x, y, steps=9, batch_size=20, seed=0, schedule=sched)
    assert log.lr == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.4, 0.3, 0.2, 0.1])


def test_log_helpers() -> None:
    assert first_step_reaching([0, 10, 20], [0.1, 0.5, 0.9], 0.5) == 10
    assert first_step_reaching([0, 10], [0.1, 0.2], 0.5) == math.inf
    log = TrainLog(loss=[1.0, 3.0, 5.0, 7.0])
    assert log.smoothed_loss(2) == pytest.approx([1.0, 2.0, 4.0, 6.0])
    assert math.isnan(log.final("dev_accuracy"))


@pytest.mark.parametrize("name", sorted(optimizer_paths.SURFACES))
def test_surface_gradients_match_autograd(name: str) -> None:
    surface = optimizer_paths.SURFACES[name]
    rng = np.random.default_rng(1)
    for point in rng.uniform(-1.5, 1.5, size=(5, 2)):
        p = tw.tensor(point, dtype=tw.float64, requires_grad=True)
        f = surface.tensor_fn(p)
        f.backward()
        value, gx, gy = surface.fn(float(point[0]), float(point[1]))
        assert value == pytest.approx(float(f.array), rel=1e-12)
        np.testing.assert_allclose([gx, gy], p.grad, rtol=1e-10, atol=1e-10)


def test_every_survey_optimizer_gets_a_path() -> None:
    for name in optimizer_paths.OPTIMIZERS:
        path, reached, diverged = optimizer_paths.trajectory(optimizer_paths.SURFACES["rosenbrock"], name, 20)
        assert path.shape[1] == 2 and not diverged
        f0 = optimizer_paths.SURFACES["rosenbrock"].fn(*path[0])[0]
        f1 = optimizer_paths.SURFACES["rosenbrock"].fn(*path[-1])[0]
        assert f1 < f0, name


@pytest.mark.parametrize("size", [28, 8])
def test_small_cnn_shapes(size: int) -> None:
    model = lr_range.small_cnn(size)
    out = model(tw.zeros(2, 1, size, size))
    assert out.shape == (2, 10)
