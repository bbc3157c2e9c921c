"""Optimizer trajectories on test surfaces (Ruder, "An overview of gradient descent optimization algorithms", Fig. 4).

The survey shows (after Alec Radford's animations) the paths of SGD, momentum,
NAG, Adagrad, Adadelta and RMSprop on the contours of the Beale function and
at a saddle point: the adaptive methods head down the saddle's negative slope
at once, while SGD stays stuck near the saddle, where the gradient is tiny;
momentum and NAG escape after a while.

Here every optimizer of ``thalweg.optim`` starts from the same point on three
surfaces: Beale (minimum at (3, 0.5)), Rosenbrock (minimum at (1, 1)) and the
saddle ``x^2 - y^2`` started just off its ridge.  Each uses the survey's
defaults (see ``OPTIMIZERS``); the gradients are the surfaces' analytic
gradients (``tests/lab`` checks them against the library's autograd).  We
count the steps until the iterate is within 0.05 of the minimum, or, on the
saddle, until the loss has fallen below -1 (it starts at +1).

Criterion (``judge``): every adaptive method (Adagrad, Adadelta, RMSprop,
Adam, AdaMax, Nadam, AMSGrad, RAdam, AdamW) and both momentum methods leave
the saddle in fewer steps than plain SGD.  All of them: reproduced; at least
half: partly; fewer: not reproduced.  L-BFGS is drawn and tabulated but not
judged (the claim is about first-order methods).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from thalweg import nn, optim
from thalweg.autograd.tensor import Tensor
from thalweg_lab.plotting import COLORS, figure, plot_into, save
from thalweg_lab.registry import Experiment, register
from thalweg_lab.result import NOT_REPRODUCED, PARTLY, REPRODUCED, Check, LabResult, Table, Verdict

__all__ = ["run", "judge", "SURFACES", "OPTIMIZERS", "ADAPTIVE", "MOMENTUM", "Surface", "trajectory", "EXPERIMENT"]

# The survey names 0.9 for the momentum term and leaves SGD's learning rate open; we use RMSprop's and Adam's
# default 0.001 for the three SGD variants, so "fewer steps" compares methods at the same nominal rate.
SGD_LR = 1e-3
OPTIMIZERS: dict[str, Callable[[list[Any]], Any]] = {
    "SGD": lambda p: optim.SGD(p, lr=SGD_LR),
    "Momentum": lambda p: optim.SGD(p, lr=SGD_LR, momentum=0.9),
    "NAG": lambda p: optim.SGD(p, lr=SGD_LR, momentum=0.9, nesterov=True),
    "Adagrad": lambda p: optim.Adagrad(p, lr=0.01),
    "Adadelta": lambda p: optim.Adadelta(p, lr=1.0, rho=0.9, eps=1e-6),
    "RMSprop": lambda p: optim.RMSprop(p, lr=0.001, alpha=0.9),
    "Adam": lambda p: optim.Adam(p, lr=0.001, betas=(0.9, 0.999), eps=1e-8),
    "AdaMax": lambda p: optim.Adamax(p, lr=0.002),
    "Nadam": lambda p: optim.NAdam(p, lr=0.002),
    "AMSGrad": lambda p: optim.Adam(p, lr=0.001, amsgrad=True),
    "RAdam": lambda p: optim.RAdam(p, lr=0.001),
    "AdamW": lambda p: optim.AdamW(p, lr=0.001, weight_decay=0.01),
    "L-BFGS": lambda p: optim.LBFGS(p, lr=1, max_iter=1, max_eval=25, line_search_fn="strong_wolfe"),
}
DEFAULTS_TEXT = ("SGD, Momentum and NAG: lr 0.001, momentum 0.9; Adagrad lr 0.01; Adadelta rho 0.9, eps 1e-6 "
                 "(lr 1, i.e. none); RMSprop lr 0.001, decay 0.9; Adam, AMSGrad, RAdam: lr 0.001, betas (0.9, 0.999), "
                 "eps 1e-8; AdaMax and Nadam: lr 0.002; AdamW: lr 0.001, weight decay 0.01; L-BFGS: one iteration "
                 "per step with a strong-Wolfe line search")
ADAPTIVE = ("Adagrad", "Adadelta", "RMSprop", "Adam", "AdaMax", "Nadam", "AMSGrad", "RAdam", "AdamW")
MOMENTUM = ("Momentum", "NAG")

CLAIM = ("At a saddle point the gradient is nearly zero, so plain SGD stays stuck for a long time, while momentum "
         "methods and the adaptive methods (which rescale small gradients) leave it in fewer steps.")


def _beale(x: float, y: float) -> tuple[float, float, float]:
    t1, t2, t3 = 1.5 - x + x * y, 2.25 - x + x * y ** 2, 2.625 - x + x * y ** 3
    f = t1 ** 2 + t2 ** 2 + t3 ** 2
    gx = 2 * t1 * (y - 1) + 2 * t2 * (y ** 2 - 1) + 2 * t3 * (y ** 3 - 1)
    gy = 2 * t1 * x + 4 * t2 * x * y + 6 * t3 * x * y ** 2
    return f, gx, gy


def _rosenbrock(x: float, y: float) -> tuple[float, float, float]:
    f = (1 - x) ** 2 + 100 * (y - x * x) ** 2
    return f, -2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)


def _saddle(x: float, y: float) -> tuple[float, float, float]:
    return x * x - y * y, 2 * x, -2 * y


@dataclass(frozen=True)
class Surface:
    """A 2-D test function with its analytic gradient, a start and a success test."""

    name: str
    fn: Callable[[float, float], tuple[float, float, float]]
    start: tuple[float, float]
    minimum: tuple[float, float] | None
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    goal: str

    def done(self, x: float, y: float, f: float) -> bool:
        if self.minimum is None:
            return f <= -1.0
        return math.hypot(x - self.minimum[0], y - self.minimum[1]) <= 0.05

    def tensor_fn(self, p: Tensor) -> Tensor:
        """The same function on a thalweg tensor of shape (2,) (to check the analytic gradient)."""
        x, y = p[0], p[1]
        if self.name == "beale":
            return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y ** 2) ** 2 + (2.625 - x + x * y ** 3) ** 2
        if self.name == "rosenbrock":
            return (1 - x) ** 2 + 100 * (y - x * x) ** 2
        return x * x - y * y


SURFACES = {
    "beale": Surface("beale", _beale, (1.0, 1.5), (3.0, 0.5), (-0.5, 4.0), (-1.5, 2.0),
                     "within 0.05 of (3, 0.5)"),
    "rosenbrock": Surface("rosenbrock", _rosenbrock, (-1.2, 1.0), (1.0, 1.0), (-2.0, 2.0), (-1.0, 3.0),
                          "within 0.05 of (1, 1)"),
    "saddle": Surface("saddle", _saddle, (1.0, 1e-3), None, (-1.5, 1.5), (-1.5, 1.5),
                      "loss below -1 (it starts at +1)"),
}


def trajectory(surface: Surface, name: str, steps: int) -> tuple[np.ndarray, float, bool]:
    """Run optimizer ``name`` on ``surface``; return the path (steps+1, 2), steps to the goal (inf if never), diverged."""
    p = nn.Parameter(Tensor(np.asarray(surface.start, dtype=np.float64)))
    opt = OPTIMIZERS[name]([p])

    def closure() -> float:
        f, gx, gy = surface.fn(float(p.array[0]), float(p.array[1]))
        p.grad = Tensor(np.array([gx, gy], dtype=np.float64))
        return f

    path = [p.array.copy()]
    reached, diverged = math.inf, False
    for t in range(1, steps + 1):
        if name == "L-BFGS":
            opt.step(closure)
        else:
            closure()
            opt.step()
        x, y = float(p.array[0]), float(p.array[1])
        finite = math.isfinite(x) and math.isfinite(y)
        if finite and math.isinf(reached) and surface.done(x, y, surface.fn(x, y)[0]):
            reached = float(t)
            path.append(p.array.copy())
            if surface.minimum is None:  # once off the saddle the loss is unbounded below: stop there
                break
            continue
        if not finite or max(abs(x), abs(y)) > 1e6:
            diverged = True
            break
        path.append(p.array.copy())
    return np.asarray(path), reached, diverged


def run(*, quick: bool, out_dir: Path, seed: int) -> LabResult:
    steps = 1500 if quick else 10_000
    measured: dict[str, Any] = {"budget": steps}
    paths: dict[str, dict[str, np.ndarray]] = {s: {} for s in SURFACES}
    for sname, surface in SURFACES.items():
        for name in OPTIMIZERS:
            path, reached, diverged = trajectory(surface, name, steps)
            paths[sname][name] = path
            measured[f"steps/{sname}/{name}"] = reached
            measured[f"diverged/{sname}/{name}"] = float(diverged)
    table = Table(["optimizer"] + [f"{s}: steps to goal" for s in SURFACES],
                  title=f"Steps to the goal (budget {steps:,} steps; 'never' = not within the budget)")
    for name in OPTIMIZERS:
        cells = []
        for s in SURFACES:
            v = measured[f"steps/{s}/{name}"]
            cells.append("diverged" if measured[f"diverged/{s}/{name}"] else (int(v) if math.isfinite(v) else v))
        table.add(name, *cells)
    setup = "\n".join([
        "- Surfaces: " + "; ".join(f"{s.name} from {s.start}, goal: {s.goal}" for s in SURFACES.values()) + ".",
        f"- Optimizers (thalweg.optim), the survey's defaults: {DEFAULTS_TEXT}.",
        f"- Up to {steps:,} steps each, float64, analytic gradients; deterministic (the seed is unused)."])
    result = LabResult(setup=setup, tables=[table], measured=measured)
    for sname in SURFACES:
        plot_into(result, out_dir / f"paths_{sname}.png", lambda p, s=sname: _plot(p, SURFACES[s], paths[s]))
    return result


def judge(m: Mapping[str, Any]) -> Verdict:
    sgd = m["steps/saddle/SGD"]
    group = ADAPTIVE + MOMENTUM
    checks = [Check.less_than(f"{name}: steps to leave the saddle, against plain SGD's", m[f"steps/saddle/{name}"],
                              sgd) for name in group]
    faster = sum(c.passed for c in checks)
    if faster == len(group):
        outcome = REPRODUCED
    elif 2 * faster >= len(group):
        outcome = PARTLY
    else:
        outcome = NOT_REPRODUCED
    slower = [c.description.split(":")[0] for c in checks if not c.passed]
    reason = f"{faster} of {len(group)} adaptive and momentum methods left the saddle before plain SGD"
    reason += f" (SGD: {'never within the budget' if not math.isfinite(sgd) else f'{sgd:g} steps'})"
    if slower:
        reason += f"; not faster: {', '.join(slower)}"
        reason += (". Rule: all faster = reproduced, at least half = partly. The outcome depends on SGD's learning "
                   "rate and on how close to the ridge the start is; both are fixed in the setup, not tuned")
    return Verdict(outcome, reason, tuple(checks))


def _in_frame(path: np.ndarray, xlim: tuple[float, float], ylim: tuple[float, float]
              ) -> tuple[np.ndarray, int | None]:
    """The part of ``path`` inside the frame, ended where it first crosses the edge; and that step (or None).

    Clipping keeps every trajectory drawn on the same axes as the surface: a
    path that jumps far away (L-BFGS on the unbounded saddle) would otherwise
    stretch the axes until the others are invisible, or vanish off the plot.
    """
    (x0, x1), (y0, y1) = xlim, ylim
    inside = (path[:, 0] >= x0) & (path[:, 0] <= x1) & (path[:, 1] >= y0) & (path[:, 1] <= y1)
    if inside.all() or not inside[0]:
        return path, None
    k = int(np.argmin(inside))  # the first point outside
    a, b = path[k - 1], path[k]
    t = 1.0
    for lo, hi, axis in ((x0, x1, 0), (y0, y1, 1)):  # the first edge the segment a -> b crosses
        d = b[axis] - a[axis]
        for edge in (lo, hi):
            if d and 0.0 <= (edge - a[axis]) / d <= t:
                t = (edge - a[axis]) / d
    return np.vstack([path[:k], a + t * (b - a)]), k


def _plot(path: Path, surface: Surface, paths: dict[str, np.ndarray]) -> None:
    fig, axes = figure(1, 1, width=7.0, height=5.5)
    ax = axes[0, 0]
    xs = np.linspace(*surface.xlim, 300)
    ys = np.linspace(*surface.ylim, 300)
    gx, gy = np.meshgrid(xs, ys)
    z = surface.fn(gx, gy)[0]
    if surface.minimum is not None:
        ax.contour(gx, gy, np.log10(z + 1e-3), levels=30, cmap="Greys", linewidths=0.6)
        ax.plot(*surface.minimum, "r*", ms=12)
    else:
        ax.contour(gx, gy, z, levels=30, cmap="Greys", linewidths=0.6)
    for i, (name, p) in enumerate(paths.items()):
        shown, exit_step = _in_frame(p, surface.xlim, surface.ylim)
        color = COLORS[i % len(COLORS)]
        label = name if exit_step is None else f"{name} (leaves the frame at step {exit_step})"
        ax.plot(shown[:, 0], shown[:, 1], color=color, lw=1.4, label=label)
        if exit_step is not None:  # where a long step (L-BFGS's line search) carries it out of view
            ax.plot(*shown[-1], marker="X", color=color, ms=9, mec="k", mew=0.6)
    ax.plot(*surface.start, "ko", ms=5)
    ax.set_xlim(*surface.xlim)
    ax.set_ylim(*surface.ylim)
    ax.set_xlabel("x (first parameter)")
    ax.set_ylabel("y (second parameter)")
    formula = {"saddle": "f = x² − y²", "rosenbrock": "f = (1 − x)² + 100 (y − x²)²",
               "beale": "Beale's function"}.get(surface.name, surface.name)
    ax.set_title(f"{surface.name} ({formula}): optimizer trajectories")
    ax.legend(fontsize=7, ncol=2, loc="best")
    save(fig, path)


DIFFERENCES = (
    "Analytic test surfaces (Beale, Rosenbrock, a saddle) as in the survey's animations; the step budget and the starting points are ours.",
    "Each optimizer uses its usual default hyperparameters; the animations' settings are not published.",
)

EXPERIMENT = register(Experiment(
    name="optimizer-paths", paper="1609.04747", title="An overview of gradient descent optimization algorithms "
    "(Ruder 2016): trajectories on test surfaces", claim=CLAIM, run=run, judge=judge, quick_seconds=3,
    full_minutes=1, differences=DIFFERENCES))
