"""Memorisation: an over-parameterised MLP fits random labels (the lecture, after Zhang et al., ICLR 2017).

Zhang, Bengio, Hardt, Recht and Vinyals ("Understanding deep learning
requires rethinking generalization") showed that networks with more
parameters than training examples can fit a training set whose labels were
shuffled at random, reaching (near) 100% training accuracy while their
accuracy on held-out data stays at chance: the capacity to memorise is there,
so good generalization on real labels cannot come from a lack of capacity.
They also observed that random labels take longer to fit, by a small factor.

Here, per seed (three in a full run): the same MLP, from the same
initialization, on a subset of MNIST with its true labels and with the
labels randomly permuted (the class counts stay the same), trained with Adam
until its training accuracy reaches 100% or the epoch budget runs out.  Each
seed draws its own training and dev subsets, permutation, initialization and
minibatch order.

Criteria (``judge``), each required on every seed:

* random labels: final training accuracy >= 0.95;
* random labels: dev accuracy at most the chance level, taken as the share of
  the most frequent class in that seed's dev set plus three binomial standard
  errors;
* (secondary) true labels: dev accuracy >= 0.8 (the same net generalizes when
  the labels mean something);
* (secondary) random labels need more epochs than true labels to reach 95%
  training accuracy.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from thalweg.optim import Adam
from thalweg.train.models import count_parameters, mlp
from thalweg_lab import datasets
from thalweg_lab.plotting import COLORS, figure, plot_into, save
from thalweg_lab.registry import Experiment, register
from thalweg_lab.result import (Check, LabResult, Table, Verdict, highest, lowest, per_seed, spread,
                                 verdict_from_checks)
from thalweg_lab.training import evaluate, first_step_reaching, over_seeds, seed_everything, train

__all__ = ["run", "judge", "chance_bound", "EXPERIMENT"]

CLAIM = ("A network with far more parameters than training examples can fit labels assigned at random: its "
         "training accuracy reaches nearly 100% while its accuracy on held-out data stays at chance, whereas the "
         "same network on the true labels generalizes.")

LABELS = ("true", "random")


def chance_bound(y_dev: np.ndarray, num_classes: int = 10) -> float:
    """The most frequent class's share of ``y_dev`` plus three binomial standard errors.

    A classifier whose predictions are independent of the true labels has an
    expected accuracy ``sum_k P(pred = k) P(y = k) <= max_k P(y = k)``.
    """
    p = float(np.bincount(y_dev, minlength=num_classes).max()) / len(y_dev)
    return p + 3.0 * math.sqrt(p * (1.0 - p) / len(y_dev))


def _settings(quick: bool) -> dict[str, Any]:
    if quick:
        return {"n_train": 300, "n_dev": 1000, "hidden": [256], "epochs": 60, "batch": 32, "lr": 1e-3, "seeds": 2}
    return {"n_train": 2000, "n_dev": 2000, "hidden": [512, 512], "epochs": 200, "batch": 64, "lr": 1e-3,
            "seeds": 3}


def _one_seed(cfg: dict[str, Any], s: int, measured: dict[str, Any], bar: Any) -> tuple[datasets.LabData, dict]:
    """The true- and random-label runs for seed ``s``; appends this seed's figures to ``measured``."""
    data = datasets.load("mnist", n_train=cfg["n_train"], n_dev=cfg["n_dev"], n_test=0, seed=s)
    x, y_true = data.x_train, data.y_train
    y_random = np.random.default_rng((s, 0x1ABE1)).permutation(y_true)
    steps_per_epoch = len(y_true) // cfg["batch"]
    measured.setdefault("chance_bound", []).append(chance_bound(data.y_dev))
    measured.setdefault("agreement_random_true", []).append(float(np.mean(y_random == y_true)))
    logs = {}
    for labels, y in zip(LABELS, (y_true, y_random)):
        seed_everything(s)
        model = mlp(data.n_features, 10, cfg["hidden"])
        measured["parameters"] = count_parameters(model)
        opt = Adam(model.parameters(), lr=cfg["lr"])
        log = train(model, opt, x, y, steps=cfg["epochs"] * steps_per_epoch, batch_size=cfg["batch"], seed=s,
                    dev=(data.x_dev, data.y_dev), eval_every=steps_per_epoch,
                    on_eval=lambda step, model=model, y=y: {"train_accuracy": evaluate(model, x, y)[1]},
                    until=lambda f: f["train_accuracy"] >= 1.0)
        logs[labels] = log
        epochs = np.asarray(log.eval_steps) / steps_per_epoch
        measured.setdefault(f"train_accuracy/{labels}", []).append(log.final("train_accuracy"))
        measured.setdefault(f"dev_accuracy/{labels}", []).append(log.final("dev_accuracy"))
        measured.setdefault(f"epochs/{labels}", []).append(float(epochs[-1]))
        measured.setdefault(f"epochs_to_95/{labels}", []).append(
            float(first_step_reaching(epochs, log.evals["train_accuracy"], 0.95)))
        bar.update(1)
    return data, logs


def run(*, quick: bool, out_dir: Path, seed: int) -> LabResult:
    cfg = _settings(quick)
    seeds, measured, data, all_logs = over_seeds(cfg, seed, len(LABELS), "memorization: runs", _one_seed)
    steps_per_epoch = len(data.y_train) // cfg["batch"]
    measured["n_train"] = len(data.y_train)
    for labels in LABELS:
        measured[f"mean_dev_accuracy/{labels}"] = float(np.mean(measured[f"dev_accuracy/{labels}"]))
    measured["mean_train_accuracy/random"] = float(np.mean(measured["train_accuracy/random"]))

    summary = Table(["labels", "train accuracy", "dev accuracy", "epochs to 95% train", "epochs run"],
                    title=f"True versus randomly permuted training labels; mean ± std (min to max) over "
                          f"{len(seeds)} seeds")
    for labels in LABELS:
        summary.add(labels, spread(measured[f"train_accuracy/{labels}"], ".4f"),
                    spread(measured[f"dev_accuracy/{labels}"], ".4f"),
                    spread(measured[f"epochs_to_95/{labels}"], ".3g"), spread(measured[f"epochs/{labels}"], ".3g"))
    summary.add("chance bound (dev)", "", spread(measured["chance_bound"], ".4f"), "", "")
    per_seed = Table(["seed", "random: train accuracy", "random: dev accuracy", "chance bound (dev)",
                      "true: dev accuracy", "epochs to 95% train: true", "epochs to 95% train: random"],
                     title="Per seed (every criterion must hold on every seed)")
    for k, s in enumerate(seeds):
        per_seed.add(s, measured["train_accuracy/random"][k], measured["dev_accuracy/random"][k],
                     measured["chance_bound"][k], measured["dev_accuracy/true"][k],
                     measured["epochs_to_95/true"][k], measured["epochs_to_95/random"][k])
    agreement = np.asarray(measured["agreement_random_true"])
    setup = "\n".join([
        f"- Data: {data.describe()}; each seed draws its own training and dev subsets.",
        f"- Random labels: the training labels permuted at random, a new permutation per seed; "
        f"{100 * agreement.min():.1f}% to {100 * agreement.max():.1f}% of them still equal the true label by "
        "coincidence. The dev set keeps its true labels.",
        f"- Model: MLP 784-{'-'.join(map(str, cfg['hidden']))}-10 with ReLU, {measured['parameters']:,} parameters "
        f"for {len(data.y_train):,} training examples ({measured['parameters'] / len(data.y_train):.0f} per "
        "example); per seed the same initialization for both label sets.",
        f"- Training: Adam, learning rate {cfg['lr']}, batches of {cfg['batch']}, until the training accuracy "
        f"(measured in eval mode on the whole training subset after each epoch) reaches 100%, at most "
        f"{cfg['epochs']} epochs.",
        f"- Seeds: {len(seeds)} ({seeds[0]} to {seeds[-1]}): subsets, permutation, initialization and minibatch "
        "order all change with the seed.",
        "- Chance bound: the most frequent dev class's share plus three binomial standard errors, per seed."])
    result = LabResult(setup=setup, tables=[summary, per_seed], measured=measured, n_seeds=len(seeds))
    plot_into(result, out_dir / "memorization.png", lambda p: _plot(p, all_logs, steps_per_epoch, measured))
    return result





def judge(m: Mapping[str, Any]) -> Verdict:
    train_random = per_seed(m["train_accuracy/random"])
    over_chance = per_seed(m["dev_accuracy/random"]) - per_seed(m["chance_bound"])
    dev_true = per_seed(m["dev_accuracy/true"])
    # never reaching 95% counts as infinitely many epochs; never for both labels is no evidence (NaN fails)
    with np.errstate(invalid="ignore"):
        slower = per_seed(m["epochs_to_95/random"]) - per_seed(m["epochs_to_95/true"])
    n = train_random.size
    return verdict_from_checks([
        Check.at_least(f"random labels: training accuracy, lowest of {n} seeds", lowest(train_random), 0.95),
        Check.at_most(f"random labels: dev accuracy minus the chance bound, highest of {n} seeds",
                      highest(over_chance), 0.0),
        Check.at_least(f"true labels: dev accuracy, lowest of {n} seeds", lowest(dev_true), 0.8, primary=False),
        Check.greater_than(f"random minus true labels: epochs to 95% training accuracy, lowest of {n} seeds",
                           lowest(slower), 0.0, primary=False),
    ], context="A short epoch budget may stop the random-label run before it has memorised the whole subset.")


def _plot(path: Path, all_logs: list[dict[str, Any]], steps_per_epoch: int, m: Mapping[str, Any]) -> None:
    fig, axes = figure(1, 2, width=5.0)
    for j, logs in enumerate(all_logs):
        first = j == 0
        for i, (labels, log) in enumerate(logs.items()):
            epochs = np.asarray(log.eval_steps) / steps_per_epoch
            axes[0, 0].plot(epochs, log.evals["train_accuracy"], color=COLORS[i], alpha=0.8,
                            label=f"{labels} labels: train" if first else None)
            axes[0, 0].plot(epochs, log.evals["dev_accuracy"], color=COLORS[i], ls="--", alpha=0.8,
                            label=f"{labels} labels: dev" if first else None)
            axes[0, 1].plot(np.arange(1, len(log.loss) + 1) / steps_per_epoch, log.smoothed_loss(steps_per_epoch),
                            color=COLORS[i], alpha=0.8, label=f"{labels} labels" if first else None)
    axes[0, 0].axhline(max(m["chance_bound"]), color="gray", lw=0.8, ls=":",
                       label="chance bound (highest over seeds)")
    axes[0, 0].set_xlabel("epoch")
    axes[0, 0].set_ylabel("accuracy")
    axes[0, 0].legend(fontsize=8)
    axes[0, 0].set_title(f"Fitting random labels ({len(all_logs)} seeds, one line each)")
    axes[0, 1].set_xlabel("epoch")
    axes[0, 1].set_ylabel("training loss (running mean over an epoch)")
    axes[0, 1].set_yscale("log")
    axes[0, 1].legend(fontsize=8)
    save(fig, path)


DIFFERENCES = (
    "A 2,000-example subset of MNIST and an MLP instead of Zhang et al.'s CIFAR-10 and ImageNet convolutional nets (CPU budget).",
    "Only randomly permuted labels, with Adam and no regularization, over three seeds; Zhang et al. also "
    "randomize pixels and shuffle inputs, vary the share of corrupted labels, and add explicit regularizers.",
)

EXPERIMENT = register(Experiment(
    name="memorization", paper="lecture-004", title="Memorising random labels (lecture 4, after Zhang et al. 2017)",
    claim=CLAIM, run=run, judge=judge, quick_seconds=4, full_minutes=1, differences=DIFFERENCES))
