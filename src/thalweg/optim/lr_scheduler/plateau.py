"""``ReduceLROnPlateau``: the lecture's "decay when the dev score stopped improving for N epochs".

Unlike the other schedules, the learning rate here depends on the history of
a monitored metric, not only on the count, so its state also holds the best
value seen and the counters.  It is still a scheduler like the others: it
drives ``group["lr"]``, has ``get_last_lr()``, ``state_dict()`` and an
``interval`` (``"epoch"``), and ``step(metric)`` takes the metric.

``improves`` is the project's one answer to "did it improve?": this schedule, and the training loop's
``MonitorCallback`` (early stopping, checkpoints, the ``ReduceLROnPlateau`` callback, which wraps this
schedule) all call it.
"""

from __future__ import annotations

import math
from typing import Any, Literal, Mapping, SupportsFloat

from .base import LRScheduler, check_interval, per_group

__all__ = ["ReduceLROnPlateau", "improves"]


def improves(value: float, best: float | None, *, mode: str, threshold: float = 0.0,
             threshold_mode: str = "abs") -> bool:
    """Whether ``value`` beats ``best`` by more than ``threshold`` in the direction ``mode`` says is better.

    ``mode="min"``: ``value < best - threshold`` (``"abs"``) or ``value < best * (1 - threshold)``
    (``"rel"``, torch's default for the schedule); ``mode="max"``: ``value > best + threshold`` or
    ``value > best * (1 + threshold)``.  NaN never improves; anything that is not NaN improves on no
    best yet (``None``).
    """
    if math.isnan(value):
        return False
    if best is None:
        return True
    rel = threshold_mode == "rel"
    if mode == "min":
        return value < (best * (1.0 - threshold) if rel else best - threshold)
    return value > (best * (1.0 + threshold) if rel else best + threshold)


class ReduceLROnPlateau(LRScheduler):
    """Multiply the learning rate by ``factor`` when the metric has not improved for ``patience`` steps.

    Arguments and behaviour as torch's: ``mode`` "min" (a loss) or "max" (an
    accuracy); an improvement must beat the best value by ``threshold``,
    relative (``best * (1 -/+ threshold)``, ``threshold_mode="rel"``) or
    absolute (``best -/+ threshold``); after a reduction, ``cooldown`` steps
    are ignored; the learning rate never goes below ``min_lr`` (one value or
    one per group), and a reduction smaller than ``eps`` is skipped.
    Defaults: ``mode="min", factor=0.1, patience=10, threshold=1e-4,
    threshold_mode="rel", cooldown=0, min_lr=0, eps=1e-8``.  The lecture's
    recipe "if dev accuracy did not improve during the last N epochs, multiply
    the learning rate by alpha = 0.1" is ``ReduceLROnPlateau(opt, mode="max",
    factor=0.1, patience=N)``.
    """

    interval = "epoch"

    def __init__(self, optimizer: Any, mode: Literal["min", "max"] = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: Literal["rel", "abs"] = "rel",
                 cooldown: int = 0, min_lr: float | list[float] = 0.0, eps: float = 1e-8, *,
                 interval: str | None = None) -> None:
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        if not factor < 1.0:
            raise ValueError("Factor should be < 1.0.")
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode {mode!r} is unknown (use 'min' or 'max')")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold mode {threshold_mode!r} is unknown (use 'rel' or 'abs')")
        if int(patience) < 0 or int(cooldown) < 0:
            raise ValueError(f"ReduceLROnPlateau: patience and cooldown must be >= 0, got {patience}, {cooldown}")
        self.optimizer = optimizer
        if interval is not None:
            self.interval = check_interval(interval)
        self.mode, self.factor, self.patience = mode, float(factor), int(patience)
        self.threshold, self.threshold_mode = float(threshold), threshold_mode
        self.cooldown, self.eps = int(cooldown), float(eps)
        self.min_lrs = [float(v) for v in per_group("min_lr", optimizer, min_lr)]
        self.base_lrs = [float(g["lr"]) for g in optimizer.param_groups]
        self.last_epoch = 0
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self._last_lr = [float(g["lr"]) for g in optimizer.param_groups]

    def is_better(self, a: float, best: float) -> bool:
        """Whether ``a`` improves on ``best`` by more than the threshold (``improves``)."""
        return improves(a, best, mode=self.mode, threshold=self.threshold, threshold_mode=self.threshold_mode)

    def step(self, metrics: SupportsFloat | None = None, epoch: int | None = None) -> None:  # type: ignore[override]
        """Record the monitored metric (e.g. the validation loss) and reduce the lr if it has plateaued."""
        if metrics is None:
            raise TypeError("ReduceLROnPlateau.step() needs the monitored metric: call step(val_loss)")
        current = float(metrics)
        self.last_epoch = self.last_epoch + 1 if epoch is None else int(epoch)
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, floor in zip(self.optimizer.param_groups, self.min_lrs):
                old = float(group["lr"])
                new = max(old * self.factor, floor)
                if old - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [float(g["lr"]) for g in self.optimizer.param_groups]

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def lr_at(self, t: int) -> list[float]:
        """Not a function of the count alone: returns the current learning rates."""
        return [float(g["lr"]) for g in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """The count and the plateau bookkeeping (the learning rates live in the optimizer's state)."""
        return {"last_epoch": self.last_epoch, "best": self.best, "num_bad_epochs": self.num_bad_epochs,
                "cooldown_counter": self.cooldown_counter}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self.last_epoch = int(state_dict["last_epoch"])
        self.best = float(state_dict["best"])
        self.num_bad_epochs = int(state_dict["num_bad_epochs"])
        self.cooldown_counter = int(state_dict["cooldown_counter"])
        self._last_lr = [float(g["lr"]) for g in self.optimizer.param_groups]
