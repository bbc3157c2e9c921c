"""One-dimensional slices of the loss surface between two solutions (Goodfellow, Vinyals & Saxe, 2015).

Keskar et al. (arXiv:1609.04836, Figure 3) plot the training and test loss
and accuracy along the line through a small-batch solution ``x_SB`` and a
large-batch solution ``x_LB``::

    f(alpha * x_LB + (1 - alpha) * x_SB),    alpha in [-1, 2]

so ``alpha = 0`` is ``x_SB`` and ``alpha = 1`` is ``x_LB``; the width of the
valley around each end shows which minimizer is sharp.  ``interpolate``
evaluates a model at such points: every floating-point entry of the state
dict (parameters *and* floating buffers such as batch normalization's
running mean and variance) is interpolated, integer buffers (batch counts)
are taken from ``end``.  The authors' script interpolates the trainable
weights only and keeps whatever running statistics the model last had;
interpolating them too keeps each point a consistent network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..nn import functional as F

__all__ = ["InterpolationCurve", "interpolate", "interpolated_state"]


@dataclass
class InterpolationCurve:
    """Mean cross-entropy and accuracy at each ``alpha`` on each named data set."""

    alphas: np.ndarray
    loss: dict[str, np.ndarray]
    accuracy: dict[str, np.ndarray]


def _evaluate(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int) -> tuple[float, float]:
    total, correct = 0.0, 0
    with no_grad():
        for i in range(0, len(y), batch_size):
            out = model(Tensor(x[i:i + batch_size]))
            yb = y[i:i + batch_size]
            total += float(F.cross_entropy(out, Tensor(yb), reduction="sum").array)
            correct += int((out.array.argmax(axis=1) == yb).sum())
    n = max(len(y), 1)
    return total / n, correct / n


def interpolated_state(start: Mapping[str, Any], end: Mapping[str, Any], alpha: float) -> dict[str, np.ndarray]:
    """``(1 - alpha) * start + alpha * end`` for every floating entry (integers from ``end``)."""
    if set(start) != set(end):
        raise ValueError(f"interpolated_state: the two states have different keys: "
                         f"{sorted(set(start) ^ set(end))[:5]}")
    out: dict[str, np.ndarray] = {}
    for k, a in start.items():
        a, b = np.asarray(a), np.asarray(end[k])
        if a.shape != b.shape:
            raise ValueError(f"interpolated_state: {k!r} has shape {a.shape} in start and {b.shape} in end")
        if np.issubdtype(a.dtype, np.floating):
            out[k] = ((1.0 - alpha) * a.astype(np.float64) + alpha * b.astype(np.float64)).astype(a.dtype)
        else:
            out[k] = b.copy()
    return out


def interpolate(model: Any, start: Mapping[str, Any], end: Mapping[str, Any], alphas: Sequence[float],
                data: Mapping[str, tuple[np.ndarray, np.ndarray]], *, batch_size: int = 2000) -> InterpolationCurve:
    """Evaluate ``model`` at ``(1 - alpha) * start + alpha * end`` for each alpha on each data set.

    ``start``/``end`` are state dicts (``model.state_dict()`` copies);
    ``data`` maps a name ("train", "test") to ``(inputs, targets)``.  The
    model is evaluated in eval mode and gets back the state and mode it had
    before the call.
    """
    if not data:
        raise ValueError("interpolate: data must name at least one (inputs, targets) pair")
    original = {k: np.array(v, copy=True) for k, v in model.state_dict().items()}
    was_training = bool(getattr(model, "training", False))
    model.eval()
    alphas_arr = np.asarray(list(alphas), dtype=np.float64)
    loss = {name: np.empty(len(alphas_arr)) for name in data}
    acc = {name: np.empty(len(alphas_arr)) for name in data}
    try:
        for i, alpha in enumerate(alphas_arr):
            model.load_state_dict(interpolated_state(start, end, float(alpha)))
            for name, (x, y) in data.items():
                loss[name][i], acc[name][i] = _evaluate(model, x, y, batch_size)
    finally:
        model.load_state_dict(original)
        model.train(was_training)
    return InterpolationCurve(alphas_arr, loss, acc)
