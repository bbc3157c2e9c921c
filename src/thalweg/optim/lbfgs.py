"""L-BFGS: a quasi-Newton method that remembers the last few steps.

Newton's method steps by -H^-1 g.  BFGS builds an approximation of the
inverse Hessian H^-1 from the pairs s_k = x_{k+1} - x_k, y_k = g_{k+1} - g_k
(the secant condition H^-1 y = s); *limited-memory* BFGS (Nocedal 1980,
"Updating quasi-Newton matrices with limited storage", Math. Comp. 35; Liu &
Nocedal 1989) keeps only the last ``history_size`` pairs and never forms a
matrix: the *two-loop recursion* applies the approximation to a vector in
O(m n) time.

    q = -g
    for i = newest .. oldest:  a_i = rho_i s_i.q ;  q -= a_i y_i        (rho_i = 1 / y_i.s_i)
    r = gamma q                                 (initial H0 = gamma I, gamma = s.y / y.y of the newest pair)
    for i = oldest .. newest:  b_i = rho_i y_i.r ;  r += (a_i - b_i) s_i
    d = r                                       (the quasi-Newton direction)

This module follows ``torch.optim.LBFGS`` (itself after minFunc) decision for
decision, so the iterates agree with torch's for the same closure:
the first direction is -g with step min(1, 1/||g||_1) * lr, later steps start
from lr; a pair is stored only if y.s > 1e-10 (curvature must be positive);
the step is fixed (``line_search_fn=None``) or found by the strong-Wolfe search
of :mod:`thalweg.optim.line_search`.  One ``step(closure)`` runs up to
``max_iter`` iterations and stops early when the largest gradient entry is
<= ``tolerance_grad``, the slope g.d > -``tolerance_change``, the step
max|t d| or the loss change is <= / < ``tolerance_change``, or ``max_eval``
closure calls are spent.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from .line_search import Closure, ClosureOptimizer, as_float, strong_wolfe

__all__ = ["LBFGS"]

_CURVATURE_EPS = 1e-10  # a pair (s, y) with y.s below this is not stored (as torch and minFunc)


def two_loop_direction(g: np.ndarray, steps: list[np.ndarray], diffs: list[np.ndarray], rhos: list[float],
                       h_diag: float) -> np.ndarray:
    """d = -H g for the L-BFGS inverse-Hessian approximation H (see the module docstring).

    ``steps`` are the s_i, ``diffs`` the y_i, ``rhos`` the 1 / y_i.s_i, oldest
    first; ``h_diag`` is gamma, the scale of the initial approximation.
    """
    q = -g
    alphas = [0.0] * len(steps)
    for i in reversed(range(len(steps))):
        alphas[i] = float(steps[i] @ q) * rhos[i]
        q -= alphas[i] * diffs[i]
    r = q * h_diag
    for i in range(len(steps)):
        beta = float(diffs[i] @ r) * rhos[i]
        r += (alphas[i] - beta) * steps[i]
    return r


class LBFGS(ClosureOptimizer):
    """Limited-memory BFGS, driven by ``step(closure)`` (see the module docstring for the rule).

    Args (torch's names and defaults):
        lr: step scale (1).  max_iter: iterations per ``step`` (20).
        max_eval: closure calls per ``step`` (``max_iter * 5 // 4``).
        tolerance_grad: stop when max |g_i| <= this (1e-7).
        tolerance_change: stop when the step or the loss change is below this (1e-9).
        history_size: pairs (s, y) remembered (100).
        line_search_fn: ``None`` (fixed step) or ``"strong_wolfe"``.

    ``closure()`` zeroes the gradients, computes the loss, calls ``backward()``
    and returns the loss; ``step`` returns the loss of its first evaluation.
    There is a single parameter group.  The state (history, last direction and
    step, counters) is global; ``state_dict()`` holds it as numbers and arrays
    (the histories stacked into (m, n) arrays), keyed by parameter name.

        opt = LBFGS(model.parameters(), line_search_fn="strong_wolfe")
        def closure():
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            return loss
        opt.step(closure)
    """

    def __init__(self, params: Any, lr: float = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        lr = float(lr.item()) if isinstance(lr, Tensor) else lr
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if int(max_iter) != max_iter or max_iter < 1:
            raise ValueError(f"Invalid max_iter: {max_iter}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        if int(max_eval) != max_eval or max_eval < 1:
            raise ValueError(f"Invalid max_eval: {max_eval}")
        if not tolerance_grad >= 0:
            raise ValueError(f"Invalid tolerance_grad: {tolerance_grad}")
        if not tolerance_change >= 0:
            raise ValueError(f"Invalid tolerance_change: {tolerance_change}")
        if int(history_size) != history_size or history_size < 1:
            raise ValueError(f"Invalid history_size: {history_size}")
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"Invalid line_search_fn: {line_search_fn!r} (only None and 'strong_wolfe' are supported)")
        defaults = {"lr": lr, "max_iter": int(max_iter), "max_eval": int(max_eval), "tolerance_grad": tolerance_grad,
                    "tolerance_change": tolerance_change, "history_size": int(history_size),
                    "line_search_fn": line_search_fn}
        super().__init__(params, defaults)

    def step(self, closure: Closure) -> Any:  # type: ignore[override]
        """Run up to ``max_iter`` L-BFGS iterations; returns the loss of the first closure call."""
        if closure is None or not callable(closure):
            raise TypeError("LBFGS.step needs a closure that zeroes the gradients, computes the loss, "
                            "calls backward() and returns the loss")
        group = self.param_groups[0]
        lr = float(group["lr"])
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        history_size, line_search = group["history_size"], group["line_search_fn"]
        flat = self._flat
        state = self.state
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = self._call(closure)
        loss = as_float(orig_loss)
        evals = 1
        state["func_evals"] += 1
        g = flat.grad()
        if np.abs(g).max() <= tol_grad:  # already optimal
            return orig_loss
        converged = False

        d, t = state.get("d"), state.get("t")
        dirs, stps, ro = state.get("old_dirs", []), state.get("old_stps", []), state.get("ro", [])
        h_diag = state.get("H_diag", 1.0)
        prev_g, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # ---- the direction: steepest descent at first, then the two-loop recursion
            if state["n_iter"] == 1:
                d = -g
                dirs, stps, ro, h_diag = [], [], [], 1.0
            else:
                y = g - prev_g
                s = d * t
                ys = float(y @ s)
                if ys > _CURVATURE_EPS:
                    if len(dirs) == history_size:
                        dirs.pop(0), stps.pop(0), ro.pop(0)
                    dirs.append(y)
                    stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / float(y @ y)
                d = two_loop_direction(g, stps, dirs, ro, h_diag)
            prev_g, prev_loss = g, loss

            # ---- the step length
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(np.abs(g).sum())) * lr
            else:
                t = lr
            gtd = float(g @ d)
            if gtd > -tol_change:  # not a descent direction any more
                break

            used = 0
            if line_search == "strong_wolfe":
                x0 = flat.clone()

                def evaluate(step: float, x0: list[np.ndarray] = x0, d: np.ndarray = d) -> tuple[float, np.ndarray]:
                    flat.add_(step, d)
                    f_new = as_float(self._call(closure))
                    g_new = flat.grad()
                    flat.restore(x0)
                    return f_new, g_new

                loss, g, t, used = strong_wolfe(evaluate, d, t, loss, g, gtd, max_ls=max_eval - evals)
                flat.add_(t, d)
                converged = np.abs(g).max() <= tol_grad
            else:
                flat.add_(t, d)
                if n_iter != max_iter:  # the last iteration's loss would be thrown away: skip it
                    loss = as_float(self._call(closure))
                    g = flat.grad()
                    converged = np.abs(g).max() <= tol_grad
                    used = 1
            evals += used
            state["func_evals"] += used

            # ---- stopping rules
            if n_iter == max_iter or evals >= max_eval or converged:
                break
            if np.abs(d * t).max() <= tol_change:  # the step is negligible
                break
            if abs(loss - prev_loss) < tol_change:  # the loss stopped moving
                break

        state.update(d=d, t=t, old_dirs=dirs, old_stps=stps, ro=ro, H_diag=h_diag, prev_flat_grad=prev_g,
                     prev_loss=prev_loss)
        return orig_loss

    # ------------------------------------------------------------- checkpoints
    def _state_to_plain(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        n = self._flat.numel
        for key, value in self.state.items():
            if key in ("old_dirs", "old_stps"):
                out[key] = np.stack(value) if value else np.zeros((0, n), dtype=self._flat.dtype)
            elif key == "ro":
                out[key] = np.asarray(value, dtype=np.float64)
            elif isinstance(value, np.ndarray):
                out[key] = value
            elif value is not None:
                out[key] = float(value) if key not in ("func_evals", "n_iter") else int(value)
        return out

    def _state_from_plain(self, state: dict[str, Any]) -> None:
        new: dict[str, Any] = {}
        for key, value in state.items():
            if key in ("old_dirs", "old_stps"):
                arr = self._check_vector(key, value) if np.size(value) else np.zeros((0, self._flat.numel))
                new[key] = [row.copy() for row in arr.reshape(-1, self._flat.numel)]
            elif key == "ro":
                new[key] = [float(v) for v in np.asarray(value).reshape(-1)]
            elif key in ("d", "prev_flat_grad"):
                new[key] = self._check_vector(key, value)
            elif key in ("func_evals", "n_iter"):
                new[key] = int(value)
            elif key in ("t", "H_diag", "prev_loss"):
                new[key] = float(value)
            else:
                raise ValueError(f"LBFGS.load_state_dict: unknown state entry {key!r}")
        if not (len(new.get("old_dirs", [])) == len(new.get("old_stps", [])) == len(new.get("ro", []))):
            raise ValueError("LBFGS.load_state_dict: old_dirs, old_stps and ro must have the same length")
        self.state = new
