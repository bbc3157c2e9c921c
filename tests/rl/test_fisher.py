"""Conjugate gradient and the analytic Fisher-vector product: against an explicit Fisher matrix built from
per-sample Jacobians, against finite differences of the mean KL's gradient, and against torch's Hessian of the KL."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from thalweg import nn
from thalweg_lab.rl import (CategoricalPolicy, FisherOperator, GaussianPolicy, Linearization, conjugate_gradient,
                        flat_grad, get_flat_params, set_flat_params)


# ---------------------------------------------------------------- conjugate gradient
def spd(n: int, seed: int, cond: float = 50.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return q @ np.diag(np.geomspace(1.0, cond, n)) @ q.T


@pytest.mark.parametrize("n", [1, 5, 20])
def test_cg_solves_spd_system(n):
    A = spd(n, seed=n)
    b = np.random.default_rng(1).standard_normal(n)
    x = conjugate_gradient(lambda v: A @ v, b, iters=2 * n, tol=1e-24)
    np.testing.assert_allclose(A @ x, b, rtol=1e-8, atol=1e-9)


def test_cg_error_in_a_norm_decreases_and_dtype_is_kept():
    """CG minimises ||x_k - x*||_A over a growing Krylov space, so that error falls with every iteration."""
    A = spd(30, seed=3, cond=1e3)
    b = np.random.default_rng(2).standard_normal(30)
    x_star = np.linalg.solve(A, b)
    errs = []
    for k in (1, 2, 5, 10, 20):
        e = conjugate_gradient(lambda v: A @ v, b, iters=k) - x_star
        errs.append(float(e @ A @ e))
    assert all(a > b for a, b in zip(errs, errs[1:]))
    x32 = conjugate_gradient(lambda v: (A @ v).astype(np.float32), b.astype(np.float32), iters=30)
    assert x32.dtype == np.float32
    with pytest.raises(ValueError, match="iters must be a positive integer"):
        conjugate_gradient(lambda v: v, b, iters=0)


# --------------------------------------------------------------------- the Fisher
def make_policy(kind: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    if kind == "categorical":
        pol = CategoricalPolicy(3, 4, hidden=(5,), out_scale=1.0, generator=rng)
    elif kind == "linear":
        pol = CategoricalPolicy(4, 2, hidden=(), out_scale=1.0, generator=rng)
    else:
        pol = GaussianPolicy(3, 2, hidden=(5,), out_scale=1.0, log_std_init=-0.4, generator=rng)
    pol.double()
    obs = rng.standard_normal((7, pol.obs_dim))
    return pol, obs


def explicit_fisher(pol, obs) -> np.ndarray:
    """(1/N) sum_n J_n^T M_n J_n with J_n from one backward pass per output and M_n written out as a matrix."""
    params = list(pol.parameters())
    n_par = sum(p.array.size for p in params)
    F = np.zeros((n_par, n_par))
    for x in obs:
        out = pol.head(tw.tensor(x[None]))
        k = out.shape[1]
        rows = []
        for j in range(k):
            seed = np.zeros((1, k))
            seed[0, j] = 1.0
            rows.append(flat_grad(out, params, grad_output=seed, retain_graph=True))
        J = np.stack(rows)  # d eta / d theta for this state
        eta = out.array[0]
        if isinstance(pol, CategoricalPolicy):
            p = np.exp(eta - eta.max())
            p /= p.sum()
            M = np.diag(p) - np.outer(p, p)
        else:  # eta = (mean, log_std): rows for the log-std pick its own entries
            idx = {id(q): i for i, q in enumerate(params)}
            offset = sum(q.array.size for q in params[:idx[id(pol.log_std)]])
            J_s = np.zeros((k, n_par))
            J_s[np.arange(k), offset + np.arange(k)] = 1.0
            J = np.vstack([J, J_s])
            sigma2 = np.exp(2 * pol.log_std.array)
            M = np.diag(np.concatenate([1 / sigma2, 2 * np.ones(k)]))
        F += J.T @ M @ J
    return F / len(obs)


def kl_hessian_fd(pol, obs, eps: float = 1e-5) -> np.ndarray:
    """The Hessian of the mean KL(pi_old || pi_theta) at theta_old by central differences of its gradient."""
    params = list(pol.parameters())
    old = pol.distribution_params(obs)
    theta0 = get_flat_params(params)
    n = theta0.size
    H = np.zeros((n, n))
    for i in range(n):
        g = []
        for s in (1, -1):
            th = theta0.copy()
            th[i] += s * eps
            set_flat_params(params, th)
            g.append(flat_grad(pol.kl(old, pol(obs)), params))
        H[:, i] = (g[0] - g[1]) / (2 * eps)
    set_flat_params(params, theta0)
    return H


@pytest.mark.parametrize("kind", ["categorical", "linear", "gaussian"])
def test_fvp_matches_explicit_fisher_and_kl_hessian(kind):
    pol, obs = make_policy(kind)
    F = explicit_fisher(pol, obs)
    np.testing.assert_allclose(F, F.T, atol=1e-12)
    H = kl_hessian_fd(pol, obs)
    np.testing.assert_allclose(H, F, atol=1e-7)  # the Fisher is the Hessian of the KL at the old policy
    op = FisherOperator(pol, obs)
    rng = np.random.default_rng(4)
    for _ in range(3):
        v = rng.standard_normal(F.shape[0])
        np.testing.assert_allclose(op(v), F @ v, rtol=1e-10, atol=1e-12)
    damped = FisherOperator(pol, obs, damping=0.3)
    np.testing.assert_allclose(damped(v), F @ v + 0.3 * v, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["categorical", "gaussian"])
def test_finite_difference_method_agrees(kind):
    pol, obs = make_policy(kind, seed=2)
    v = np.random.default_rng(5).standard_normal(sum(p.array.size for p in pol.parameters()))
    exact = FisherOperator(pol, obs, method="exact")(v)
    fd = FisherOperator(pol, obs, method="finite_difference")(v)
    np.testing.assert_allclose(fd, exact, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("act", [nn.ReLU, nn.Sigmoid, nn.Tanh])
def test_exact_jvp_against_central_differences(act):
    tw.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 6), act(), nn.Linear(6, 4), nn.Identity(), act(), nn.Linear(4, 2)).double()
    x = np.random.default_rng(1).standard_normal((5, 3))
    rng = np.random.default_rng(2)
    tangents = {id(p): rng.standard_normal(p.array.shape) for p in net.parameters()}
    exact = Linearization(net, x, method="exact")
    fd = Linearization(net, x, method="finite_difference")
    np.testing.assert_allclose(exact.output, net(tw.tensor(x)).array, rtol=1e-14)
    np.testing.assert_allclose(exact.jvp(tangents), fd.jvp(tangents), rtol=1e-6, atol=1e-8)
    first = {id(net[0].weight): tangents[id(net[0].weight)]}  # a tangent on one parameter only
    np.testing.assert_allclose(exact.jvp(first), fd.jvp(first), rtol=1e-6, atol=1e-8)


def test_unsupported_layer_falls_back_or_errors():
    net = nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 2)).double()
    x = np.random.default_rng(0).standard_normal((2, 3))
    assert Linearization(net, x).method == "finite_difference"
    with pytest.raises(TypeError, match="no exact forward mode for GELU"):
        Linearization(net, x, method="exact")


def test_fvp_float32_policy_close_to_float64():
    pol, obs = make_policy("categorical", seed=6)
    v = np.random.default_rng(6).standard_normal(sum(p.array.size for p in pol.parameters()))
    f64 = FisherOperator(pol, obs)(v)
    pol.float()
    f32 = FisherOperator(pol, obs.astype(np.float32))(v.astype(np.float32))
    assert f32.dtype == np.float32
    np.testing.assert_allclose(f32, f64, rtol=1e-4, atol=1e-6)


def test_fvp_against_torch_kl_hessian():
    torch = pytest.importorskip("torch")
    pol, obs = make_policy("categorical", seed=3)
    W1, b1, W2, b2 = (torch.tensor(p.array) for p in pol.parameters())
    sizes = [p.array.size for p in pol.parameters()]
    x = torch.tensor(obs)

    def logits(theta):
        parts = torch.split(theta, sizes)
        w1, c1, w2, c2 = (q.reshape(s.shape) for q, s in zip(parts, (W1, b1, W2, b2)))
        return torch.tanh(x @ w1.T + c1) @ w2.T + c2

    theta0 = torch.cat([W1.reshape(-1), b1, W2.reshape(-1), b2])
    logp_old = torch.log_softmax(logits(theta0), -1).detach()

    def mean_kl(theta):
        logp = torch.log_softmax(logits(theta), -1)
        return (logp_old.exp() * (logp_old - logp)).sum(-1).mean()

    v = np.random.default_rng(7).standard_normal(theta0.numel())
    _, hv = torch.autograd.functional.hvp(mean_kl, theta0, torch.tensor(v))
    np.testing.assert_allclose(FisherOperator(pol, obs)(v), hv.numpy(), rtol=1e-9, atol=1e-12)
