"""Annealed gradient noise for a very deep MLP (Neelakantan et al., "Adding Gradient Noise Improves Learning
for Very Deep Networks", arXiv:1511.06807, section 4.1 and Table 1).

The paper trains a 20-hidden-layer ReLU network (50 units per layer) on
MNIST with plain SGD (learning rates 0.1 and 0.01), adding to every gradient
coordinate at step ``t`` Gaussian noise of variance ``eta / (1 + t)^0.55``
with ``eta = 0.01`` (the library's ``optim.transforms.add_gradient_noise``,
placed after gradient clipping as in the paper).  Its Table 1 (best / average
test accuracy over 40 runs, 20 per learning rate):

==========================================  ==============  ==============
initialization                              without noise   with noise
==========================================  ==============  ==============
simple: W ~ N(0, 0.1^2), no clipping        89.9 / 43.1     96.7 / 52.7
zero: W = 0                                 11.4 / 10.1     94.5 / 49.7
good: He et al. (2015), clipping at 10      97.4 / 91.7     97.2 / 91.7
==========================================  ==============  ==============

so noise rescues the poor initializations and makes no difference to a good
one.  (The seed text lost the heading of the zero-init row; the published
table runs it with gradient clipping at 10, as the good-init rows, and so do
we.  Biases start at zero in every case; the paper does not say.  Its batch
size and training length are not stated; ours are in the setup.)

Here: the same network and noise schedule, SGD at both of the paper's
learning rates (0.1 and 0.01), 20,000 steps per run (a short budget hides the
effect: from a poor start the noise needs thousands of steps before the
signal passes), for each initialization with and without noise, ``seeds``
runs per learning rate and cell (different initial weights, noise and batch
order per seed; the same seeds in the with/without cells).  As in the paper,
a run's figure is its *best* test accuracy over training (evaluated every
``eval_every`` steps), and a cell pools both learning rates.

Criteria (``judge``), fixed before running:

* for each poor initialization (simple, zero): the mean best test accuracy
  with noise is at least 2 points above the mean without; (secondary) that
  gain is at least 2 standard errors (Welch);
* for the good initialization: the two means differ by at most 2 points;
  (secondary) the best runs differ by at most 1 point.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from thalweg import nn
from thalweg.optim import Optimizer
from thalweg.optim import transforms as T
from thalweg.train.models import mlp
from thalweg.train.progress import progress_bar
from thalweg_lab import datasets
from thalweg_lab.plotting import COLORS, figure, plot_into, save
from thalweg_lab.registry import Experiment, register
from thalweg_lab.result import Check, LabResult, Table, Verdict, spread, verdict_from_checks
from thalweg_lab.training import seed_everything, train

__all__ = ["run", "judge", "INITS", "PAPER_TABLE", "EXPERIMENT", "welch"]

DEPTH, WIDTH = 20, 50
ETA, GAMMA = 0.01, 0.55
INITS = ("simple", "zero", "good")
POOR = ("simple", "zero")
CLIP = {"simple": None, "zero": 10.0, "good": 10.0}
# (best, average) test accuracy in percent, without and with noise (the paper's Table 1)
PAPER_TABLE = {"simple": ((89.9, 43.1), (96.7, 52.7)), "zero": ((11.4, 10.1), (94.5, 49.7)),
               "good": ((97.4, 91.7), (97.2, 91.7))}

CLAIM = ("Adding annealed Gaussian noise (variance 0.01 / (1 + t)^0.55) to the gradients lets plain SGD train a "
         "20-layer ReLU network on MNIST from poor initializations (N(0, 0.1^2) or all zeros), where it otherwise "
         "fails, and makes no difference when the network starts from a good (He) initialization.")


def _settings(quick: bool) -> dict[str, Any]:
    if quick:
        return {"n_train": 1000, "n_test": 500, "seeds": 2, "steps": 30, "batch": 100, "lrs": (0.1, 0.01),
                "curve_every": 10, "eval_every": 15}
    return {"n_train": None, "n_test": None, "seeds": 3, "steps": 20_000, "batch": 100, "lrs": (0.1, 0.01),
            "curve_every": 200, "eval_every": 1000}


def _initialize(model: nn.Module, init: str) -> None:
    for m in model.modules():
        if isinstance(m, nn.Linear):
            if init == "simple":
                nn.init.normal_(m.weight, 0.0, 0.1)
            elif init == "zero":
                nn.init.zeros_(m.weight)
            elif init == "good":
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            else:
                raise ValueError(f"gradient-noise: unknown initialization {init!r}")
            nn.init.zeros_(m.bias)


def _optimizer(model: nn.Module, *, init: str, noise: bool, lr: float, seed: int) -> Optimizer:
    links = []
    if CLIP[init] is not None:
        links.append(T.clip_by_global_norm(CLIP[init]))
    if noise:
        links.append(T.add_gradient_noise(ETA, GAMMA, seed=seed))  # after clipping, as in the paper
    links.append(T.scale_by_learning_rate(lr))
    return Optimizer(model.parameters(), T.chain(*links))


def welch(a: list[float], b: list[float]) -> tuple[float, float]:
    """``mean(a) - mean(b)`` and its standard error (Welch; 0 when both samples are constant)."""
    xa, xb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    var = (xa.var(ddof=1) / len(xa) if len(xa) > 1 else 0.0) + (xb.var(ddof=1) / len(xb) if len(xb) > 1 else 0.0)
    return float(xa.mean() - xb.mean()), float(math.sqrt(var))


def run(*, quick: bool, out_dir: Path, seed: int) -> LabResult:
    cfg = _settings(quick)
    data = datasets.load("mnist", n_train=cfg["n_train"], n_test=cfg["n_test"], seed=seed)
    measured: dict[str, Any] = {"steps": cfg["steps"], "lrs": list(cfg["lrs"]), "seeds": cfg["seeds"]}
    curves: dict[tuple[str, bool], list[list[float]]] = {}
    plan = [(init, noise, lr, k) for init in INITS for noise in (False, True) for lr in cfg["lrs"]
            for k in range(cfg["seeds"])]
    bar = progress_bar(len(plan), desc="gradient-noise: runs", unit="run")
    for init, noise, lr, k in plan:
        s = seed * 1000 + k
        seed_everything(s)
        model = mlp(data.n_features, 10, [WIDTH] * DEPTH)
        _initialize(model, init)
        opt = _optimizer(model, init=init, noise=noise, lr=lr, seed=s)
        log = train(model, opt, data.x_train, data.y_train, steps=cfg["steps"], batch_size=cfg["batch"], seed=s,
                    dev=(data.x_test, data.y_test), eval_every=cfg["eval_every"])
        best = 100.0 * float(np.nanmax(log.evals["dev_accuracy"]))
        tag = f"{init}/{'noise' if noise else 'plain'}"
        measured.setdefault(f"test_accuracy/{tag}", []).append(best)
        measured.setdefault(f"test_accuracy/{tag}/lr={lr:g}", []).append(best)
        every = cfg["curve_every"]
        curves.setdefault((init, noise), []).append(log.smoothed_loss(every)[every - 1::every].tolist())
        bar.update(1)
    bar.close()
    for init in INITS:
        for tag in ("plain", "noise"):
            accs = measured[f"test_accuracy/{init}/{tag}"]
            measured[f"best/{init}/{tag}"] = float(max(accs))
            measured[f"mean/{init}/{tag}"] = float(np.mean(accs))
        gain, se = welch(measured[f"test_accuracy/{init}/noise"], measured[f"test_accuracy/{init}/plain"])
        measured[f"gain/{init}"], measured[f"gain_se/{init}"] = gain, se
        measured[f"best_gain/{init}"] = measured[f"best/{init}/noise"] - measured[f"best/{init}/plain"]
    result = LabResult(setup=_setup(data, cfg, seed), tables=_tables(measured, cfg["lrs"]), measured=measured,
                       n_seeds=cfg["seeds"])
    plot_into(result, out_dir / "test_accuracy.png", lambda p: _plot_accuracy(p, measured, cfg["seeds"]))
    plot_into(result, out_dir / "training_loss.png", lambda p: _plot_loss(p, curves, cfg))
    return result


def _setup(data: datasets.LabData, cfg: dict[str, Any], seed: int) -> str:
    epochs = cfg["steps"] * cfg["batch"] / len(data.y_train)
    return "\n".join([
        f"- Data: {data.describe()}. Pixels in [0, 1], no other preprocessing.",
        f"- Model: 784-[{WIDTH}] x {DEPTH}-10 ReLU MLP, softmax cross-entropy.",
        "- Initializations: simple (W ~ N(0, 0.1^2)); zero (W = 0); good (He normal, fan-in, gain sqrt 2); "
        "biases zero.",
        f"- Training: plain SGD (no momentum), learning rates {' and '.join(map(str, cfg['lrs']))} (the paper's "
        f"two), minibatches of {cfg['batch']}, "
        f"{cfg['steps']:,} steps ({epochs:.2g} epochs); gradient clipping by global norm at 10 for the zero and good "
        "initializations, none for simple (as in the paper's Table 1).",
        f"- Noise: `optim.transforms.add_gradient_noise(eta={ETA}, gamma={GAMMA})` after clipping: N(0, "
        f"{ETA} / (1 + t)^{GAMMA}) on every gradient coordinate at step t (t from 0).",
        f"- Runs: {cfg['seeds']} per learning rate and cell (seeds {seed * 1000} to {seed * 1000 + cfg['seeds'] - 1}, "
        "the same in the cells with and without noise); a run's figure is its best test accuracy over training "
        f"(evaluated every {cfg['eval_every']:,} steps), as the paper reports; a cell pools both learning rates."])


def _tables(m: Mapping[str, Any], lrs: tuple[float, ...]) -> list[Table]:
    t = Table(["initialization", "paper best / mean, no noise", "paper best / mean, noise", "best, no noise",
               "best, noise", "mean, no noise", "mean, noise", "gain in mean (points)", "standard error"],
              title="Best test accuracy over training (%), the runs of each cell (both learning rates)", spec=".3g")
    for init in INITS:
        (pb, pm), (nb, nm) = PAPER_TABLE[init]
        t.add(init, f"{pb} / {pm}", f"{nb} / {nm}", m[f"best/{init}/plain"], m[f"best/{init}/noise"],
              m[f"mean/{init}/plain"], m[f"mean/{init}/noise"], m[f"gain/{init}"], m[f"gain_se/{init}"])
    runs = Table(["cell", "learning rate", "best test accuracy of each run (%)", "mean ± std (min to max)"],
                 title="Every run", spec=".3g")
    for init in INITS:
        for tag in ("plain", "noise"):
            for lr in lrs:
                accs = m[f"test_accuracy/{init}/{tag}/lr={lr:g}"]
                runs.add(f"{init}, {'with' if tag == 'noise' else 'without'} noise", f"{lr:g}",
                         ", ".join(f"{a:.1f}" for a in accs), spread(accs, ".3g"))
    return [t, runs]


def judge(m: Mapping[str, Any]) -> Verdict:
    checks = []
    for init in POOR:
        checks.append(Check.at_least(f"{init} init: mean best test accuracy gain with noise (points)",
                                     m[f"gain/{init}"], 2.0))
    for init in POOR:
        se = m[f"gain_se/{init}"]
        z = m[f"gain/{init}"] / max(se, 1e-12)  # identical runs in both cells: any gain is many errors
        checks.append(Check.at_least(f"{init} init: gain in standard errors", z, 2.0, primary=False))
    checks.append(Check.between("good init: mean best test accuracy with minus without noise (points)",
                                m["gain/good"], -2.0, 2.0))
    checks.append(Check.between("good init: best run with minus without noise (points)", m["best_gain/good"],
                                -1.0, 1.0, primary=False))
    return verdict_from_checks(checks, context="The paper does not give its training length; a 20-layer net from a "
                                               "poor start needs many steps before the noise has grown the weights "
                                               "enough for the signal to pass.")


def _plot_accuracy(path: Path, m: Mapping[str, Any], seeds: int) -> None:
    fig, axes = figure(1, 1, width=6.0)
    ax = axes[0, 0]
    for i, init in enumerate(INITS):
        for j, tag in enumerate(("plain", "noise")):
            accs = m[f"test_accuracy/{init}/{tag}"]
            xpos = i * 3 + j + np.linspace(-0.15, 0.15, len(accs))
            ax.scatter(xpos, accs, color=COLORS[j], s=14, label=("without noise", "with noise")[j] if i == 0 else None)
            ax.hlines(np.mean(accs), i * 3 + j - 0.3, i * 3 + j + 0.3, color=COLORS[j])
    ax.set_xticks([i * 3 + 0.5 for i in range(len(INITS))], list(INITS))
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"20 x 50 ReLU MLP, {seeds} runs per cell (bars: means)")
    ax.legend(fontsize=8)
    save(fig, path)


def _plot_loss(path: Path, curves: dict[tuple[str, bool], list[list[float]]], cfg: dict[str, Any]) -> None:
    fig, axes = figure(1, len(INITS), width=4.2, height=3.6)
    for ax, init in zip(axes[0], INITS):
        for j, noise in enumerate((False, True)):
            runs = [r for r in curves[(init, noise)] if r]
            if not runs:
                continue
            n = min(len(r) for r in runs)
            y = np.mean([r[:n] for r in runs], axis=0)
            steps = cfg["curve_every"] * np.arange(1, n + 1)
            ax.plot(steps, y, color=COLORS[j], label="with noise" if noise else "without noise")
        ax.set_title(f"{init} init")
        ax.set_xlabel("step")
        ax.set_ylabel("training loss (mean over runs)")
        ax.legend(fontsize=8)
    save(fig, path)


DIFFERENCES = (
    "3 seeds per learning rate and cell (6 runs per cell) instead of the paper's 20 per learning rate (CPU budget).",
    "20,000 steps of 100 examples per run; the paper does not state its training length or batch size.",
    "The best test accuracy is read every 1,000 steps, not after every epoch.",
)

EXPERIMENT = register(Experiment(
    name="gradient-noise", paper="1511.06807",
    title="Adding Gradient Noise Improves Learning for Very Deep Networks", claim=CLAIM, run=run, judge=judge,
    quick_seconds=10, full_minutes=30, differences=DIFFERENCES))
