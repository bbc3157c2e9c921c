"""Learning curves and a (gamma, lambda) heat map as PNG files (matplotlib, an optional extra).

The figures use matplotlib's object API (no pyplot state); without matplotlib
the functions raise ``PlotsUnavailable`` from ``thalweg.train.plots``, which
callers turn into "plots skipped".
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from thalweg.train.io import atomic_write
from thalweg.train.plots import PlotsUnavailable

__all__ = ["PlotsUnavailable", "plot_heatmap", "plot_learning_curves"]


def _figure(width: float = 6.5, height: float = 4.2) -> tuple[Any, Any]:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotsUnavailable("matplotlib is not installed (pip install 'thalweg[plot]')") from None
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def _save(fig: Any, path: str | Path) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return str(atomic_write(path, lambda f: f.write(buf.getvalue())))


def plot_learning_curves(curves: Mapping[str, Sequence[Sequence[Mapping[str, Any]]]], path: str | Path, *,
                         key: str = "mean_return", title: str = "", ylabel: str = "mean episode return") -> str:
    """One line per label: the mean over seeds of ``key`` against the iteration, with a +- 1 std band.

    ``curves[label]`` is a list of histories (one per seed), each a list of
    per-iteration dicts as :meth:`PolicyGradientTrainer.step` returns.
    """
    fig, ax = _figure()
    for label, runs in curves.items():
        runs = [r for r in runs if r]
        if not runs:
            continue
        n = min(len(r) for r in runs)
        y = np.array([[float(it[key]) for it in r[:n]] for r in runs])
        x = np.arange(1, n + 1)
        mean = y.mean(axis=0)
        line, = ax.plot(x, mean, lw=1.6, label=f"{label} ({len(runs)} seed{'s' if len(runs) > 1 else ''})")
        if len(runs) > 1:
            sd = y.std(axis=0)
            ax.fill_between(x, mean - sd, mean + sd, color=line.get_color(), alpha=0.12, lw=0)
    ax.set_xlabel("policy iteration")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_heatmap(values: np.ndarray, row_labels: Sequence[Any], col_labels: Sequence[Any], path: str | Path, *,
                 row_name: str = "gamma", col_name: str = "lambda", title: str = "",
                 colorbar: str = "mean return") -> str:
    """A grid of numbers (NaN cells left blank), lighter = higher, each cell annotated."""
    v = np.asarray(values, float)
    fig, ax = _figure(1.1 * len(col_labels) + 2.5, 0.6 * len(row_labels) + 2.0)
    im = ax.imshow(np.ma.masked_invalid(v), cmap="gray", aspect="auto", origin="lower")
    ax.set_xticks(range(len(col_labels)), [str(c) for c in col_labels])
    ax.set_yticks(range(len(row_labels)), [str(r) for r in row_labels])
    ax.set_xlabel(col_name)
    ax.set_ylabel(row_name)
    finite = v[np.isfinite(v)]
    mid = float(finite.mean()) if finite.size else 0.0
    for i in range(v.shape[0]):
        for j in range(v.shape[1]):
            if math.isfinite(v[i, j]):
                ax.text(j, i, f"{v[i, j]:.0f}", ha="center", va="center", fontsize=8,
                        color="black" if v[i, j] > mid else "white")
    fig.colorbar(im, ax=ax, label=colorbar)
    if title:
        ax.set_title(title)
    return _save(fig, path)
