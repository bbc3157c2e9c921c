"""The LR range test (Smith, "Cyclical Learning Rates for Training Neural Networks", section 3.3).

Train a few epochs while the learning rate rises linearly from near zero to a
high value and plot accuracy against the learning rate: where the accuracy
starts to rise is a good lower bound ``base_lr``, where it stops rising,
becomes ragged or falls is a good upper bound ``max_lr``.  One short run
replaces a search over fixed learning rates.

Here, from three seeds: a small CNN (two 5x5 convolutions with max pooling,
then 64 hidden units) on Fashion-MNIST, SGD with momentum 0.9, the rate rising
linearly over 8 epochs while the *dev* accuracy is measured 40 times (the
paper reads held-out accuracy; the training minibatches' accuracy keeps rising
because training progresses, which put the old automatic bound far too high).
``paper_bounds`` reads the paper's rule: ``base_lr`` where the accuracy has
gained 10% of its rise, ``max_lr`` where it stops rising, turns ragged or
falls.  ``clr`` uses the same rule, so the two verdicts cannot contradict each
other.  To see whether ``max_lr`` means something, one-epoch runs at fixed
rates 0.25, 0.5, 1 and 2 times the median ``max_lr`` follow, from each seed's
initialization.

Criteria (``judge``), fixed before running:

* every seed's sweep finds a range (``max_lr > base_lr``);
* ``max_lr`` is not past the breakdown: its probe's dev accuracy is within 2
  points of the best probe's (means over seeds);
* ``max_lr`` is near the top of the useful range: the probe at twice
  ``max_lr`` gains at most 1 point over it;
* (secondary) ``max_lr`` agrees across seeds within a factor of 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from thalweg import nn, optim
from thalweg.data import DataLoader, TensorDataset
from thalweg.optim import lr_range_test
from thalweg.optim import lr_scheduler as S
from thalweg_lab import datasets
from thalweg_lab.plotting import COLORS, figure, plot_into, save
from thalweg_lab.registry import Experiment, register
from thalweg_lab.result import Check, LabResult, Table, Verdict, mean_or_nan, spread, verdict_from_checks
from thalweg_lab.training import seed_everything, train

__all__ = ["run", "judge", "small_cnn", "range_test", "dev_range_test", "paper_bounds", "DevSweep",
           "plot_dev_sweeps", "EXPERIMENT"]

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


RISE_TOL = 0.005   # "stops rising": no later evaluation in the window gains more than half a point
WINDOW = 3         # evaluations looked ahead for that rise
PROBES = (0.25, 0.5, 1.0, 2.0)  # fixed rates, as multiples of max_lr, that check the bound
NEAR_BEST = 0.02   # max_lr trains within 2 points of the best probe
ABOVE_GAIN = 0.01  # 2 x max_lr gains no more than 1 point over max_lr (max_lr is near the top)


@dataclass
class DevSweep:
    """A range test read on held-out data: the rate at each evaluation and the dev accuracy there."""

    lrs: list[float]
    dev_accuracy: list[float]
    diverged: bool
    base_lr: float
    max_lr: float


def paper_bounds(lrs: Sequence[float], accuracy: Sequence[float], *, tol: float = RISE_TOL,
                 window: int = WINDOW) -> tuple[float, float]:
    """``(base_lr, max_lr)`` read off a dev-accuracy curve of a rising rate by the paper's rule (section 3.3).

    ``base_lr``: the first rate where the accuracy has gained 10% of its total rise (it starts to increase).
    ``max_lr``: the first rate past that from which the accuracy stops rising, turns ragged or falls: none of
    the next ``window`` evaluations is more than ``tol`` above it.  NaNs when the curve never rises.
    """
    acc = np.asarray(accuracy, dtype=np.float64)
    if len(acc) < 2 or not np.isfinite(acc).any():
        return math.nan, math.nan
    acc = np.where(np.isfinite(acc), acc, -np.inf)
    gain = float(np.max(acc) - acc[0])
    if gain <= tol:
        return math.nan, math.nan
    start = int(np.argmax(acc >= acc[0] + 0.1 * gain))
    for k in range(max(start, 1), len(acc)):
        ahead = acc[k + 1:k + 1 + window]
        if len(ahead) == 0 or float(np.max(ahead)) <= acc[k] + tol:
            return float(lrs[start]), float(lrs[k])
    return float(lrs[start]), float(lrs[-1])


def dev_range_test(model: nn.Module, data: datasets.LabData, *, iters: int, batch: int, end_lr: float, seed: int,
                   evals: int) -> DevSweep:
    """The linear range test from 0 to ``end_lr`` over ``iters`` steps (SGD, momentum 0.9), with the dev
    accuracy measured ``evals`` times on the way, as the paper does; bounds by ``paper_bounds``."""
    opt = optim.SGD(model.parameters(), lr=end_lr, momentum=MOMENTUM)
    sched = S.LambdaLR(opt, lambda t: min(t + 1, iters) / iters, interval="step")
    every = max(1, iters // evals)
    log = train(model, opt, data.x_train, data.y_train, steps=iters, batch_size=batch, seed=seed, schedule=sched,
                dev=(data.x_dev, data.y_dev), eval_every=every)
    lrs = [end_lr * min(s, iters) / iters for s in log.eval_steps]
    acc = list(log.evals.get("dev_accuracy", []))
    base, top = paper_bounds(lrs, acc)
    return DevSweep(lrs, acc, log.diverged, base, top)


def _settings(quick: bool) -> dict[str, Any]:
    if quick:
        return {"n_train": 400, "n_dev": 300, "batch": 20, "sweep_epochs": 2, "end_lr": 0.5, "evals": 10,
                "seeds": 3, "probe_epochs": 1}
    return {"n_train": 10_000, "n_dev": 2000, "batch": 100, "sweep_epochs": 8, "end_lr": 0.5, "evals": 40,
            "seeds": 3, "probe_epochs": 1}


def run(*, quick: bool, out_dir: Path, seed: int) -> LabResult:
    cfg = _settings(quick)
    data = datasets.load("fashion-mnist", n_train=cfg["n_train"], n_dev=cfg["n_dev"], n_test=0, seed=seed,
                         images=True)
    per_epoch = len(data.y_train) // cfg["batch"]
    iters = cfg["sweep_epochs"] * per_epoch
    seeds = [seed + k for k in range(cfg["seeds"])]
    sweeps, inits = [], []
    for s in seeds:
        seed_everything(s)
        model = small_cnn(data.image_size)
        inits.append({k: v.copy() for k, v in model.state_dict().items()})
        sweeps.append(dev_range_test(model, data, iters=iters, batch=cfg["batch"], end_lr=cfg["end_lr"], seed=s,
                                     evals=cfg["evals"]))
    measured: dict[str, Any] = {"base_lr": [w.base_lr for w in sweeps], "max_lr": [w.max_lr for w in sweeps],
                                "seeds": len(seeds), "iterations": iters}
    top = float(np.nanmedian(measured["max_lr"])) if np.isfinite(measured["max_lr"]).any() else math.nan
    measured["max_lr_median"] = top
    for f in PROBES:
        accs = []
        for s, init in zip(seeds, inits):
            if not math.isfinite(top):
                accs.append(math.nan)
                continue
            model = small_cnn(data.image_size)
            model.load_state_dict(init)
            steps = cfg["probe_epochs"] * per_epoch
            log = train(model, optim.SGD(model.parameters(), lr=f * top, momentum=MOMENTUM), data.x_train,
                        data.y_train, steps=steps, batch_size=cfg["batch"], seed=s, dev=(data.x_dev, data.y_dev),
                        eval_every=steps)
            accs.append(0.0 if log.diverged else log.final("dev_accuracy"))
        measured[f"probe_dev/{f:g}"] = accs

    table = Table(["figure", "mean ± std (min to max) over seeds"], title=f"LR range test on dev accuracy, "
                  f"{len(seeds)} seeds")
    table.add("base_lr (dev accuracy starts to rise)", spread(measured["base_lr"], ".3g"))
    table.add("max_lr (dev accuracy stops rising, turns ragged or falls)", spread(measured["max_lr"], ".3g"))
    for f in PROBES:
        table.add(f"dev accuracy after {cfg['probe_epochs']} epoch(s) at a fixed {f:g} x max_lr "
                  f"({f * top:.3g})", spread(measured[f"probe_dev/{f:g}"], ".4f"))
    setup = "\n".join([
        f"- Data: {data.describe()}.",
        f"- Model: small CNN (conv 8 - pool - conv 16 - pool - 64 - 10, ReLU); SGD with momentum {MOMENTUM}, "
        f"batches of {cfg['batch']}.",
        f"- Sweep: the learning rate rises linearly from 0 to {cfg['end_lr']} over {iters:,} iterations "
        f"({cfg['sweep_epochs']} epochs); the dev accuracy is measured {cfg['evals']} times on the way (the paper "
        f"reads held-out accuracy, not the training minibatches'); seeds {seeds[0]} to {seeds[-1]}.",
        f"- Rule (`paper_bounds`, shared with `clr`): base_lr where the accuracy has gained 10% of its rise; max_lr "
        f"the first rate past it from which none of the next {WINDOW} evaluations is more than {RISE_TOL:.1%} "
        "higher (the accuracy stops rising, turns ragged or falls).",
        f"- Check runs: {cfg['probe_epochs']} epoch(s) from each seed's initialization at fixed rates "
        f"{', '.join(f'{f:g}' for f in PROBES)} x the median max_lr."])
    result = LabResult(setup=setup, tables=[table], measured=measured, n_seeds=len(seeds))
    plot_into(result, out_dir / "lr_range_test.png", lambda p: plot_dev_sweeps(p, sweeps))
    return result



def judge(m: Mapping[str, Any]) -> Verdict:
    base, top = np.asarray(m["base_lr"], dtype=np.float64), np.asarray(m["max_lr"], dtype=np.float64)
    found = int(np.sum(np.isfinite(base) & np.isfinite(top) & (top > base)))
    probes = {f: mean_or_nan(m[f"probe_dev/{f:g}"]) for f in PROBES}
    best = max(probes.values()) if all(math.isfinite(v) for v in probes.values()) else math.nan
    spread_ratio = float(np.max(top) / np.min(top)) if found == len(top) and np.min(top) > 0 else math.nan
    return verdict_from_checks([
        Check.count_at_least("seeds whose sweep finds a range (max_lr > base_lr)", found, len(top), len(top)),
        Check.at_most("best probe's minus max_lr's dev accuracy (max_lr is not past the breakdown)",
                      best - probes[1.0], NEAR_BEST, spec=".2%"),
        Check.at_most("2 x max_lr's minus max_lr's dev accuracy (max_lr is near the top of the useful range)",
                      probes[2.0] - probes[1.0], ABOVE_GAIN, spec=".2%"),
        Check.at_most("max_lr across seeds, largest / smallest", spread_ratio, 2.0, primary=False),
    ], context="The probes are short (one epoch); a rate that is best for one epoch may not be best for a long run.")


def plot_dev_sweeps(path: Path, sweeps: Sequence[DevSweep]) -> None:
    """Dev accuracy against the rising rate, one line per seed, with each seed's bounds."""
    fig, axes = figure(1, 1, width=6.0)
    ax = axes[0, 0]
    for i, w in enumerate(sweeps):
        ax.plot(w.lrs, w.dev_accuracy, color=COLORS[i % len(COLORS)], marker="o", ms=3, label=f"seed {i}")
        for lr, ls in ((w.base_lr, ":"), (w.max_lr, "--")):
            if math.isfinite(lr):
                ax.axvline(lr, color=COLORS[i % len(COLORS)], ls=ls, lw=0.8)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("dev accuracy")
    ax.set_title("LR range test on dev accuracy (dotted: base_lr, dashed: max_lr)")
    ax.legend(fontsize=8)
    save(fig, path)


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
    "The sweep lasts 8 epochs with 40 dev evaluations; the paper's CIFAR-10 sweeps are longer.",
    "How good max_lr is gets checked with one-epoch fixed-rate probes at 0.25 to 2 x max_lr, not the paper's "
    "full training runs (CPU budget).",
)

EXPERIMENT = register(Experiment(
    name="lr-range-test", paper="1506.01186", title="Cyclical Learning Rates for Training Neural Networks "
    "(Smith 2017): the LR range test", claim=CLAIM, run=run, judge=judge, quick_seconds=6, full_minutes=1, differences=DIFFERENCES))
