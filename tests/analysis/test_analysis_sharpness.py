"""The epsilon-sharpness metric (arXiv:1609.04836, Metric 2.1) on functions whose maximum over the box is known."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import thalweg as tw
from thalweg import nn
from thalweg.analysis import (LossFunction, box_half_widths, epsilon_sharpness, flat_parameters, model_sharpness,
                              random_subspace, scipy_available, set_flat_parameters)
from thalweg_lab.training import evaluate

METHODS = [pytest.param("L-BFGS-B", marks=pytest.mark.skipif(not scipy_available(), reason="needs SciPy")),
           "sign-ascent"]


def _quadratic(h: np.ndarray):
    return lambda x: (0.5 * float(h @ (x * x)), h * x)


@pytest.mark.parametrize("method", METHODS)
def test_convex_quadratic_reaches_the_corner_maximum(method: str) -> None:
    # f = 1/2 sum h_i x_i^2 is convex, so its maximum over the box is at the corner that moves each
    # coordinate away from 0: y_i = sign(x_i) w_i, w_i = eps (|x_i| + 1)
    h = np.array([1.0, 2.0, 3.0, 4.0, 0.5])
    x0 = np.array([1.0, -2.0, 0.5, -0.1, 3.0])
    eps = 0.05
    r = epsilon_sharpness(_quadratic(h), x0, epsilon=eps, method=method)
    corner = x0 + np.sign(x0) * eps * (np.abs(x0) + 1)
    f0, fmax = 0.5 * h @ (x0 * x0), 0.5 * h @ (corner * corner)
    assert r.f0 == pytest.approx(f0) and r.f_max == pytest.approx(fmax, rel=1e-12)
    assert r.sharpness == pytest.approx(100 * (fmax - f0) / (1 + f0), rel=1e-10)
    assert np.allclose(r.y, np.sign(x0) * eps * (np.abs(x0) + 1)) and r.subspace_dim is None


@pytest.mark.parametrize("method", METHODS)
def test_linear_function_in_a_random_subspace(method: str) -> None:
    # f(x) = c.x: f(x + A y) - f(x) = (A^T c).y, maximal at y_i = sign((A^T c)_i) w_i
    rng = np.random.default_rng(0)
    n, p = 50, 7
    c, x0 = rng.normal(size=n), rng.normal(size=n)
    A = random_subspace(n, p, generator=rng, dtype=np.float64)
    r = epsilon_sharpness(lambda x: (float(c @ x), c.copy()), x0, epsilon=1e-2, A=A, method=method)
    w = 1e-2 * (np.abs(np.linalg.pinv(A) @ x0) + 1)
    f0 = float(c @ x0)
    expected = float(np.abs(A.T @ c) @ w)
    assert r.f_max - f0 == pytest.approx(expected, rel=1e-6)
    assert r.sharpness == pytest.approx(100 * expected / (1 + f0), rel=1e-6) and r.subspace_dim == p


def test_box_uses_the_pseudo_inverse() -> None:
    rng = np.random.default_rng(1)
    A = rng.normal(size=(30, 4))
    x = rng.normal(size=30)
    assert np.allclose(box_half_widths(x, 1e-3, A), 1e-3 * (np.abs(np.linalg.pinv(A) @ x) + 1))
    assert np.allclose(box_half_widths(x, 5e-4), 5e-4 * (np.abs(x) + 1))


@pytest.mark.parametrize("method", METHODS)
def test_result_is_a_feasible_lower_bound_of_the_maximum(method: str) -> None:
    # a non-convex function of 2 variables: compare with a fine grid over the box
    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        f = math.sin(3 * x[0]) * math.cos(2 * x[1]) + 0.1 * x[0]
        g = np.array([3 * math.cos(3 * x[0]) * math.cos(2 * x[1]) + 0.1, -2 * math.sin(3 * x[0]) * math.sin(2 * x[1])])
        return f, g

    x0 = np.array([0.3, -0.2])
    eps = 0.4
    r = epsilon_sharpness(fun, x0, epsilon=eps, method=method)
    w = eps * (np.abs(x0) + 1)
    grid = [fun(x0 + np.array([a, b]))[0] for a, b in itertools.product(np.linspace(-w[0], w[0], 201),
                                                                          np.linspace(-w[1], w[1], 201))]
    # |grad f| <= sqrt(3.1^2 + 2^2) < 3.7, and every point of the box is within half a grid diagonal of the grid
    slack = 3.7 * 0.5 * float(np.hypot(*(2 * w / 200)))
    assert np.all(np.abs(r.y) <= w + 1e-12)
    assert r.f0 <= r.f_max <= max(grid) + slack
    assert r.f_max == pytest.approx(fun(x0 + r.y)[0])
    assert r.f_max > r.f0  # the gradient at x0 is not zero, so some ascent was found


def test_bad_arguments_are_refused() -> None:
    fun = _quadratic(np.ones(3))
    with pytest.raises(ValueError, match="epsilon"):
        epsilon_sharpness(fun, np.ones(3), epsilon=-1.0)
    with pytest.raises(ValueError, match="method"):
        epsilon_sharpness(fun, np.ones(3), method="newton")
    with pytest.raises(ValueError, match="n x p"):
        epsilon_sharpness(fun, np.ones(3), A=np.ones((4, 2)))
    with pytest.raises(ValueError, match="maxiter"):
        epsilon_sharpness(fun, np.ones(3), maxiter=0)


def _tanh_net(dtype: str = "float64") -> nn.Module:
    tw.manual_seed(3)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    return model.double() if dtype == "float64" else model


def test_loss_function_gradient_matches_finite_differences_and_ignores_batching() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(23, 6))
    y = rng.integers(0, 3, size=23)
    model = _tanh_net()
    with LossFunction(model, x, y, batch_size=5) as f:
        v, g = f(f.x0)
        d = rng.normal(size=f.n)
        h = 1e-6
        fd = (f.value(f.x0 + h * d) - f.value(f.x0 - h * d)) / (2 * h)
        assert g @ d == pytest.approx(fd, rel=1e-6)
    with LossFunction(model, x, y, batch_size=1000) as whole:  # the first one put the parameters back
        assert np.array_equal(whole.x0, f.x0)
        v2, g2 = whole(whole.x0)
    assert v == pytest.approx(v2, rel=1e-12) and np.allclose(g, g2, rtol=1e-10, atol=1e-14)


def test_model_sharpness_restores_the_model_and_uses_eval_mode() -> None:
    tw.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.BatchNorm1d(7), nn.ReLU(), nn.Dropout(0.5), nn.Linear(7, 3))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5)).astype(np.float32)
    y = rng.integers(0, 3, size=40)
    model(tw.tensor(x))  # one training-mode pass: running statistics move away from (0, 1)
    before = flat_parameters(model)
    state = {k: np.array(v) for k, v in model.state_dict().items()}
    model.train()
    r = model_sharpness(model, x, y, epsilon=1e-3, method="sign-ascent", maxiter=3)
    assert model.training and np.array_equal(flat_parameters(model), before)
    assert all(np.array_equal(v, np.asarray(model.state_dict()[k])) for k, v in state.items())
    loss, _ = evaluate(model, x, y)  # eval mode: running statistics, no dropout
    assert r.f0 == pytest.approx(loss, rel=1e-5) and r.sharpness >= 0.0


def test_a_sharper_minimum_scores_higher() -> None:
    # the same network at a point where the loss is steeper (weights of the output layer scaled up)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(60, 6))
    y = rng.integers(0, 3, size=60)
    model = _tanh_net()
    flat = model_sharpness(model, x, y, epsilon=1e-3, method="sign-ascent").sharpness
    v = flat_parameters(model)
    set_flat_parameters(model, v * 4.0)
    sharp = model_sharpness(model, x, y, epsilon=1e-3, method="sign-ascent").sharpness
    assert sharp > flat > 0
