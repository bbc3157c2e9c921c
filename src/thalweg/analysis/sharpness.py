"""The epsilon-sharpness of a minimizer (Keskar et al., 2017, arXiv:1609.04836, Metric 2.1).

A minimizer is *sharp* when the training function rises quickly in a small
neighbourhood of it.  The paper measures that with the largest value ``f``
reaches in a box around the point ``x``, relative to ``f(x)``::

    phi_{x,f}(eps, A) = 100 * (max_{y in C_eps} f(x + A y) - f(x)) / (1 + f(x))

    C_eps = { y in R^p : |y_i| <= eps * (|(A^+ x)_i| + 1),  i = 1..p }

``A`` is an ``n x p`` matrix: the identity (``p = n``, the box is in the
full parameter space, each coordinate allowed to move by ``eps`` times its
own magnitude plus ``eps``), or ``p = 100`` random columns (the maximum over
a random 100-dimensional subspace, so that a rise confined to a tiny set of
directions is not what the number measures); ``A^+`` is the pseudo-inverse.
The paper uses ``eps`` in {1e-3, 5e-4}.

The maximum is not computed exactly.  The paper takes 10 iterations of
L-BFGS-B (Byrd, Lu, Nocedal & Zhu, 1995), a quasi-Newton method that keeps
the iterates inside the box; this is ``method="L-BFGS-B"`` here, SciPy's
implementation (SciPy is an optional dependency of ``thalweg.analysis``)
driven by the library's own gradients, from the starting point ``y = 0``
(the paper does not give one; ``y = 0`` is ``x`` itself).  Without SciPy,
``method="sign-ascent"`` is a dependency-free stand-in, documented as such:
projected steepest ascent in the box's own (scaled infinity-norm) geometry,
``y <- clip(y + t * w * sign(grad), -w, w)`` with ``w`` the box's half-widths,
``t = 2`` first and halved until ``f`` increases.  Either way the result is
a *lower bound* on the true maximum (the best feasible point evaluated), so
sharpness can be under-estimated, never over-estimated.

Caveat of the metric, as the paper itself notes: it depends on the
parametrisation (the box scales with ``|x_i|``), and with an identity ``A``
it grows with the number of parameters; compare values only between
minimizers of the same network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .. import random as _random
from .params import Loss, LossFunction

__all__ = ["SharpnessResult", "epsilon_sharpness", "model_sharpness", "random_subspace", "box_half_widths",
           "scipy_available", "METHODS", "PAPER_EPSILONS"]

METHODS = ("L-BFGS-B", "sign-ascent")
#: the box sizes the paper reports
PAPER_EPSILONS = (1e-3, 5e-4)

ValueAndGrad = Callable[[np.ndarray], tuple[float, np.ndarray]]


def scipy_available() -> bool:
    try:
        import scipy.optimize  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class SharpnessResult:
    """What ``epsilon_sharpness`` found.

    ``sharpness`` is ``phi`` (already multiplied by 100); ``f0 = f(x)``;
    ``f_max`` the largest value found in the box; ``y`` the perturbation
    (in the box's coordinates) that reached it; ``subspace_dim`` is ``p``
    (``None`` for the full space, ``A = I``); ``evaluations`` counts the
    function-and-gradient evaluations.
    """

    sharpness: float
    f0: float
    f_max: float
    epsilon: float
    subspace_dim: int | None
    method: str
    iterations: int
    evaluations: int
    y: np.ndarray = field(repr=False)


def box_half_widths(x: np.ndarray, epsilon: float, A: np.ndarray | None = None) -> np.ndarray:
    """``w_i = eps * (|(A^+ x)_i| + 1)``: the box ``C_eps`` is ``-w <= y <= w``.

    ``A^+ x`` is the least-squares solution of ``A z = x``, computed through
    the normal equations ``(A^T A) z = A^T x`` in float64 (``A`` has ``p``
    columns, ``p`` small, and a random ``A`` is well conditioned).
    """
    if not (isinstance(epsilon, (int, float)) and math.isfinite(epsilon) and epsilon > 0):
        raise ValueError(f"sharpness: epsilon must be a positive number, got {epsilon!r}")
    x = np.asarray(x, dtype=np.float64)
    if A is None:
        z = x
    else:
        A = _check_A(A, x.size)
        gram = (A.T @ A).astype(np.float64)
        z = np.linalg.solve(gram, (A.T @ x.astype(A.dtype)).astype(np.float64))
    return epsilon * (np.abs(z) + 1.0)


def _check_A(A: Any, n: int) -> np.ndarray:
    A = np.asarray(A)
    if A.ndim != 2 or A.shape[0] != n or A.shape[1] == 0 or A.shape[1] > n:
        raise ValueError(f"sharpness: A must be an n x p matrix with n = {n} rows and 1 <= p <= n, "
                         f"got shape {A.shape}")
    if not np.issubdtype(A.dtype, np.floating):
        A = A.astype(np.float64)
    return A


def random_subspace(n: int, p: int = 100, *, generator: np.random.Generator | None = None,
                    dtype: Any = np.float32) -> np.ndarray:
    """An ``n x p`` matrix of independent standard normal entries (the paper's random ``A``, ``p = 100``).

    The paper says only that the columns are "randomly generated"; a
    Gaussian matrix is the usual choice.  float32 by default: ``A`` is the
    largest object of the computation (``n * p`` numbers).
    """
    if n <= 0 or p <= 0 or p > n:
        raise ValueError(f"random_subspace: need 1 <= p <= n, got n={n}, p={p}")
    rng = _random.get_generator(generator)
    return rng.standard_normal((n, p), dtype=np.float32 if dtype == np.float32 else np.float64)


def epsilon_sharpness(fun: ValueAndGrad, x: np.ndarray, *, epsilon: float = 1e-3, A: np.ndarray | None = None,
                      maxiter: int = 10, method: str = "L-BFGS-B") -> SharpnessResult:
    """``phi_{x,f}(eps, A)`` of a function given as ``fun(point) -> (f(point), grad f(point))`` on ``R^n``.

    Args:
        fun: the training function and its gradient at a float64 point of ``R^n``.
        x: the minimizer (``n`` values).
        epsilon: the box size (the paper: 1e-3 or 5e-4).
        A: ``None`` for the full space, or an ``n x p`` matrix (see ``random_subspace``).
        maxiter: iterations of the maximiser (the paper: 10).
        method: ``"L-BFGS-B"`` (needs SciPy) or ``"sign-ascent"`` (see the module docstring).
    """
    if method not in METHODS:
        raise ValueError(f"sharpness: unknown method {method!r}; valid: {', '.join(METHODS)}")
    if not isinstance(maxiter, int) or maxiter < 1:
        raise ValueError(f"sharpness: maxiter must be a positive integer, got {maxiter!r}")
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    A = None if A is None else _check_A(A, x.size)
    w = box_half_widths(x, epsilon, A)

    def point(y: np.ndarray) -> np.ndarray:
        return x + y if A is None else x + (A @ y.astype(A.dtype)).astype(np.float64)

    best = {"f": -math.inf, "y": np.zeros_like(w), "count": 0}

    def value_and_grad(y: np.ndarray) -> tuple[float, np.ndarray]:
        y = np.clip(y, -w, w)  # L-BFGS-B stays feasible; the clip only guards rounding
        f, g = fun(point(y))
        best["count"] += 1
        if math.isfinite(f) and f > best["f"]:
            best["f"], best["y"] = float(f), y.copy()
        g = np.asarray(g, dtype=np.float64).reshape(-1)
        gy = g if A is None else (A.T @ g.astype(A.dtype)).astype(np.float64)
        return float(f), gy

    f0, g0 = value_and_grad(np.zeros_like(w))
    if method == "L-BFGS-B":
        iterations = _maximise_lbfgsb(value_and_grad, w, maxiter)
    else:
        iterations = _maximise_sign_ascent(value_and_grad, w, maxiter, f0, g0)
    f_max = max(best["f"], f0)
    phi = 100.0 * (f_max - f0) / (1.0 + f0)
    return SharpnessResult(sharpness=float(phi), f0=float(f0), f_max=float(f_max), epsilon=float(epsilon),
                           subspace_dim=None if A is None else int(A.shape[1]), method=method,
                           iterations=iterations, evaluations=int(best["count"]), y=best["y"])


def _maximise_lbfgsb(value_and_grad: ValueAndGrad, w: np.ndarray, maxiter: int) -> int:
    try:
        from scipy.optimize import Bounds, minimize
    except ImportError:
        raise ImportError("sharpness: method='L-BFGS-B' needs SciPy (pip install scipy); "
                          "method='sign-ascent' works without it") from None

    def negated(y: np.ndarray) -> tuple[float, np.ndarray]:
        f, g = value_and_grad(y)
        return -f, -g

    res = minimize(negated, np.zeros_like(w), jac=True, method="L-BFGS-B", bounds=Bounds(-w, w),
                   options={"maxiter": maxiter, "gtol": 0.0, "ftol": 0.0})
    return int(res.nit)


def _maximise_sign_ascent(value_and_grad: ValueAndGrad, w: np.ndarray, maxiter: int, f0: float,
                          g0: np.ndarray, halvings: int = 6) -> int:
    y, f, g = np.zeros_like(w), f0, g0
    iterations = 0
    for _ in range(maxiter):
        direction = np.sign(g)
        if not np.any(direction):
            break
        t = 2.0
        for _ in range(halvings + 1):
            candidate = np.clip(y + t * w * direction, -w, w)
            fc, gc = value_and_grad(candidate)
            if math.isfinite(fc) and fc > f:
                y, f, g = candidate, fc, gc
                break
            t *= 0.5
        else:
            break  # no step of any tried length increases f: stop
        iterations += 1
    return iterations


def model_sharpness(model: Any, inputs: np.ndarray, targets: np.ndarray, *, epsilon: float = 1e-3,
                    subspace: int | np.ndarray | None = None, maxiter: int = 10, method: str = "L-BFGS-B",
                    loss: Loss | None = None, batch_size: int = 1000,
                    generator: np.random.Generator | None = None) -> SharpnessResult:
    """The epsilon-sharpness of ``model``'s current parameters for the mean loss over ``(inputs, targets)``.

    ``subspace``: ``None`` for the full space (``A = I``), an integer ``p``
    for a random ``n x p`` Gaussian ``A`` drawn from ``generator``, or the
    matrix itself.  The model is evaluated in eval mode (see
    ``LossFunction``) and its parameters and mode are restored afterwards.
    """
    with LossFunction(model, inputs, targets, loss=loss, batch_size=batch_size) as f:
        A = random_subspace(f.n, int(subspace), generator=generator) if isinstance(subspace, (int, np.integer)) \
            else subspace
        return epsilon_sharpness(f, f.x0, epsilon=epsilon, A=A, maxiter=maxiter, method=method)
