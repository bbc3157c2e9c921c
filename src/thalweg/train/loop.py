"""The training loop: the lecture's pseudo-code, with the bookkeeping a real run needs.

::

    function Train(f, theta, T, D)
        bestdev = -inf
        for epoch = 1 to E
            shuffle T                                 # sampling without replacement
            for (x, y) in T
                loss = L(f(x; theta), y)
                theta = theta - eps * grad(loss)      # optimizer.step(), schedule, clipping
            devacc = Evaluate(f, D)
            if devacc > bestdev: theta_hat = theta; bestdev = devacc
        return theta_hat                              # then evaluate on the test set, once

``Trainer.fit`` is that function.  Around it: one printed line per epoch
(mean loss, training accuracy, dev accuracy, learning rate, time), optional
dev evaluations inside an epoch, callbacks (early stopping, decay on plateau,
schedules, clipping, checkpoints), a guard that stops on a NaN or infinite
loss, a run record on disk, and checkpoints from which ``resume`` continues
the same trajectory bit for bit (model, optimizer, schedules, the global RNG
that dropout draws from, the loader's order and position, and every counter
are saved).

Model selection is always on when there is a dev set: whatever ends training
(the last epoch, early stopping, a divergence), the weights with the best
monitored dev figure are restored (``restore_best=False`` keeps the last), and
the test set is evaluated once, with them.

The same loop serves experiments that measure *during* training: a budget in
optimizer steps (``max_steps``), dev evaluations every N steps
(``eval_every``), a custom batch function (``batch_fn(model, batch) ->
(output, target)``, for models that take several inputs or carry a state from
batch to batch, with data given as iterables of raw batches or as functions of
the epoch that return one), any loss callable, and callbacks that read the
gradients between ``backward()`` and ``step()`` or stop the run at once
(``trainer.stop(reason, now=True)``).
"""

from __future__ import annotations

import math
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .. import random as _random
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..data.dataset import TensorDataset, as_array
from ..data.loader import DataLoader, default_collate
from ..optim.lr_scheduler.plateau import improves
from ..threads import OversubscriptionWatch
from .callbacks import (Callback, GradientClipping, ModelCheckpoint, MonitorCallback, ScheduleCallback,
                        _infer_mode, normalize_monitor)
from . import distributed as _dist  # data-parallel runs: rank 0 writes, metrics averaged over ranks
from .io import load_checkpoint, save_checkpoint
from .metrics import CLASSIFICATION_LOSSES, RunningMean, resolve_loss, resolve_metric
from .progress import format_epoch_line, format_eval_line, format_running, progress_bar
from .record import RunRecord

__all__ = ["Trainer", "FitResult", "fit", "evaluate"]


@dataclass
class FitResult:
    """What ``fit`` returns: the history, the model-selection outcome and the test figures."""

    history: list[dict[str, Any]]
    evals: list[dict[str, Any]]
    monitor: str | None
    best_epoch: float | None
    best_score: float | None
    test: dict[str, float] | None
    status: str
    stop_reason: str
    epochs: int
    steps: int
    wall_time: float
    cpu_time: float
    run_dir: Path | None = None
    summary: dict[str, Any] = field(default_factory=dict)


def _to_loader(data: Any, *, batch_size: int, shuffle: bool, seed: int | None) -> DataLoader:
    if isinstance(data, DataLoader):
        return data
    if isinstance(data, tuple) and len(data) == 2 and not hasattr(data, "_fields"):
        data = TensorDataset(*data)
    if not hasattr(data, "__len__") or not hasattr(data, "__getitem__"):
        raise TypeError(f"expected a DataLoader, a dataset or an (X, y) pair, got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError("the dataset is empty")
    gen = np.random.default_rng((seed, 0x5EED)) if seed is not None else None
    if not shuffle and gen is None:
        gen = np.random.default_rng(0)  # unused: no draws, and the run's generator is left alone
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=gen)


class _Batches:
    """Raw batches for a custom ``batch_fn``: an iterable, or a function of the epoch that returns one.

    An epoch's batches are listed first when they come without a length (a generator), so the loop knows
    how many there are.  It holds no position of its own: a resumed run starts its epoch again.
    """

    def __init__(self, source: Any) -> None:
        if not callable(source) and not hasattr(source, "__iter__"):
            raise TypeError(f"with batch_fn, data must be an iterable of batches or a function of the epoch "
                            f"returning one, got {type(source).__name__}")
        self.source = source
        self.epoch = 1
        self.dataset = None

    def batches(self) -> Any:
        """This epoch's batches: a sized iterable as it is (read lazily), anything else listed."""
        data = self.source(self.epoch) if callable(self.source) else self.source
        return data if hasattr(data, "__len__") else list(data)

    def __iter__(self) -> Any:
        return iter(self.batches())

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def _run_batch(model: Any, batch: Any, batch_fn: Callable[[Any, Any], Any] | None) -> tuple[Any, Any] | None:
    """``(output, target)`` of one batch: ``batch_fn(model, batch)``, or ``model(x)`` on an ``(x, y)`` pair.

    ``None`` (from a ``batch_fn``) means: skip this batch.
    """
    if batch_fn is not None:
        return batch_fn(model, batch)
    x, y = _split_batch(batch)
    return model(x), y


def _batch_size(out: Any, y: Any) -> int:
    return len(y) if y is not None else (int(out.shape[0]) if getattr(out, "ndim", 0) else 1)


def _split_batch(batch: Any) -> tuple[Any, Tensor]:
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        x, y = batch
    else:
        raise ValueError("each batch must be a pair (inputs, targets)")
    if not isinstance(y, Tensor):
        y = Tensor(as_array(y))
    if not isinstance(x, Tensor) and not isinstance(x, (tuple, list, dict)):
        x = Tensor(as_array(x))
    return x, y


def _num_classes(dataset: Any) -> tuple[int | None, bool]:
    """``(classes, exact)``: the declared ``num_classes``, or a lower bound from the largest label."""
    n = getattr(dataset, "num_classes", None)
    if n is not None:
        return int(n), True
    tensors = getattr(dataset, "tensors", None)
    if tensors is not None and len(tensors) >= 2 and tensors[1].dtype.kind in "iu" and tensors[1].ndim == 1 \
            and tensors[1].size:
        return int(tensors[1].max()) + 1, False
    return None, False


def _peek(dataset: Any, n: int = 2) -> Any:
    idx = np.arange(min(n, len(dataset)))
    if hasattr(dataset, "__getitems__"):
        return dataset.__getitems__(idx)
    return default_collate([dataset[int(i)] for i in idx])


def _evaluate(model: Any, loader: Any, loss_fn: Callable[..., Any],
              metrics: Sequence[tuple[str, Callable[..., float]]],
              batch_fn: Callable[[Any, Any], Any] | None = None) -> dict[str, float]:
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    means = RunningMean()
    try:
        with no_grad():
            for batch in loader:
                pair = _run_batch(model, batch, batch_fn)
                if pair is None:
                    continue
                out, y = pair
                figures = {"loss": float(loss_fn(out, y).array)}
                for name, fn in metrics:
                    figures[name] = fn(out.array, y.array)
                means.update(figures, _batch_size(out, y))
    finally:
        if was_training and hasattr(model, "train"):
            model.train()
    return means.means()


def evaluate(model: Any, data: Any, *, loss: str | Callable[..., Any] = "cross_entropy",
             metrics: Sequence[Any] = ("accuracy",), batch_size: int = 1000) -> dict[str, float]:
    """Mean loss and metrics of ``model`` on ``data``, in eval mode and without building a graph.

    This is the lecture's ``Evaluate(f, D)``: with the accuracy metric it counts
    the examples whose arg-max prediction is the label.  ``data`` is a
    ``DataLoader``, a dataset or an ``(X, y)`` pair.
    """
    _, loss_fn = resolve_loss(loss)
    loader = _to_loader(data, batch_size=batch_size, shuffle=False, seed=None)
    return _evaluate(model, loader, loss_fn, [resolve_metric(m) for m in metrics])


class Trainer:
    """Train ``model`` with ``optimizer``; see ``fit`` for the arguments.

    Attributes the callbacks use: ``model``, ``optimizer``, ``epoch`` (epochs
    completed), ``step`` (optimizer steps taken), ``monitor``/``mode`` (the
    model-selection figure), ``run_dir``, ``history``; methods ``stop(reason)``,
    ``log(msg)``, ``save_checkpoint(path)``, ``weights_finite()``.
    """

    def __init__(self, model: Any, optimizer: Any, *, loss: str | Callable[..., Any] = "cross_entropy",
                 metrics: Sequence[Any] | None = None, schedule: Any = None, callbacks: Iterable[Callback] = (),
                 monitor: str | None = "auto", mode: str = "auto", min_delta: float = 0.0,
                 restore_best: bool = True, batch_size: int = 64, eval_batch_size: int = 1000,
                 evals_per_epoch: int = 1, seed: int | None = None, clip_grad_norm: float | None = None,
                 run_dir: str | Path | None = None, config: dict[str, Any] | None = None, verbose: bool = True,
                 progress: bool | str = "auto", log: Callable[[str], None] | None = None, plots: bool = True,
                 title: str = "", max_steps: int | None = None, eval_every: int | None = None,
                 batch_fn: Callable[[Any, Any], tuple[Any, Any] | None] | None = None,
                 stop_on_nonfinite: bool = True) -> None:
        self.model = model
        self.optimizer = optimizer
        self.loss_name, self.loss_fn = resolve_loss(loss)
        if metrics is None:
            metrics = ("accuracy",) if self.loss_name in CLASSIFICATION_LOSSES else ()
        self.metrics = [resolve_metric(m) for m in metrics]
        self.metric_names = [n for n, _ in self.metrics]
        for name, v in (("batch_size", batch_size), ("eval_batch_size", eval_batch_size),
                        ("evals_per_epoch", evals_per_epoch)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        for name, v in (("max_steps", max_steps), ("eval_every", eval_every)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0):
                raise ValueError(f"{name} must be a positive integer or None, got {v!r}")
        self.max_steps = None if max_steps is None else int(max_steps)
        self.eval_every = None if eval_every is None else int(eval_every)
        self.batch_fn = batch_fn
        self.stop_on_nonfinite = stop_on_nonfinite
        self.batch_size, self.eval_batch_size = int(batch_size), int(eval_batch_size)
        self.evals_per_epoch = int(evals_per_epoch)
        self._monitor_arg, self._mode_arg, self.min_delta = monitor, mode, float(min_delta)
        self.monitor: str | None = None
        self.mode = "max"
        self.restore_best = restore_best
        self.seed = seed
        schedules = [] if schedule is None else (list(schedule) if isinstance(schedule, (list, tuple)) else [schedule])
        cbs = [s if isinstance(s, ScheduleCallback) else ScheduleCallback(s) for s in schedules]
        if clip_grad_norm is not None:
            cbs.append(GradientClipping(clip_grad_norm))
        user = list(callbacks)
        for cb in user:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}")
        # checkpoints last, so they see the epoch's final state (after schedules and plateau decay)
        cbs += [c for c in user if not isinstance(c, ModelCheckpoint)]
        cbs += [c for c in user if isinstance(c, ModelCheckpoint)]
        self.callbacks: list[Callback] = cbs
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.config = config
        self.verbose = verbose
        if progress not in (True, False, "auto"):
            raise ValueError(f"progress must be True, False or 'auto', got {progress!r}")
        self.progress = progress if verbose else False
        self._log = log or print
        self.plots = plots
        self.title = title
        self._reset()

    # ------------------------------------------------------------- state
    def _reset(self) -> None:
        self.epoch = 0
        self.step = 0
        self.history: list[dict[str, Any]] = []
        self.evals: list[dict[str, Any]] = []
        self.trace: dict[str, list[float]] = {"epoch": [], "loss": [], "lr": []}
        self.best_score: float | None = None
        self.best_epoch: float | None = None
        self.best_step: int | None = None
        self.best_state: dict[str, np.ndarray] | None = None
        self.should_stop = False
        self._stop_now = False
        self.stop_reason: str | None = None
        self._thread_watch = OversubscriptionWatch()  # warns once when other processes take BLAS's cores
        self.status = "completed"
        self._in_epoch: dict[str, Any] | None = None
        self._time_before = (0.0, 0.0)  # wall, cpu of earlier sessions (resume)
        self._session = (time.perf_counter(), time.process_time())
        self._epoch_clock = self._session

    def log(self, msg: str) -> None:
        if not self.verbose:
            return
        bar = getattr(self, "_bar", None)
        if bar is not None and hasattr(bar, "write") and self._log is print:
            bar.write(msg, file=sys.stdout)  # tqdm clears its bar, prints the line, redraws the bar
        else:
            self._log(msg)

    def stop(self, reason: str, *, now: bool = False) -> None:
        """Ask the loop to stop after the current epoch, or after the current step (``now=True``)."""
        self._stop_now = self._stop_now or now
        if not self.should_stop:
            self.should_stop, self.stop_reason = True, reason
            if self.status == "completed":
                self.status = "stopped"

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def weights_finite(self) -> bool:
        return all(np.isfinite(p.array).all() for p in self.model.parameters())

    def _elapsed(self) -> tuple[float, float]:
        return (self._time_before[0] + time.perf_counter() - self._session[0],
                self._time_before[1] + time.process_time() - self._session[1])

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs to continue the same trajectory."""
        in_epoch = None
        if self._in_epoch is not None:
            in_epoch = {"batches": self._in_epoch["batches"], "means": self._in_epoch["means"].state_dict(),
                        "wall": self._in_epoch["wall"] + time.perf_counter() - self._epoch_clock[0],
                        "cpu": self._in_epoch["cpu"] + time.process_time() - self._epoch_clock[1]}
        wall, cpu = self._elapsed()
        return {
            "model": dict(self.model.state_dict()),
            "optimizer": self.optimizer.state_dict(),
            "callbacks": [{"type": type(cb).__name__, "state": cb.state_dict(),
                           **({"schedule": type(cb.scheduler).__name__} if isinstance(cb, ScheduleCallback) else {})}
                          for cb in self.callbacks],
            "rng": _random.get_rng_state(),
            "loader": self.train_loader.state_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "in_epoch": in_epoch,
            "best": {"score": self.best_score, "epoch": self.best_epoch, "step": self.best_step,
                     "monitor": self.monitor},
            "best_model": self.best_state,
            "history": self.history,
            "evals": self.evals,
            "trace": {k: np.asarray(v, dtype=np.float64) for k, v in self.trace.items()},
            "stop": {"should_stop": self.should_stop, "reason": self.stop_reason, "status": self.status},
            "time": {"wall": wall, "cpu": cpu},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        try:
            self.model.load_state_dict(state["model"])
        except (RuntimeError, KeyError) as e:
            raise ValueError(f"resume: the checkpoint does not fit this model ({e})") from None
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, KeyError, TypeError) as e:
            raise ValueError(f"resume: the checkpoint's optimizer state does not fit this optimizer ({e})") from None
        self._load_callbacks(state.get("callbacks", []))
        _random.set_rng_state(state["rng"])
        self.train_loader.load_state_dict(state["loader"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        ie = state.get("in_epoch")
        if ie is not None:
            means = RunningMean()
            means.load_state_dict(ie["means"])
            ie = {"batches": int(ie["batches"]), "means": means, "wall": float(ie["wall"]), "cpu": float(ie["cpu"])}
        self._in_epoch = ie
        best = state["best"]
        self.best_score, self.best_epoch, self.best_step = best["score"], best["epoch"], best["step"]
        self.best_state = state.get("best_model")
        self.history = list(state["history"])
        self.evals = list(state["evals"])
        self.trace = {k: [float(v) for v in np.asarray(a)] for k, a in state["trace"].items()}
        stop = state["stop"]
        self.should_stop, self.stop_reason, self.status = bool(stop["should_stop"]), stop["reason"], stop["status"]
        self._time_before = (float(state["time"]["wall"]), float(state["time"]["cpu"]))
        self._session = (time.perf_counter(), time.process_time())

    def _load_callbacks(self, saved: list[dict[str, Any]]) -> None:
        """Give each callback the saved state of the same type, in order.

        Schedules must match one to one (they shape the trajectory); other
        callbacks may be added or dropped on resume, and start fresh if new.
        """
        def names(cbs: Iterable[Any]) -> list[str]:
            return [type(c.scheduler).__name__ for c in cbs if isinstance(c, ScheduleCallback)]

        saved_sched = [c.get("schedule") for c in saved if c["type"] == "ScheduleCallback"]
        if saved_sched != names(self.callbacks):
            raise ValueError(f"resume: the checkpoint's schedules {saved_sched} differ from this run's "
                             f"{names(self.callbacks)}")
        used = [False] * len(saved)
        for cb in self.callbacks:
            for i, entry in enumerate(saved):
                if not used[i] and entry["type"] == type(cb).__name__:
                    used[i] = True
                    cb.load_state_dict(entry["state"])
                    break

    def save_checkpoint(self, path: str | Path) -> Path:
        """Write ``state_dict()`` to ``path`` atomically (``.npz``, no pickle)."""
        if not _dist.is_main():  # in a data-parallel run rank 0 writes; the others hold the same state
            return Path(path)
        return save_checkpoint(path, self.state_dict())

    # ------------------------------------------------------------ set-up
    def _resolve_monitor(self, has_dev: bool) -> None:
        m = self._monitor_arg
        if m == "auto":
            if not has_dev:
                m = None
            else:
                m = "dev_accuracy" if "accuracy" in self.metric_names else "dev_loss"
        self.monitor = None if m is None else normalize_monitor(m)
        if self.monitor is not None:
            self.mode = _infer_mode(self.monitor) if self._mode_arg == "auto" else self._mode_arg

    def _known_keys(self, has_dev: bool) -> list[str]:
        keys = ["loss"] + [f"train_{n}" for n in self.metric_names]
        if has_dev:
            keys += ["dev_loss"] + [f"dev_{n}" for n in self.metric_names]
        return keys + ["lr"]

    def _check_model(self, dataset: Any) -> None:
        """One forward pass on two examples, in eval mode, before anything is written."""
        if self.batch_fn is not None:
            return  # raw batches: nothing to peek at without running the caller's batch function
        x, y = _split_batch(_peek(dataset))
        was_training = getattr(self.model, "training", True)
        self.model.eval()
        try:
            with no_grad():
                out = self.model(x)
        finally:
            self.model.train(was_training)
        if self.loss_name in CLASSIFICATION_LOSSES:
            classes, exact = _num_classes(dataset)
            units = out.shape[-1] if out.ndim >= 2 else None
            if classes is not None and units is not None and (units != classes if exact else units < classes):
                has = f"has {classes} classes" if exact else f"has labels up to {classes - 1}"
                raise ValueError(f"the model outputs {units} values per example but the dataset {has}: "
                                 f"make the last layer's output size {classes}")

    # -------------------------------------------------------------- fit
    def fit(self, train: Any, dev: Any = None, *, epochs: int | None = None, test: Any = None,
            resume: str | Path | None = None) -> FitResult:
        """Train for ``epochs`` epochs in total (a resumed run counts the epochs already done).

        With ``max_steps``, training also ends after that many optimizer steps; ``epochs`` may then be
        left out (as many epochs as the steps need).
        """
        if epochs is None and self.max_steps is None:
            raise ValueError("epochs must be a non-negative integer (or give max_steps), got None")
        if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer))
                                   or epochs < 0):
            raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
        epochs = math.inf if epochs is None else int(epochs)  # type: ignore[assignment]
        self._reset()
        self.train_loader = self._loader(train, batch_size=self.batch_size, shuffle=True, seed=self.seed)
        _dist.setup(self)  # under an MPI launcher: join the group, wrap the model in DDP, shard the batches
        self.dev_loader = None if dev is None else self._loader(dev, batch_size=self.eval_batch_size,
                                                                shuffle=False, seed=None)
        self.test_loader = None if test is None else self._loader(test, batch_size=self.eval_batch_size,
                                                                  shuffle=False, seed=None)
        self._resolve_monitor(dev is not None)
        known = self._known_keys(dev is not None)
        watched = [(type(cb).__name__, cb.monitor) for cb in self.callbacks if isinstance(cb, MonitorCallback)
                   and not (isinstance(cb, ModelCheckpoint) and not cb._monitor_given)]
        if self.monitor is not None:
            watched.append(("model selection (monitor=)", self.monitor))
        for who, m in watched:
            if m not in known:
                raise ValueError(f"{who}: cannot monitor {m!r}; this run logs {', '.join(known)}")
        self._check_model(self.train_loader.dataset)

        ckpt = None
        if resume is not None:
            rp = Path(resume)
            if rp.is_dir():
                if self.run_dir is None:
                    self.run_dir = rp
                rp = rp / "checkpoints" / "last.npz"
            ckpt = load_checkpoint(rp)
        if ckpt is None and self.seed is not None:
            _random.manual_seed(self.seed)

        record = None
        if self.run_dir is not None and _dist.is_main():
            record = RunRecord(self.run_dir, resume=ckpt is not None)
        try:
            if ckpt is not None:
                self.load_state_dict(ckpt)
                self.log(f"resumed from {resume} at epoch {self.epoch}, step {self.step}")
            if record is not None:
                record.start(self._config(epochs))
            for cb in self.callbacks:
                cb.on_fit_start(self)
            while self.epoch < epochs and not self.should_stop:
                e = self.epoch + 1
                for cb in self.callbacks:
                    cb.on_epoch_start(self, e)
                steps_before = self.step
                if not self._train_epoch(e, epochs):
                    break
                if self.step == steps_before and not math.isfinite(epochs):  # the data ran out
                    self._in_epoch = None
                    self.stop(f"epoch {e} took no step (no batches left): max_steps cannot be reached")
                    break
                self._end_epoch(e, epochs, record)
            return self._finish(epochs, record)
        except BaseException as exc:
            if record is not None:
                wall, cpu = self._elapsed()
                status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
                record.fail({"status": status, "error": f"{type(exc).__name__}: {exc}", "epochs_run": self.epoch,
                             "steps": self.step, "wall_time_s": wall, "cpu_time_s": cpu},
                            keep=bool(self.history) or ckpt is not None)
            for cb in self.callbacks:  # loggers close their runs (MLflow marks it FAILED or KILLED)
                cb.on_exception(self, exc)
            raise

    def _loader(self, data: Any, *, batch_size: int, shuffle: bool, seed: int | None) -> Any:
        if self.batch_fn is not None and not isinstance(data, DataLoader):
            return _Batches(data)
        return _to_loader(data, batch_size=batch_size, shuffle=shuffle, seed=seed)

    def _config(self, epochs: int) -> dict[str, Any]:
        cfg = dict(self.config or {})
        cfg.setdefault("epochs", epochs if math.isfinite(epochs) else None)
        if self.max_steps is not None:
            cfg.setdefault("max_steps", self.max_steps)
        cfg.setdefault("batch_size", self.batch_size)
        cfg.setdefault("seed", self.seed)
        cfg.setdefault("loss", self.loss_name)
        cfg.setdefault("metrics", self.metric_names)
        cfg.setdefault("monitor", self.monitor)
        cfg.setdefault("evals_per_epoch", self.evals_per_epoch)
        cfg.setdefault("optimizer", {"type": type(self.optimizer).__name__,
                                     "lr": [float(g["lr"]) for g in self.optimizer.param_groups]})
        cfg.setdefault("schedules", [type(cb.scheduler).__name__ for cb in self.callbacks
                                     if isinstance(cb, ScheduleCallback)])
        cfg.setdefault("callbacks", [type(cb).__name__ for cb in self.callbacks
                                     if not isinstance(cb, ScheduleCallback)])
        cfg.setdefault("model", repr(self.model))
        return cfg

    def _eval_points(self, n_batches: int) -> set[int]:
        k = self.evals_per_epoch
        if k <= 1 or self.dev_loader is None:
            return set()
        return {round(i * n_batches / k) for i in range(1, k)} - {0, n_batches}

    def _train_epoch(self, e: int, epochs: int) -> bool:
        loader, model, opt = self.train_loader, _dist.train_model(self), self.optimizer
        if isinstance(loader, _Batches):
            loader.epoch = e
            loader = loader.batches()
        n_batches = len(loader)
        if self._in_epoch is None:
            self._in_epoch = {"batches": 0, "means": RunningMean(), "wall": 0.0, "cpu": 0.0}
        state = self._in_epoch
        eval_at = self._eval_points(n_batches)
        self._epoch_clock = (time.perf_counter(), time.process_time())
        bar = progress_bar(n_batches, desc=f"epoch {e}/{epochs if math.isfinite(epochs) else '?'}",
                           initial=state["batches"],
                           enabled=self.progress if _dist.is_main() else False)  # one bar, on rank 0
        self._bar = bar
        model.train()
        try:
            for batch in loader:
                opt.zero_grad()
                pair = _run_batch(model, batch, self.batch_fn)
                if pair is None:  # the batch function skipped this batch
                    continue
                out, y = pair
                n = _batch_size(out, y)
                loss = self.loss_fn(out, y)
                value = _dist.global_loss(float(loss.array), n)
                if not math.isfinite(value) and self.stop_on_nonfinite:
                    self._diverged(e, value)
                    return False
                loss.backward()
                for cb in self.callbacks:
                    cb.on_after_backward(self)
                lr = self.lr
                opt.step()
                self.step += 1
                figures = {"loss": value}
                for name, fn in self.metrics:
                    figures[f"train_{name}"] = fn(out.array, y.array)
                state["means"].update(figures, n)
                state["batches"] += 1
                self.trace["epoch"].append(e - 1 + state["batches"] / n_batches)
                self.trace["loss"].append(value)
                self.trace["lr"].append(lr)
                if state["batches"] in eval_at or (self.eval_every and self.dev_loader is not None
                                                   and self.step % self.eval_every == 0):
                    self._evaluate_mid(e, state["batches"] / n_batches)
                logs = {"step": self.step, "epoch": e, "batch": state["batches"], "loss": value, "lr": lr}
                for cb in self.callbacks:
                    cb.on_train_batch_end(self, logs)
                bar.set_postfix_str(format_running(state["means"].means()), refresh=False)
                bar.update(1)
                if self.max_steps is not None and self.step >= self.max_steps and not self.should_stop:
                    self.should_stop, self._stop_now = True, True
                    self.stop_reason = f"completed {self.step} step{'s' if self.step != 1 else ''} (max_steps)"
                if self._stop_now:
                    break
        finally:
            bar.refresh()  # the epoch's final count and running figures, whatever tqdm's throttling skipped
            bar.close()
            self._bar = None
        return True

    def _diverged(self, e: int, value: float) -> None:
        self.status = "diverged"
        saved = [p for cb in self.callbacks if isinstance(cb, ModelCheckpoint) for p in cb.saved]
        if saved:
            disk = f"the checkpoints on disk ({Path(saved[-1]).parent}) are from before it"
        else:
            disk = "no checkpoint had been written yet"
        self.stop(f"non-finite loss ({value}) at epoch {e}, step {self.step + 1}: training stopped before "
                  f"the update (try a lower learning rate or gradient clipping); {disk}")
        self.log(f"stopped: {self.stop_reason}")

    def _consider(self, logs: dict[str, Any], epoch: float) -> bool:
        """Model selection: keep a copy of the weights when the monitored dev figure improves."""
        if self.monitor is None or self.monitor not in logs:
            return False
        v = float(logs[self.monitor])
        if not improves(v, self.best_score, mode=self.mode, threshold=self.min_delta):
            return False
        self.best_score, self.best_epoch, self.best_step = v, epoch, self.step
        self.best_state = {k: np.array(a, copy=True) for k, a in self.model.state_dict().items()}
        return True

    def _evaluate_mid(self, e: int, frac: float) -> None:
        figures = self._evaluate_dev()
        logs = {"epoch": round(e - 1 + frac, 6), "step": self.step, **figures}
        logs["best"] = self._consider(logs, logs["epoch"])
        self.evals.append(logs)
        self.log(format_eval_line(logs, self.metric_names, best=logs["best"]))
        for cb in self.callbacks:
            cb.on_evaluate(self, logs)

    def _evaluate_dev(self) -> dict[str, float]:
        assert self.dev_loader is not None
        ev = _evaluate(self.model, self.dev_loader, self.loss_fn, self.metrics, self.batch_fn)
        return {f"dev_{k}": v for k, v in ev.items()}

    def _end_epoch(self, e: int, epochs: int, record: RunRecord | None) -> None:
        state = self._in_epoch
        assert state is not None
        wall = state["wall"] + time.perf_counter() - self._epoch_clock[0]
        cpu = state["cpu"] + time.process_time() - self._epoch_clock[1]
        row: dict[str, Any] = {"epoch": e, "step": self.step, "loss": math.nan, **_dist.epoch_means(state["means"])}
        if self.dev_loader is not None:
            row.update(self._evaluate_dev())
        row["lr"] = self.trace["lr"][-1] if self.trace["lr"] else self.lr
        row["time"] = wall
        row["cpu_time"] = cpu
        row["best"] = self._consider(row, e)
        if self.dev_loader is not None and self.evals_per_epoch > 1:
            self.evals.append({"epoch": float(e), "step": self.step,
                               **{k: v for k, v in row.items() if k.startswith("dev_")}, "best": row["best"]})
        self.history.append(row)
        self._in_epoch = None
        self.epoch = e
        self._thread_watch.check()
        self.log(format_epoch_line(row, epochs, self.metric_names, best=row["best"]))
        if record is not None:
            record.update(self.history, self.evals, self.trace)
        for cb in self.callbacks:
            cb.on_epoch_end(self, e, row)

    def _finish(self, epochs: int, record: RunRecord | None) -> FitResult:
        for cb in self.callbacks:
            cb.on_fit_end(self)
        if self.stop_reason is None:
            self.stop_reason = f"completed {self.epoch} epoch{'s' if self.epoch != 1 else ''}"
        elif self.status == "stopped":
            self.log(self.stop_reason)
        restored = False
        if self.restore_best and self.best_state is not None:
            self.model.load_state_dict(self.best_state)
            restored = True
            self.log(f"restored the weights of epoch {self.best_epoch:g} ({self.monitor} {self.best_score:.4f})")
        elif self.monitor is None and self.verbose and self.history:
            self.log("no dev set: keeping the last weights (no model selection)")
        test = None
        if self.test_loader is not None and not self.weights_finite():
            self.log("no test evaluation: the weights are not finite (training diverged) and no dev-selected "
                     "weights exist to restore")
        elif self.test_loader is not None:
            test = _evaluate(self.model, self.test_loader, self.loss_fn, self.metrics, self.batch_fn)
            if self.status == "diverged" and not math.isfinite(test.get("loss", 0.0)):
                test = None  # figures of weights that already give a NaN loss mean nothing
                self.log("no test evaluation: training diverged and the weights give a non-finite loss")
            else:
                self.log("test  " + "  ".join(f"{k} {100 * v:.2f}%" if "accuracy" in k else f"{k} {v:.4f}"
                                              for k, v in test.items()))
        wall, cpu = self._elapsed()
        summary = {
            "status": self.status,
            "stop_reason": self.stop_reason,
            "epochs_run": self.epoch,
            "epochs_planned": epochs if math.isfinite(epochs) else None,
            "steps": self.step,
            "monitor": self.monitor,
            "best_epoch": self.best_epoch,
            "best_step": self.best_step,
            "best_dev": self.best_score,
            "best_row": next((r for r in self.history if r["epoch"] == self.best_epoch), None),
            "restored_best_weights": restored,
            "test": test,
            "final": self.history[-1] if self.history else None,
            "wall_time_s": wall,
            "cpu_time_s": cpu,
            "parameters": int(sum(int(p.array.size) for p in self.model.parameters())),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        if record is not None:
            summary = record.finish(summary, self.history, self.evals, self.trace, plots=self.plots, title=self.title)
            if isinstance(summary.get("plots"), str):
                self.log(f"plots {summary['plots']}")
            self.log(f"run record: {record.path}")
        for cb in self.callbacks:
            cb.on_summary(self, summary)
        return FitResult(history=self.history, evals=self.evals, monitor=self.monitor, best_epoch=self.best_epoch,
                         best_score=self.best_score, test=test, status=self.status, stop_reason=self.stop_reason,
                         epochs=self.epoch, steps=self.step, wall_time=wall, cpu_time=cpu,
                         run_dir=None if record is None else record.path, summary=summary)


def fit(model: Any, optimizer: Any, train: Any, dev: Any = None, *, epochs: int | None = None, test: Any = None,
        resume: str | Path | None = None, **options: Any) -> FitResult:
    """Train ``model`` on ``train``, select on ``dev``, evaluate ``test`` once.

    ``train``/``dev``/``test``: ``DataLoader``s, datasets or ``(X, y)`` array pairs
    (datasets are batched by ``batch_size``, shuffled without replacement each
    epoch from ``seed``).  Options (all keyword):

    * ``loss="cross_entropy"`` (a name of ``thalweg.train.LOSSES`` or a callable
      ``loss(output, target)``); ``metrics`` (default ``("accuracy",)`` for
      classification losses, none otherwise);
    * ``schedule``: a scheduler or a list of them, stepped per batch or per
      epoch according to its ``interval`` attribute; a ReduceLROnPlateau-like
      schedule receives the monitored figure;
    * ``callbacks``: EarlyStopping, ReduceLROnPlateau, ModelCheckpoint,
      GradientClipping, or your own ``Callback``; ``clip_grad_norm=`` is a shortcut;
    * ``monitor="auto"`` (``dev_accuracy``, else ``dev_loss``), ``mode``,
      ``min_delta``, ``restore_best=True``: model selection on the dev set;
    * ``evals_per_epoch=1``: evaluate the dev set that many times per epoch; ``eval_every``: also every
      that many optimizer steps;
    * ``max_steps``: stop after that many optimizer steps (``epochs`` may then be left out);
      ``stop_on_nonfinite=True``: stop at a NaN or infinite loss, before the update;
    * ``batch_fn(model, batch) -> (output, target)`` (or ``None`` to skip the batch): how one batch is
      run; ``train``/``dev``/``test`` are then iterables of raw batches, or functions of the epoch
      (1, 2, ...) that return one; ``loss(output, target)`` may ignore a ``None`` target;
    * ``seed``: seeds the run's generator (dropout) and the shuffling;
    * ``run_dir`` and ``config``: write a run record there;
    * ``resume``: a checkpoint file or a run directory (its ``checkpoints/last.npz``);
      ``epochs`` is then the total, including the epochs already done;
    * ``verbose``, ``progress`` (``"auto"``: a per-batch bar with the running loss on a terminal, none
      when the output is a file or a pipe or ``CI`` is set; ``True``/``False`` force it), ``log``.
    """
    return Trainer(model, optimizer, **options).fit(train, dev, epochs=epochs, test=test, resume=resume)
