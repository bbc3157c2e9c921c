"""Fisher-vector products without double backward, and conjugate gradient.

TRPO's step direction is F^{-1} g, with F the average Fisher information of
the policy over the states of a batch,

    F = (1/N) sum_n E_{a ~ pi(.|s_n)} [grad log pi(a|s_n) grad log pi(a|s_n)^T],

which is also the Hessian of the mean KL(pi_old || pi_theta) at theta_old.
Conjugate gradient only needs products F v.  Autodiff frameworks usually get
them by differentiating twice (the gradient of (grad KL . v)); thalweg's
engine has no double backward, so we use the *analytic* form instead.

The policy's network maps a state to the parameters eta of its distribution
(logits for a categorical, the mean for a Gaussian).  By the chain rule the
Fisher in parameter space is

    F = (1/N) sum_n J_n^T M(eta_n) J_n,       J_n = d eta_n / d theta,

where M is the Fisher of the distribution in its own parameters, which is
closed form:

* categorical with logits z, p = softmax(z):  M = diag(p) - p p^T;
* diagonal Gaussian in (mean mu, log-std s):  M = diag(1 / sigma^2) for mu,
  2 for each log-std, no cross terms (see ``policies.py``).

So F v takes three steps:

1. u_n = J_n v, a Jacobian-vector product (forward mode).  :class:`Linearization`
   computes it *exactly* by pushing a tangent through the network's layers
   alongside the primal values (dual numbers: for a linear layer
   y = x W^T + b the tangent is dy = dx W^T + x dW^T + db, for tanh
   dy = (1 - y^2) dx, ...).  The primal pass is done once per TRPO step and
   reused by every product.  A network with a layer this file does not
   know falls back to central finite differences in parameter space,
   (f(theta + e v) - f(theta - e v)) / 2e, accurate to O(e^2) (documented
   here because it is an approximation; the built-in policies never use it).
2. w_n = M(eta_n) u_n / N, elementwise and closed form.
3. F v = sum_n J_n^T w_n, one ordinary reverse-mode pass (a vector-Jacobian
   product seeded with w) through a graph built once and retained.

The tests compare F v with an explicit Fisher assembled from per-sample
Jacobians, and with finite differences of the gradient of the mean KL.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from thalweg import autograd
from thalweg.autograd import no_grad
from thalweg.autograd.tensor import Tensor
from thalweg.nn import Identity, Linear, ReLU, Sequential, Sigmoid, Tanh
from thalweg.nn.module import Module

__all__ = ["FisherOperator", "Linearization", "conjugate_gradient", "flat_grad", "get_flat_params", "jvp",
           "set_flat_params", "split_flat"]


# --------------------------------------------------------------------- flat vectors
def get_flat_params(params: Sequence[Tensor]) -> np.ndarray:
    """All parameters concatenated into one vector (a copy), in the given order."""
    return np.concatenate([p.array.reshape(-1) for p in params]) if params else np.zeros(0, np.float32)


def split_flat(flat: np.ndarray, params: Sequence[Tensor]) -> list[np.ndarray]:
    """Cut a flat vector back into arrays shaped like ``params`` (views of ``flat``)."""
    total = sum(p.array.size for p in params)
    if flat.shape != (total,):
        raise ValueError(f"split_flat: vector has shape {flat.shape} but the parameters hold {total} numbers")
    out, i = [], 0
    for p in params:
        out.append(flat[i:i + p.array.size].reshape(p.array.shape))
        i += p.array.size
    return out


def set_flat_params(params: Sequence[Tensor], flat: np.ndarray) -> None:
    """Write a flat vector into the parameters' data (in place, keeping each dtype)."""
    for p, piece in zip(params, split_flat(np.asarray(flat), params)):
        p.array[...] = piece.astype(p.array.dtype, copy=False)


def flat_grad(output: Tensor, params: Sequence[Tensor], *, grad_output: Any = None,
              retain_graph: bool = False) -> np.ndarray:
    """d output / d params as one flat vector (zeros for parameters the output does not use).

    Uses ``tw.autograd.grad``, so no ``.grad`` attribute is touched.
    """
    grads = autograd.grad(output, list(params), grad_outputs=grad_output, retain_graph=retain_graph,
                          allow_unused=True)
    return np.concatenate([(np.zeros_like(p.array) if g is None else np.asarray(g, p.array.dtype)).reshape(-1)
                           for p, g in zip(params, grads)])


# ------------------------------------------------------------------- forward mode
_ELEMENTWISE = (Tanh, ReLU, Sigmoid, Identity)


def _exact_supported(module: Module) -> bool:
    if isinstance(module, Sequential):
        return all(_exact_supported(m) for m in module)
    return isinstance(module, (Linear,) + _ELEMENTWISE)


def _layers(module: Module) -> list[Module]:
    if isinstance(module, Sequential):
        return [leaf for m in module for leaf in _layers(m)]
    return [module]


class Linearization:
    """A network frozen at its current parameters, for Jacobian-vector products in parameter space.

    ``lin = Linearization(net, x)`` runs the primal pass once and keeps the
    activations; ``lin.output`` is f(x; theta) and ``lin.jvp(tangents)`` is
    J v = d/de f(x; theta + e v) at e = 0, with ``tangents`` a mapping from
    ``id(parameter)`` to that parameter's slice of v (missing parameters have
    tangent 0).

    ``method="exact"`` propagates tangents layer by layer and supports
    ``Sequential`` chains of ``Linear``, ``Tanh``, ``ReLU``, ``Sigmoid`` and
    ``Identity``; ``"finite_difference"`` works for any module at O(e^2)
    accuracy; ``"auto"`` (the default) picks the exact one when it can.
    """

    def __init__(self, module: Module, x: np.ndarray, *, method: str = "auto") -> None:
        if method not in ("auto", "exact", "finite_difference"):
            raise ValueError(f"Linearization: method must be 'auto', 'exact' or 'finite_difference', got {method!r}")
        exact_ok = _exact_supported(module)
        if method == "exact" and not exact_ok:
            bad = [type(m).__name__ for m in _layers(module) if not isinstance(m, (Linear,) + _ELEMENTWISE)]
            raise TypeError(f"Linearization: no exact forward mode for {', '.join(sorted(set(bad)))}; "
                            "use method='finite_difference' (or 'auto')")
        self.method = "exact" if (method == "auto" and exact_ok) else ("exact" if method == "exact" else
                                                                        "finite_difference")
        self.module = module
        self.x = np.asarray(x)
        if self.method == "exact":
            self._layers = _layers(module)
            self._acts = [self.x]  # the input of every layer, then the output
            h = self.x
            for layer in self._layers:
                h = self._primal(layer, h)
                self._acts.append(h)
            self.output = h
        else:
            with no_grad():
                self.output = np.array(module(Tensor(self.x)).array)

    @staticmethod
    def _primal(layer: Module, h: np.ndarray) -> np.ndarray:
        if isinstance(layer, Linear):
            y = h @ layer.weight.array.T
            return y + layer.bias.array if layer.bias is not None else y
        if isinstance(layer, Tanh):
            return np.tanh(h)
        if isinstance(layer, ReLU):
            return np.maximum(h, 0)
        if isinstance(layer, Sigmoid):
            return 1 / (1 + np.exp(-h))
        return h  # Identity

    def jvp(self, tangents: Mapping[int, np.ndarray]) -> np.ndarray:
        """J v for the parameter tangents ``{id(param): array}``; shape of ``output``."""
        if self.method == "finite_difference":
            return self._fd_jvp(tangents)
        dh: np.ndarray | None = None  # tangent of the current activation (None = 0: the input is fixed)
        for layer, h_in, h_out in zip(self._layers, self._acts[:-1], self._acts[1:]):
            if isinstance(layer, Linear):
                dw = tangents.get(id(layer.weight))
                db = tangents.get(id(layer.bias)) if layer.bias is not None else None
                d = None if dh is None else dh @ layer.weight.array.T  # dx W^T
                if dw is not None:
                    term = h_in @ dw.T  # x dW^T
                    d = term if d is None else d + term
                if db is not None:
                    d = np.broadcast_to(db, h_out.shape).copy() if d is None else d + db
                dh = d
            elif dh is None:
                continue
            elif isinstance(layer, Tanh):
                dh = (1 - h_out * h_out) * dh
            elif isinstance(layer, ReLU):
                dh = np.where(h_in > 0, dh, 0).astype(dh.dtype, copy=False)
            elif isinstance(layer, Sigmoid):
                dh = h_out * (1 - h_out) * dh
        return np.zeros_like(self.output) if dh is None else dh

    def _fd_jvp(self, tangents: Mapping[int, np.ndarray]) -> np.ndarray:
        params = [p for p in self.module.parameters() if id(p) in tangents]
        if not params:
            return np.zeros_like(self.output)
        theta = [p.array.copy() for p in params]
        v = [np.asarray(tangents[id(p)]) for p in params]
        vnorm = float(np.sqrt(sum(float(np.sum(t.astype(np.float64) ** 2)) for t in v)))
        if vnorm == 0.0:
            return np.zeros_like(self.output)
        tnorm = float(np.sqrt(sum(float(np.sum(t.astype(np.float64) ** 2)) for t in theta)))
        # e balances truncation error O(e^2) against rounding O(eps / e): e ~ eps^(1/3) in the scale of theta
        e = float(np.finfo(self.output.dtype).eps) ** (1 / 3) * max(1.0, tnorm) / vnorm
        outs = []
        try:
            with no_grad():
                for sign in (1.0, -1.0):
                    for p, t0, vi in zip(params, theta, v):
                        p.array[...] = t0 + sign * e * vi
                    outs.append(np.array(self.module(Tensor(self.x)).array, dtype=np.float64))
        finally:
            for p, t0 in zip(params, theta):
                p.array[...] = t0
        return ((outs[0] - outs[1]) / (2 * e)).astype(self.output.dtype)


def jvp(module: Module, x: np.ndarray, tangents: Mapping[int, np.ndarray], *, method: str = "auto"
        ) -> tuple[np.ndarray, np.ndarray]:
    """``(f(x), J v)`` for a network f at its current parameters (see :class:`Linearization`)."""
    lin = Linearization(module, x, method=method)
    return lin.output, lin.jvp(tangents)


# ---------------------------------------------------------------- Fisher products
class FisherOperator:
    """v -> (F + damping I) v for a policy at its current parameters, over the states ``obs``.

    The policy provides ``head`` (the network whose output is eta),
    ``output_fisher(eta, u)`` (M(eta) u, per sample) and
    ``extra_fisher(tangents)`` (the Fisher block of parameters outside the
    network, e.g. a state-independent log-std).  The flat vector follows
    ``list(policy.parameters())``.
    """

    def __init__(self, policy: Any, obs: np.ndarray, *, damping: float = 0.0, method: str = "auto") -> None:
        if not damping >= 0:
            raise ValueError(f"FisherOperator: damping must be >= 0, got {damping!r}")
        self.policy = policy
        self.params = list(policy.parameters())
        self.head_params = list(policy.head.parameters())
        self.damping = float(damping)
        obs = np.asarray(obs)
        self.n = obs.shape[0]
        self.lin = Linearization(policy.head, obs, method=method)
        self._out = policy.head(Tensor(obs))  # the graph for the reverse pass, kept for every product
        self.calls = 0

    def __call__(self, v: np.ndarray) -> np.ndarray:
        v = np.asarray(v)
        pieces = split_flat(v.astype(self.params[0].array.dtype, copy=False), self.params)
        tangents = {id(p): t for p, t in zip(self.params, pieces)}
        u = self.lin.jvp(tangents)  # J v, per sample
        w = self.policy.output_fisher(self.lin.output, u) / self.n  # M J v / N
        grads = autograd.grad(self._out, self.head_params, grad_outputs=w, retain_graph=True, allow_unused=True)
        by_id = {id(p): g for p, g in zip(self.head_params, grads)}
        extra = self.policy.extra_fisher(tangents)
        out = []
        for p, t in zip(self.params, pieces):
            if id(p) in by_id:
                g = by_id[id(p)]
                out.append((np.zeros_like(p.array) if g is None else g).reshape(-1))
            else:
                out.append(np.asarray(extra.get(id(p), np.zeros_like(p.array)), p.array.dtype).reshape(-1))
        self.calls += 1
        fv = np.concatenate(out)
        return fv + self.damping * v.astype(fv.dtype, copy=False) if self.damping else fv


# --------------------------------------------------------------- conjugate gradient
def conjugate_gradient(matvec: Callable[[np.ndarray], np.ndarray], b: np.ndarray, *, iters: int = 10,
                       tol: float = 1e-10) -> np.ndarray:
    """Approximately solve A x = b for symmetric positive-definite A given only x -> A x.

    Hestenes & Stiefel (1952); Nocedal & Wright, *Numerical Optimization*,
    algorithm 5.2.  Starting from x = 0 with residual r = b and direction
    p = r, each iteration moves along p by alpha = r.r / p.Ap, updates
    r <- r - alpha A p, and makes the next direction A-conjugate to the
    previous ones: p <- r + (r_new.r_new / r.r) p.  In exact arithmetic it
    solves an n-dimensional system in n iterations; TRPO stops after ~10,
    which is enough for a good step direction.  Stops early when
    r.r < tol.  Computed in float64 whatever ``b``'s dtype; returns ``b``'s dtype.
    """
    if not isinstance(iters, (int, np.integer)) or iters < 1:
        raise ValueError(f"conjugate_gradient: iters must be a positive integer, got {iters!r}")
    b = np.asarray(b)
    x = np.zeros(b.shape, np.float64)
    r = b.astype(np.float64)
    p = r.copy()
    rr = float(r @ r)
    for _ in range(int(iters)):
        if rr < tol:
            break
        ap = np.asarray(matvec(p.astype(b.dtype)), np.float64)
        pap = float(p @ ap)
        if pap <= 0:  # not positive definite along p (numerically): stop with what we have
            break
        alpha = rr / pap
        x += alpha * p
        r -= alpha * ap
        rr_new = float(r @ r)
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x.astype(b.dtype if b.dtype.kind == "f" else np.float64)

