"""LBFGS against torch.optim.LBFGS: the same iterates step for step (float64), with
and without the strong-Wolfe line search, and a state_dict round trip."""

from __future__ import annotations

import io

import numpy as np
import pytest

import thalweg as tw
from thalweg.optim.lbfgs import LBFGS

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-9, 1e-12  # float64; the two frameworks' BLAS round differently in the last bits


# ----------------------------------------------------------------- problems
def least_squares(lib, A, b):
    """f(W, c) = mean((A W + c - b)^2), two parameters so the flat view is exercised."""
    A_, b_ = lib.tensor(A), lib.tensor(b)

    def f(W, c):
        r = A_ @ W + c - b_
        return (r * r).mean()
    return f


def rosenbrock(lib, A=None, b=None):
    def f(x):
        return (100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2).sum()
    return f


def kinked(lib, A, b):
    """A piecewise quadratic-plus-linear loss: its kinks make the strong-Wolfe zoom
    bisect, nudge and stall, so every branch of the search is compared."""
    A_, b_ = lib.tensor(A), lib.tensor(b)

    def f(x):
        r = A_ @ x - b_
        return (r.relu() * 3.0 + (-r).relu() * 0.5 + r * r * 0.01).sum()
    return f


def mlp(lib, X, Y):
    """A tiny tanh network's squared error: non-convex, three parameters."""
    X_, Y_ = lib.tensor(X), lib.tensor(Y)

    def f(W1, b1, W2):
        r = (X_ @ W1 + b1).tanh() @ W2 - Y_
        return (r * r).mean()
    return f


def make_problem(name, seed=0):
    g = np.random.default_rng(seed)
    if name == "least_squares":
        A, b = g.standard_normal((30, 4)), g.standard_normal((30, 2))
        return least_squares, (A, b), [g.standard_normal((4, 2)), g.standard_normal(2)]
    if name == "rosenbrock":
        return rosenbrock, (None, None), [np.array([-1.2, 1.0, -0.5, 0.8, 1.3])]
    if name == "kinked":
        A, b = g.standard_normal((10, 4)), g.standard_normal(10)
        return kinked, (A, b), [g.standard_normal(4)]
    X, Y = g.standard_normal((16, 3)), g.standard_normal((16, 1))
    return mlp, (X, Y), [g.standard_normal((3, 5)), g.standard_normal(5), g.standard_normal((5, 1))]


def run_pair(name, steps, **opts):
    """Run tw's and torch's LBFGS side by side; yield per-step (tw params, torch params, losses, states)."""
    build, data, init = make_problem(name)
    f_tw, f_t = build(tw, *data), build(torch, *data)
    p_tw = [tw.tensor(a.copy(), requires_grad=True) for a in init]
    p_t = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt = LBFGS(p_tw, **opts)
    topt = torch.optim.LBFGS(p_t, **opts)

    def closure():
        opt.zero_grad()
        loss = f_tw(*p_tw)
        loss.backward()
        return loss

    def tclosure():
        topt.zero_grad()
        loss = f_t(*p_t)
        loss.backward()
        return loss

    for _ in range(steps):
        l_tw = opt.step(closure)
        l_t = topt.step(tclosure)
        yield p_tw, p_t, (float(l_tw), l_t.item()), opt, topt.state[p_t[0]]


CONFIGS = [
    dict(),
    dict(max_iter=4, history_size=3),
    dict(lr=0.5, max_iter=7, history_size=2, tolerance_change=1e-12),
    dict(max_eval=4),
]


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
@pytest.mark.parametrize("config", range(len(CONFIGS)))
@pytest.mark.parametrize("problem", ["least_squares", "rosenbrock"])
def test_iterates_match_torch(problem, config, line_search_fn):
    opts = dict(CONFIGS[config], line_search_fn=line_search_fn)
    if problem == "rosenbrock" and line_search_fn is None and "lr" not in opts:
        opts["lr"] = 0.1  # a fixed unit step throws Rosenbrock's iterates to infinity in both libraries
    check_against_torch(problem, opts, steps=4)


# Cases that drive the strong-Wolfe search through all of its branches: extrapolation
# (small lr), running out of evaluations, a bracket shrunk below tolerance, and the
# zoom's stall-and-nudge rule (large lr on the kinked loss).  Chosen where the
# trajectories are not chaotic: torch against itself with a 1e-15 perturbation of
# the start stays within 1e-13 on these.
@pytest.mark.parametrize("problem, opts", [
    ("kinked", dict(lr=1)),
    ("kinked", dict(lr=20)),
    ("kinked", dict(lr=0.01)),
    ("kinked", dict(lr=0.3, history_size=3)),
    ("mlp", dict(lr=0.01)),
    ("mlp", dict(lr=1, max_iter=5)),
])
def test_strong_wolfe_branches_match_torch(problem, opts):
    check_against_torch(problem, dict(opts, line_search_fn="strong_wolfe"), steps=3)


def test_fixed_step_on_a_network_matches_torch():
    check_against_torch("mlp", dict(lr=0.2, max_iter=10), steps=3)


def check_against_torch(problem, opts, steps):
    start = make_problem(problem)[2]
    moved = 0.0
    for p_tw, p_t, (l_tw, l_t), opt, tstate in run_pair(problem, steps=steps, **opts):
        for a, b in zip(p_tw, p_t):
            assert np.isfinite(a.array).all()
            np.testing.assert_allclose(a.array, b.detach().numpy(), rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(l_tw, l_t, rtol=RTOL, atol=ATOL)
        # the bookkeeping follows torch's decisions too
        assert opt.state["func_evals"] == tstate["func_evals"]
        assert opt.state["n_iter"] == tstate["n_iter"]
        assert len(opt.state["old_dirs"]) == len(tstate["old_dirs"])
        np.testing.assert_allclose(float(opt.state["t"]), float(tstate["t"]), rtol=RTOL, atol=ATOL)
        d_ref = tstate["d"].numpy()
        np.testing.assert_allclose(opt.state["d"], d_ref, rtol=RTOL, atol=RTOL * np.abs(d_ref).max())
        moved = max(moved, max(float(np.abs(a.array - s).max()) for a, s in zip(p_tw, start)))
    assert moved > 1e-3  # the comparison is not between two parameters that never moved


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_minimises_rosenbrock(line_search_fn):
    x = tw.tensor([-1.2, 1.0], dtype=tw.float64, requires_grad=True)
    opt = LBFGS([x], lr=1 if line_search_fn else 0.05, max_iter=50, line_search_fn=line_search_fn)
    f = rosenbrock(tw)

    def closure():
        opt.zero_grad()
        loss = f(x)
        loss.backward()
        return loss

    start = float(f(x))
    for _ in range(20 if line_search_fn else 60):
        opt.step(closure)
    final = float(f(x))
    assert final < 1e-3 * start
    if line_search_fn:
        np.testing.assert_allclose(x.array, [1.0, 1.0], atol=1e-4)  # stops once the loss change < 1e-9


def test_float32_parameters_stay_float32():
    x = tw.tensor([-1.2, 1.0], requires_grad=True)
    opt = LBFGS([x], line_search_fn="strong_wolfe")
    f = rosenbrock(tw)

    def closure():
        opt.zero_grad()
        loss = f(x)
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    assert x.dtype == np.float32
    assert opt.state["d"].dtype == np.float32 and opt.state["old_dirs"][0].dtype == np.float32
    assert float(f(x)) < 1e-2


# -------------------------------------------------------------- state_dict
def _fresh(line_search_fn, init):
    x = tw.tensor(init.copy(), requires_grad=True)
    opt = LBFGS([("x", x)], max_iter=3, history_size=4, line_search_fn=line_search_fn)
    f = rosenbrock(tw)

    def closure():
        opt.zero_grad()
        loss = f(x)
        loss.backward()
        return loss
    return x, opt, closure


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_state_dict_round_trip_continues_identically(line_search_fn):
    init = np.array([-1.2, 1.0, 0.3])
    x, opt, closure = _fresh(line_search_fn, init)
    opt.param_groups[0]["lr"] = 0.2  # a hyperparameter changed by hand (as a scheduler would) is saved too
    for _ in range(3):
        opt.step(closure)
    sd = opt.state_dict()

    # plain numbers and arrays only: it survives np.savez with allow_pickle=False
    flat = {f"state.{k}": np.asarray(v) for k, v in sd["state"].items()}
    buf = io.BytesIO()
    np.savez(buf, **flat)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as z:
        loaded_state = {k[len("state."):]: z[k] for k in z.files}
    assert sd["state"]["old_dirs"].shape == (len(opt.state["old_dirs"]), 3)

    x2, opt2, closure2 = _fresh(line_search_fn, init)
    x2.array[...] = x.array
    opt2.load_state_dict({"state": loaded_state, "param_groups": sd["param_groups"]})
    assert opt2.param_groups[0]["lr"] == 0.2
    for _ in range(3):
        opt.step(closure)
        opt2.step(closure2)
        np.testing.assert_array_equal(x2.array, x.array)
    assert opt2.state["n_iter"] == opt.state["n_iter"] and opt2.state["func_evals"] == opt.state["func_evals"]
    # saving is a copy: stepping after state_dict() leaves the saved arrays alone
    assert not np.array_equal(sd["state"]["d"], opt.state["d"])


def test_load_state_dict_checks_names_and_sizes():
    x, opt, closure = _fresh(None, np.array([-1.2, 1.0, 0.3]))
    opt.step(closure)
    sd = opt.state_dict()
    y = tw.tensor(np.zeros(4), requires_grad=True)
    with pytest.raises(ValueError, match="saved parameters"):
        LBFGS([("y", y)]).load_state_dict(sd)
    with pytest.raises(ValueError, match=r"state 'd' has shape \(3,\), expected last dimension 4"):
        LBFGS([("x", y)]).load_state_dict(sd)
    with pytest.raises(ValueError, match="saved group has 1 parameters, this optimizer has 2"):
        LBFGS([("x", y), ("z", tw.zeros(1, requires_grad=True))]).load_state_dict(
            dict(sd, param_groups=[{k: v for k, v in sd["param_groups"][0].items() if k != "param_names"}]))


# ---------------------------------------------------------------- the front
def test_hyperparameters_are_validated():
    p = [tw.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match="Invalid learning rate: -0.1"):
        LBFGS(p, lr=-0.1)
    with pytest.raises(ValueError, match="Invalid history_size"):
        LBFGS(p, history_size=0)
    with pytest.raises(ValueError, match="Invalid max_iter"):
        LBFGS(p, max_iter=0)
    with pytest.raises(ValueError, match="line_search_fn"):
        LBFGS(p, line_search_fn="armijo")
    with pytest.raises(ValueError, match="parameter groups"):
        LBFGS([{"params": p}, {"params": [tw.zeros(1, requires_grad=True)]}])
    with pytest.raises(ValueError, match="empty parameter list"):
        LBFGS([])
    with pytest.raises(TypeError, match="but got a Tensor"):
        LBFGS(p[0])
    with pytest.raises(TypeError, match="closure"):
        LBFGS(p).step(None)
    assert LBFGS(p).param_groups[0]["max_eval"] == 25  # torch's default max_iter * 5 // 4
    assert LBFGS([{"params": p, "lr": 0.3}]).param_groups[0]["lr"] == 0.3


def test_returns_at_once_when_already_optimal():
    x = tw.tensor([1.0, 1.0], dtype=tw.float64, requires_grad=True)
    opt = LBFGS([x])
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = rosenbrock(tw)(x)
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss) == 0.0 and len(calls) == 1
    np.testing.assert_array_equal(x.array, [1.0, 1.0])


def test_fits_a_linear_module_like_torch_and_saves_names():
    from thalweg import nn

    g = np.random.default_rng(11)
    X, Y = g.standard_normal((20, 3)), g.standard_normal((20, 2))
    model = nn.Linear(3, 2).double()
    tmodel = torch.nn.Linear(3, 2).double()
    with torch.no_grad():
        tmodel.weight.copy_(torch.tensor(model.weight.array))
        tmodel.bias.copy_(torch.tensor(model.bias.array))
    opt = LBFGS(model.named_parameters(), max_iter=5, line_search_fn="strong_wolfe")
    topt = torch.optim.LBFGS(tmodel.parameters(), max_iter=5, line_search_fn="strong_wolfe")
    Xt, Yt = tw.tensor(X), tw.tensor(Y)

    def closure():
        opt.zero_grad()
        r = model(Xt) - Yt
        loss = (r * r).mean()
        loss.backward()
        return loss

    def tclosure():
        topt.zero_grad()
        loss = torch.nn.functional.mse_loss(tmodel(torch.tensor(X)), torch.tensor(Y))
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
        topt.step(tclosure)
        np.testing.assert_allclose(model.weight.array, tmodel.weight.detach().numpy(), rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(model.bias.array, tmodel.bias.detach().numpy(), rtol=RTOL, atol=ATOL)
    assert opt.state_dict()["param_groups"][0]["params"] == ["weight", "bias"]
    assert LBFGS(model).state_dict()["param_groups"][0]["param_names"] == ["weight", "bias"]  # a Module works too
