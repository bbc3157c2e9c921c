"""Line searches: how far to go along a descent direction.

Given parameters x, a direction d with a negative slope g.d < 0 (g the
gradient at x), a line search picks the step a > 0 of x + a d.  The lecture's
step-size section names two strategies between "a fixed learning rate" and
"solve for the exact minimiser along d"; both kinds are here:

- :func:`backtracking_line_search` (Armijo 1966): start from ``alpha0`` and
  shrink by ``rho`` until the *sufficient decrease* (Armijo) condition

      f(x + a d) <= f(x) + c a g.d          (0 < c < 1)

  holds.  The step is never longer than ``alpha0`` and every accepted step
  lowers f by at least a fixed fraction of what the linear model promises, so
  gradient descent with it converges on smooth problems where a fixed large
  step diverges.  :class:`GradientDescentLineSearch` is that optimizer.
- :func:`strong_wolfe` (Nocedal & Wright, *Numerical Optimization*, 2006,
  Algorithms 3.5/3.6; the bracketing/zoom and cubic interpolation of minFunc
  and of torch's L-BFGS): a step that satisfies sufficient decrease *and* the
  strong curvature condition |g(x + a d).d| <= c2 |g.d|, an inexact version of
  exact line search.  L-BFGS uses it (``line_search_fn="strong_wolfe"``).

The module also holds the *closure optimizer front* shared by
:class:`GradientDescentLineSearch` and ``LBFGS``: one parameter group, a
``step(closure)`` that re-evaluates the loss, and a flat-vector view of all
parameters (the line searches work on one vector).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, NamedTuple

import numpy as np

from ..autograd import grad_mode
from ..autograd.tensor import Tensor
from .optimizer import _as_groups, _check_param, _split_named

Closure = Callable[[], Any]

__all__ = ["GradientDescentLineSearch", "backtracking_line_search", "cubic_interpolate", "strong_wolfe"]


# ============================================================ backtracking (Armijo)
def _flat_array(v: Any, name: str) -> np.ndarray:
    arr = v.array if isinstance(v, Tensor) else np.asarray(v)
    if arr.dtype.kind != "f":
        raise TypeError(f"backtracking_line_search: {name} must be a floating array, got dtype {arr.dtype}")
    return arr


def _check_armijo(step_name: str, step: float, rho: float, c: float, iters_name: str, iters: int) -> None:
    """The backtracking search's arguments: a positive first step, 0 < rho < 1, 0 < c < 1, at least one trial."""
    if not step > 0:
        raise ValueError(f"Invalid {step_name}: {step}")
    if not 0.0 < rho < 1.0:
        raise ValueError(f"Invalid shrink factor rho: {rho} (need 0 < rho < 1)")
    if not 0.0 < c < 1.0:
        raise ValueError(f"Invalid sufficient-decrease constant c: {c} (need 0 < c < 1)")
    if int(iters) < 1:
        raise ValueError(f"Invalid {iters_name}: {iters}")


def backtracking_line_search(f: Callable[[np.ndarray], Any], x: Any, direction: Any, grad: Any, *,
                             fx: float | None = None, alpha0: float = 1.0, rho: float = 0.5, c: float = 1e-4,
                             max_iter: int = 50) -> float:
    """The first step a in alpha0, rho alpha0, rho^2 alpha0, ... with sufficient decrease

        f(x + a d) <= f(x) + c a (g . d).

    ``f`` maps an array shaped like ``x`` to a number; ``x``, ``direction`` (d)
    and ``grad`` (g, the gradient of f at x) are arrays or tensors of one
    shape; ``fx`` is f(x) if already known (saves one evaluation).  d must be
    a descent direction (g . d < 0; d = -g always is).  A NaN or infinite
    trial value counts as "not decreased enough".

    Returns the accepted step, or ``0.0`` if none of ``max_iter`` trials
    passed (x is then optimal to working precision, or d is useless).
    """
    _check_armijo("initial step alpha0", alpha0, rho, c, "max_iter", max_iter)
    xa, da, ga = _flat_array(x, "x"), _flat_array(direction, "direction"), _flat_array(grad, "grad")
    if not (xa.shape == da.shape == ga.shape):
        raise ValueError(f"backtracking_line_search: x {xa.shape}, direction {da.shape} and grad {ga.shape} "
                         "must have one shape")
    slope = float(np.dot(ga.reshape(-1), da.reshape(-1)))
    if not slope < 0:
        raise ValueError(f"backtracking_line_search: direction is not a descent direction (grad . d = {slope:.6g})")
    f0 = float(f(xa)) if fx is None else float(fx)
    alpha = float(alpha0)
    for _ in range(int(max_iter)):
        trial = float(f(xa + alpha * da))
        if trial <= f0 + c * alpha * slope:  # False for NaN: a blow-up is rejected
            return alpha
        alpha *= rho
    return 0.0


# ============================================================ strong Wolfe (bracket + zoom)
def cubic_interpolate(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float,
                      bounds: tuple[float, float] | None = None) -> float:
    """The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, clamped to ``bounds``
    (default: the interval between x1 and x2).

    With d1 = g1 + g2 - 3 (f1 - f2) / (x1 - x2) and d2 = sqrt(d1^2 - g1 g2), the
    minimiser is x2 - (x2 - x1) (g2 + d2 - d1) / (g2 - g1 + 2 d2) (Nocedal &
    Wright eq. 3.59, written from the farther point).  If d1^2 < g1 g2 the cubic
    has no minimiser and the midpoint of the bounds is returned.
    """
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        x1_, f1_, g1_ = np.float64(x1), np.float64(f1), np.float64(g1)
        x2_, f2_, g2_ = np.float64(x2), np.float64(f2), np.float64(g2)
        d1 = g1_ + g2_ - 3 * (f1_ - f2_) / (x1_ - x2_)
        disc = d1 * d1 - g1_ * g2_
        if not disc >= 0:  # also catches NaN
            return float((lo + hi) / 2.0)
        d2 = np.sqrt(disc)
        if x1_ <= x2_:
            t = x2_ - (x2_ - x1_) * ((g2_ + d2 - d1) / (g2_ - g1_ + 2 * d2))
        else:
            t = x1_ - (x1_ - x2_) * ((g1_ + d2 - d1) / (g1_ - g2_ + 2 * d2))
    return float(min(max(t, lo), hi))


class _Trial(NamedTuple):
    """One evaluated point of the line: step t, value f, gradient g, slope gtd = g . d."""
    t: float
    f: float
    g: np.ndarray
    gtd: float


def strong_wolfe(evaluate: Callable[[float], tuple[float, np.ndarray]], d: np.ndarray, t: float, f: float,
                 g: np.ndarray, gtd: float, *, c1: float = 1e-4, c2: float = 0.9, tolerance_change: float = 1e-9,
                 max_ls: int = 25) -> tuple[float, np.ndarray, float, int]:
    """A step t along ``d`` satisfying the strong Wolfe conditions

        f(x + t d) <= f + c1 t gtd                (sufficient decrease)
        |g(x + t d) . d| <= c2 |gtd|              (strong curvature)

    starting from the trial step ``t``; ``f``, ``g``, ``gtd`` describe x itself and
    ``evaluate(t)`` returns (f, g) at x + t d.  Phase 1 *brackets*: it grows t
    (cubic extrapolation, kept between t + (t - t_prev) / 100 and 10 t) until an
    interval must hold an acceptable step.  Phase 2 *zooms*: cubic interpolation inside the
    bracket, nudged 10% away from its ends when progress stalls, until the
    conditions hold, the bracket is shorter than ``tolerance_change`` (in max-norm
    units of d), or ``max_ls`` evaluations are spent.  This is the search of
    minFunc and of ``torch.optim.LBFGS``, decision for decision, so the
    iterates agree with torch.

    A NaN loss at a trial step is read as +inf (too far), so the search backs off
    from a blow-up instead of carrying NaN along (torch does not check; on finite
    values the two agree).

    Returns ``(f_new, g_new, t, evaluations)`` for the best point found.
    """
    d_norm = float(np.abs(d).max())
    start = _Trial(0.0, f, g, gtd)

    def trial_at(step: float) -> _Trial:
        f_step, g_step = evaluate(step)
        f_step = float(f_step)
        return _Trial(step, f_step if f_step == f_step else float("inf"), g_step, float(g_step @ d))

    new = trial_at(t)
    evals = 1

    def sufficient(p: _Trial) -> bool:
        return p.f <= f + c1 * p.t * gtd

    def curvature(p: _Trial) -> bool:
        return abs(p.gtd) <= -c2 * gtd

    # ---- phase 1: bracketing
    prev = start
    bracket: list[_Trial] | None = None
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if not sufficient(new) or (ls_iter > 1 and new.f >= prev.f):
            bracket = [prev, new]
            break
        if curvature(new):
            bracket, done = [new], True
            break
        if new.gtd >= 0:  # the slope turned: a minimiser lies between prev and new
            bracket = [prev, new]
            break
        t_next = cubic_interpolate(prev.t, prev.f, prev.gtd, new.t, new.f, new.gtd,
                                   bounds=(new.t + 0.01 * (new.t - prev.t), new.t * 10))
        prev = new
        new = trial_at(t_next)
        evals += 1
        ls_iter += 1
    if ls_iter == max_ls:  # out of evaluations: choose between x and the last trial
        bracket, done = [start, new], False

    assert bracket is not None
    low, high = (0, 1) if bracket[0].f <= bracket[-1].f else (1, 0)

    # ---- phase 2: zoom
    stalled = False
    while not done and ls_iter < max_ls:
        a, b = bracket[0], bracket[1]
        if abs(b.t - a.t) * d_norm < tolerance_change:
            break
        t_try = cubic_interpolate(a.t, a.f, a.gtd, b.t, b.f, b.gtd)
        left, right = min(a.t, b.t), max(a.t, b.t)
        margin = 0.1 * (right - left)
        if min(right - t_try, t_try - left) < margin:  # too close to an end of the bracket
            if stalled or t_try >= right or t_try <= left:
                t_try = right - margin if abs(t_try - right) < abs(t_try - left) else left + margin
                stalled = False
            else:
                stalled = True
        else:
            stalled = False
        trial = trial_at(t_try)
        evals += 1
        ls_iter += 1
        if not sufficient(trial) or trial.f >= bracket[low].f:
            bracket[high] = trial  # the trial is a new upper end
            low, high = (0, 1) if bracket[0].f <= bracket[1].f else (1, 0)
        else:
            if curvature(trial):
                done = True
            elif trial.gtd * (bracket[high].t - bracket[low].t) >= 0:
                bracket[high] = bracket[low]  # keep the minimiser inside [low, high]
            bracket[low] = trial

    best = bracket[low]
    return best.f, best.g, best.t, evals


# ============================================================ the closure optimizer front
def _parse_params(params: Any, opt: str) -> tuple[list[Tensor], list[str] | None, dict[str, Any]]:
    """Parameters as ``Optimizer`` takes them (tensors, ``(name, tensor)`` pairs, a ``Module``, or one
    ``{"params": ..., **options}`` dict) -> (tensors, names or None, options).  The parsing and the
    per-parameter checks are ``optim.optimizer``'s, so every optimizer accepts and rejects the same things."""
    groups = _as_groups(params)
    if not groups:
        raise ValueError(f"{opt} got an empty parameter list")
    if len(groups) != 1:
        raise ValueError(f"{opt} doesn't support per-parameter options (parameter groups): got {len(groups)} groups")
    group = dict(groups[0])
    if "params" not in group:
        raise ValueError(f"{opt}: a parameter group needs a 'params' entry")
    tensors, names = _split_named(group.pop("params"))
    given = group.pop("param_names", None)
    if names is None and given is not None:
        names = [str(n) for n in given]
        if len(names) != len(tensors):
            raise ValueError(f"{opt}: {len(names)} param_names for {len(tensors)} parameters")
    for i, t in enumerate(tensors):
        _check_param(t, repr(names[i]) if names else f"#{i}")
    if not tensors:
        raise ValueError(f"{opt} got an empty parameter list")
    if len({id(p) for p in tensors}) != len(tensors):
        raise ValueError(f"{opt}: some parameters appear more than once")
    return tensors, names, group


class FlatParams:
    """All parameters seen as one vector x (concatenated in order), as line searches need.

    Reading makes copies; writing goes into each parameter's ``.data`` in place,
    so the tensors the model holds are the ones updated.
    """

    def __init__(self, params: list[Tensor]) -> None:
        self.params = params
        self.sizes = [int(p.array.size) for p in params]
        self.numel = sum(self.sizes)
        self.dtype = np.result_type(*(p.dtype for p in params))

    def _segments(self, vec: np.ndarray) -> Iterable[tuple[Tensor, np.ndarray]]:
        offset = 0
        for p, n in zip(self.params, self.sizes):
            yield p, vec[offset:offset + n].reshape(p.array.shape)
            offset += n

    def grad(self) -> np.ndarray:
        """The gradient vector (zeros for a parameter without ``.grad``)."""
        parts = [np.zeros(n, dtype=self.dtype) if p.grad is None else p.grad.array.reshape(-1)
                 for p, n in zip(self.params, self.sizes)]
        return np.concatenate(parts).astype(self.dtype, copy=False)

    def clone(self) -> list[np.ndarray]:
        return [p.array.copy() for p in self.params]

    def restore(self, saved: list[np.ndarray]) -> None:
        for p, a in zip(self.params, saved):
            p.array[...] = a
            p._bump_version()

    def add_(self, step: float, direction: np.ndarray) -> None:
        """x <- x + step * direction."""
        for p, seg in self._segments(direction):
            p.array += step * seg
            p._bump_version()

    def vector(self) -> np.ndarray:
        return np.concatenate([p.array.reshape(-1) for p in self.params]).astype(self.dtype, copy=False)

    def assign(self, vec: np.ndarray) -> None:
        for p, seg in self._segments(vec):
            p.array[...] = seg
            p._bump_version()


def as_float(loss: Any) -> float:
    """A loss (tensor or number) as a Python float."""
    return float(loss.item() if isinstance(loss, Tensor) else loss)


def _plain(value: Any) -> Any:
    """A checkpoint-safe copy: arrays copied, NumPy scalars made Python numbers."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, np.generic):
        return value.item()
    return value


class ClosureOptimizer:
    """The torch-like front of the optimizers driven by ``step(closure)`` (L-BFGS, line-search descent).

    ``closure()`` must zero the gradients, compute the loss, call ``backward()``
    and return the loss; the optimizer calls it as many times as its line search
    needs.  There is one parameter group, ``param_groups[0]``, whose options
    (``lr`` ...) are read at every step, so a scheduler may change them.  The
    optimizer's state is global (not per parameter) and made of numbers and
    arrays only; ``state_dict()`` keys the parameters by name and
    ``load_state_dict`` checks names and sizes.
    """

    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        tensors, names, options = _parse_params(params, name)
        unknown = sorted(set(options) - set(defaults))
        if unknown:
            raise ValueError(f"{name}: unknown options {unknown} in the parameter group")
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = [{"params": tensors, **defaults, **options}]
        if names is not None:
            self.param_groups[0]["param_names"] = list(names)
        self.state: dict[str, Any] = {}
        self._names = names
        self._flat = FlatParams(tensors)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.param_groups[0]["params"]:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    def add_param_group(self, group: dict[str, Any]) -> None:
        raise ValueError(f"{type(self).__name__} doesn't support per-parameter options (parameter groups)")

    def _call(self, closure: Closure) -> Any:
        """Run the closure with gradient recording on (even inside ``no_grad``); return its loss."""
        with grad_mode.enable_grad():
            return closure()

    def _evaluate(self, closure: Closure) -> float:
        """f(x) as a float."""
        return as_float(self._call(closure))

    # ------------------------------------------------------------- checkpoints
    def _keys(self) -> list[Any]:
        return list(self._names) if self._names is not None else list(range(len(self._flat.params)))

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {entry: number or array}, "param_groups": [{options, "params": keys}]}``.

        The same layout as ``Optimizer.state_dict``, except that the state is
        global (one flat vector over all parameters, in ``params`` order)
        rather than per parameter.  Keys are names when the optimizer was given
        names (``model.named_parameters()`` or a ``Module``), else positions.
        """
        group = {k: _plain(v) for k, v in self.param_groups[0].items() if k not in ("params", "param_names")}
        group["params"] = self._keys()
        if self._names is not None:
            group["param_names"] = list(self._names)
        return {"state": {k: _plain(v) for k, v in self._state_to_plain().items()}, "param_groups": [group]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`; parameter names (or count) and vector sizes must match."""
        name = type(self).__name__
        try:
            groups, state = state_dict["param_groups"], state_dict["state"]
        except (KeyError, TypeError):
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups'") from None
        if len(groups) != 1:
            raise ValueError(f"{name}.load_state_dict: expected one parameter group, got {len(groups)}")
        saved = dict(groups[0])
        keys = list(saved.pop("params", self._keys()))
        names = saved.pop("param_names", None)
        if names is not None and self._names is not None and list(names) != self._names:
            raise ValueError(f"{name}.load_state_dict: saved parameters {list(names)} do not match this "
                             f"optimizer's {self._names} (same names, same order)")
        if len(keys) != len(self._flat.params):
            raise ValueError(f"{name}.load_state_dict: the saved group has {len(keys)} parameters, "
                             f"this optimizer has {len(self._flat.params)}")
        self._state_from_plain({k: _plain(v) for k, v in state.items()})
        self.param_groups[0].update(saved)

    def _state_to_plain(self) -> dict[str, Any]:
        return dict(self.state)

    def _state_from_plain(self, state: dict[str, Any]) -> None:
        self.state = dict(state)

    def _check_vector(self, key: str, value: Any) -> np.ndarray:
        arr = np.asarray(value)
        if arr.shape[-1:] != (self._flat.numel,):
            raise ValueError(f"{type(self).__name__}.load_state_dict: state {key!r} has shape {arr.shape}, "
                             f"expected last dimension {self._flat.numel}")
        return arr.astype(self._flat.dtype, copy=True)

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.param_groups[0].items() if k not in ("params", "param_names"))
        return f"{type(self).__name__}({opts})"


# ============================================================ gradient descent + backtracking
class GradientDescentLineSearch(ClosureOptimizer):
    """Gradient descent whose step length comes from a backtracking (Armijo) line search.

    Each ``step(closure)``: evaluate f and g = grad f at x, then take
    x <- x - a g with the first a in lr, rho lr, rho^2 lr, ... that gives
    sufficient decrease

        f(x - a g) <= f(x) - c a ||g||^2

    (:func:`backtracking_line_search` with d = -g).  ``lr`` is therefore the
    *largest* step ever taken, not a fixed one: it may be chosen too large and
    the search shortens it.  The accepted step of the last ``step`` is
    ``state["step_size"]`` (0.0 when no trial passed, e.g. at a minimum).

    Defaults: lr=1.0, rho=0.5, c=1e-4, max_backtracks=30.  Reference: L. Armijo,
    "Minimization of functions having Lipschitz continuous first partial
    derivatives", Pacific J. Math. 16 (1966); Nocedal & Wright, Algorithm 3.1.
    """

    def __init__(self, params: Any, lr: float = 1.0, *, rho: float = 0.5, c: float = 1e-4,
                 max_backtracks: int = 30) -> None:
        _check_armijo("learning rate", lr, rho, c, "max_backtracks", max_backtracks)
        super().__init__(params, {"lr": lr, "rho": rho, "c": c, "max_backtracks": int(max_backtracks)})
        self.state = {"step": 0, "func_evals": 0, "step_size": 0.0}

    def step(self, closure: Closure) -> Any:
        """One descent step; ``closure`` is called once at x and once per trial step.
        Returns the loss at x (the first call's return value)."""
        if closure is None or not callable(closure):
            raise TypeError("GradientDescentLineSearch.step needs a closure that re-evaluates the loss")
        group = self.param_groups[0]
        flat = self._flat
        loss = self._call(closure)
        f0 = as_float(loss)
        g = flat.grad()
        x0 = flat.vector()
        evals = 1
        alpha = 0.0
        if np.any(g != 0):
            def f(x: np.ndarray) -> float:
                nonlocal evals
                evals += 1
                flat.assign(x)
                return self._evaluate(closure)

            alpha = backtracking_line_search(f, x0, -g, g, fx=f0, alpha0=group["lr"], rho=group["rho"],
                                             c=group["c"], max_iter=group["max_backtracks"])
        flat.assign(x0 - alpha * g if alpha > 0 else x0)
        self.state["step"] += 1
        self.state["func_evals"] += evals
        self.state["step_size"] = float(alpha)
        return loss

    def _state_from_plain(self, state: dict[str, Any]) -> None:
        self.state = {"step": int(state.get("step", 0)), "func_evals": int(state.get("func_evals", 0)),
                      "step_size": float(state.get("step_size", 0.0))}

