"""Cyclical learning rates (Smith, arXiv:1506.01186) and the one-cycle policy.

CLR lets the learning rate swing between a lower bound ``base_lr`` and an
upper bound ``max_lr`` instead of only decreasing: raising it for a while can
hurt in the short term but helps cross saddle-point plateaus.  With iteration
``t`` and half-cycle length ``stepsize`` the paper's triangular policy is

    cycle = floor(1 + t / (2 * stepsize))
    x     = |t / stepsize - 2 * cycle + 1|
    lr    = base_lr + (max_lr - base_lr) * max(0, 1 - x) * scale

with ``scale = 1`` (triangular), ``1 / 2^(cycle - 1)`` (triangular2: the
amplitude halves every cycle) or ``gamma^t`` (exp_range).  The paper suggests
``stepsize`` = 2 to 10 epochs of iterations and finding the bounds with the
LR range test (:func:`thalweg.optim.lr_range_test`).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Literal

from .base import LRScheduler, momentum_key, per_group

__all__ = ["CyclicLR", "OneCycleLR"]


class CyclicLR(LRScheduler):
    """Cyclical learning rate (and, inversely, momentum) between two bounds.

    Arguments as ``torch.optim.lr_scheduler.CyclicLR``: ``base_lr``,
    ``max_lr`` (numbers or one per group), ``step_size_up=2000`` iterations
    rising, ``step_size_down`` falling (default: the same, the paper's
    symmetric triangle), ``mode`` in {"triangular", "triangular2",
    "exp_range"}, ``gamma`` for exp_range, or your own ``scale_fn`` with
    ``scale_mode`` "cycle" or "iterations".  With ``cycle_momentum`` the
    momentum (``betas[0]`` for Adam-like optimizers) moves opposite to the
    learning rate, between ``max_momentum`` (at ``base_lr``) and
    ``base_momentum`` (at ``max_lr``).  It writes ``lr = base_lr`` into the
    groups on construction.  Steps per batch: ``interval="step"``.

    In general form, with ``T = up + down`` and ``x = t / T - floor(t / T)``::

        f = x / (up / T)  if x <= up / T  else  (x - 1) / (up / T - 1)      (0 -> 1 -> 0 over a cycle)
        lr = base_lr + (max_lr - base_lr) * f * scale(cycle or t)
    """

    interval = "step"
    _absolute = True  # torch computes it from its own bounds, not from group["lr"]

    def __init__(self, optimizer: Any, base_lr: float | list[float], max_lr: float | list[float],
                 step_size_up: int = 2000, step_size_down: int | None = None,
                 mode: Literal["triangular", "triangular2", "exp_range"] = "triangular", gamma: float = 1.0,
                 scale_fn: Callable[[float], float] | None = None,
                 scale_mode: Literal["cycle", "iterations"] = "cycle", cycle_momentum: bool = True,
                 base_momentum: float | list[float] = 0.8, max_momentum: float | list[float] = 0.9,
                 last_epoch: int = -1, *, interval: str | None = None) -> None:
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError(f"CyclicLR: mode must be 'triangular', 'triangular2' or 'exp_range' (or give "
                             f"scale_fn), got {mode!r}")
        if scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"CyclicLR: scale_mode must be 'cycle' or 'iterations', got {scale_mode!r}")
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        if up <= 0 or down < 0:
            raise ValueError(f"CyclicLR: step sizes must be positive, got up={step_size_up}, down={step_size_down}")
        base_lrs = [float(v) for v in per_group("base_lr", optimizer, base_lr)]
        self.max_lrs = [float(v) for v in per_group("max_lr", optimizer, max_lr)]
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        self.mode, self.gamma = mode, float(gamma)
        self.scale_fn_custom = scale_fn
        self.scale_mode = scale_mode if scale_fn is not None else ("iterations" if mode == "exp_range" else "cycle")
        self.cycle_momentum = bool(cycle_momentum)
        self._bounds_low = base_lrs
        if last_epoch == -1:
            for group, lr in zip(optimizer.param_groups, base_lrs):
                group["lr"] = lr
        if self.cycle_momentum:
            momentum_key(optimizer, "CyclicLR")
            self.base_momentums = [float(v) for v in per_group("base_momentum", optimizer, base_momentum)]
            self.max_momentums = [float(v) for v in per_group("max_momentum", optimizer, max_momentum)]
            for group, lo, hi in zip(optimizer.param_groups, self.base_momentums, self.max_momentums):
                group["base_momentum"], group["max_momentum"] = lo, hi
        super().__init__(optimizer, last_epoch, interval=interval)
        self.base_lrs = base_lrs

    def scale_fn(self, x: float) -> float:
        """The amplitude factor: 1, ``1/2^(cycle-1)``, ``gamma^t``, or the user's function."""
        if self.scale_fn_custom is not None:
            return self.scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1.0 / (2.0 ** (x - 1))
        return self.gamma**x

    def _phase(self, t: int) -> tuple[float, float]:
        """``(f, scale)``: position on the triangle (0 at the bounds' low end, 1 at the peak) and amplitude."""
        cycle = math.floor(1 + t / self.total_size)
        x = 1.0 + t / self.total_size - cycle
        f = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        return f, self.scale_fn(cycle if self.scale_mode == "cycle" else t)

    def lr_at(self, t: int) -> list[float]:
        f, s = self._phase(int(t))
        return [lo + (hi - lo) * f * s for lo, hi in zip(self._bounds_low, self.max_lrs)]

    def momentum_at(self, t: int) -> list[float] | None:
        if not self.cycle_momentum:
            return None
        f, s = self._phase(int(t))
        return [hi - (hi - lo) * f * s for lo, hi in zip(self.base_momentums, self.max_momentums)]


class OneCycleLR(LRScheduler):
    """The 1cycle policy: warm up to ``max_lr``, then anneal far below the start.

    Phases (as torch): from ``max_lr / div_factor`` up to ``max_lr`` over the
    first ``pct_start`` of ``total_steps``, then down to
    ``initial_lr / final_div_factor`` (``three_phase``: back to the initial
    value first, then down), annealing by cosine or linearly; momentum moves
    the opposite way between ``max_momentum`` and ``base_momentum``.  As in
    torch, the last phase ends at step ``total_steps - 1``; step
    ``total_steps`` is still computed (the anneal continues a little past its
    end), and stepping beyond it raises ``ValueError``.  Paper: Smith & Topin (2018), "Super-convergence"; the
    CLR paper's range test finds ``max_lr``.
    """

    interval = "step"
    _absolute = True  # torch computes it from its own bounds, not from group["lr"]

    def __init__(self, optimizer: Any, max_lr: float | list[float], total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: Literal["cos", "linear"] = "cos", cycle_momentum: bool = True,
                 base_momentum: float | list[float] = 0.85, max_momentum: float | list[float] = 0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1, *, interval: str | None = None) -> None:
        if total_steps is not None:
            if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps <= 0:
                raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            if not isinstance(epochs, int) or epochs <= 0:
                raise ValueError(f"Expected positive integer epochs, but got {epochs}")
            if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
                raise ValueError(f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}")
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        if not 0.0 <= float(pct_start) <= 1.0:
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self.anneal_strategy = anneal_strategy
        n = self.total_steps
        if three_phase:
            self.phases = [(float(pct_start * n) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                           (float(2 * pct_start * n) - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                           (n - 1.0, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            self.phases = [(float(pct_start * n) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                           (n - 1.0, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        max_lrs = [float(v) for v in per_group("max_lr", optimizer, max_lr)]
        if last_epoch == -1:
            for group, hi in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = hi / div_factor
                group["max_lr"] = hi
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            momentum_key(optimizer, "OneCycleLR")
            if last_epoch == -1:
                lows = per_group("base_momentum", optimizer, base_momentum)
                highs = per_group("max_momentum", optimizer, max_momentum)
                for group, lo, hi in zip(optimizer.param_groups, lows, highs):
                    group["base_momentum"], group["max_momentum"] = float(lo), float(hi)
        super().__init__(optimizer, last_epoch, interval=interval)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _values(self, t: int, start_key: int, end_key: int) -> list[float]:
        t = max(int(t), 0)
        if t > self.total_steps:
            raise ValueError(f"Tried to step {t} times. The specified number of total steps is {self.total_steps}")
        out = []
        for group in self.optimizer.param_groups:
            begin = 0.0
            for i, phase in enumerate(self.phases):
                end = phase[0]
                if t <= end or i == len(self.phases) - 1:
                    pct = (t - begin) / (end - begin)
                    out.append(self._anneal(group[phase[start_key]], group[phase[end_key]], pct))
                    break
                begin = end
        return out

    def lr_at(self, t: int) -> list[float]:
        return self._values(t, 1, 2)

    def momentum_at(self, t: int) -> list[float] | None:
        return self._values(t, 3, 4) if self.cycle_momentum else None
