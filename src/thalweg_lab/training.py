"""A step-counted training loop for experiments that measure *during* training.

A reproduction needs a budget in optimizer steps, dev figures at fixed step
intervals (to count the iterations a policy needs to reach an accuracy), a
hook between ``backward()`` and ``step()`` (to read each layer's gradient) and
the final weights rather than the best ones.  ``train`` asks exactly that of
the core's one training loop (``thalweg.train.Trainer`` with ``max_steps``,
``restore_best=False`` and a callback), with the library's own pieces: the
``DataLoader`` (shuffling without replacement, reshuffled each epoch), the
fused ``cross_entropy``, any ``thalweg.optim`` optimizer and per-step schedule.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from thalweg import random as _random
from thalweg.autograd.grad_mode import no_grad
from thalweg.autograd.tensor import Tensor
from thalweg.data import DataLoader, TensorDataset
from thalweg.nn import functional as F
from thalweg.train import Callback, ScheduleCallback, Trainer
from thalweg.train.progress import progress_bar

__all__ = ["TrainLog", "train", "evaluate", "predict", "param_norm", "first_step_reaching", "seed_everything"]


@dataclass
class TrainLog:
    """What ``train`` recorded.

    ``loss`` and ``lr``: one value per step (the learning rate used by that
    step).  ``eval_steps``: the steps after which the dev set was evaluated
    (step 0 is the initial model); ``evals[key]`` the figures there
    (``dev_accuracy``, ``dev_loss``, plus whatever ``on_eval`` returned).
    """

    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    evals: dict[str, list[float]] = field(default_factory=dict)
    diverged: bool = False
    stopped_early: bool = False
    seconds: float = 0.0

    @property
    def steps(self) -> int:
        return len(self.loss)

    def final(self, key: str) -> float:
        vals = self.evals.get(key, [])
        return float(vals[-1]) if vals else math.nan

    def smoothed_loss(self, window: int = 50) -> np.ndarray:
        """Mean of the last ``window`` step losses at each step (a readable training curve)."""
        x = np.asarray(self.loss, dtype=np.float64)
        if len(x) == 0:
            return x
        c = np.cumsum(np.insert(x, 0, 0.0))
        idx = np.arange(1, len(x) + 1)
        lo = np.maximum(idx - window, 0)
        return (c[idx] - c[lo]) / (idx - lo)


def first_step_reaching(steps: list[int] | np.ndarray, values: list[float] | np.ndarray, target: float) -> float:
    """The first step whose value is ``>= target`` (``inf`` if never): "iterations to reach an accuracy"."""
    for s, v in zip(steps, values):
        if v >= target:
            return float(s)
    return math.inf


def evaluate(model: Any, x: np.ndarray, y: np.ndarray, *, batch_size: int = 2000) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``(x, y)``, in eval mode, without a graph."""
    was_training = getattr(model, "training", False)
    model.eval()
    total_loss, correct = 0.0, 0
    try:
        with no_grad():
            for i in range(0, len(y), batch_size):
                xb, yb = x[i:i + batch_size], y[i:i + batch_size]
                out = model(Tensor(xb))
                total_loss += float(F.cross_entropy(out, Tensor(yb), reduction="sum").array)
                correct += int((out.array.argmax(axis=1) == yb).sum())
    finally:
        model.train(was_training)
    n = max(len(y), 1)
    return total_loss / n, correct / n


def predict(model: Any, x: np.ndarray, *, batch_size: int = 2000) -> np.ndarray:
    """Arg-max class of each row of ``x`` (eval mode, no graph)."""
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        with no_grad():
            out = [model(Tensor(x[i:i + batch_size])).array.argmax(axis=1) for i in range(0, len(x), batch_size)]
    finally:
        model.train(was_training)
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def param_norm(model: Any) -> float:
    """Euclidean norm of all parameters together."""
    return float(math.sqrt(sum(float(np.sum(np.square(p.array, dtype=np.float64))) for p in model.parameters())))


def train(model: Any, optimizer: Any, x: np.ndarray, y: np.ndarray, *, steps: int, batch_size: int, seed: int,
          schedule: Any = None, dev: tuple[np.ndarray, np.ndarray] | None = None, eval_every: int | None = None,
          after_backward: Callable[[int], None] | None = None,
          on_eval: Callable[[int], dict[str, float]] | None = None,
          until: Callable[[dict[str, float]], bool] | None = None, stop_on_nan: bool = True) -> TrainLog:
    """Train for ``steps`` optimizer steps on minibatches of ``(x, y)``; return the log.

    Args:
        schedule: a per-step learning-rate schedule (``.step()`` after each
            optimizer step), or None.
        dev, eval_every: evaluate ``dev`` at step 0 and every ``eval_every``
            steps (and after the last step).
        after_backward: ``after_backward(step)`` between ``backward()`` and
            ``optimizer.step()``; the parameters' ``.grad`` are this step's.
        on_eval: ``on_eval(step) -> {name: value}`` extra figures recorded at
            each evaluation (parameter norm, training accuracy, ...).
        until: ``until(figures) -> bool`` is asked after each evaluation with
            its figures; True stops training there (``log.stopped_early``).
        stop_on_nan: stop (``log.diverged = True``) at a non-finite loss.

    The shuffling order comes from ``seed``; dropout masks come from the
    run's default generator (seed it with ``tw.manual_seed`` before building
    the model).
    """
    if steps < 0 or batch_size <= 0:
        raise ValueError(f"lab train: steps must be >= 0 and batch_size > 0, got {steps}, {batch_size}")
    log = TrainLog()
    loader = DataLoader(TensorDataset(x, y), batch_size=min(batch_size, len(y)), shuffle=True,
                        drop_last=len(y) >= batch_size, seed=int(seed))
    t0 = time.perf_counter()

    def evaluate_now(step: int) -> bool:
        figures: dict[str, float] = {}
        if dev is not None:
            figures["dev_loss"], figures["dev_accuracy"] = evaluate(model, *dev)
        if on_eval is not None:
            figures.update(on_eval(step))
        if figures:
            log.eval_steps.append(step)
            for k, v in figures.items():
                log.evals.setdefault(k, []).append(float(v))
        return until is not None and until(figures)

    if eval_every and evaluate_now(0):
        log.stopped_early = True
        steps = 0
    if steps > 0:
        trainer = Trainer(model, optimizer, loss="cross_entropy", metrics=(), restore_best=False,
                          schedule=None if schedule is None else ScheduleCallback(schedule, interval="step"),
                          callbacks=[_LabHooks(steps, eval_every, after_backward, evaluate_now, log)],
                          max_steps=steps, verbose=False, progress=False, stop_on_nonfinite=stop_on_nan)
        result = trainer.fit(loader)
        log.loss, log.lr = list(trainer.trace["loss"]), list(trainer.trace["lr"])
        log.diverged = result.status == "diverged"
    if eval_every and log.diverged:
        evaluate_now(log.steps)
    log.seconds = time.perf_counter() - t0
    return log


class _LabHooks(Callback):
    """The lab loop's hooks on the shared loop: read the gradients, evaluate every ``eval_every`` steps, stop."""

    def __init__(self, steps: int, eval_every: int | None, after_backward: Callable[[int], None] | None,
                 evaluate_now: Callable[[int], bool], log: TrainLog) -> None:
        self.steps, self.eval_every, self.after_backward = steps, eval_every, after_backward
        self.evaluate_now, self.log = evaluate_now, log
        self.bar: Any = None

    def on_fit_start(self, trainer: Trainer) -> None:
        self.bar = progress_bar(self.steps, desc="lab train", unit="step")  # on a terminal only (not in CI or a log)

    def on_fit_end(self, trainer: Trainer) -> None:
        self.bar.close()

    def on_after_backward(self, trainer: Trainer) -> None:
        if self.after_backward is not None:
            self.after_backward(trainer.step)

    def on_train_batch_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        step = trainer.step
        self.bar.set_postfix_str(f"loss {logs['loss']:.4f}", refresh=False)
        self.bar.update(1)
        if self.eval_every and (step % self.eval_every == 0 or step == self.steps) and self.evaluate_now(step):
            self.log.stopped_early = True
            trainer.stop(f"stopped at step {step}: the experiment's condition holds", now=True)


def seed_everything(seed: int) -> None:
    """Seed the library's default generator (initializations, dropout)."""
    _random.manual_seed(int(seed))


def over_seeds(cfg: dict[str, Any], seed: int, runs_per_seed: int, desc: str,
               one_seed: Callable[[dict[str, Any], int, dict[str, Any], Any], tuple[Any, Any]]
               ) -> tuple[list[int], dict[str, Any], Any, list[Any]]:
    """Run ``one_seed(cfg, s, measured, bar)`` for ``cfg["seeds"]`` seeds ``seed * 1000 + k`` under one progress bar.

    ``one_seed`` appends its figures to the shared ``measured`` dict (one list entry per seed) and ticks the
    bar once per run (``runs_per_seed`` runs).  Returns the seeds, ``measured``, the last seed's data and every
    seed's logs.
    """
    seeds = [seed * 1000 + k for k in range(cfg["seeds"])]
    measured: dict[str, Any] = {"seeds": len(seeds)}
    all_logs: list[Any] = []
    bar = progress_bar(len(seeds) * runs_per_seed, desc=desc, unit="run")
    data = None
    for s in seeds:
        data, logs = one_seed(cfg, s, measured, bar)
        all_logs.append(logs)
    bar.close()
    return seeds, measured, data, all_logs

