"""Callbacks: small objects the loop calls at fixed points of training.

The hooks, in the order the loop calls them::

    on_fit_start(trainer)
    for each epoch:
        on_epoch_start(trainer, epoch)
        for each batch:   forward, loss, backward
            on_after_backward(trainer)          # gradients exist, parameters not yet updated
                                                # optimizer.step()
            on_train_batch_end(trainer, logs)   # logs: step, epoch, loss, lr
        on_epoch_end(trainer, epoch, logs)      # logs: the epoch's row (loss, dev_accuracy, lr, ...)
    on_fit_end(trainer)
    on_summary(trainer, summary)                # test figures, status; the run record is complete

Also ``on_evaluate(trainer, logs)`` after each dev evaluation in the middle
of an epoch (``evals_per_epoch > 1``).

The callbacks that watch a figure (EarlyStopping, ReduceLROnPlateau,
ModelCheckpoint) share ``MonitorCallback``: a ``monitor`` name (a key of the
epoch row, e.g. ``"dev_accuracy"``), a ``mode`` (``"max"``, ``"min"`` or
``"auto"``) and a ``min_delta`` an improvement must exceed, as in Keras.
Unlike Keras, the best weights are restored at the end of training whatever
stopped it: that is the loop's model selection, not EarlyStopping's job.

Each callback's ``state_dict()`` is plain data saved in checkpoints, so a
resumed run's patience counters carry on where they were.
"""

from __future__ import annotations

import inspect
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..optim.lr_scheduler.plateau import ReduceLROnPlateau as _PlateauSchedule
from ..optim.lr_scheduler.plateau import improves

if TYPE_CHECKING:  # pragma: no cover
    from .loop import Trainer

__all__ = ["Callback", "MonitorCallback", "EarlyStopping", "ReduceLROnPlateau", "ModelCheckpoint",
           "GradientClipping", "ScheduleCallback", "normalize_monitor"]

_ALIASES = {"val_accuracy": "dev_accuracy", "val_acc": "dev_accuracy", "dev_acc": "dev_accuracy",
            "val_loss": "dev_loss", "acc": "train_accuracy", "accuracy": "train_accuracy",
            "train_loss": "loss"}


def normalize_monitor(name: str) -> str:
    """Map Keras/Lightning spellings (``val_accuracy``, ``val_loss``) to this loop's keys."""
    return _ALIASES.get(name, name)


def _infer_mode(monitor: str) -> str:
    return "max" if any(s in monitor for s in ("acc", "auc", "f1", "score", "precision", "recall")) else "min"


class Callback:
    """Base class: override the hooks you need; all default to doing nothing."""

    def on_fit_start(self, trainer: "Trainer") -> None:
        pass

    def on_epoch_start(self, trainer: "Trainer", epoch: int) -> None:
        pass

    def on_after_backward(self, trainer: "Trainer") -> None:
        pass

    def on_train_batch_end(self, trainer: "Trainer", logs: dict[str, Any]) -> None:
        pass

    def on_evaluate(self, trainer: "Trainer", logs: dict[str, Any]) -> None:
        pass

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict[str, Any]) -> None:
        pass

    def on_fit_end(self, trainer: "Trainer") -> None:
        pass

    def on_summary(self, trainer: "Trainer", summary: dict[str, Any]) -> None:
        """After the test evaluation and the run record's ``summary.json``: the run's final figures."""
        pass

    def on_exception(self, trainer: "Trainer", exc: BaseException) -> None:
        """``fit`` is ending with ``exc`` (an error, or ``KeyboardInterrupt``), which propagates afterwards."""
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class MonitorCallback(Callback):
    """A callback that watches one logged figure and knows when it improved.

    ``improved(v)`` is ``v > best + min_delta`` in ``"max"`` mode and
    ``v < best - min_delta`` in ``"min"`` mode; ``"auto"`` picks ``"max"``
    for accuracies and scores and ``"min"`` otherwise.  NaN never improves.
    The comparison is ``optim.lr_scheduler.plateau.improves``, the one the
    plateau schedule uses (here with an absolute threshold, ``min_delta``).
    """

    def __init__(self, monitor: str = "dev_accuracy", *, mode: str = "auto", min_delta: float = 0.0) -> None:
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{type(self).__name__}: mode must be 'auto', 'min' or 'max', got {mode!r}")
        if min_delta < 0:
            raise ValueError(f"{type(self).__name__}: min_delta must be >= 0, got {min_delta}")
        self.monitor = normalize_monitor(monitor)
        self.mode = _infer_mode(self.monitor) if mode == "auto" else mode
        self.min_delta = float(min_delta)
        self.best: float | None = None

    def value(self, logs: dict[str, Any]) -> float:
        if self.monitor not in logs:
            keys = ", ".join(k for k, v in logs.items() if isinstance(v, (int, float)))
            raise ValueError(f"{type(self).__name__}: monitor {self.monitor!r} is not logged; available: {keys}")
        return float(logs[self.monitor])

    def improved(self, value: float) -> bool:
        return improves(value, self.best, mode=self.mode, threshold=self.min_delta, threshold_mode="abs")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = None if state.get("best") is None else float(state["best"])


class EarlyStopping(MonitorCallback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    The loop then restores the best weights (as it does however training
    ends), so ``restore_best_weights`` is not needed here.
    """

    def __init__(self, monitor: str = "dev_accuracy", *, patience: int = 5, mode: str = "auto",
                 min_delta: float = 0.0, baseline: float | None = None) -> None:
        super().__init__(monitor, mode=mode, min_delta=min_delta)
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self.patience = int(patience)
        self.baseline = baseline
        self.wait = 0
        self.stopped_epoch: int | None = None

    def on_fit_start(self, trainer: "Trainer") -> None:
        if self.baseline is not None and self.best is None:
            self.best = float(self.baseline)  # improvements are measured from the baseline

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict[str, Any]) -> None:
        v = self.value(logs)
        if self.improved(v):
            self.best, self.wait = v, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            trainer.stop(f"early stopping: {self.monitor} did not improve for {self.wait} epoch"
                         f"{'s' if self.wait != 1 else ''} (best {self.best:.4g})")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait, "stopped_epoch": self.stopped_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.wait = int(state.get("wait", 0))
        self.stopped_epoch = state.get("stopped_epoch")


class ReduceLROnPlateau(MonitorCallback):
    """The lecture's step-size heuristic: when the dev accuracy has not improved
    for ``patience`` epochs, multiply every group's learning rate by ``factor``
    (epsilon <- alpha * epsilon, e.g. alpha = 0.1), then wait ``cooldown``
    epochs before watching again; never go below ``min_lr``.

    The rule itself is the schedule ``optim.lr_scheduler.ReduceLROnPlateau``;
    this callback builds one on the loop's optimizer and feeds it the
    monitored figure at each epoch end.  Its arguments keep Keras' meaning and
    map onto torch's explicitly:

    * ``min_delta`` is an *absolute* margin: ``threshold=min_delta,
      threshold_mode="abs"`` (torch's default is a relative ``1e-4``);
    * ``patience`` counts the flat epochs that trigger a reduction (Keras),
      torch counts those it tolerates: ``patience=max(patience - 1, 0)``;
    * ``cooldown`` counts the epochs after a reduction until the counting
      restarts, that epoch included: torch's ``cooldown=max(cooldown - 1, 0)``;
    * ``mode="auto"`` is resolved from the monitor's name; ``min_lr`` is the same.

    To use the schedule directly, pass it as ``schedule=`` to the loop.
    """

    def __init__(self, monitor: str = "dev_accuracy", *, factor: float = 0.1, patience: int = 2,
                 mode: str = "auto", min_delta: float = 0.0, cooldown: int = 0, min_lr: float = 0.0) -> None:
        super().__init__(monitor, mode=mode, min_delta=min_delta)
        if not 0.0 < factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be in (0, 1), got {factor}")
        if patience < 0 or cooldown < 0 or min_lr < 0:
            raise ValueError("ReduceLROnPlateau: patience, cooldown and min_lr must be >= 0")
        self.factor, self.patience, self.cooldown, self.min_lr = float(factor), int(patience), int(cooldown), min_lr
        self.schedule: _PlateauSchedule | None = None
        self._pending: dict[str, Any] = {}
        self.cooldown_left = 0  # in this callback's unit: torch's cooldown_counter is max(cooldown_left - 1, 0)

    def _schedule_for(self, optimizer: Any) -> _PlateauSchedule:
        if self.schedule is None or self.schedule.optimizer is not optimizer:
            self.schedule = _PlateauSchedule(optimizer, mode=self.mode, factor=self.factor,  # type: ignore[arg-type]
                                             patience=max(self.patience - 1, 0), threshold=self.min_delta,
                                             threshold_mode="abs", cooldown=max(self.cooldown - 1, 0),
                                             min_lr=self.min_lr, eps=1e-12)
            self._load_into(self.schedule, self._pending)
        return self.schedule

    def _load_into(self, schedule: _PlateauSchedule, state: dict[str, Any]) -> None:
        """This callback's saved state (``best``, ``wait``, ``cooldown_left``) as the schedule's counters."""
        best = state.get("best", self.best)
        schedule.best = (math.inf if self.mode == "min" else -math.inf) if best is None else float(best)
        schedule.num_bad_epochs = int(state.get("wait", 0))
        schedule.cooldown_counter = max(int(state.get("cooldown_left", 0)) - 1, 0)

    @property
    def wait(self) -> int:
        """Flat epochs counted so far (the schedule's ``num_bad_epochs``)."""
        return 0 if self.schedule is None else self.schedule.num_bad_epochs

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict[str, Any]) -> None:
        schedule = self._schedule_for(trainer.optimizer)
        value = self.value(logs)
        before = [float(g["lr"]) for g in trainer.optimizer.param_groups]
        reduces = (not schedule.is_better(value, schedule.best) and schedule.cooldown_counter == 0
                   and schedule.num_bad_epochs + 1 > schedule.patience)
        self.cooldown_left = self.cooldown if reduces else max(self.cooldown_left - 1, 0)
        schedule.step(value)
        self.best = None if math.isinf(schedule.best) else schedule.best
        after = [float(g["lr"]) for g in trainer.optimizer.param_groups]
        changed = [(old, new) for old, new in zip(before, after) if new != old]
        if changed:
            trainer.log(f"  ReduceLROnPlateau: {self.monitor} flat for {max(self.patience, 1)} epochs, "
                        f"lr {changed[0][0]:.3g} -> {changed[0][1]:.3g}")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait, "cooldown_left": self.cooldown_left}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._pending = dict(state)
        self.cooldown_left = int(state.get("cooldown_left", 0))
        if self.schedule is not None:
            self._load_into(self.schedule, self._pending)


class ModelCheckpoint(MonitorCallback):
    """Save the full training state (model, optimizer, schedules, RNG, loader, counters).

    * ``last.npz`` every ``every_n_epochs`` epochs and/or every ``every_n_steps``
      optimizer steps (the unit is in the name);
    * ``best.npz`` whenever ``monitor`` improves (``save_best=True``);
    * with ``keep_all=True`` also ``epoch-003.npz`` / ``step-000500.npz``.

    ``dirpath`` defaults to ``<run_dir>/checkpoints``.  Files are written
    atomically and never with non-finite weights, so after a divergence the
    last good checkpoint is still there.  The loop runs checkpoint callbacks
    after all others, so a checkpoint sees the epoch's final state.
    """

    def __init__(self, dirpath: str | Path | None = None, *, every_n_epochs: int | None = 1,
                 every_n_steps: int | None = None, monitor: str | None = None, mode: str = "auto",
                 min_delta: float = 0.0, save_best: bool = True, save_last: bool = True,
                 keep_all: bool = False) -> None:
        super().__init__(monitor or "dev_accuracy", mode=mode, min_delta=min_delta)
        self._monitor_given = monitor is not None
        for name, v in (("every_n_epochs", every_n_epochs), ("every_n_steps", every_n_steps)):
            if v is not None and (not isinstance(v, int) or v <= 0):
                raise ValueError(f"ModelCheckpoint: {name} must be a positive integer or None, got {v!r}")
        self.dirpath = None if dirpath is None else Path(dirpath)
        self.every_n_epochs, self.every_n_steps = every_n_epochs, every_n_steps
        self.save_best, self.save_last, self.keep_all = save_best, save_last, keep_all
        self.saved: list[Path] = []

    def on_fit_start(self, trainer: "Trainer") -> None:
        if self.dirpath is None:
            if trainer.run_dir is None:
                raise ValueError("ModelCheckpoint: give dirpath= or a run directory (run_dir=) to the loop")
            self.dirpath = Path(trainer.run_dir) / "checkpoints"
        if not self._monitor_given:
            if trainer.monitor is None:
                self.save_best = False
            else:
                self.monitor, self.mode = trainer.monitor, trainer.mode

    def _save(self, trainer: "Trainer", name: str) -> None:
        assert self.dirpath is not None
        if not trainer.weights_finite():
            trainer.log(f"  ModelCheckpoint: weights are not finite, {name} not written (previous file kept)")
            return
        self.saved.append(trainer.save_checkpoint(self.dirpath / name))

    def on_train_batch_end(self, trainer: "Trainer", logs: dict[str, Any]) -> None:
        if self.every_n_steps and trainer.step % self.every_n_steps == 0:
            if self.save_last:
                self._save(trainer, "last.npz")
            if self.keep_all:
                self._save(trainer, f"step-{trainer.step:06d}.npz")

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict[str, Any]) -> None:
        if self.save_best and self.monitor in logs and self.improved(self.value(logs)):
            self.best = self.value(logs)
            self._save(trainer, "best.npz")
        if self.every_n_epochs and epoch % self.every_n_epochs == 0:
            if self.save_last:
                self._save(trainer, "last.npz")
            if self.keep_all:
                self._save(trainer, f"epoch-{epoch:03d}.npz")


class GradientClipping(Callback):
    """Clip gradients after ``backward()`` and before the optimizer step.

    ``max_norm``: rescale all gradients together so their global norm is at
    most ``max_norm`` (``optim.clip_grad_norm_``, Pascanu et al. 2013);
    ``max_value``: clamp each entry (``optim.clip_grad_value_``).  The norm
    before clipping is kept in ``last_norm``.
    """

    def __init__(self, max_norm: float | None = None, *, max_value: float | None = None,
                 norm_type: float = 2.0) -> None:
        if max_norm is None and max_value is None:
            raise ValueError("GradientClipping: give max_norm or max_value")
        for name, v in (("max_norm", max_norm), ("max_value", max_value)):
            if v is not None and not v > 0:
                raise ValueError(f"GradientClipping: {name} must be positive, got {v}")
        self.max_norm, self.max_value, self.norm_type = max_norm, max_value, norm_type
        self.last_norm: float | None = None

    def on_after_backward(self, trainer: "Trainer") -> None:
        from ..optim import clip_grad_norm_, clip_grad_value_

        params = list(trainer.model.parameters())
        if self.max_value is not None:
            clip_grad_value_(params, self.max_value)
        if self.max_norm is not None:
            self.last_norm = float(clip_grad_norm_(params, self.max_norm, self.norm_type))


def _wants_metric(scheduler: Any) -> bool:
    """Does ``scheduler.step`` take the monitored figure (ReduceLROnPlateau-like)?"""
    if getattr(scheduler, "needs_metric", None) is not None:
        return bool(scheduler.needs_metric)
    if "Plateau" in type(scheduler).__name__:
        return True
    try:
        params = list(inspect.signature(scheduler.step).parameters.values())
    except (TypeError, ValueError):
        return False
    return bool(params) and params[0].name in ("metrics", "metric", "value", "current") \
        and params[0].default is inspect.Parameter.empty


class ScheduleCallback(Callback):
    """Step a learning-rate schedule per batch or per epoch.

    The unit is the schedule's ``interval`` attribute (``"step"``/``"batch"`` or
    ``"epoch"``; PyTorch's schedulers have none and are stepped per epoch, as in
    their docs) unless ``interval=`` is given.  A schedule whose ``step`` takes a
    metric (ReduceLROnPlateau) receives the monitored figure at each epoch end.
    """

    def __init__(self, scheduler: Any, *, interval: str | None = None, monitor: str | None = None) -> None:
        interval = interval or getattr(scheduler, "interval", None) or "epoch"
        interval = {"batch": "step", "steps": "step", "epochs": "epoch"}.get(interval, interval)
        if interval not in ("step", "epoch"):
            raise ValueError(f"schedule interval must be 'step' or 'epoch', got {interval!r}")
        self.scheduler = scheduler
        self.interval = interval
        self.wants_metric = _wants_metric(scheduler)
        if self.wants_metric:
            self.interval = "epoch"
        self.monitor = None if monitor is None else normalize_monitor(monitor)

    def on_fit_start(self, trainer: "Trainer") -> None:
        if not self.wants_metric:
            return
        if self.monitor is None:
            self.monitor = normalize_monitor(getattr(self.scheduler, "monitor", None) or trainer.monitor or "loss")
        mode = getattr(self.scheduler, "mode", None)
        if mode in ("min", "max") and _infer_mode(self.monitor) != mode:
            want = _infer_mode(self.monitor)
            raise ValueError(f"{type(self.scheduler).__name__}(mode={mode!r}) would be fed {self.monitor!r}, which "
                             f"should {'rise' if want == 'max' else 'fall'}: give it mode={want!r}")

    def on_train_batch_end(self, trainer: "Trainer", logs: dict[str, Any]) -> None:
        if self.interval == "step":
            self.scheduler.step()

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict[str, Any]) -> None:
        if self.interval != "epoch":
            return
        if self.wants_metric:
            if self.monitor not in logs:
                raise ValueError(f"{type(self.scheduler).__name__}: monitored figure {self.monitor!r} is not logged")
            self.scheduler.step(float(logs[self.monitor]))
        else:
            self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        return {"scheduler": self.scheduler.state_dict()} if hasattr(self.scheduler, "state_dict") else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "scheduler" in state:
            self.scheduler.load_state_dict(state["scheduler"])
