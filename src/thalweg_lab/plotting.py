"""Plots for lab reports, with matplotlib optional.

``figure(...)`` gives a matplotlib ``Figure`` and its axes through the object
API (no ``pyplot``, no global state, no display needed); ``save(fig, path)``
writes a PNG atomically.  ``plot_into(result, path, draw)`` is what
experiments call: it runs ``draw(path)`` and records the file in the result,
or, when matplotlib is missing, records why the plot was skipped so the
report says so.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Callable

import numpy as np

from thalweg.fileio import atomic_write_bytes
from thalweg.train.plots import PlotsUnavailable  # one exception for "matplotlib is not installed" in the library
from thalweg_lab.result import LabResult

__all__ = ["PlotsUnavailable", "plots_available", "figure", "save", "plot_into", "COLORS"]

# A colour per curve, enough for the twelve optimizers of the survey.
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
          "#17becf", "#000000", "#aec7e8", "#ffbb78", "#98df8a")


def plots_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def figure(nrows: int = 1, ncols: int = 1, *, width: float = 5.5, height: float = 4.0) -> tuple[Any, np.ndarray]:
    """A figure with an ``(nrows, ncols)`` array of axes."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotsUnavailable("matplotlib is not installed (pip install 'thalweg[plot]')") from None
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.empty((nrows, ncols), dtype=object)
    for i in range(nrows):
        for j in range(ncols):
            axes[i, j] = fig.add_subplot(nrows, ncols, i * ncols + j + 1)
    return fig, axes


def save(fig: Any, path: str | Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` (temporary file, then rename)."""
    path = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return atomic_write_bytes(path, buf.getvalue())


def plot_into(result: LabResult, path: str | Path, draw: Callable[[Path], Any]) -> Path | None:
    """Call ``draw(path)`` (which builds a figure and ``save``\\ s it); record the plot or why it was skipped."""
    path = Path(path)
    try:
        draw(path)
    except PlotsUnavailable as e:
        note = str(e)
        if note not in result.plot_notes:
            result.plot_notes.append(note)
        return None
    result.plots.append(path)
    return path
