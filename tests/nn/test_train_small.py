"""A small MLP learns a synthetic problem with plain SGD: the whole nn stack working together."""

import numpy as np
import pytest

import thalweg as tw
import thalweg.nn.functional as F
from thalweg import nn


def _blobs(n_per_class=100, seed=0):
    """Three Gaussian blobs in 2-D that a linear model cannot separate perfectly but an MLP can."""
    rng = np.random.default_rng(seed)
    angles = np.array([0.0, 2.1, 4.2])
    centres = np.stack([np.cos(angles), np.sin(angles)], 1) * 2.0
    x = np.concatenate([rng.standard_normal((n_per_class, 2)) * 0.6 + c for c in centres])
    y = np.repeat(np.arange(3), n_per_class)
    x = np.concatenate([x, x ** 2 / 4], 1)  # 4 features
    return tw.tensor(x.astype(np.float32)), tw.tensor(y)


def _sgd_step(model, lr):
    for p in model.parameters():
        p.array -= lr * p.grad
    model.zero_grad()


@pytest.mark.parametrize("use_norm", [False, True])
def test_mlp_loss_falls_and_it_classifies(use_norm):
    tw.manual_seed(0)
    x, y = _blobs()
    layers = [nn.Linear(4, 32)]
    if use_norm:
        layers += [nn.BatchNorm1d(32)]
    layers += [nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 32)]
    if use_norm:
        layers += [nn.LayerNorm(32)]
    layers += [nn.Tanh(), nn.Linear(32, 3)]
    model = nn.Sequential(*layers)
    losses = []
    rng = np.random.default_rng(1)
    for epoch in range(30):
        order = rng.permutation(len(y))
        for start in range(0, len(order), 50):
            idx = order[start:start + 50]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            _sgd_step(model, lr=0.1)
            losses.append(loss.item())
    assert np.mean(losses[-6:]) < 0.4 * np.mean(losses[:6])
    model.eval()
    with tw.no_grad():
        accuracy = (model(x).array.argmax(1) == y.array).mean()
    assert accuracy > 0.9


def test_regression_mlp_with_mse():
    tw.manual_seed(2)
    rng = np.random.default_rng(3)
    xs = rng.uniform(-2, 2, (200, 1)).astype(np.float32)
    ys = np.sin(xs) + 0.05 * rng.standard_normal(xs.shape).astype(np.float32)
    x, y = tw.tensor(xs), tw.tensor(ys)
    model = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 1))
    nn.init.xavier_uniform_(model[0].weight, gain=nn.init.calculate_gain("tanh"))
    first = None
    for step in range(300):
        loss = nn.MSELoss()(model(x), y)
        first = loss.item() if first is None else first
        loss.backward()
        _sgd_step(model, lr=0.1)
    assert loss.item() < 0.1 * first and loss.item() < 0.02
