"""Combining schedules: one after another (``SequentialLR``) or multiplied (``ChainedScheduler``)."""

from __future__ import annotations

from bisect import bisect_right
from typing import Any, Sequence

from .base import LRScheduler
from .plateau import ReduceLROnPlateau

__all__ = ["ChainedScheduler", "SequentialLR"]


def _check_children(who: str, optimizer: Any, schedulers: Sequence[LRScheduler]) -> None:
    if len(schedulers) < 1:
        raise ValueError(f"{who} expects at least one scheduler, but got no scheduler.")
    for i, s in enumerate(schedulers):
        if not isinstance(s, LRScheduler):
            raise TypeError(f"{who}: scheduler at index {i} is a {type(s).__name__}, not an LRScheduler")
        if isinstance(s, ReduceLROnPlateau):
            raise ValueError(f"{who} does not support ReduceLROnPlateau (index {i}): its step() needs a metric")
        if s.optimizer is not optimizer:
            raise ValueError(f"{who} expects all schedulers to belong to the same optimizer, but the scheduler "
                             f"at index {i} ({type(s).__name__}) has a different one")


class SequentialLR(LRScheduler):
    """Run ``schedulers[0]`` until ``milestones[0]``, then ``schedulers[1]`` from its own step 0, and so on.

    As in torch: at construction the groups' lr goes back to ``initial_lr``
    and the first schedule takes its initial step; at a milestone the next
    schedule restarts at its step-0 value (its closed form), and in between
    the active schedule steps from the current lr (torch's chainable form), so
    for closed-form schedules ``lr_t = schedulers[k].lr_at(t - milestones[k-1])``.  The usual warm-up-then-decay::

        warm = LinearLR(opt, start_factor=0.1, total_iters=5)
        decay = CosineAnnealingLR(opt, T_max=95)
        sched = SequentialLR(opt, [warm, decay], milestones=[5])
    """

    def __init__(self, optimizer: Any, schedulers: Sequence[LRScheduler], milestones: Sequence[int],
                 last_epoch: int = -1, *, interval: str | None = None) -> None:
        _check_children("SequentialLR", optimizer, schedulers)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError("Sequential Schedulers expects number of schedulers provided to be one more than the "
                             f"number of milestone points, but got number of schedulers {len(schedulers)} and the "
                             f"number of milestones to be equal to {len(milestones)}")
        if list(milestones) != sorted(milestones):
            raise ValueError(f"SequentialLR: milestones must be increasing, got {list(milestones)}")
        self._schedulers = list(schedulers)
        self._milestones = [int(m) for m in milestones]
        super().__init__(optimizer, last_epoch, interval=interval or schedulers[0].interval)

    _absolute = True

    def _active(self, t: int) -> tuple[LRScheduler, int]:
        k = bisect_right(self._milestones, t)
        return self._schedulers[k], t - (self._milestones[k - 1] if k > 0 else 0)

    def _replay_step(self, t: int, lrs: list[float]) -> list[float]:
        """torch's ``SequentialLR.step()`` at count ``t``: restart the next schedule at a milestone, else step it."""
        k = bisect_right(self._milestones, t)
        child = self._schedulers[k]
        if k > 0 and self._milestones[k - 1] == t:
            return [child._restart(g) for g in range(len(lrs))]
        local = t - (self._milestones[k - 1] if k > 0 else 0)
        return [child._chain(local, lr, g) for g, lr in enumerate(lrs)]

    def lr_at(self, t: int) -> list[float]:
        """torch's sequence: the active schedule's chainable step applied to the previous lr (replayed, cached)."""
        t = int(t)
        memo = getattr(self, "_memo", None)
        if memo is None or memo[0] > t:
            first = self._schedulers[bisect_right(self._milestones, 0)]
            memo = (0, [first._chain(0, base, g) for g, base in enumerate(self.base_lrs)])
        k, lrs = memo
        while k < t:
            k += 1
            lrs = self._replay_step(k, lrs)
        self._memo = (k, lrs)
        return list(lrs)

    def momentum_at(self, t: int) -> list[float] | None:
        child, local = self._active(int(t))
        return child.momentum_at(local)

    def _apply(self, t: int) -> None:
        child, local = self._active(int(t))
        child.last_epoch = local
        super()._apply(t)


class ChainedScheduler(LRScheduler):
    """Apply several schedules at once: their factors multiply.

    Each step applies every child's chainable step in order to the group's
    learning rate, as torch's ``ChainedScheduler.step()`` does: multiplicative
    schedules (Step, MultiStep, Exponential, Linear, Constant, Polynomial,
    InverseTime) contribute their factor ``f(t) / f(t - 1)``, so the factors
    multiply (``lr_t = base_lr * prod_i f_i(t)``); ``CosineAnnealingLR`` applies
    torch's recursion to the current value; Lambda, Cyclic and OneCycle set
    their own value.  The momentum, if any child cycles it, comes from the
    last such child.
    """

    def __init__(self, schedulers: Sequence[LRScheduler], optimizer: Any = None, *,
                 interval: str | None = None) -> None:
        optimizer = optimizer if optimizer is not None else (schedulers[0].optimizer if schedulers else None)
        _check_children("ChainedScheduler", optimizer, schedulers)
        self._schedulers = list(schedulers)
        super().__init__(optimizer, -1, interval=interval or schedulers[0].interval)

    _absolute = True

    def lr_at(self, t: int) -> list[float]:
        """torch's sequence: every child's chainable step, in order, on the group's lr (replayed, cached)."""
        t = int(t)
        memo = getattr(self, "_memo", None)
        if memo is None or memo[0] > t:
            memo = (-1, list(self.base_lrs))
        k, lrs = memo
        while k < t:
            k += 1
            for child in self._schedulers:
                lrs = [child._chain(k, lr, g) for g, lr in enumerate(lrs)]
        self._memo = (k, lrs)
        return list(lrs)

    def momentum_at(self, t: int) -> list[float] | None:
        found = None
        for child in self._schedulers:
            m = child.momentum_at(t)
            found = m if m is not None else found
        return found

    def _apply(self, t: int) -> None:
        for child in self._schedulers:
            child.last_epoch = t
        super()._apply(t)
