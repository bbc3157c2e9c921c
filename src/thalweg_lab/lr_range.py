"""The LR range test (Smith, "Cyclical Learning Rates for Training Neural Networks", section 3.3).

Train a few epochs while the learning rate rises linearly from near zero to a
high value and plot accuracy against the learning rate: where the accuracy
starts to rise is a good lower bound ``base_lr``, where it stops rising,
becomes ragged or falls is a good upper bound ``max_lr``.  One short run
replaces a search over fixed learning rates.

Here: ``thalweg.optim.lr_range_test`` on a small CNN (two 5x5 convolutions
with max pooling, then 64 hidden units) on Fashion-MNIST, SGD with momentum
0.9, the accuracy of each training minibatch (smoothed) as the curve, and
its suggestion rule (``base_lr``: 10% of the total gain, ``max_lr``: the
peak).  To see whether the bounds mean something, two short runs from the
same initialization then train for one epoch at a fixed rate: ``max_lr``,
and the sweep's last rate (above ``max_lr``).

Criteria (``judge``):

* the test finds a range (``max_lr > base_lr``);
* the curve turns inside the sweep: after its peak the smoothed accuracy falls
  by at least 2 points (or the loss diverges);
* the upper bound is usable: one epoch at a fixed ``max_lr`` from the same
  initialization ends above twice the chance accuracy (0.2 for ten classes),
  i.e. training there does not collapse;
* (secondary) one epoch at ``max_lr`` reaches a higher dev accuracy than one
  epoch at the sweep's last rate.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from thalweg import nn, optim
from thalweg.data import DataLoader, TensorDataset
from thalweg.optim import lr_range_test
from thalweg_lab import datasets
from thalweg_lab.plotting import figure, plot_into, save
from thalweg_lab.registry import Experiment, register
from thalweg_lab.result import Check, LabResult, Table, Verdict, verdict_from_checks
from thalweg_lab.training import seed_everything, train

__all__ = ["run", "judge", "small_cnn", "range_test", "EXPERIMENT"]

MOMENTUM = 0.9
CLAIM = ("One short training run with a linearly increasing learning rate shows where the network starts to "
         "learn and where learning stops improving or breaks down; those two rates bound a useful learning-rate "
         "range.")


def small_cnn(image_size: int, num_classes: int = 10) -> nn.Module:
    """Conv(8) - pool - Conv(16) - pool - 64 - classes, ReLU; 5x5 kernels on 28x28, 3x3 padded on 8x8."""
    if image_size >= 20:
        k, pad = 5, 0
    else:
        k, pad = 3, 1
    s = (image_size + 2 * pad - k + 1) // 2
    s = (s + 2 * pad - k + 1) // 2
    return nn.Sequential(nn.Conv2d(1, 8, k, padding=pad), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, k, padding=pad), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(16 * s * s, 64), nn.ReLU(), nn.Linear(64, num_classes))


def _batch_accuracy(out: Any, y: Any) -> float:
    return float((out.array.argmax(axis=1) == y.array).mean())


def range_test(model: nn.Module, data: datasets.LabData, *, iters: int, batch: int, end_lr: float,
               seed: int) -> optim.LRRangeTestResult:
    """The linear range test from 0 to ``end_lr`` over ``iters`` steps, SGD with momentum 0.9 (weights restored)."""
    opt = optim.SGD(model.parameters(), lr=end_lr, momentum=MOMENTUM)
    loader = DataLoader(TensorDataset(data.x_train, data.y_train), batch_size=batch, shuffle=True, seed=seed)
    return lr_range_test(model, nn.functional.cross_entropy, opt, loader, 0.0, end_lr, iters, mode="linear",
                         smooth=0.05, accuracy_fn=_batch_accuracy)


def _settings(quick: bool) -> dict[str, Any]:
    if quick:
        return {"n_train": 600, "n_dev": 500, "batch": 20, "sweep_epochs": 2, "end_lr": 0.5}
    return {"n_train": 10_000, "n_dev": 2000, "batch": 100, "sweep_epochs": 4, "end_lr": 0.5}


def run(*, quick: bool, out_dir: Path, seed: int) -> LabResult:
    cfg = _settings(quick)
    data = datasets.load("fashion-mnist", n_train=cfg["n_train"], n_dev=cfg["n_dev"], n_test=0, seed=seed,
                         images=True)
    per_epoch = len(data.y_train) // cfg["batch"]
    iters = cfg["sweep_epochs"] * per_epoch
    seed_everything(seed)
    model = small_cnn(data.image_size)
    r = range_test(model, data, iters=iters, batch=cfg["batch"], end_lr=cfg["end_lr"], seed=seed)
    acc = r.smoothed_accuracies
    peak = int(np.nanargmax(acc))
    drop = float(acc[peak] - np.min(acc[peak:])) if not r.diverged else math.inf
    measured: dict[str, Any] = {
        "base_lr": math.nan if r.base_lr is None else r.base_lr,
        "max_lr": math.nan if r.max_lr is None else r.max_lr,
        "last_lr": float(r.lrs[-1]), "peak_accuracy": float(acc[peak]), "drop_after_peak": drop,
        "diverged": float(r.diverged), "iterations": len(r.lrs)}
    init = {k: v.copy() for k, v in model.state_dict().items()}
    for label, lr in (("max_lr", measured["max_lr"]), ("last_lr", measured["last_lr"])):
        if not math.isfinite(lr):
            measured[f"one_epoch_dev/{label}"] = math.nan
            continue
        model.load_state_dict(init)
        opt = optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM)
        log = train(model, opt, data.x_train, data.y_train, steps=per_epoch, batch_size=cfg["batch"], seed=seed,
                    dev=(data.x_dev, data.y_dev), eval_every=per_epoch)
        measured[f"one_epoch_dev/{label}"] = log.final("dev_accuracy") if not log.diverged else 0.0

    table = Table(["figure", "value"], title="LR range test")
    for key, text in (("base_lr", "base_lr (accuracy starts to rise)"), ("max_lr", "max_lr (accuracy peaks)"),
                      ("peak_accuracy", "peak smoothed minibatch accuracy"),
                      ("drop_after_peak", "fall of the smoothed accuracy after the peak"),
                      ("last_lr", "last learning rate of the sweep"),
                      ("one_epoch_dev/max_lr", "dev accuracy after one epoch at max_lr"),
                      ("one_epoch_dev/last_lr", "dev accuracy after one epoch at the last rate")):
        table.add(text, measured[key])
    setup = "\n".join([
        f"- Data: {data.describe()}.",
        f"- Model: small CNN (conv 8 - pool - conv 16 - pool - 64 - 10, ReLU), {sum(p.array.size for p in model.parameters()):,} "
        f"parameters; SGD with momentum {MOMENTUM}, batches of {cfg['batch']}.",
        f"- Sweep: the learning rate rises linearly from 0 to {cfg['end_lr']} over {iters:,} iterations "
        f"({cfg['sweep_epochs']} epochs); curves smoothed exponentially (weight 0.05); the accuracy is that of "
        "each training minibatch (the paper evaluated held-out data periodically).",
        f"- Suggestion rule of `lr_range_test`: {r.rule}.",
        "- Check runs: one epoch from the same initialization at a fixed max_lr and at the sweep's last rate."])
    result = LabResult(setup=setup, tables=[table], measured=measured)
    plot_into(result, out_dir / "lr_range_test.png", lambda p: plot_range_test(p, r))
    return result


def judge(m: Mapping[str, Any]) -> Verdict:
    return verdict_from_checks([
        Check.greater_than("max_lr / base_lr", m["max_lr"] / m["base_lr"] if m["base_lr"] > 0 else math.nan, 1.0),
        Check.at_least("fall of the smoothed accuracy after its peak (fraction; inf = diverged)",
                       m["drop_after_peak"], 0.02),
        Check.greater_than("dev accuracy after one epoch at a fixed max_lr (twice chance = no collapse)",
                           m["one_epoch_dev/max_lr"], 0.2),
        Check.greater_than("dev accuracy after one epoch: at max_lr minus at the last rate",
                           m["one_epoch_dev/max_lr"] - m["one_epoch_dev/last_lr"], 0.0, primary=False),
    ], context="If the sweep stops below the rate where training breaks down, the accuracy keeps rising to the "
               "end and no upper bound is found.")


def plot_range_test(path: Path, r: optim.LRRangeTestResult) -> None:
    fig, axes = figure(1, 2, width=5.0)
    axes[0, 0].plot(r.lrs, r.losses, color="#cccccc", lw=0.8, label="minibatch")
    axes[0, 0].plot(r.lrs, r.smoothed_losses, color="#1f77b4", label="smoothed")
    axes[0, 0].set_ylabel("training loss")
    if r.accuracies is not None:
        axes[0, 1].plot(r.lrs, r.accuracies, color="#cccccc", lw=0.8, label="minibatch")
        axes[0, 1].plot(r.lrs, r.smoothed_accuracies, color="#2ca02c", label="smoothed")
    axes[0, 1].set_ylabel("training accuracy")
    for ax in axes[0]:
        for lr, name, color in ((r.base_lr, "base_lr", "#ff7f0e"), (r.max_lr, "max_lr", "#d62728")):
            if lr is not None:
                ax.axvline(lr, color=color, ls="--", label=f"{name} = {lr:.3g}")
        ax.set_xlabel("learning rate")
        ax.legend(fontsize=8)
    axes[0, 0].set_title("LR range test: loss")
    axes[0, 1].set_title("LR range test: accuracy")
    save(fig, path)


DIFFERENCES = (
    "Data and model: a small CNN on 10,000 Fashion-MNIST examples rather than the paper's CIFAR-10 nets (CPU budget).",
    'The sweep lasts 4 epochs; the paper sweeps over several epochs of CIFAR-10.',
    "How good the bounds are is checked with one short fixed-rate run per bound, not the paper's full training runs.",
)

EXPERIMENT = register(Experiment(
    name="lr-range-test", paper="1506.01186", title="Cyclical Learning Rates for Training Neural Networks "
    "(Smith 2017): the LR range test", claim=CLAIM, run=run, judge=judge, quick_seconds=1, full_minutes=0.5, differences=DIFFERENCES))
