"""Synthetic datasets for demos and tests: spirals, moons, a linear regression.

Each function returns ``(X, y)`` NumPy arrays (float32 features; int64 class
labels or float32 targets) drawn from ``numpy.random.default_rng(seed)``, so
the same seed gives the same points.  ``synthetic_splits`` turns them into
train/dev/test datasets.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .dataset import Splits, TensorDataset

__all__ = ["make_spirals", "make_moons", "make_regression", "synthetic_splits"]


def make_spirals(n_per_class: int = 200, n_classes: int = 3, *, noise: float = 0.2, turns: float = 1.0,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms in the plane, one per class (not linearly separable).

    Arm ``k`` has points at radius ``r`` in [0, 1] and angle
    ``2 pi (turns r + k / n_classes)`` plus Gaussian angle noise ``noise``.
    """
    if n_per_class <= 0 or n_classes < 2:
        raise ValueError(f"make_spirals: need n_per_class > 0 and n_classes >= 2, got {n_per_class}, {n_classes}")
    rng = np.random.default_rng(seed)
    r = np.tile(np.linspace(0.05, 1.0, n_per_class), n_classes)
    k = np.repeat(np.arange(n_classes), n_per_class)
    theta = 2 * np.pi * (turns * r + k / n_classes) + rng.normal(0.0, noise, r.shape)
    x = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1).astype(np.float32)
    perm = rng.permutation(len(k))
    return x[perm], k[perm].astype(np.int64)


def make_moons(n: int = 400, *, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (two classes), with Gaussian noise of std ``noise``."""
    if n < 2:
        raise ValueError(f"make_moons: need n >= 2, got {n}")
    rng = np.random.default_rng(seed)
    n0 = n // 2
    t0 = np.linspace(0.0, np.pi, n0)
    t1 = np.linspace(0.0, np.pi, n - n0)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    x = np.concatenate([upper, lower]) + rng.normal(0.0, noise, (n, 2))
    y = np.concatenate([np.zeros(n0, np.int64), np.ones(n - n0, np.int64)])
    perm = rng.permutation(n)
    return x[perm].astype(np.float32), y[perm]


def make_regression(n: int = 500, n_features: int = 5, *, noise: float = 0.1,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``y = X w + b + noise`` with ``X ~ N(0, 1)``, a random ``w ~ N(0, 1)``, ``b ~ N(0, 1)``; y has shape (n, 1)."""
    if n <= 0 or n_features <= 0:
        raise ValueError(f"make_regression: need n > 0 and n_features > 0, got {n}, {n_features}")
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(n_features, 1))
    b = rng.normal()
    x = rng.normal(size=(n, n_features))
    y = x @ w + b + rng.normal(0.0, noise, (n, 1))
    return x.astype(np.float32), y.astype(np.float32)


def synthetic_splits(maker: Callable[..., tuple[np.ndarray, np.ndarray]], *, fractions: tuple[float, float, float] =
                     (0.7, 0.15, 0.15), seed: int = 0, **kwargs: object) -> Splits:
    """Draw a synthetic set with ``maker(seed=seed, **kwargs)`` and cut it into train/dev/test by ``fractions``."""
    x, y = maker(seed=seed, **kwargs)
    n = len(x)
    n_train, n_dev = int(round(fractions[0] * n)), int(round(fractions[1] * n))
    classes = int(y.max()) + 1 if y.dtype.kind in "iu" else None
    cuts = [(0, n_train), (n_train, n_train + n_dev), (n_train + n_dev, n)]
    return Splits(*(TensorDataset(x[a:b], y[a:b], num_classes=classes) for a, b in cuts))
