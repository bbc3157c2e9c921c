"""``TensorBoard``: a ``fit`` callback writing the run as TensorBoard event files.

What is logged, under TensorBoard's usual tags::

    step/loss, step/lr, step/grad_norm          every ``log_every_n_steps`` optimizer steps
    epoch/loss, epoch/train_accuracy, epoch/dev_loss, epoch/dev_accuracy, epoch/lr, ...   each epoch
    grad_norm/<parameter>                       each epoch (from the epoch's last step)
    weights/<parameter>                         histograms, every ``histogram_every_n_epochs`` epochs
    test/<figure>, config (text)                at the end

A resumed run passes ``purge_step`` = the resumed step to the writer, so the
curves continue from the checkpoint without the steps the crash repeated.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import distributed as _dist
from ..callbacks import Callback

if TYPE_CHECKING:  # pragma: no cover
    from ..loop import Trainer

__all__ = ["TensorBoard"]


def _grad_array(p: Any) -> np.ndarray | None:
    g = p.grad
    if g is None:
        return None
    return np.asarray(getattr(g, "array", g))


class TensorBoard(Callback):
    """Log a ``fit`` run for TensorBoard; ``log_dir`` defaults to ``<run_dir>/tensorboard`` (or ``runs/``)."""

    def __init__(self, log_dir: str | os.PathLike[str] | None = None, *, log_every_n_steps: int = 10,
                 histogram_every_n_epochs: int = 1, flush_secs: int = 30) -> None:
        for name, v in (("log_every_n_steps", log_every_n_steps),
                        ("histogram_every_n_epochs", histogram_every_n_epochs)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"TensorBoard: {name} must be a non-negative integer (0 = never), got {v!r}")
        self.log_dir = None if log_dir is None else Path(log_dir)
        self.log_every_n_steps = log_every_n_steps
        self.histogram_every_n_epochs = histogram_every_n_epochs
        self.flush_secs = flush_secs
        self.writer: Any = None
        self._grad_norm: float | None = None
        self._param_norms: dict[str, float] = {}

    def on_fit_start(self, trainer: "Trainer") -> None:
        if not _dist.is_main():
            return
        from ...utils.tensorboard import SummaryWriter

        if self.log_dir is None:
            self.log_dir = Path(trainer.run_dir) / "tensorboard" if trainer.run_dir is not None else None
        self.writer = SummaryWriter(self.log_dir, purge_step=trainer.step if trainer.step > 0 else None,
                                    flush_secs=self.flush_secs)
        self.log_dir = Path(self.writer.get_logdir())

    def on_after_backward(self, trainer: "Trainer") -> None:
        if self.writer is None:
            return
        due = self.log_every_n_steps and (trainer.step + 1) % self.log_every_n_steps == 0
        last = trainer.train_loader is not None and (
            trainer._in_epoch is not None and trainer._in_epoch["batches"] + 1 == len(trainer.train_loader))
        if not (due or last):
            return
        total = 0.0
        norms = {}
        for name, p in trainer.model.named_parameters():
            g = _grad_array(p)
            if g is not None:
                sq = float(np.sum(np.square(g, dtype=np.float64)))
                norms[name] = math.sqrt(sq)
                total += sq
        self._grad_norm = math.sqrt(total)
        self._param_norms = norms

    def on_train_batch_end(self, trainer: "Trainer", logs: dict[str, Any]) -> None:
        if self.writer is None or not self.log_every_n_steps or logs["step"] % self.log_every_n_steps:
            return
        step = int(logs["step"])
        self.writer.add_scalar("step/loss", logs["loss"], step)
        self.writer.add_scalar("step/lr", logs["lr"], step)
        if self._grad_norm is not None:
            self.writer.add_scalar("step/grad_norm", self._grad_norm, step)

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict[str, Any]) -> None:
        if self.writer is None:
            return
        for k, v in logs.items():
            if k not in ("epoch", "step", "best") and isinstance(v, (int, float)) and not isinstance(v, bool) \
                    and math.isfinite(v):
                self.writer.add_scalar(f"epoch/{k}", v, epoch)
        for name, n in self._param_norms.items():
            self.writer.add_scalar(f"grad_norm/{name}", n, epoch)
        if self.histogram_every_n_epochs and epoch % self.histogram_every_n_epochs == 0:
            for name, p in trainer.model.named_parameters():
                arr = np.asarray(p.array)
                if arr.size and np.isfinite(arr).all():
                    self.writer.add_histogram(f"weights/{name}", arr, epoch)
        self.writer.flush()

    def on_summary(self, trainer: "Trainer", summary: dict[str, Any]) -> None:
        if self.writer is None:
            return
        for k, v in (summary.get("test") or {}).items():
            if isinstance(v, (int, float)) and math.isfinite(v):
                self.writer.add_scalar(f"test/{k}", v, trainer.epoch)
        if trainer.config:
            text = json.dumps(trainer.config, indent=2, default=str)
            self.writer.add_text("config", "```\n" + text + "\n```", trainer.epoch)
        self.close()

    def on_fit_end(self, trainer: "Trainer") -> None:
        if self.writer is not None:
            self.writer.flush()

    def on_exception(self, trainer: "Trainer", exc: BaseException) -> None:
        self.close()  # what was logged up to the error stays readable

    def close(self) -> None:
        """Flush and close the event file (done at the end of ``fit``)."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
