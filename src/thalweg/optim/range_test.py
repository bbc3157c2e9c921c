"""The LR range test of the CLR paper (Smith, arXiv:1506.01186, section 3.3).

Train for a short run while the learning rate rises from a low to a high
value, recording the loss (and accuracy) at each step, then read the bounds off
the curve: the paper's ``base_lr`` is where the model starts to learn (the
accuracy starts to rise, the loss to fall) and ``max_lr`` where learning
slows, becomes ragged or turns bad.  The paper raises the rate linearly; an
exponential sweep (``mode="exp"``) covers several decades in one run.

Suggestion rule used here (on the smoothed curve; accuracy if recorded, else
loss, "improvement" meaning accuracy up or loss down):

* ``max_lr``: the learning rate at the best point of the curve (the minimum
  smoothed loss / the maximum smoothed accuracy), after which the curve stops
  improving;
* ``base_lr``: the first learning rate at which the curve has covered 10 % of
  its total improvement from the first point to the best one, i.e. where it
  clearly starts to improve.

Both are ``None`` if the curve never improves.  The model's weights, training
mode and gradients and the optimizer's state and learning rates are restored
afterwards, so the test can be run before the real training.  The steps are
the core's training loop (``thalweg.train.Trainer`` with ``max_steps``), with
the sweep as a callback that sets each step's rate and stops at divergence.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

from ..autograd.tensor import Tensor
# The range test runs the one training loop, so this file sits on the loop's floor although it lives in
# ``optim`` (torch-like ``optim.lr_range_test``): ``optim`` loads it on first use, never at import.
from ..train.callbacks import Callback
from ..train.loop import Trainer

__all__ = ["LRRangeTestResult", "lr_range_test"]


@dataclass
class LRRangeTestResult:
    """The recorded curves and the suggested bounds; every curve is a NumPy array, ready to plot.

    ``plt.plot(r.lrs, r.smoothed_losses); plt.axvline(r.base_lr); plt.axvline(r.max_lr)``
    (use a log x-axis for ``mode="exp"``).
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed_losses: np.ndarray
    accuracies: np.ndarray | None
    smoothed_accuracies: np.ndarray | None
    base_lr: float | None
    max_lr: float | None
    mode: str
    diverged: bool
    rule: str = field(default="max_lr: best point of the smoothed curve; base_lr: first point with 10% of the "
                              "total improvement")

    def as_dict(self) -> dict[str, Any]:
        """Plain lists and numbers (JSON-friendly)."""
        def plain(a: Any) -> Any:
            return None if a is None else np.asarray(a).tolist()

        return {"lrs": plain(self.lrs), "losses": plain(self.losses), "smoothed_losses": plain(self.smoothed_losses),
                "accuracies": plain(self.accuracies), "smoothed_accuracies": plain(self.smoothed_accuracies),
                "base_lr": self.base_lr, "max_lr": self.max_lr, "mode": self.mode, "diverged": self.diverged,
                "rule": self.rule}


def _lr_sequence(start_lr: float, end_lr: float, num_iters: int, mode: str) -> np.ndarray:
    if mode == "linear":
        return np.linspace(start_lr, end_lr, num_iters)
    if start_lr <= 0:
        raise ValueError(f"lr_range_test: mode='exp' needs start_lr > 0, got {start_lr}")
    return np.geomspace(start_lr, end_lr, num_iters)


def _smooth(values: list[float], weight: float) -> np.ndarray:
    """``s_0 = v_0``, ``s_i = weight * v_i + (1 - weight) * s_{i-1}`` (weight 1 = no smoothing)."""
    out, s = [], None
    for v in values:
        s = v if s is None else weight * v + (1.0 - weight) * s
        out.append(s)
    return np.asarray(out, dtype=np.float64)


def suggest_bounds(lrs: np.ndarray, curve: np.ndarray, *, higher_is_better: bool,
                   fraction: float = 0.1) -> tuple[float | None, float | None]:
    """``(base_lr, max_lr)`` from a smoothed curve by the rule in the module docstring."""
    c = np.asarray(curve, dtype=np.float64)
    finite = np.isfinite(c)
    if not finite.any():
        return None, None
    score = np.where(finite, c if higher_is_better else -c, -np.inf)
    best = int(np.argmax(score))
    gain = score[best] - score[0]
    if best == 0 or not gain > 0:
        return None, None
    first = int(np.argmax(score[: best + 1] >= score[0] + fraction * gain))
    return float(lrs[first]), float(lrs[best])


def _batches(data: Iterable[Any]) -> Any:
    """Yield batches forever, re-iterating ``data`` when it is exhausted (a one-shot iterator just ends)."""
    while True:
        it = iter(data)
        empty = True
        for batch in it:
            empty = False
            yield batch
        if empty or it is data:
            return


def _as_input(x: Any) -> Any:
    return Tensor(x) if isinstance(x, np.ndarray) else x


class _Sweep(Callback):
    """The range test as a callback of the training loop: set each step's rate, record, stop at divergence."""

    def __init__(self, optimizer: Any, schedule: np.ndarray, ratios: list[float], smooth: float,
                 diverge_threshold: float, accuracy_fn: Callable[[Any, Any], float] | None) -> None:
        self.optimizer, self.schedule, self.ratios = optimizer, schedule, ratios
        self.smooth, self.diverge_threshold, self.accuracy_fn = smooth, diverge_threshold, accuracy_fn
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.accs: list[float] = []
        self.diverged = False
        self.best = math.inf
        self.smoothed: float | None = None
        self.last: tuple[Any, Any] | None = None

    def run_batch(self, model: Any, batch: Any) -> tuple[Any, Any]:
        x, y = batch
        output, target = model(_as_input(x)), _as_input(y)
        self.last = (output, target)
        return output, target

    def on_after_backward(self, trainer: Any) -> None:
        lr = float(self.schedule[trainer.step])
        for group, r in zip(self.optimizer.param_groups, self.ratios):
            group["lr"] = lr * r

    def on_train_batch_end(self, trainer: Any, logs: dict[str, Any]) -> None:
        value = float(logs["loss"])
        self.lrs.append(float(self.schedule[trainer.step - 1]))
        self.losses.append(value)
        if self.accuracy_fn is not None and self.last is not None:
            self.accs.append(float(self.accuracy_fn(*self.last)))
        s = self.smoothed
        self.smoothed = value if s is None else self.smooth * value + (1.0 - self.smooth) * s
        if not math.isfinite(self.smoothed) or self.smoothed > self.diverge_threshold * self.best:
            self.diverged = True
            trainer.stop("the smoothed loss diverged", now=True)
        else:
            self.best = min(self.best, self.smoothed)


def lr_range_test(model: Any, loss_fn: Callable[[Any, Any], Tensor], optimizer: Any, data: Iterable[Any],
                  start_lr: float, end_lr: float, num_iters: int = 100, *, mode: str = "linear",
                  smooth: float = 0.05, diverge_threshold: float = 5.0,
                  accuracy_fn: Callable[[Any, Any], float] | None = None) -> LRRangeTestResult:
    """Run the LR range test and return the curves and suggested ``base_lr`` / ``max_lr``.

    Args:
        model: called as ``model(x)`` on each batch ``(x, y)`` of ``data``.
        loss_fn: ``loss_fn(output, y)`` -> a scalar tensor.
        optimizer: a thalweg optimizer over the model's parameters; every
            group's lr is set at each step, keeping the groups' ratios to the
            first group.
        data: an iterable of ``(x, y)`` batches (a DataLoader is re-iterated as
            needed; a plain iterator ends the test when exhausted).
        start_lr, end_lr, num_iters: the sweep (``end_lr`` reached at the last step).
        mode: ``"linear"`` (the paper) or ``"exp"`` (geometric).
        smooth: weight of the newest value in the exponential smoothing of the
            curves (1 = none).
        diverge_threshold: stop once the smoothed loss exceeds this multiple
            of its best value so far (or is not finite).
        accuracy_fn: ``accuracy_fn(output, y)`` -> a float; when given, the
            suggestion uses the accuracy curve, as the paper does.
    """
    if mode not in ("linear", "exp"):
        raise ValueError(f"lr_range_test: mode must be 'linear' or 'exp', got {mode!r}")
    if not (start_lr >= 0 and end_lr > start_lr):
        raise ValueError(f"lr_range_test: need 0 <= start_lr < end_lr, got start_lr={start_lr}, end_lr={end_lr}")
    if int(num_iters) < 2:
        raise ValueError(f"lr_range_test: num_iters must be at least 2, got {num_iters}")
    if not 0.0 < smooth <= 1.0:
        raise ValueError(f"lr_range_test: smooth must be in (0, 1], got {smooth}")
    if not diverge_threshold > 1.0:
        raise ValueError(f"lr_range_test: diverge_threshold must be > 1, got {diverge_threshold}")
    schedule = _lr_sequence(float(start_lr), float(end_lr), int(num_iters), mode)
    ref = float(optimizer.param_groups[0]["lr"]) or 1.0
    ratios = [float(g["lr"]) / ref if ref else 1.0 for g in optimizer.param_groups]

    params = list(model.parameters()) if hasattr(model, "parameters") else []
    saved_model = {k: np.array(v, copy=True) for k, v in model.state_dict().items()} if hasattr(
        model, "state_dict") else None
    saved_grads = [None if p.grad is None else p.grad.array.copy() for p in params]
    saved_opt = optimizer.state_dict()
    was_training = getattr(model, "training", None)

    sweep = _Sweep(optimizer, schedule, ratios, smooth, diverge_threshold, accuracy_fn)
    if iter(data) is data:  # a one-shot iterator: take no more than the sweep needs
        data = itertools.islice(data, len(schedule))
    try:
        Trainer(model, optimizer, loss=loss_fn, metrics=(), restore_best=False, batch_fn=sweep.run_batch,
                max_steps=len(schedule), stop_on_nonfinite=False, callbacks=[sweep], verbose=False,
                progress=False).fit(data)
    finally:
        if saved_model is not None:
            model.load_state_dict(saved_model)
        for p, g in zip(params, saved_grads):
            p.grad = g
        optimizer.load_state_dict(saved_opt)
        if was_training is not None:
            model.train(was_training)
    lrs, losses, accs, diverged = sweep.lrs, sweep.losses, sweep.accs, sweep.diverged

    lr_arr = np.asarray(lrs, dtype=np.float64)
    sm_loss = _smooth(losses, smooth)
    acc_arr = np.asarray(accs, dtype=np.float64) if accuracy_fn is not None else None
    sm_acc = _smooth(accs, smooth) if accuracy_fn is not None else None
    if len(lrs) < 2:
        base, peak = None, None
    elif sm_acc is not None:
        base, peak = suggest_bounds(lr_arr, sm_acc, higher_is_better=True)
    else:
        base, peak = suggest_bounds(lr_arr, sm_loss, higher_is_better=False)
    return LRRangeTestResult(lrs=lr_arr, losses=np.asarray(losses, dtype=np.float64), smoothed_losses=sm_loss,
                             accuracies=acc_arr, smoothed_accuracies=sm_acc, base_lr=base, max_lr=peak, mode=mode,
                             diverged=diverged)
