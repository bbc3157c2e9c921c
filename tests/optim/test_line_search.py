"""Backtracking (Armijo) line search and gradient descent with it; the strong-Wolfe
search and its cubic interpolation against torch's."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from thalweg.optim.line_search import (GradientDescentLineSearch, backtracking_line_search, cubic_interpolate,
                                       strong_wolfe)

C = 1e-4


def quadratic(seed: int = 0, n: int = 6):
    """f(x) = 1/2 x'Qx - b'x with Q's eigenvalues spread over [1, 20] (L = 20)."""
    g = np.random.default_rng(seed)
    U, _ = np.linalg.qr(g.standard_normal((n, n)))
    Q = U @ np.diag(np.linspace(1.0, 20.0, n)) @ U.T
    b = g.standard_normal(n)
    return Q, b, np.linalg.solve(Q, b), g.standard_normal(n)


# ------------------------------------------------------------------ the function
def test_fixed_large_step_diverges_and_backtracking_converges():
    Q, b, x_star, x0 = quadratic()
    f = lambda x: float(0.5 * x @ Q @ x - b @ x)  # noqa: E731
    grad = lambda x: Q @ x - b  # noqa: E731
    lr = 0.15  # > 2 / L = 0.1: the fixed step multiplies the top eigencomponent by |1 - 0.15 * 20| = 2

    x = x0.copy()
    for _ in range(80):
        x = x - lr * grad(x)
    assert np.linalg.norm(x - x_star) > 1e20 * np.linalg.norm(x0 - x_star)  # diverged

    x = x0.copy()
    for _ in range(500):
        g = grad(x)
        fx = f(x)
        a = backtracking_line_search(f, x, -g, g, fx=fx, alpha0=lr, rho=0.5, c=C)
        assert a > 0
        # the sufficient-decrease condition at every step ...
        assert f(x - a * g) <= fx + C * a * float(g @ -g)
        # ... and a is the *first* of lr, lr/2, lr/4 ... that satisfies it
        if a < lr:
            assert not f(x - 2 * a * g) <= fx + C * 2 * a * float(g @ -g)
        x = x - a * g
    np.testing.assert_allclose(x, x_star, atol=1e-8)


def test_accepts_tensors_and_uses_fx_to_save_an_evaluation():
    calls = []

    def f(x):
        calls.append(x.copy())
        return float((x ** 2).sum())

    x = tw.tensor([3.0, -4.0], dtype=tw.float64)
    g = 2 * x
    a = backtracking_line_search(f, x, -g, g, fx=25.0, alpha0=1.0)
    # from alpha = 1: f(x - 2x) = 25 fails; alpha = 0.5 lands on the minimum 0
    assert a == 0.5 and len(calls) == 2
    backtracking_line_search(f, x, -g, g)  # without fx, f(x) is evaluated too
    assert len(calls) == 2 + 3


def test_blow_ups_are_rejected_and_failure_returns_zero():
    f = lambda x: float(x @ x) if np.abs(x).max() < 10 else float("nan")  # noqa: E731
    x = np.array([1.0, 1.0])
    a = backtracking_line_search(f, x, -2 * x, 2 * x, alpha0=100.0)
    assert 0 < a < 1 and np.abs(x - a * 2 * x).max() < 10
    # the gradient claims descent but f only grows along d: no step passes
    count = []
    g = lambda y: (count.append(1), float(np.sum(y)))[1]  # noqa: E731
    assert backtracking_line_search(g, x, np.ones(2), -np.ones(2), fx=2.0, max_iter=7) == 0.0
    assert len(count) == 7


@pytest.mark.parametrize("kwargs, message", [
    (dict(alpha0=0.0), "alpha0"),
    (dict(rho=1.0), "rho"),
    (dict(c=1.5), "sufficient-decrease"),
    (dict(max_iter=0), "max_iter"),
])
def test_bad_arguments(kwargs, message):
    x = np.ones(2)
    with pytest.raises(ValueError, match=message):
        backtracking_line_search(lambda y: float(y @ y), x, -x, x, **kwargs)


def test_ascent_direction_and_shape_mismatch_raise():
    x = np.ones(2)
    with pytest.raises(ValueError, match="not a descent direction"):
        backtracking_line_search(lambda y: float(y @ y), x, x, 2 * x)
    with pytest.raises(ValueError, match="one shape"):
        backtracking_line_search(lambda y: float(y @ y), x, -np.ones(3), 2 * x)


# ------------------------------------------------------------------ the optimizer
def _tw_quadratic(Q, b, x0, dtype=tw.float64):
    x = tw.tensor(x0.copy(), dtype=dtype, requires_grad=True)
    Qt, bt = tw.tensor(Q, dtype=dtype), tw.tensor(b, dtype=dtype)

    def loss_fn():
        return 0.5 * (x @ (Qt @ x)) - (bt * x).sum()
    return x, loss_fn


def test_optimizer_converges_where_fixed_step_diverges():
    Q, b, x_star, x0 = quadratic(seed=1)
    lr = 0.15  # > 2 / L

    x, loss_fn = _tw_quadratic(Q, b, x0)  # plain gradient descent with the same step diverges
    for _ in range(80):
        x.grad = None
        loss_fn().backward()
        with tw.no_grad():
            x -= lr * x.grad
    assert not np.isfinite(float(loss_fn())) or float(loss_fn()) > 1e20

    x, loss_fn = _tw_quadratic(Q, b, x0)
    opt = GradientDescentLineSearch([x], lr=lr, c=C)

    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    ref = x0.copy()  # a hand-written reference of the same rule, in NumPy
    f_star = 0.5 * x_star @ Q @ x_star - b @ x_star
    compared = 0
    for _ in range(400):
        before = float(loss_fn())
        g = Q @ x.array - b
        loss = opt.step(closure)
        a = opt.state["step_size"]
        assert float(loss) == before
        assert float(loss_fn()) <= before - C * a * float(g @ g)  # Armijo, checked on the optimizer's own step
        gr = Q @ ref - b
        fr = 0.5 * ref @ Q @ ref - b @ ref
        step = lr
        while 0.5 * (ref - step * gr) @ Q @ (ref - step * gr) - b @ (ref - step * gr) > fr - C * step * gr @ gr:
            step *= 0.5
        ref = ref - step * gr
        if fr - f_star > 1e-9:  # near the minimum the test f(x + a d) <= ... compares rounding noise
            assert step == a > 0
            np.testing.assert_allclose(x.array, ref, rtol=1e-9, atol=1e-12)
            compared += 1
    assert compared > 50
    np.testing.assert_allclose(x.array, x_star, atol=1e-6)
    assert opt.state["step"] == 400 and opt.state["func_evals"] > 400


def test_optimizer_state_dict_round_trip_and_minimum():
    Q, b, x_star, x0 = quadratic(seed=2)
    x, loss_fn = _tw_quadratic(Q, b, x0)
    opt = GradientDescentLineSearch([("x", x)], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    sd = opt.state_dict()
    assert sd["state"] == {"step": 3, "func_evals": opt.state["func_evals"], "step_size": opt.state["step_size"]}
    x2, loss_fn2 = _tw_quadratic(Q, b, x.array)
    opt2 = GradientDescentLineSearch([("x", x2)], lr=0.5)
    opt2.load_state_dict(sd)
    assert opt2.state == opt.state

    # at the exact minimum the gradient is 0: the step is 0 and x stays put
    x3, loss_fn3 = _tw_quadratic(Q, b, x_star)
    opt3 = GradientDescentLineSearch([x3], lr=1.0)

    def closure3():
        opt3.zero_grad()
        loss = loss_fn3()
        loss.backward()
        return loss

    x3.array[...] = x_star
    opt3.step(closure3)
    assert np.abs(x3.array - x_star).max() < 1e-12


def test_optimizer_float32_and_validation():
    Q, b, x_star, x0 = quadratic(seed=3)
    x, loss_fn = _tw_quadratic(Q, b, x0, dtype=tw.float32)
    opt = GradientDescentLineSearch([x], lr=1.0)

    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    for _ in range(300):
        opt.step(closure)
    assert x.dtype == np.float32
    np.testing.assert_allclose(x.array, x_star, atol=2e-3)
    with pytest.raises(ValueError, match="Invalid learning rate: -0.1"):
        GradientDescentLineSearch([x], lr=-0.1)
    with pytest.raises(ValueError, match="rho"):
        GradientDescentLineSearch([x], rho=2.0)
    with pytest.raises(TypeError, match="closure"):
        opt.step(None)


# ------------------------------------------------------------------ strong Wolfe
def _torch_lbfgs():
    torch = pytest.importorskip("torch")
    from torch.optim import lbfgs  # the private helpers are the reference here

    return torch, lbfgs


def test_cubic_interpolate_matches_torch():
    torch, lbfgs = _torch_lbfgs()
    g = np.random.default_rng(0)
    hit_no_min = 0
    for _ in range(300):
        x1, x2 = g.uniform(-2, 3, 2)
        f1, g1, f2, g2 = g.standard_normal(4) * 3
        bounds = None if g.random() < 0.5 else tuple(sorted(g.uniform(-3, 4, 2)))
        mine = cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=bounds)
        T = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
        ref = lbfgs._cubic_interpolate(T(x1), T(f1), T(g1), T(x2), T(f2), T(g2), bounds=bounds)
        np.testing.assert_allclose(mine, float(ref), rtol=1e-12, atol=1e-14)
        d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
        hit_no_min += d1 * d1 < g1 * g2
    assert hit_no_min > 10  # the no-minimiser branch (midpoint) was compared too


@pytest.mark.parametrize("t0", [1e-3, 0.05, 1.0, 30.0])
def test_strong_wolfe_matches_torch_and_satisfies_the_conditions(t0):
    torch, lbfgs = _torch_lbfgs()

    def rosen(v):
        return float(np.sum(100 * (v[1:] - v[:-1] ** 2) ** 2 + (1 - v[:-1]) ** 2))

    def rosen_grad(v):
        gr = np.zeros_like(v)
        gr[:-1] = -400 * v[:-1] * (v[1:] - v[:-1] ** 2) - 2 * (1 - v[:-1])
        gr[1:] += 200 * (v[1:] - v[:-1] ** 2)
        return gr

    x = np.array([-1.2, 1.0, 0.4])
    f0, g0 = rosen(x), rosen_grad(x)
    d = -g0 / np.abs(g0).sum()
    gtd = float(g0 @ d)
    f, g, t, n = strong_wolfe(lambda s: (rosen(x + s * d), rosen_grad(x + s * d)), d, t0, f0, g0, gtd)

    def obj(xx, s, dd):
        v = xx.numpy() + float(s) * dd.numpy()
        return rosen(v), torch.tensor(rosen_grad(v))
    rf, rg, rt, rn = lbfgs._strong_wolfe(obj, torch.tensor(x), t0, torch.tensor(d), f0, torch.tensor(g0),
                                         torch.tensor(gtd, dtype=torch.float64))
    assert n == rn
    np.testing.assert_allclose([f, t], [float(rf), float(rt)], rtol=1e-12)
    np.testing.assert_allclose(g, rg.numpy(), rtol=1e-12)
    # both strong Wolfe conditions hold at the returned step
    assert f <= f0 + 1e-4 * t * gtd
    assert abs(float(g @ d)) <= 0.9 * abs(gtd)


# ------------------------------------------------------------------ the closure-optimizer front
def test_front_rejects_bad_parameters_and_groups():
    leaf = tw.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="non-leaf Tensor"):
        GradientDescentLineSearch([leaf * 2])
    with pytest.raises(TypeError, match="floating-point tensors"):
        GradientDescentLineSearch([tw.tensor([1, 2])])
    with pytest.raises(ValueError, match="more than once"):
        GradientDescentLineSearch([leaf, leaf])
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        GradientDescentLineSearch([np.zeros(2)])
    with pytest.raises(ValueError, match="unknown options"):
        GradientDescentLineSearch([{"params": [leaf], "momentum": 0.9}])
    with pytest.raises(ValueError, match="'params' entry"):
        GradientDescentLineSearch([{"lr": 0.1}])
    opt = GradientDescentLineSearch([{"params": [leaf], "lr": 0.25}])
    assert opt.param_groups[0]["lr"] == 0.25 and "lr=0.25" in repr(opt)
    with pytest.raises(ValueError, match="parameter groups"):
        opt.add_param_group({"params": [tw.zeros(1, requires_grad=True)]})
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"lr": 1})
    leaf.grad = np.ones(2, dtype=np.float32)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(leaf.grad, [0.0, 0.0])
    opt.zero_grad()
    assert leaf.grad is None


def test_strong_wolfe_backs_off_from_nan():
    # f(x) = x^2, but NaN past |x| > 2; from x = -1 along d = +1 the first trial (t = 10) is NaN
    def evaluate(t):
        x = -1.0 + t
        return (x * x, np.array([2 * x])) if abs(x) <= 2 else (float("nan"), np.array([float("nan")]))

    d = np.array([1.0])
    f, g, t, n = strong_wolfe(evaluate, d, 10.0, 1.0, np.array([-2.0]), -2.0)
    assert np.isfinite(f) and 0 < t <= 3
    assert f <= 1.0 + 1e-4 * t * -2.0  # sufficient decrease
    assert abs(float(g @ d)) <= 0.9 * 2.0  # curvature
