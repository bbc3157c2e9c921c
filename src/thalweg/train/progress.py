"""What the loop prints: one line per epoch, and a progress bar on a terminal only.

The lecture's list of what to show at each epoch: the mean loss, the
accuracy on the training data, the accuracy on the dev data, and timing
(here also the learning rate).  The bar uses ``tqdm`` when it is installed
and the output is a terminal; in CI and in log files only the lines appear.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["format_seconds", "format_epoch_line", "format_eval_line", "progress_bar", "percent"]


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
    if "dev_loss" in row:
        parts.append(f"dev_loss {row['dev_loss']:.4f}")
    for m in metric_names:
        k = f"dev_{m}"
        if k in row:
            parts.append(f"dev_{m.replace('accuracy', 'acc')} {_fmt(k, row[k])}")
    parts.append(f"lr {row['lr']:.2e}")
    parts.append(format_seconds(row["time"]))
    return "  ".join(parts) + ("  *" if best else "")


def format_eval_line(logs: dict[str, Any], metric_names: list[str], *, best: bool = False) -> str:
    """The line of an evaluation in the middle of an epoch."""
    parts = [f"  @ epoch {logs['epoch']:.2f}  step {logs['step']}"]
    if "dev_loss" in logs:
        parts.append(f"dev_loss {logs['dev_loss']:.4f}")
    for m in metric_names:
        k = f"dev_{m}"
        if k in logs:
            parts.append(f"dev_{m.replace('accuracy', 'acc')} {_fmt(k, logs[k])}")
    return "  ".join(parts) + ("  *" if best else "")


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, *, desc: str, initial: int = 0, enabled: bool | str = "auto") -> Any:
    """A ``tqdm`` bar when ``enabled`` (``"auto"``: stderr is a terminal and tqdm is installed), else a no-op."""
    if enabled == "auto":
        enabled = bool(getattr(sys.stderr, "isatty", lambda: False)())
    if not enabled:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, initial=initial, desc=desc, leave=False, unit="batch", dynamic_ncols=True)
