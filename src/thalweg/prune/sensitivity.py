"""Per-layer pruning sensitivity (Han et al. 2015, the sensitivity figure of section 5).

Prune one layer at a time, by magnitude, to a range of fractions, and measure
the network's accuracy with every other layer intact and no retraining.  A
layer whose accuracy curve stays flat far to the right has many redundant
connections; a steep one (the paper: the first convolution, which sees the
raw image and has few weights) gets a low threshold.  The paper used these
curves to choose each layer's threshold; ``Sensitivity.max_fraction(tol)``
reads that choice off the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .masks import masks_of, resolve_layers
from .rules import magnitude_mask

__all__ = ["Sensitivity", "sensitivity_analysis", "DEFAULT_FRACTIONS"]

DEFAULT_FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


@dataclass
class Sensitivity:
    """``scores[layer][i]``: the metric with ``fractions[i]`` of that layer's weights pruned."""

    fractions: np.ndarray
    baseline: float
    scores: dict[str, np.ndarray]
    metric: str = "accuracy"

    def drop(self) -> dict[str, np.ndarray]:
        """``baseline - score`` per layer and fraction (positive = worse, for a higher-is-better metric)."""
        return {k: self.baseline - v for k, v in self.scores.items()}

    def max_fraction(self, tolerance: float) -> dict[str, float]:
        """Per layer, the largest fraction such that it and every smaller one lose at most ``tolerance``."""
        out = {}
        for k, v in self.scores.items():
            ok = (self.baseline - v) <= tolerance
            best = 0.0
            for f, good in zip(self.fractions, ok):
                if not good:
                    break
                best = float(f)
            out[k] = best
        return out

    def to_markdown(self) -> str:
        head = "| pruned | " + " | ".join(self.scores) + " |"
        lines = [head, "|---:|" + "---:|" * len(self.scores)]
        for i, f in enumerate(self.fractions):
            lines.append(f"| {100 * f:.0f}% | " + " | ".join(f"{100 * v[i]:.2f}" for v in self.scores.values()) + " |")
        return "\n".join(lines)

    def plot(self, path: str | Path, *, title: str = "") -> Path:
        """One curve per layer: metric against the fraction of that layer pruned (PNG)."""
        from .plots import plot_sensitivity

        return plot_sensitivity(self, path, title=title)


def sensitivity_analysis(model: Any, evaluate: Callable[[Any], float], *,
                         fractions: Sequence[float] = DEFAULT_FRACTIONS, layers: Any = None,
                         metric: str = "accuracy") -> Sensitivity:
    """Evaluate ``model`` with each layer pruned alone to each fraction; the weights are restored after.

    ``evaluate(model) -> float`` (e.g. dev accuracy).  Connections an
    existing mask already prunes stay pruned and count towards the fraction.
    """
    fr = np.asarray(list(fractions), dtype=np.float64)
    if fr.ndim != 1 or fr.size == 0 or not np.all((fr >= 0) & (fr <= 1)):
        raise ValueError(f"sensitivity_analysis: fractions must be a non-empty list of numbers in [0, 1], "
                         f"got {list(fractions)}")
    targets = resolve_layers(model, layers, "sensitivity_analysis")
    masks = masks_of(model)
    baseline = float(evaluate(model))
    scores: dict[str, np.ndarray] = {}
    for name, p in targets.items():
        original = p.array.copy()
        current = masks[name] if masks is not None and name in masks else None
        vals = []
        try:
            for f in fr:
                n_prune = int(round(f * p.array.size))
                if current is not None:
                    n_prune = max(n_prune, int(current.size - current.sum()))
                p.array[...] = original * magnitude_mask(original, n_prune, current)
                p._bump_version()
                vals.append(float(evaluate(model)))
        finally:
            p.array[...] = original
            p._bump_version()
        scores[name] = np.asarray(vals)
    return Sensitivity(fr, baseline, scores, metric)
