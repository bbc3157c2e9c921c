"""PNG plots of a run, of a comparison and of an LR range test.

matplotlib is an optional extra (``pip install 'thalweg[plot]'``).  The
functions use its object API (``Figure`` + the Agg canvas), never ``pyplot``,
so they change no global state and need no display.  Without matplotlib they
raise ``PlotsUnavailable``, which callers turn into "plots skipped".
Files are written atomically.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any, Sequence

from .io import atomic_write

__all__ = ["PlotsUnavailable", "plots_available", "plot_run", "plot_compare", "plot_lr_find"]


class PlotsUnavailable(RuntimeError):
    """matplotlib is not installed."""


def plots_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(ncols: int = 1, *, width: float = 6.0, height: float = 4.0) -> tuple[Any, list[Any]]:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotsUnavailable("matplotlib is not installed (pip install 'thalweg[plot]')") from None
    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def _save(fig: Any, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return atomic_write(path, lambda f: f.write(buf.getvalue()))


def _log_if_wide(ax: Any, values: Sequence[float]) -> None:
    """Log scale when the positive values span more than a factor of 20."""
    v = [x for x in values if isinstance(x, (int, float)) and math.isfinite(x)]
    if v and min(v) > 0 and max(v) / min(v) > 20:
        ax.set_yscale("log")


def plot_run(out_dir: str | Path, history: list[dict[str, Any]], *, evals: list[dict[str, Any]] | None = None,
             steps: dict[str, Sequence[float]] | None = None, title: str = "") -> list[Path]:
    """``loss.png``, ``accuracy.png`` (if any accuracy was logged) and ``lr.png`` in ``out_dir``.

    ``steps`` holds per-step lists ``epoch`` (fractional position), ``loss`` and ``lr``.
    """
    out = Path(out_dir)
    paths: list[Path] = []
    epochs = [r["epoch"] for r in history]
    n_steps = len(steps["loss"]) if steps else 0

    fig, (ax,) = _figure()
    if steps and n_steps:
        ax.plot(steps["epoch"], steps["loss"], color="tab:blue", alpha=0.25, lw=0.8, label="train loss (per step)")
    mids = [e - 0.5 for e in epochs]  # a training figure is a mean over the epoch: plot it mid-epoch
    ax.plot(mids, [r["loss"] for r in history], "o-", color="tab:blue", label="train loss (epoch mean)")
    if any("dev_loss" in r for r in history):
        ax.plot(epochs, [r.get("dev_loss", math.nan) for r in history], "s-", color="tab:orange", label="dev loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    _log_if_wide(ax, [r["loss"] for r in history] + list(steps["loss"] if steps else []))
    ax.set_title(f"{title}: loss" if title else "loss")
    ax.grid(alpha=0.3)
    ax.legend()
    paths.append(_save(fig, out / "loss.png"))

    acc_keys = [k for k in ("train_accuracy", "dev_accuracy") if any(k in r for r in history)]
    if acc_keys:
        fig, (ax,) = _figure()
        for k, style in zip(acc_keys, ("o-", "s-")):
            xs = mids if k.startswith("train") else epochs
            label = "train accuracy (epoch mean)" if k.startswith("train") else "dev accuracy"
            ax.plot(xs, [100 * r.get(k, math.nan) for r in history], style, label=label)
        mid = [e for e in (evals or []) if "dev_accuracy" in e]
        if len(mid) > len(history):
            ax.plot([e["epoch"] for e in mid], [100 * e["dev_accuracy"] for e in mid], ".", color="tab:orange",
                    alpha=0.6, label="dev accuracy (within epochs)")
        best = [r for r in history if r.get("best")]
        if best and "dev_accuracy" in best[-1]:
            ax.axvline(best[-1]["epoch"], color="gray", ls=":", label=f"best dev (epoch {best[-1]['epoch']})")
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy (%)")
        ax.set_title(f"{title}: accuracy" if title else "accuracy")
        ax.grid(alpha=0.3)
        ax.legend()
        paths.append(_save(fig, out / "accuracy.png"))

    fig, (ax,) = _figure()
    if steps and n_steps:
        ax.plot(steps["epoch"], steps["lr"], color="tab:green")
    else:
        ax.plot(epochs, [r["lr"] for r in history], "o-", color="tab:green")
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.set_title(f"{title}: learning rate" if title else "learning rate")
    ax.grid(alpha=0.3)
    paths.append(_save(fig, out / "lr.png"))
    return paths


def plot_compare(path: str | Path, runs: dict[str, list[dict[str, Any]]], *, title: str = "") -> Path:
    """One figure, every run's curves: train loss, and dev accuracy (or dev loss) per epoch."""
    has_acc = any("dev_accuracy" in r for h in runs.values() for r in h)
    fig, (ax1, ax2) = _figure(2)
    for label, h in runs.items():
        ep = [r["epoch"] for r in h]
        line, = ax1.plot(ep, [r["loss"] for r in h], "-", label=label)
        key = "dev_accuracy" if has_acc else "dev_loss"
        scale = 100.0 if has_acc else 1.0
        ax2.plot(ep, [scale * r.get(key, math.nan) for r in h], "-", color=line.get_color(), label=label)
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("train loss")
    _log_if_wide(ax1, [r["loss"] for h in runs.values() for r in h])
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("dev accuracy (%)" if has_acc else "dev loss")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return _save(fig, Path(path))


def plot_lr_find(path: str | Path, lrs: Sequence[float], losses: Sequence[float], *,
                 accuracies: Sequence[float] | None = None, base_lr: float | None = None,
                 max_lr: float | None = None, title: str = "LR range test") -> Path:
    """Loss (and accuracy) against the learning rate, log scale, with the suggested bounds marked."""
    fig, (ax,) = _figure(width=7.0)
    ax.plot(lrs, losses, color="tab:blue", label="train loss (smoothed)")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    finite = [v for v in losses if math.isfinite(v)]
    if finite:
        lo, hi = min(finite), max(finite)
        ax.set_ylim(lo - 0.05 * (hi - lo + 1e-12), min(hi, 1.5 * finite[0]) + 0.05 * (hi - lo + 1e-12))
    handles = []
    if accuracies is not None:
        ax2 = ax.twinx()
        handles += ax2.plot(lrs, [100 * a for a in accuracies], color="tab:orange", alpha=0.7,
                            label="train accuracy (smoothed)")
        ax2.set_ylabel("accuracy (%)")
    for v, name, c in ((base_lr, "base_lr", "tab:green"), (max_lr, "max_lr", "tab:red")):
        if v is not None:
            ax.axvline(v, color=c, ls="--", label=f"{name} = {v:.2g}")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    own, labels = ax.get_legend_handles_labels()
    ax.legend(own + handles, labels + [h.get_label() for h in handles], loc="center left")
    return _save(fig, Path(path))
