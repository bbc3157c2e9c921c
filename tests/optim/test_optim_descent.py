"""Every registered optimizer lowers a convex quadratic and the Rosenbrock function from a fixed start."""

from __future__ import annotations

import numpy as np
import pytest
from _optim_testlib import make_params, quadratic, quadratic_matrix, rosenbrock

from thalweg.optim.registry import OPTIMIZERS

H = quadratic_matrix()
X_STAR = np.linalg.solve(H, np.ones(5))
F_STAR = quadratic(X_STAR, H)[0]


def _run(name: str, fn, x0: np.ndarray) -> tuple[float, float, list[float]]:
    entry = OPTIMIZERS[name]
    p = make_params([x0])[0]
    opt = entry.factory([p], **entry.test_kwargs)

    def closure() -> float:
        f, g = fn(p.array)
        p.grad = g
        return f

    returned = [opt.step(closure) for _ in range(entry.descent_steps)]
    return fn(x0)[0], fn(p.array)[0], returned


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_lowers_convex_quadratic(name):
    f0, f1, returned = _run(name, lambda x: quadratic(x, H), np.full(5, 2.0))
    assert returned[0] == pytest.approx(f0)  # step(closure) returns the closure's loss
    assert f1 - F_STAR < 0.2 * (f0 - F_STAR), f"{name}: {f0} -> {f1} (minimum {F_STAR})"


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_lowers_rosenbrock(name):
    f0, f1, _ = _run(name, rosenbrock, np.array([-1.2, 1.0]))
    assert np.isfinite(f1)
    assert f1 < 0.25 * f0, f"{name}: Rosenbrock {f0} -> {f1}"
