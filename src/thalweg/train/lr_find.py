"""``thalweg lr-find``: the LR range test with its plot and a small record.

The test itself is ``thalweg.optim.lr_range_test`` (Smith, "Cyclical Learning
Rates for Training Neural Networks", 2017, section 3.3): train briefly while
the learning rate rises, watch where the accuracy starts to rise (``base_lr``)
and where it stops rising or turns bad (``max_lr``).  This module feeds it
batches from a seeded loader, plots loss and accuracy against the learning
rate with the two bounds marked, and writes the curves as JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from .io import atomic_write_json
from .loop import _to_loader
from .metrics import accuracy, resolve_loss
from .plots import PlotsUnavailable, plot_lr_find
from .record import new_run_dir

__all__ = ["lr_find"]


def lr_find(model: Any, optimizer: Any, train: Any, *, min_lr: float = 1e-5, max_lr: float = 1.0,
            steps: int | None = None, epochs: int = 2, mode: str = "exp", batch_size: int = 64, seed: int = 0,
            loss: str | Callable[..., Any] = "cross_entropy", out: str | Path = "runs", name: str = "lr-find",
            log: Callable[[str], None] | None = None, plots: bool = True) -> dict[str, Any]:
    """Run the range test; returns ``{"base_lr", "max_lr", "run_dir", "result"}``.

    ``steps`` defaults to ``epochs`` passes over ``train`` (at least 100 steps).
    The model and optimizer are left as they were.
    """
    from ..optim import lr_range_test

    log = log or print
    _, loss_fn = resolve_loss(loss)
    loader = _to_loader(train, batch_size=batch_size, shuffle=True, seed=seed)
    n = int(steps) if steps is not None else max(100, int(epochs) * len(loader))
    if n < 2:
        raise ValueError(f"lr-find needs at least 2 steps, got {n}")
    log(f"LR range test: {n} steps, learning rate {min_lr:g} -> {max_lr:g} ({mode})")
    result = lr_range_test(model, loss_fn, optimizer, loader, min_lr, max_lr, n, mode=mode,
                           accuracy_fn=lambda out, y: accuracy(out.array, y.array))
    run_dir = new_run_dir(out, name)
    run_dir.mkdir(parents=True)
    atomic_write_json(run_dir / "lr_find.json", {**result.as_dict(), "steps": n, "batch_size": batch_size,
                                                  "seed": seed, "optimizer": type(optimizer).__name__})
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
    return {"base_lr": result.base_lr, "max_lr": result.max_lr, "run_dir": run_dir, "result": result}
