"""Small models and data for the pruning tests."""

from __future__ import annotations

import numpy as np

import thalweg as tw
from thalweg import nn


def mlp(seed: int = 0, sizes: tuple[int, ...] = (12, 16, 10, 3), dropout: float = 0.0) -> nn.Module:
    tw.manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def blobs(n: int = 240, d: int = 12, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``k`` Gaussian classes in ``d`` dimensions, separable enough to train in a few hundred steps."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 2.0, size=(k, d))
    y = rng.integers(0, k, size=n)
    x = centers[y] + rng.normal(0, 1.0, size=(n, d))
    return x.astype(np.float32), y.astype(np.int64)


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with tw.no_grad():
        out = model(tw.tensor(x)).array
    model.train()
    return float((out.argmax(1) == y).mean())


def train_steps(model: nn.Module, opt: object, x: np.ndarray, y: np.ndarray, steps: int, batch: int = 32,
                seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        idx = rng.integers(0, len(x), size=batch)
        loss = nn.functional.cross_entropy(model(tw.tensor(x[idx])), tw.tensor(y[idx]))
        opt.zero_grad()  # type: ignore[attr-defined]
        loss.backward()
        opt.step()  # type: ignore[attr-defined]
