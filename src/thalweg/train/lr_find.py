"""``thalweg lr-find``: the LR range test with its plot and a small record.

The test itself is ``thalweg.optim.lr_range_test`` (Smith, "Cyclical Learning
Rates for Training Neural Networks", 2017, section 3.3): train briefly while
the learning rate rises, watch where the accuracy starts to rise (``base_lr``)
and where it stops rising or turns bad (``max_lr``).  This module feeds it
batches from a seeded loader, plots loss and accuracy against the learning
rate with the two bounds marked, and writes the curves as JSON.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from .io import atomic_write_json
from .loop import _to_loader
from .metrics import accuracy, resolve_loss
from .plots import PlotsUnavailable, plot_lr_find
from .progress import progress_bar
from .record import new_run_dir

__all__ = ["lr_find"]


class _Counted:
    """Re-iterable view of a loader that advances a progress bar by one per batch handed out."""

    def __init__(self, loader: Any, bar: Any) -> None:
        self.loader, self.bar = loader, bar

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Any]:
        for batch in self.loader:
            self.bar.update(1)
            yield batch


def _edge_index(result: Any) -> int | None:
    """Where the suggested ``max_lr`` sits in the sweep, or ``None`` without a suggestion."""
    if result.max_lr is None or len(result.lrs) == 0:
        return None
    return int(np.argmin(np.abs(np.asarray(result.lrs) - result.max_lr)))


def _at_edge(result: Any) -> bool:
    """True when the sweep ended (without diverging) while the curve was still improving at its end."""
    n = len(result.lrs)
    if n < 2 or result.diverged:
        return False
    margin = max(2, n // 50)
    i = _edge_index(result)
    if i is None:  # nothing improved over the whole range: it is too low (a diverged sweep returned above)
        return True
    loss_best = int(np.nanargmin(result.smoothed_losses)) if np.isfinite(result.smoothed_losses).any() else n - 1
    return (i is not None and i >= n - margin) or loss_best >= n - margin


def lr_find(model: Any, optimizer: Any, train: Any, *, min_lr: float = 1e-5, max_lr: float = 1.0,
            steps: int | None = None, epochs: int = 2, mode: str = "exp", batch_size: int = 64, seed: int = 0,
            loss: str | Callable[..., Any] = "cross_entropy", out: str | Path = "runs", name: str = "lr-find",
            log: Callable[[str], None] | None = None, plots: bool = True, extend: int = 3,
            progress: bool | str = "auto") -> dict[str, Any]:
    """Run the range test; returns ``{"base_lr", "max_lr", "run_dir", "result", "warning"}``.

    ``steps`` defaults to ``epochs`` passes over ``train`` (at least 100 steps).
    When the sweep ends while the loss is still falling (no upturn, no
    divergence), the range is extended by a factor of 10 at the top, at the
    same density of steps, up to ``extend`` times, since a ``max_lr`` at the
    edge of the sweep is only a lower bound of the real one.  A suggestion
    still at the edge after that comes with a ``warning``.  The model and
    optimizer are left as they were.
    """
    from ..optim import lr_range_test

    log = log or print
    _, loss_fn = resolve_loss(loss)
    loader = _to_loader(train, batch_size=batch_size, shuffle=True, seed=seed)
    n = int(steps) if steps is not None else max(100, int(epochs) * len(loader))
    if n < 2:
        raise ValueError(f"lr-find needs at least 2 steps, got {n}")
    if not (0 <= min_lr < max_lr) or not math.isfinite(max_lr):
        raise ValueError(f"lr-find needs 0 <= --min-lr < --max-lr, got {min_lr:g} and {max_lr:g}")
    top = float(max_lr)
    for attempt in range(int(extend) + 1):
        log(f"LR range test: {n} steps, learning rate {min_lr:g} -> {top:g} ({mode})")
        with progress_bar(n, desc=f"lr-find -> {top:g}", enabled=progress, unit="step") as bar:
            result = lr_range_test(model, loss_fn, optimizer, _Counted(loader, bar), min_lr, top, n, mode=mode,
                                   accuracy_fn=lambda out, y: accuracy(out.array, y.array))
        if not _at_edge(result) or attempt == int(extend):
            break
        decades = math.log10(top / min_lr) if mode == "exp" else None
        n = int(math.ceil(n * (decades + 1) / decades)) if decades else n
        why = "the loss was still falling" if result.max_lr is not None else "nothing had improved yet"
        log(f"{why} at lr {top:g}, the end of the sweep: extending it to {10 * top:g}")
        top *= 10.0
    warning = None
    if _at_edge(result) and result.max_lr is not None:
        warning = (f"max_lr {result.max_lr:.3g} is at the end of the sweep ({top:g}) and the loss had not turned up "
                   "yet: it is a lower bound of the usable rate, not a tested maximum; widen --max-lr to check")
    run_dir = new_run_dir(out, name)
    run_dir.mkdir(parents=True)
    atomic_write_json(run_dir / "lr_find.json", {**result.as_dict(), "steps": n, "batch_size": batch_size,
                                                  "seed": seed, "optimizer": type(optimizer).__name__,
                                                  "warning": warning})
    if result.diverged:
        log(f"stopped early at lr {result.lrs[-1]:.3g}: the loss diverged")
    if plots:
        try:
            path = plot_lr_find(run_dir / "lr_find.png", result.lrs, result.smoothed_losses,
                                accuracies=result.smoothed_accuracies, base_lr=result.base_lr,
                                max_lr=result.max_lr,
                                title=f"LR range test ({type(optimizer).__name__}, {mode} sweep)")
            log(f"plot: {path}")
        except PlotsUnavailable as e:
            log(f"plot skipped: {e}")
    if result.base_lr is None:
        log("no suggestion: the accuracy never improved over the range; widen it or use more steps")
    if warning:
        log(f"warning: {warning}")
    return {"base_lr": result.base_lr, "max_lr": result.max_lr, "run_dir": run_dir, "result": result,
            "warning": warning}
