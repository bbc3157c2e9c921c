"""Shared test problems for the optim tests (a helper module, not a test file)."""

from __future__ import annotations

import numpy as np

from thalweg.nn import Parameter

SHAPES = [(3, 4), (4,), (2,)]


def start_values(seed: int = 0, dtype=np.float64) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.5, 1.5, size=s).astype(dtype) for s in SHAPES]


def curvatures(seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.2, 3.0, size=s) for s in SHAPES]


def smooth_grad(x: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Gradient of sum(a/2 x^2 + 0.05 x^4 + 0.1 cos(2x)): smooth, non-quadratic, bounded below."""
    return a * x + 0.2 * x**3 - 0.2 * np.sin(2 * x)


def make_params(values: list[np.ndarray]) -> list[Parameter]:
    return [Parameter(v.copy()) for v in values]


def quadratic(x: np.ndarray, h: np.ndarray) -> tuple[float, np.ndarray]:
    """f = 1/2 x^T H x - sum(x) with a fixed SPD H; returns (f, grad)."""
    return float(0.5 * x @ h @ x - x.sum()), h @ x - 1.0


def quadratic_matrix() -> np.ndarray:
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    return q @ np.diag([0.5, 1.0, 2.0, 3.0, 4.0]) @ q.T


def rosenbrock(x: np.ndarray) -> tuple[float, np.ndarray]:
    a, b = x
    f = (1 - a) ** 2 + 100 * (b - a * a) ** 2
    g = np.array([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)])
    return float(f), g
