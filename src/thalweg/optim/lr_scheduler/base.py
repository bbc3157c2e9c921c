"""``LRScheduler``: a learning-rate schedule as a pure function of the step count.

A schedule here is ``lr_t = f(t, base_lr)``: given how many times ``step()``
has been called, the learning rate follows, whatever happened before.  So

* the saved state is just the count (``state_dict() == {"last_epoch": t}``),
* resuming is exact; past the end of a finite schedule a class with a torch
  name does what torch does (``CosineAnnealingLR`` rises again, ``OneCycleLR``
  raises), and the clamping variants have their own names (``CosineDecayLR``),
* where torch computes a step from the previous learning rate (the cosine's
  recursion, the composites' chainable steps), the schedule replays that
  recursion from step 0 (cached, so stepping stays O(1)) to give torch's
  sequence to the last bit,
* ``lr_at(t)`` answers "what will the learning rate be at step t" without
  touching the optimizer (handy for plots),
* the same schedule works inside a chain: ``transforms.scale_by_learning_rate``
  accepts any ``t -> lr`` function, e.g. ``lambda t: sched.lr_at(t)[0]``.

The front is torch's: the scheduler writes ``group["lr"]`` of each parameter
group on construction (the value at ``t = 0``) and on every ``step()``;
``get_last_lr()`` returns what it last wrote.  ``interval`` says whether the
training loop should call ``step()`` after every optimizer step (``"step"``)
or after every epoch (``"epoch"``).
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = ["LRScheduler", "check_interval"]

_INTERVALS = ("step", "epoch")


def check_interval(interval: str) -> str:
    if interval not in _INTERVALS:
        raise ValueError(f"interval must be 'step' or 'epoch', got {interval!r}")
    return interval


def per_group(name: str, optimizer: Any, value: Any) -> list[Any]:
    """One value per parameter group (a list of the right length, or one value for all)."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{name} must have one value per parameter group: got {len(value)} values "
                             f"for {n} param_groups")
        return list(value)
    return [value] * n


def set_momentum(group: dict[str, Any], momentum: float) -> None:
    """Write a cycled momentum: ``betas[0]`` for Adam-like optimizers, else ``momentum``."""
    if "betas" in group:
        group["betas"] = (momentum, *tuple(group["betas"])[1:])
    else:
        group["momentum"] = momentum


def momentum_key(optimizer: Any, who: str) -> str:
    defaults = getattr(optimizer, "defaults", {})
    if "betas" in defaults:
        return "betas"
    if "momentum" in defaults:
        return "momentum"
    raise ValueError(f"{who}: optimizer must support momentum or beta1 with the `cycle_momentum` option enabled")


class LRScheduler:
    """Base class: subclasses set their options, then call ``super().__init__`` and define ``_lr``.

    Args:
        optimizer: the optimizer whose ``param_groups`` it drives.
        last_epoch: the number of steps already taken (``-1``, the default,
            means a fresh schedule; torch's name).
        interval: ``"epoch"`` or ``"step"`` (default per class).
    """

    interval: str = "epoch"

    def __init__(self, optimizer: Any, last_epoch: int = -1, *, interval: str | None = None) -> None:
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if interval is not None:
            self.interval = check_interval(interval)
        groups = optimizer.param_groups
        if last_epoch == -1:
            for group in groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when resuming "
                                   f"{type(self).__name__} with last_epoch={last_epoch}; load the optimizer's "
                                   "state_dict first")
        self.base_lrs: list[float] = [float(g["initial_lr"]) for g in groups]
        self.last_epoch = max(int(last_epoch), 0)
        self._last_lr: list[float] = []
        self._apply(self.last_epoch)

    # ------------------------------------------------------ the pure schedule
    def _lr(self, t: int, base_lr: float, group: int) -> float:
        raise NotImplementedError(f"{type(self).__name__} does not define _lr(t, base_lr, group)")

    def lr_at(self, t: int) -> list[float]:
        """The learning rate of each group after ``t`` calls of ``step()`` (pure)."""
        return [float(self._lr(int(t), base, i)) for i, base in enumerate(self.base_lrs)]

    def momentum_at(self, t: int) -> list[float] | None:
        """The momentum (or beta1) of each group at step ``t`` if this schedule cycles it, else None."""
        return None

    # ------------------------------------------- torch's chainable form
    _absolute = False  # True: torch computes the value from the schedule's own options, not from group["lr"]

    def _chain(self, t: int, lr: float, group: int) -> float:
        """The lr torch's ``step()`` writes at step ``t`` when the group's lr is ``lr`` (``t = 0``: the initial step).

        torch's schedules are *chainable*: most multiply the group's current
        learning rate by their own factor ``f(t) / f(t - 1)``, so inside
        :class:`ChainedScheduler` and :class:`SequentialLR` they compose with
        whatever the others wrote.  The composites replay this form to give
        torch's sequence; on its own a schedule is its closed form ``lr_at``.
        """
        if self._absolute:
            return self.lr_at(t)[group]
        base = self.base_lrs[group]
        now = self._lr(t, base, group)
        before = self._lr(t - 1, base, group) if t > 0 else base
        if before == 0:
            return lr
        return lr * (now / before)

    def _restart(self, group: int) -> float:
        """The lr torch writes when a :class:`SequentialLR` switches to this schedule (its value at step 0)."""
        return self.lr_at(0)[group]

    # ----------------------------------------------------------- torch front
    def _apply(self, t: int) -> None:
        lrs = self.lr_at(t)
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        momenta = self.momentum_at(t)
        if momenta is not None:
            for group, m in zip(self.optimizer.param_groups, momenta):
                set_momentum(group, m)
        self._last_lr = lrs

    def step(self, epoch: int | None = None) -> None:
        """Advance the count by one (or jump to ``epoch``) and write the new learning rates."""
        self.last_epoch = self.last_epoch + 1 if epoch is None else int(epoch)
        self._apply(self.last_epoch)

    def get_last_lr(self) -> list[float]:
        """The learning rates this scheduler last wrote (one per group)."""
        return list(self._last_lr)

    def get_lr(self) -> list[float]:
        """The schedule's value at the current count (same as ``get_last_lr()`` here)."""
        return self.lr_at(self.last_epoch)

    def state_dict(self) -> dict[str, Any]:
        """Just the count: the schedule is a function of it."""
        return {"last_epoch": self.last_epoch}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the count and write the matching learning rates."""
        self.last_epoch = int(state_dict["last_epoch"])
        self._apply(self.last_epoch)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, interval={self.interval!r})"
