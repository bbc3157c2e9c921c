"""Metrics and losses by name, and the running means the loop keeps.

A metric is ``fn(output, target) -> float``: the mean over the batch, computed
on plain arrays (``output`` is the model's output, ``target`` the labels),
outside the autodiff graph.  The loop weights each batch's value by its size,
so an epoch's figure is the exact mean over its examples.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

__all__ = ["accuracy", "top_k_accuracy", "mean_squared_error", "mean_absolute_error", "METRICS", "LOSSES",
           "resolve_metric", "resolve_loss", "RunningMean"]

MetricFn = Callable[[np.ndarray, np.ndarray], float]


def accuracy(output: np.ndarray, target: np.ndarray) -> float:
    """Fraction of examples whose arg-max class is the target: (1/n) sum_i [argmax_c f(x_i)_c = y_i].

    A single output unit (or a 1-d output) is read as a binary logit: class 1
    when it is positive.  Probabilistic targets (one row per example) are
    compared by their arg-max.
    """
    out = np.asarray(output)
    tgt = np.asarray(target)
    if out.ndim == tgt.ndim and out.ndim >= 2 and out.shape == tgt.shape and out.shape[-1] > 1:
        tgt = tgt.argmax(axis=-1)
    if out.ndim == 1 or out.shape[-1] == 1:
        pred = (out.reshape(tgt.shape) > 0).astype(np.int64)
    else:
        pred = out.argmax(axis=-1)
    return float(np.mean(pred == tgt.reshape(pred.shape))) if pred.size else 0.0


def top_k_accuracy(k: int) -> MetricFn:
    """Fraction of examples whose target is among the ``k`` highest outputs."""
    def top_k(output: np.ndarray, target: np.ndarray) -> float:
        top = np.argpartition(-np.asarray(output), kth=min(k, output.shape[-1]) - 1, axis=-1)[..., :k]
        return float(np.mean((top == np.asarray(target)[..., None]).any(axis=-1)))
    top_k.__name__ = f"top{k}_accuracy"
    return top_k


def mean_squared_error(output: np.ndarray, target: np.ndarray) -> float:
    """(1/n) sum (f(x) - y)^2 over all entries."""
    diff = np.asarray(output, dtype=np.float64) - np.asarray(target, dtype=np.float64).reshape(np.shape(output))
    return float(np.mean(diff * diff))


def mean_absolute_error(output: np.ndarray, target: np.ndarray) -> float:
    """(1/n) sum |f(x) - y| over all entries."""
    diff = np.asarray(output, dtype=np.float64) - np.asarray(target, dtype=np.float64).reshape(np.shape(output))
    return float(np.mean(np.abs(diff)))


METRICS: dict[str, MetricFn] = {
    "accuracy": accuracy,
    "top5_accuracy": top_k_accuracy(5),
    "mse": mean_squared_error,
    "mae": mean_absolute_error,
}
_METRIC_ALIASES = {"acc": "accuracy"}

# loss name -> attribute of thalweg.nn.functional
LOSSES: dict[str, str] = {
    "cross_entropy": "cross_entropy",
    "nll": "nll_loss",
    "mse": "mse_loss",
    "l1": "l1_loss",
    "huber": "huber_loss",
    "smooth_l1": "smooth_l1_loss",
    "bce": "binary_cross_entropy",
    "bce_with_logits": "binary_cross_entropy_with_logits",
}
CLASSIFICATION_LOSSES = {"cross_entropy", "nll"}


def resolve_metric(metric: str | MetricFn) -> tuple[str, MetricFn]:
    """``(name, fn)`` for a metric name or callable; unknown names list the valid ones."""
    if callable(metric):
        return getattr(metric, "__name__", "metric"), metric
    name = _METRIC_ALIASES.get(metric, metric)
    if name not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; valid: {', '.join(sorted(METRICS))}")
    return name, METRICS[name]


def resolve_loss(loss: str | Callable[..., Any]) -> tuple[str, Callable[..., Any]]:
    """``(name, fn)`` for a loss name (a function of ``thalweg.nn.functional``) or a callable."""
    if callable(loss):
        return getattr(loss, "__name__", type(loss).__name__), loss
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; valid: {', '.join(sorted(LOSSES))}")
    from ..nn import functional as F

    fn = getattr(F, LOSSES[loss], None)
    if fn is None:
        raise ValueError(f"loss {loss!r} needs thalweg.nn.functional.{LOSSES[loss]}, which this build lacks")
    return loss, fn


class RunningMean:
    """Example-weighted means of several named figures over an epoch (plain numbers, saveable)."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.sums: dict[str, float] = {n: 0.0 for n in names}
        self.count = 0

    def update(self, values: dict[str, float], n: int) -> None:
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v) * n
        self.count += n

    def means(self) -> dict[str, float]:
        return {k: (s / self.count if self.count else float("nan")) for k, s in self.sums.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"sums": dict(self.sums), "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sums = {k: float(v) for k, v in state["sums"].items()}
        self.count = int(state["count"])
