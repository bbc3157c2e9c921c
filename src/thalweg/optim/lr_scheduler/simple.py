"""Closed-form schedules: step, multi-step, exponential, 1/t, lambda, cosine, linear warm-up...

The lecture's step-size annealing (slide "Step-size annealing"):

* step decay: multiply by ``alpha`` every ``N`` epochs -> :class:`StepLR`, :class:`MultiStepLR`
* exponential decay ``eps(t) = eps(0) exp(-alpha t)`` -> :class:`ExponentialLR` with ``gamma = exp(-alpha)``
* 1/t decay ``eps(t) = eps(0) / (1 + alpha t)`` -> :class:`InverseTimeLR`

and the decay-on-plateau heuristic is :class:`~thalweg.optim.lr_scheduler.ReduceLROnPlateau`.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Any, Callable, Iterable, Sequence

from .base import LRScheduler, per_group

__all__ = ["ConstantLR", "CosineAnnealingLR", "CosineDecayLR", "ExponentialLR", "InverseTimeLR", "LambdaLR", "LinearLR",
           "MultiStepLR", "PolynomialLR", "StepLR"]


def _positive_int(who: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{who}: {name} must be a positive integer, got {value!r}")
    return value


class StepLR(LRScheduler):
    """``lr_t = base_lr * gamma^floor(t / step_size)``: decay by ``gamma`` every ``step_size`` steps."""

    def __init__(self, optimizer: Any, step_size: int, gamma: float = 0.1, last_epoch: int = -1, *,
                 interval: str | None = None) -> None:
        self.step_size = _positive_int("StepLR", "step_size", step_size)
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch, interval=interval)

    def _lr(self, t: int, base_lr: float, group: int) -> float:
        return base_lr * self.gamma ** (t // self.step_size)


class MultiStepLR(LRScheduler):
    """``lr_t = base_lr * gamma^(number of milestones <= t)`` (a repeated milestone counts twice)."""

    def __init__(self, optimizer: Any, milestones: Iterable[int], gamma: float = 0.1, last_epoch: int = -1, *,
                 interval: str | None = None) -> None:
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch, interval=interval)

    def _lr(self, t: int, base_lr: float, group: int) -> float:
        return base_lr * self.gamma ** bisect_right(self.milestones, t)


class ExponentialLR(LRScheduler):
    """``lr_t = base_lr * gamma^t`` (the lecture's ``eps(0) exp(-alpha t)`` with ``gamma = exp(-alpha)``)."""

    def __init__(self, optimizer: Any, gamma: float, last_epoch: int = -1, *, interval: str | None = None) -> None:
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch, interval=interval)

    def _lr(self, t: int, base_lr: float, group: int) -> float:
        return base_lr * self.gamma**t


class InverseTimeLR(LRScheduler):
    """The lecture's 1/t decay: ``lr_t = base_lr / (1 + alpha * t)``.

    A non-summable diminishing step size (``sum_t lr_t = inf`` and
    ``lr_t -> 0``), the classic condition for SGD to converge on convex
    problems.  ``alpha >= 0`` sets how fast it decays (lr halves at
    ``t = 1/alpha``).  torch has no equivalent; Keras calls it InverseTimeDecay.
    """

    def __init__(self, optimizer: Any, alpha: float, last_epoch: int = -1, *, interval: str | None = None) -> None:
        if not float(alpha) >= 0.0:
            raise ValueError(f"InverseTimeLR: alpha must be non-negative, got {alpha}")
        self.alpha = float(alpha)
        super().__init__(optimizer, last_epoch, interval=interval)

    def _lr(self, t: int, base_lr: float, group: int) -> float:
        return base_lr / (1.0 + self.alpha * t)


class LambdaLR(LRScheduler):
    """``lr_t = base_lr * lr_lambda(t)`` with one function, or one per group.

    The functions are not saved in ``state_dict`` (only the count is): pass
    the same ones when you rebuild the scheduler.
    """

    def __init__(self, optimizer: Any, lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
                 last_epoch: int = -1, *, interval: str | None = None) -> None:
        self.lr_lambdas = per_group("lr_lambda", optimizer, lr_lambda)
        for f in self.lr_lambdas:
            if not callable(f):
                raise TypeError(f"LambdaLR: lr_lambda must be callable, got {type(f).__name__}")
        super().__init__(optimizer, last_epoch, interval=interval)

    _absolute = True  # torch's LambdaLR sets base_lr * lambda(t), whatever other schedules wrote

    def _lr(self, t: int, base_lr: float, group: int) -> float:
        return base_lr * self.lr_lambdas[group](t)


class CosineAnnealingLR(LRScheduler):
    """torch's ``CosineAnnealingLR``: ``eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2``.

    The sequence is exactly torch's, past ``T_max`` too: the cosine goes on,
    so the learning rate climbs back to ``base_lr`` at ``2 * T_max`` and falls
    again (a period of ``2 * T_max``).  Like torch, each step is computed from
    the previous learning rate by the recursive form

        lr_t = eta_min + (lr_{t-1} - eta_min) * (1 + cos(pi t / T)) / (1 + cos(pi (t-1) / T)),

    with the additive form at ``t = T_max + 1`` (mod ``2 T_max``) where that
    ratio is 0/0, and ``step(epoch)`` jumps with the closed form, as torch's
    ``_get_closed_form_lr`` does.  ``lr_at(t)`` replays the recursion (cached,
    so stepping costs O(1)).  To stop at ``eta_min`` after ``T_max`` steps use
    :class:`CosineDecayLR`.  Paper: Loshchilov & Hutter (2017), "SGDR:
    Stochastic gradient descent with warm restarts" (without the restarts).
    """

    def __init__(self, optimizer: Any, T_max: int, eta_min: float = 0.0, last_epoch: int = -1, *,  # noqa: N803
                 interval: str | None = None) -> None:
        self.T_max = _positive_int("CosineAnnealingLR", "T_max", T_max)
        self.eta_min = float(eta_min)
        self._memo: tuple[int, list[float]] | None = None
        super().__init__(optimizer, last_epoch, interval=interval)

    def _closed_form(self, t: int) -> list[float]:
        return [self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2
                for base in self.base_lrs]

    def _next(self, t: int, lr: float, base: float) -> float:
        if (t - 1 - self.T_max) % (2 * self.T_max) == 0:
            return lr + (base - self.eta_min) * (1 - math.cos(math.pi / self.T_max)) / 2
        return ((1 + math.cos(math.pi * t / self.T_max)) / (1 + math.cos(math.pi * (t - 1) / self.T_max))
                * (lr - self.eta_min) + self.eta_min)

    def lr_at(self, t: int) -> list[float]:
        t = int(t)
        memo = self._memo
        if memo is None or memo[0] > t:
            memo = (0, list(self.base_lrs))
        k, lrs = memo
        while k < t:
            k += 1
            lrs = [self._next(k, lr, base) for lr, base in zip(lrs, self.base_lrs)]
        self._memo = (k, lrs)
        return list(lrs)

    def _lr(self, t: int, base_lr: float, group: int) -> float:
        return self.lr_at(t)[group]

    def _chain(self, t: int, lr: float, group: int) -> float:
        return lr if t == 0 else self._next(t, lr, self.base_lrs[group])

    def _restart(self, group: int) -> float:
        return self._closed_form(0)[group]

    def step(self, epoch: int | None = None) -> None:
        """One step along torch's recursion, or (``epoch`` given) a jump there by the closed form."""
        if epoch is not None:
            self._memo = (int(epoch), self._closed_form(int(epoch)))
        super().step(epoch)


class CosineDecayLR(LRScheduler):
    """Cosine decay that *stays* at ``eta_min`` after ``T_max`` steps (a clamping variant).

    ``lr_t = eta_min + (base_lr - eta_min) * (1 + cos(pi * min(t, T_max) / T_max)) / 2``,
    in closed form.  Keras' ``CosineDecay`` and optax's ``cosine_decay_schedule``
    behave this way; torch's :class:`CosineAnnealingLR` instead rises again.
    """

    def __init__(self, optimizer: Any, T_max: int, eta_min: float = 0.0, last_epoch: int = -1, *,  # noqa: N803
                 interval: str | None = None) -> None:
        self.T_max = _positive_int("CosineDecayLR", "T_max", T_max)
        self.eta_min = float(eta_min)
        super().__init__(optimizer, last_epoch, interval=interval)

    def _lr(self, t: int, base_lr: float, group: int) -> float:
        t = min(t, self.T_max)
        return self.eta_min + (base_lr - self.eta_min) * (1.0 + math.cos(math.pi * t / self.T_max)) / 2.0


class LinearLR(LRScheduler):
    """Linear warm-up (or decay) of the factor from ``start_factor`` to ``end_factor`` over ``total_iters``.

    ``lr_t = base_lr * (start + (end - start) * min(t, total_iters) / total_iters)``.
    Defaults as torch: ``start_factor=1/3, end_factor=1.0, total_iters=5``.
    Combine with another schedule through :class:`SequentialLR`.
    """

    def __init__(self, optimizer: Any, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1, *, interval: str | None = None) -> None:
        if not 0.0 < start_factor <= 1.0:
            raise ValueError("Starting multiplicative factor expected to be greater than 0 and less or equal to 1.")
        if not 0.0 <= end_factor <= 1.0:
            raise ValueError("Ending multiplicative factor expected to be between 0 and 1.")
        self.start_factor, self.end_factor = float(start_factor), float(end_factor)
        self.total_iters = _positive_int("LinearLR", "total_iters", total_iters)
        super().__init__(optimizer, last_epoch, interval=interval)

    def _lr(self, t: int, base_lr: float, group: int) -> float:
        frac = min(self.total_iters, t) / self.total_iters
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * frac)


class ConstantLR(LRScheduler):
    """``lr_t = base_lr * factor`` for ``t < total_iters``, then ``base_lr`` (a constant warm-up)."""

    def __init__(self, optimizer: Any, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1, *,
                 interval: str | None = None) -> None:
        if not 0.0 <= factor <= 1.0:
            raise ValueError("Constant multiplicative factor expected to be between 0 and 1.")
        self.factor = float(factor)
        self.total_iters = _positive_int("ConstantLR", "total_iters", total_iters)
        super().__init__(optimizer, last_epoch, interval=interval)

    def _lr(self, t: int, base_lr: float, group: int) -> float:
        return base_lr * (self.factor if t < self.total_iters else 1.0)


class PolynomialLR(LRScheduler):
    """``lr_t = base_lr * (1 - min(t, total_iters) / total_iters)^power`` (reaches 0 at ``total_iters``)."""

    def __init__(self, optimizer: Any, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1, *,
                 interval: str | None = None) -> None:
        self.total_iters = _positive_int("PolynomialLR", "total_iters", total_iters)
        self.power = float(power)
        super().__init__(optimizer, last_epoch, interval=interval)

    def _lr(self, t: int, base_lr: float, group: int) -> float:
        return base_lr * (1.0 - min(self.total_iters, t) / self.total_iters) ** self.power
