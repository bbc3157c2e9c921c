"""Dropout narrows the gap between training and dev accuracy (the lecture; Hinton et al. 2012, Srivastava et al. 2014).

An over-parameterised MLP trained on a small subset of MNIST memorises it
(training accuracy 100%) and its dev accuracy stays well below.  Dropout
(``nn.Dropout``: each hidden unit zeroed with probability p during training,
the survivors scaled by 1/(1-p); the full net at test time) acts as a
regularizer, an average over thinned networks: the same net with dropout
should show a smaller train/dev gap.

Two runs from the same initialization and minibatch order: without dropout,
and with dropout p = 0.5 after each hidden layer and 0.2 on the input (the
rates of Hinton et al. 2012).  Training accuracy is measured in eval mode on
the whole training subset.

Criteria (``judge``):

* the train - dev gap with dropout is smaller than without by at least two
  standard errors of the paired dev-accuracy difference (the standard error
  of the mean of ``correct_with - correct_without`` over the dev examples, so
  that dev-set noise alone is unlikely to produce it);
* (secondary) the dev accuracy with dropout is at least that without.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from thalweg import nn
from thalweg.optim import Adam
from thalweg.train.models import count_parameters, mlp
from thalweg_lab import datasets
from thalweg_lab.plotting import COLORS, figure, plot_into, save
from thalweg_lab.registry import Experiment, register
from thalweg_lab.result import Check, LabResult, Table, Verdict, verdict_from_checks
from thalweg_lab.training import evaluate, predict, seed_everything, train

__all__ = ["run", "judge", "EXPERIMENT"]

CLAIM = ("Dropout regularizes an over-parameterised network: trained on a small subset of MNIST, the same MLP with "
         "dropout shows a smaller gap between training and dev accuracy than without it.")

P_HIDDEN, P_INPUT = 0.5, 0.2


def _settings(quick: bool) -> dict[str, Any]:
    if quick:
        return {"n_train": 300, "n_dev": 1000, "hidden": [256], "epochs": 40, "batch": 32, "lr": 1e-3}
    return {"n_train": 2000, "n_dev": 5000, "hidden": [512, 512], "epochs": 100, "batch": 64, "lr": 1e-3}


def _model(n_in: int, hidden: list[int], dropout: bool) -> nn.Module:
    net = mlp(n_in, 10, hidden, dropout=P_HIDDEN if dropout else 0.0)
    return nn.Sequential(nn.Dropout(P_INPUT), net) if dropout else nn.Sequential(nn.Identity(), net)


def run(*, quick: bool, out_dir: Path, seed: int) -> LabResult:
    cfg = _settings(quick)
    data = datasets.load("mnist", n_train=cfg["n_train"], n_dev=cfg["n_dev"], n_test=0, seed=seed)
    x, y = data.x_train, data.y_train
    steps_per_epoch = len(y) // cfg["batch"]
    seed_everything(seed)
    # the dropout layers shift the Sequential's indices, so the shared initialization is copied by position
    init = [p.array.copy() for p in _model(data.n_features, cfg["hidden"], False).parameters()]
    measured: dict[str, Any] = {"n_dev": len(data.y_dev)}
    logs, correct = {}, {}
    for name, use in (("without dropout", False), ("with dropout", True)):
        seed_everything(seed + 1)  # the dropout masks' generator
        model = _model(data.n_features, cfg["hidden"], use)
        for p, value in zip(model.parameters(), init, strict=True):
            p.array[...] = value
        measured["parameters"] = count_parameters(model)
        opt = Adam(model.parameters(), lr=cfg["lr"])
        logs[name] = log = train(model, opt, x, y, steps=cfg["epochs"] * steps_per_epoch, batch_size=cfg["batch"],
                                 seed=seed, dev=(data.x_dev, data.y_dev), eval_every=steps_per_epoch,
                                 on_eval=lambda step, model=model: {"train_accuracy": evaluate(model, x, y)[1]})
        measured[f"train_accuracy/{name}"] = log.final("train_accuracy")
        measured[f"dev_accuracy/{name}"] = log.final("dev_accuracy")
        measured[f"gap/{name}"] = log.final("train_accuracy") - log.final("dev_accuracy")
        correct[name] = (predict(model, data.x_dev) == data.y_dev).astype(np.float64)
    measured["gap_reduction"] = measured["gap/without dropout"] - measured["gap/with dropout"]
    d = correct["with dropout"] - correct["without dropout"]
    measured["dev_difference_se"] = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else math.nan

    table = Table(["run", "train accuracy", "dev accuracy", "train - dev gap"], title="Train/dev gap",
                  spec=".2%")  # accuracies and their gaps in percent, as in the plot and the verdict
    for name in logs:
        table.add(name, measured[f"train_accuracy/{name}"], measured[f"dev_accuracy/{name}"], measured[f"gap/{name}"])
    table.add("gap reduction (2 s.e. needed)", "", "", f"{measured['gap_reduction']:.2%} "
              f"(2 s.e. = {2 * measured['dev_difference_se']:.2%})")
    setup = "\n".join([
        f"- Data: {data.describe()}.",
        f"- Model: MLP 784-{'-'.join(map(str, cfg['hidden']))}-10 with ReLU ({measured['parameters']:,} parameters); "
        f"with dropout: p = {P_INPUT} on the input and p = {P_HIDDEN} after each hidden layer; the same "
        "initialization and minibatch order for both runs.",
        f"- Training: Adam, learning rate {cfg['lr']}, batches of {cfg['batch']}, {cfg['epochs']} epochs; final "
        "weights (no model selection); training accuracy in eval mode on the whole training subset.",
        "- Noise level: the standard error of the paired difference in dev accuracy (both nets are scored on the "
        "same dev examples)."])
    result = LabResult(setup=setup, tables=[table], measured=measured, n_seeds=1)
    plot_into(result, out_dir / "dropout.png", lambda p: _plot(p, logs, steps_per_epoch))
    return result


def judge(m: Mapping[str, Any]) -> Verdict:
    return verdict_from_checks([
        Check.at_least("gap reduction by dropout minus two standard errors", m["gap_reduction"]
                       - 2 * m["dev_difference_se"], 0.0, spec=".2%"),
        Check.at_least("dev accuracy with minus without dropout", m["dev_accuracy/with dropout"]
                       - m["dev_accuracy/without dropout"], 0.0, primary=False, spec=".2%"),
    ], context="A short run may stop before the net without dropout has finished memorising its training set, "
               "when the gap is still small for both.")


def _plot(path: Path, logs: dict[str, Any], steps_per_epoch: int) -> None:
    """Left: accuracies in percent, the axis zoomed on the range the runs end in (from 0 to 100 a
    two-point effect is a hair's width).  Right: the effect itself, the train - dev gap in points."""
    fig, axes = figure(1, 2)
    ax, gap_ax = axes[0, 0], axes[0, 1]
    late = []
    for i, (name, log) in enumerate(logs.items()):
        epochs = np.asarray(log.eval_steps) / steps_per_epoch
        train = 100.0 * np.asarray(log.evals["train_accuracy"], dtype=np.float64)
        dev = 100.0 * np.asarray(log.evals["dev_accuracy"], dtype=np.float64)
        ax.plot(epochs, train, color=COLORS[i], label=f"{name}: train")
        ax.plot(epochs, dev, color=COLORS[i], ls="--", label=f"{name}: dev")
        gap_ax.plot(epochs, train - dev, color=COLORS[i], marker="o", ms=3, label=name)
        half = max(1, len(epochs) // 2)
        late += list(train[-half:]) + list(dev[-half:])
    if late:
        low = max(0.0, float(np.floor(min(late) - 1.0)))
        ax.set_ylim(low, 100.5)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Accuracy (axis zoomed on the last epochs' range)")
    ax.legend(fontsize=8)
    gap_ax.axhline(0.0, color="k", lw=0.6)
    gap_ax.set_xlabel("epoch")
    gap_ax.set_ylabel("train - dev accuracy (percentage points)")
    gap_ax.set_title("The train/dev gap")
    gap_ax.legend(fontsize=8)
    save(fig, path)


DIFFERENCES = (
    'A 2,000-example subset of MNIST and a 784-512-512-10 MLP trained with Adam for 100 epochs, to make the memorising regime reachable on a CPU; Hinton et al. train far larger nets on all of MNIST with SGD and max-norm constraints.',
    'One seed; the uncertainty comes from the paired standard error over dev examples, not from seeds.',
)

EXPERIMENT = register(Experiment(
    name="dropout", paper="lecture-004", title="Dropout and the train/dev gap (lecture 4, after Hinton et al. 2012)",
    claim=CLAIM, run=run, judge=judge, quick_seconds=3, full_minutes=1.5, differences=DIFFERENCES))
