"""Dropout narrows the gap between training and dev accuracy (the lecture; Hinton et al. 2012, Srivastava et al. 2014).

An over-parameterised MLP trained on a small subset of MNIST memorises it
(training accuracy 100%) and its dev accuracy stays well below.  Dropout
(``nn.Dropout``: each hidden unit zeroed with probability p during training,
the survivors scaled by 1/(1-p); the full net at test time) acts as a
regularizer, an average over thinned networks: the same net with dropout
should show a smaller train/dev gap.

Per seed (three in a full run), two runs from the same initialization and
minibatch order: without dropout, and with dropout p = 0.5 after each hidden
layer and 0.2 on the input (the rates of Hinton et al. 2012).  Each seed
draws its own training and dev subsets, initialization, minibatch order and
dropout masks, so the seeds are independent repetitions of the whole
comparison.  Training accuracy is measured in eval mode on the whole
training subset.

Criteria (``judge``), over the seeds:

* on every seed, the train - dev gap with dropout is smaller than without by
  at least two standard errors of that seed's paired dev-accuracy difference
  (the standard error of the mean of ``correct_with - correct_without`` over
  the dev examples, so that dev-set noise alone is unlikely to produce it).
  Every seed has to show the effect on its own; this is stricter than a
  test of the mean over three seeds, whose standard error (two degrees of
  freedom) is itself too uncertain to rest a verdict on.  The mean, standard
  deviation and range over seeds are reported beside it;
* (secondary) on every seed, the dev accuracy with dropout is at least that
  without.
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
from thalweg_lab.result import Check, LabResult, Table, Verdict, lowest, per_seed, spread, verdict_from_checks
from thalweg_lab.training import evaluate, over_seeds, predict, seed_everything, train

__all__ = ["run", "judge", "EXPERIMENT"]

CLAIM = ("Dropout regularizes an over-parameterised network: trained on a small subset of MNIST, the same MLP with "
         "dropout shows a smaller gap between training and dev accuracy than without it.")

P_HIDDEN, P_INPUT = 0.5, 0.2
RUNS = ("without dropout", "with dropout")


def _settings(quick: bool) -> dict[str, Any]:
    if quick:
        return {"n_train": 300, "n_dev": 1000, "hidden": [256], "epochs": 40, "batch": 32, "lr": 1e-3, "seeds": 2}
    return {"n_train": 2000, "n_dev": 5000, "hidden": [512, 512], "epochs": 100, "batch": 64, "lr": 1e-3,
            "seeds": 3}


def _model(n_in: int, hidden: list[int], dropout: bool) -> nn.Module:
    net = mlp(n_in, 10, hidden, dropout=P_HIDDEN if dropout else 0.0)
    return nn.Sequential(nn.Dropout(P_INPUT), net) if dropout else nn.Sequential(nn.Identity(), net)


def _one_seed(cfg: dict[str, Any], s: int, measured: dict[str, Any], bar: Any) -> tuple[datasets.LabData, dict]:
    """Both runs for seed ``s``; appends this seed's figures to the lists in ``measured``."""
    data = datasets.load("mnist", n_train=cfg["n_train"], n_dev=cfg["n_dev"], n_test=0, seed=s)
    x, y = data.x_train, data.y_train
    steps_per_epoch = len(y) // cfg["batch"]
    seed_everything(s)
    # the dropout layers shift the Sequential's indices, so the shared initialization is copied by position
    init = [p.array.copy() for p in _model(data.n_features, cfg["hidden"], False).parameters()]
    logs, correct = {}, {}
    for name in RUNS:
        # the dropout masks' generator; of stream s + 1 the next seed uses only the first draws (its
        # initialization), which here go to the model that the shared initialization then overwrites
        seed_everything(s + 1)
        model = _model(data.n_features, cfg["hidden"], name == "with dropout")
        for p, value in zip(model.parameters(), init, strict=True):
            p.array[...] = value
        measured["parameters"] = count_parameters(model)
        opt = Adam(model.parameters(), lr=cfg["lr"])
        logs[name] = log = train(model, opt, x, y, steps=cfg["epochs"] * steps_per_epoch, batch_size=cfg["batch"],
                                 seed=s, dev=(data.x_dev, data.y_dev), eval_every=steps_per_epoch,
                                 on_eval=lambda step, model=model: {"train_accuracy": evaluate(model, x, y)[1]})
        train_acc, dev_acc = log.final("train_accuracy"), log.final("dev_accuracy")
        measured.setdefault(f"train_accuracy/{name}", []).append(train_acc)
        measured.setdefault(f"dev_accuracy/{name}", []).append(dev_acc)
        measured.setdefault(f"gap/{name}", []).append(train_acc - dev_acc)
        correct[name] = (predict(model, data.x_dev) == data.y_dev).astype(np.float64)
        bar.update(1)
    measured.setdefault("gap_reduction", []).append(measured["gap/without dropout"][-1]
                                                    - measured["gap/with dropout"][-1])
    d = correct["with dropout"] - correct["without dropout"]
    measured.setdefault("dev_difference_se", []).append(
        float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else math.nan)
    return data, logs


def run(*, quick: bool, out_dir: Path, seed: int) -> LabResult:
    cfg = _settings(quick)
    seeds, measured, data, all_logs = over_seeds(cfg, seed, len(RUNS), "dropout: runs", _one_seed)
    steps_per_epoch = len(data.y_train) // cfg["batch"]
    measured["n_dev"] = len(data.y_dev)
    reduction = np.asarray(measured["gap_reduction"], dtype=np.float64)
    se = np.asarray(measured["dev_difference_se"], dtype=np.float64)
    measured["reduction_minus_2se"] = [float(v) for v in reduction - 2 * se]
    measured["mean_gap_reduction"] = float(reduction.mean())
    measured["gap_reduction_seed_se"] = (float(reduction.std(ddof=1) / math.sqrt(len(reduction)))
                                         if len(reduction) > 1 else math.nan)

    summary = Table(["run", "train accuracy", "dev accuracy", "train - dev gap"],
                    title=f"Train/dev gap; mean ± std (min to max) over {len(seeds)} seeds")
    for name in RUNS:
        summary.add(name, *(spread(measured[f"{key}/{name}"], ".2%") for key in ("train_accuracy", "dev_accuracy",
                                                                                  "gap")))
    summary.add("gap reduction", "", "", spread(measured["gap_reduction"], ".2%"))
    per_seed = Table(["seed", "gap without dropout", "gap with dropout", "gap reduction", "2 paired s.e.",
                      "reduction minus 2 s.e. (needs >= 0)", "dev accuracy without", "dev accuracy with"],
                     title="Per seed (the verdict needs every seed)", spec=".2%")
    for k, s in enumerate(seeds):
        per_seed.add(s, measured["gap/without dropout"][k], measured["gap/with dropout"][k],
                     measured["gap_reduction"][k], 2 * measured["dev_difference_se"][k],
                     measured["reduction_minus_2se"][k], measured["dev_accuracy/without dropout"][k],
                     measured["dev_accuracy/with dropout"][k])
    setup = "\n".join([
        f"- Data: {data.describe()}; each seed draws its own training and dev subsets.",
        f"- Model: MLP 784-{'-'.join(map(str, cfg['hidden']))}-10 with ReLU ({measured['parameters']:,} parameters); "
        f"with dropout: p = {P_INPUT} on the input and p = {P_HIDDEN} after each hidden layer; per seed the same "
        "initialization and minibatch order for both runs.",
        f"- Training: Adam, learning rate {cfg['lr']}, batches of {cfg['batch']}, {cfg['epochs']} epochs; final "
        "weights (no model selection); training accuracy in eval mode on the whole training subset.",
        f"- Seeds: {len(seeds)} ({seeds[0]} to {seeds[-1]}): subsets, initialization, minibatch order and dropout "
        "masks all change with the seed.",
        "- Noise level per seed: the standard error of the paired difference in dev accuracy (both nets are scored "
        "on the same dev examples)."])
    result = LabResult(setup=setup, tables=[summary, per_seed], measured=measured, n_seeds=len(seeds))
    plot_into(result, out_dir / "dropout.png", lambda p: _plot(p, all_logs, steps_per_epoch))
    return result




def judge(m: Mapping[str, Any]) -> Verdict:
    margin = per_seed(m["gap_reduction"]) - 2 * per_seed(m["dev_difference_se"])
    dev_gain = per_seed(m["dev_accuracy/with dropout"]) - per_seed(m["dev_accuracy/without dropout"])
    return verdict_from_checks([
        Check.at_least(f"gap reduction by dropout minus two paired standard errors, lowest of {margin.size} seeds",
                       lowest(margin), 0.0, spec=".2%"),
        Check.at_least(f"dev accuracy with minus without dropout, lowest of {dev_gain.size} seeds",
                       lowest(dev_gain), 0.0, primary=False, spec=".2%"),
    ], context="A short run may stop before the net without dropout has finished memorising its training set, "
               "when the gap is still small for both.")


def _plot(path: Path, all_logs: list[dict[str, Any]], steps_per_epoch: int) -> None:
    """Left: accuracies in percent, the axis zoomed on the range the runs end in (from 0 to 100 a
    two-point effect is a hair's width).  Right: the effect itself, the train - dev gap in points.
    One line per seed, one colour per run."""
    fig, axes = figure(1, 2)
    ax, gap_ax = axes[0, 0], axes[0, 1]
    late = []
    for j, logs in enumerate(all_logs):
        first = j == 0
        for i, (name, log) in enumerate(logs.items()):
            epochs = np.asarray(log.eval_steps) / steps_per_epoch
            train = 100.0 * np.asarray(log.evals["train_accuracy"], dtype=np.float64)
            dev = 100.0 * np.asarray(log.evals["dev_accuracy"], dtype=np.float64)
            ax.plot(epochs, train, color=COLORS[i], alpha=0.8, label=f"{name}: train" if first else None)
            ax.plot(epochs, dev, color=COLORS[i], ls="--", alpha=0.8, label=f"{name}: dev" if first else None)
            gap_ax.plot(epochs, train - dev, color=COLORS[i], marker="o", ms=2, alpha=0.8,
                        label=name if first else None)
            half = max(1, len(epochs) // 2)
            late += list(train[-half:]) + list(dev[-half:])
    if late:
        low = max(0.0, float(np.floor(min(late) - 1.0)))
        ax.set_ylim(low, 100.5)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"Accuracy, {len(all_logs)} seeds (axis zoomed on the last epochs' range)")
    ax.legend(fontsize=8)
    gap_ax.axhline(0.0, color="k", lw=0.6)
    gap_ax.set_xlabel("epoch")
    gap_ax.set_ylabel("train - dev accuracy (percentage points)")
    gap_ax.set_title("The train/dev gap (one line per seed)")
    gap_ax.legend(fontsize=8)
    save(fig, path)


DIFFERENCES = (
    'A 2,000-example subset of MNIST and a 784-512-512-10 MLP trained with Adam for 100 epochs, to make the memorising regime reachable on a CPU; Hinton et al. train far larger nets on all of MNIST with SGD and max-norm constraints.',
    "One pair of dropout rates (0.2 on the input, 0.5 on the hidden layers) and the final weights after a fixed "
    "budget, over three seeds; the papers compare architectures and rates and report test error after model "
    "selection on a validation set.",
)

EXPERIMENT = register(Experiment(
    name="dropout", paper="lecture-004", title="Dropout and the train/dev gap (lecture 4, after Hinton et al. 2012)",
    claim=CLAIM, run=run, judge=judge, quick_seconds=6, full_minutes=3, differences=DIFFERENCES))
