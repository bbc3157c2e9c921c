"""What the loop prints: one line per epoch, and a per-batch progress bar on a terminal.

The lecture's list of what to show at each epoch: the mean loss, the
accuracy on the training data, the accuracy on the dev data, and timing
(here also the learning rate).  During an epoch a Keras-style ``tqdm`` bar
(a core dependency) shows the batches done, the rate and the running loss;
at the epoch's end the bar gives way to the epoch's line with its metrics.
When the output is not a terminal (a log file, a pipe) or the ``CI``
environment variable is set, only the lines appear: one line per epoch.
``progress=False`` turns the bar off everywhere; ``progress=True`` forces it.
"""

from __future__ import annotations

import os
import sys
from typing import IO, Any

__all__ = ["format_seconds", "format_epoch_line", "format_eval_line", "progress_bar", "progress_enabled", "percent",
           "format_running"]


def format_seconds(t: float) -> str:
    """``12ms``, ``3.4s``, ``2m05s``."""
    if t < 1.0:
        return f"{1000 * t:.0f}ms"
    if t < 60.0:
        return f"{t:.1f}s"
    return f"{int(t // 60)}m{int(t % 60):02d}s"


def percent(v: float) -> str:
    return f"{100.0 * v:6.2f}%"


def _fmt(key: str, v: Any) -> str:
    if "accuracy" in key:
        return percent(v).strip()
    return f"{v:.4f}"


def format_epoch_line(row: dict[str, Any], epochs: int, metric_names: list[str], *, best: bool = False) -> str:
    """``epoch  3/20  loss 0.2345  acc 93.41%  dev_loss 0.2101  dev_acc 94.20%  lr 1.00e-02  1.2s *``"""
    width = len(str(epochs))
    parts = [f"epoch {row['epoch']:>{width}}/{epochs}", f"loss {row['loss']:.4f}"]
    for m in metric_names:
        k = f"train_{m}"
        if k in row:
            parts.append(f"{m.replace('accuracy', 'acc')} {_fmt(k, row[k])}")
    parts += _dev_parts(row, metric_names)
    parts.append(f"lr {row['lr']:.2e}")
    parts.append(format_seconds(row["time"]))
    return "  ".join(parts) + ("  *" if best else "")


def _dev_parts(logs: dict[str, Any], metric_names: list[str]) -> list[str]:
    """``dev_loss 0.1234  dev_acc 97.10%``: the dev figures of a row, as the epoch and evaluation lines show them."""
    parts = [f"dev_loss {logs['dev_loss']:.4f}"] if "dev_loss" in logs else []
    for m in metric_names:
        k = f"dev_{m}"
        if k in logs:
            parts.append(f"dev_{m.replace('accuracy', 'acc')} {_fmt(k, logs[k])}")
    return parts


def format_running(means: dict[str, float]) -> str:
    """The bar's postfix: the running mean loss and metrics of the epoch so far (``loss 0.2345  acc 93.41%``)."""
    parts = [f"loss {means['loss']:.4f}"] if "loss" in means else []
    for k, v in means.items():
        if k.startswith("train_"):
            parts.append(f"{k[len('train_'):].replace('accuracy', 'acc')} {_fmt(k, v)}")
    return "  ".join(parts)


def format_eval_line(logs: dict[str, Any], metric_names: list[str], *, best: bool = False) -> str:
    """The line of an evaluation in the middle of an epoch."""
    parts = [f"  @ epoch {logs['epoch']:.2f}  step {logs['step']}", *_dev_parts(logs, metric_names)]
    return "  ".join(parts) + ("  *" if best else "")


class _NoBar:
    """Stands in for a bar when progress is off: every call does nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str, refresh: bool = True) -> None:
        pass

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> "_NoBar":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


def progress_enabled(enabled: bool | str = "auto", *, file: IO[str] | None = None) -> bool:
    """Whether to draw a bar: ``"auto"`` means the output is a terminal and ``CI`` is not set."""
    if enabled == "auto":
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            return False
        stream = file if file is not None else sys.stderr
        return bool(getattr(stream, "isatty", lambda: False)())
    if not isinstance(enabled, bool):
        raise ValueError(f"progress must be True, False or 'auto', got {enabled!r}")
    return enabled


def progress_bar(total: int | None, *, desc: str, initial: int = 0, enabled: bool | str = "auto",
                 unit: str = "batch", leave: bool = False, file: IO[str] | None = None,
                 unit_scale: bool = False) -> Any:
    """A ``tqdm`` bar when progress is on (see ``progress_enabled``), else a no-op with the same methods."""
    if not progress_enabled(enabled, file=file):
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is a core dependency; a broken install still trains, without a bar
        return _NoBar()
    return tqdm(total=total, initial=initial, desc=desc, leave=leave, unit=unit, dynamic_ncols=True,
                file=file, unit_scale=unit_scale, unit_divisor=1024 if unit_scale else 1000)
