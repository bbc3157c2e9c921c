"""PNG figures for pruning: layer sensitivity, and weight histograms before and after (the paper's Figure 7).

matplotlib is optional: without it these raise ``PlotsUnavailable`` (the
training package's exception), and the data behind each figure is still
available as arrays (``weight_histograms``, ``Sensitivity.scores``).  The
object API is used (no ``pyplot``), so no global state changes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..autograd.tensor import Tensor
from ..backend import to_numpy

__all__ = ["WeightHistograms", "weight_histograms", "plot_weight_histograms", "plot_sensitivity", "new_figure",
           "save_figure"]


def new_figure(ncols: int = 1, *, width: float = 5.0, height: float = 3.8) -> tuple[Any, list[Any]]:
    """A matplotlib Figure with ``ncols`` axes on the Agg canvas (``PlotsUnavailable`` without matplotlib)."""
    from ..train.plots import PlotsUnavailable

    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotsUnavailable("matplotlib is not installed (pip install 'thalweg[plot]')") from None
    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]


def save_figure(fig: Any, path: str | Path) -> Path:
    from ..train.io import atomic_write

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return atomic_write(Path(path), lambda f: f.write(buf.getvalue()))


@dataclass
class WeightHistograms:
    """Counts of the non-zero weights of each stage over shared bin edges, and each stage's zero count."""

    edges: np.ndarray
    counts: dict[str, np.ndarray]
    zeros: dict[str, int]
    sizes: dict[str, int]


def weight_histograms(stages: Mapping[str, Any], *, bins: int = 81) -> WeightHistograms:
    """Histogram each stage's weights (e.g. ``{"dense": w0, "pruned": w1, "retrained": w2}``).

    Pruned connections (exact zeros) are not part of the network and are
    counted apart, so the "after" panels show the hole the pruning leaves
    around zero, as in the paper's Figure 7.
    """
    if not stages:
        raise ValueError("weight_histograms: no stages given")
    arrays = {k: np.asarray(to_numpy(v.array if isinstance(v, Tensor) else v), dtype=np.float64).ravel()
              for k, v in stages.items()}
    lim = max(float(np.abs(a).max()) if a.size else 0.0 for a in arrays.values()) or 1.0
    edges = np.linspace(-lim, lim, int(bins) + 1)
    counts = {k: np.histogram(a[a != 0], bins=edges)[0] for k, a in arrays.items()}
    zeros = {k: int(np.count_nonzero(a == 0)) for k, a in arrays.items()}
    return WeightHistograms(edges, counts, zeros, {k: int(a.size) for k, a in arrays.items()})


def plot_weight_histograms(stages: Mapping[str, Any] | WeightHistograms, path: str | Path, *, title: str = "",
                           bins: int = 81) -> Path:
    """One panel per stage, each with its own count scale (PNG)."""
    h = stages if isinstance(stages, WeightHistograms) else weight_histograms(stages, bins=bins)
    fig, axes = new_figure(len(h.counts), width=4.2, height=3.4)
    centers = 0.5 * (h.edges[1:] + h.edges[:-1])
    width = float(h.edges[1] - h.edges[0])
    for ax, (label, c) in zip(axes, h.counts.items()):
        ax.bar(centers, c, width=width, color="#3b6ea5")
        kept = h.sizes[label] - h.zeros[label]
        ax.set_title(f"{label}\n{kept:,} of {h.sizes[label]:,} weights non-zero", fontsize=9)
        ax.set_xlabel("weight value")
        ax.set_ylabel("count")
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def plot_sensitivity(sens: Any, path: str | Path, *, title: str = "") -> Path:
    fig, (ax,) = new_figure(1, width=6.0, height=4.0)
    for name, v in sens.scores.items():
        ax.plot(100 * sens.fractions, 100 * v, marker="o", ms=3, label=name)
    ax.axhline(100 * sens.baseline, color="grey", lw=0.8, ls="--", label="unpruned")
    ax.set_xlabel("weights of the layer pruned (%)")
    ax.set_ylabel(f"{sens.metric} (%)")
    ax.set_title(title or "pruning sensitivity, one layer at a time (no retraining)")
    ax.legend(fontsize=8)
    return save_figure(fig, path)
