"""Memorisation: an over-parameterised MLP fits random labels (the lecture, after Zhang et al., ICLR 2017).

Zhang, Bengio, Hardt, Recht and Vinyals ("Understanding deep learning
requires rethinking generalization") showed that networks with more
parameters than training examples can fit a training set whose labels were
shuffled at random, reaching (near) 100% training accuracy while their
accuracy on held-out data stays at chance: the capacity to memorise is there,
so good generalization on real labels cannot come from a lack of capacity.
They also observed that random labels take longer to fit, by a small factor.

Here: the same MLP, from the same initialization, on a subset of MNIST with
its true labels and with the labels randomly permuted (the class counts
stay the same), trained with Adam until its training accuracy reaches 100%
or the epoch budget runs out.

Criteria (``judge``):

* random labels: final training accuracy >= 0.95;
* random labels: dev accuracy at most the chance level, taken as the share of
  the most frequent class in the dev set plus three binomial standard errors;
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
from thalweg_lab.result import Check, LabResult, Table, Verdict, verdict_from_checks
from thalweg_lab.training import evaluate, first_step_reaching, seed_everything, train

__all__ = ["run", "judge", "chance_bound", "EXPERIMENT"]

CLAIM = ("A network with far more parameters than training examples can fit labels assigned at random: its "
         "training accuracy reaches nearly 100% while its accuracy on held-out data stays at chance, whereas the "
         "same network on the true labels generalizes.")


def chance_bound(y_dev: np.ndarray, num_classes: int = 10) -> float:
    """The most frequent class's share of ``y_dev`` plus three binomial standard errors.

    A classifier whose predictions are independent of the true labels has an
    expected accuracy ``sum_k P(pred = k) P(y = k) <= max_k P(y = k)``.
    """
    p = float(np.bincount(y_dev, minlength=num_classes).max()) / len(y_dev)
    return p + 3.0 * math.sqrt(p * (1.0 - p) / len(y_dev))


def _settings(quick: bool) -> dict[str, Any]:
    if quick:
        return {"n_train": 300, "n_dev": 1000, "hidden": [256], "epochs": 60, "batch": 32, "lr": 1e-3}
    return {"n_train": 2000, "n_dev": 2000, "hidden": [512, 512], "epochs": 200, "batch": 64, "lr": 1e-3}


def run(*, quick: bool, out_dir: Path, seed: int) -> LabResult:
    cfg = _settings(quick)
    data = datasets.load("mnist", n_train=cfg["n_train"], n_dev=cfg["n_dev"], n_test=0, seed=seed)
    x, y_true = data.x_train, data.y_train
    y_random = np.random.default_rng((seed, 0x1ABE1)).permutation(y_true)
    steps_per_epoch = len(y_true) // cfg["batch"]
    measured: dict[str, Any] = {"n_train": len(y_true), "chance_bound": chance_bound(data.y_dev),
                                "agreement_random_true": float(np.mean(y_random == y_true))}
    logs = {}
    for labels, y in (("true", y_true), ("random", y_random)):
        seed_everything(seed)
        model = mlp(data.n_features, 10, cfg["hidden"])
        measured["parameters"] = count_parameters(model)
        opt = Adam(model.parameters(), lr=cfg["lr"])
        log = train(model, opt, x, y, steps=cfg["epochs"] * steps_per_epoch, batch_size=cfg["batch"], seed=seed,
                    dev=(data.x_dev, data.y_dev), eval_every=steps_per_epoch,
                    on_eval=lambda step, model=model, y=y: {"train_accuracy": evaluate(model, x, y)[1]},
                    until=lambda f: f["train_accuracy"] >= 1.0)
        logs[labels] = log
        epochs = np.asarray(log.eval_steps) / steps_per_epoch
        measured[f"train_accuracy/{labels}"] = log.final("train_accuracy")
        measured[f"dev_accuracy/{labels}"] = log.final("dev_accuracy")
        measured[f"epochs/{labels}"] = float(epochs[-1])
        measured[f"epochs_to_95/{labels}"] = first_step_reaching(epochs, log.evals["train_accuracy"], 0.95)

    table = Table(["labels", "train accuracy", "dev accuracy", "epochs to 95% train", "epochs run"],
                  title="True versus randomly permuted training labels")
    for labels in ("true", "random"):
        table.add(labels, measured[f"train_accuracy/{labels}"], measured[f"dev_accuracy/{labels}"],
                  measured[f"epochs_to_95/{labels}"], measured[f"epochs/{labels}"])
    table.add("chance bound (dev)", "", measured["chance_bound"], "", "")
    setup = "\n".join([
        f"- Data: {data.describe()}.",
        f"- Random labels: the training labels permuted at random (seed {seed}); "
        f"{100 * measured['agreement_random_true']:.1f}% of them still equal the true label by coincidence. "
        "The dev set keeps its true labels.",
        f"- Model: MLP 784-{'-'.join(map(str, cfg['hidden']))}-10 with ReLU, {measured['parameters']:,} parameters "
        f"for {len(y_true):,} training examples ({measured['parameters'] / len(y_true):.0f} per example); the same "
        "initialization for both label sets.",
        f"- Training: Adam, learning rate {cfg['lr']}, batches of {cfg['batch']}, until the training accuracy "
        f"(measured in eval mode on the whole training subset after each epoch) reaches 100%, at most "
        f"{cfg['epochs']} epochs.",
        "- Chance bound: the most frequent dev class's share plus three binomial standard errors."])
    result = LabResult(setup=setup, tables=[table], measured=measured, n_seeds=1)
    plot_into(result, out_dir / "memorization.png", lambda p: _plot(p, logs, steps_per_epoch, measured))
    return result


def judge(m: Mapping[str, Any]) -> Verdict:
    return verdict_from_checks([
        Check.at_least("random labels: training accuracy", m["train_accuracy/random"], 0.95),
        Check.at_most("random labels: dev accuracy", m["dev_accuracy/random"], m["chance_bound"]),
        Check.at_least("true labels: dev accuracy", m["dev_accuracy/true"], 0.8, primary=False),
        Check.greater_than("random minus true labels: epochs to 95% training accuracy",
                           m["epochs_to_95/random"] - m["epochs_to_95/true"], 0.0, primary=False),
    ], context="A short epoch budget may stop the random-label run before it has memorised the whole subset.")


def _plot(path: Path, logs: dict[str, Any], steps_per_epoch: int, m: Mapping[str, Any]) -> None:
    fig, axes = figure(1, 2, width=5.0)
    for i, (labels, log) in enumerate(logs.items()):
        epochs = np.asarray(log.eval_steps) / steps_per_epoch
        axes[0, 0].plot(epochs, log.evals["train_accuracy"], color=COLORS[i], label=f"{labels} labels: train")
        axes[0, 0].plot(epochs, log.evals["dev_accuracy"], color=COLORS[i], ls="--", label=f"{labels} labels: dev")
        axes[0, 1].plot(np.arange(1, len(log.loss) + 1) / steps_per_epoch, log.smoothed_loss(steps_per_epoch),
                        color=COLORS[i], label=f"{labels} labels")
    axes[0, 0].axhline(m["chance_bound"], color="gray", lw=0.8, ls=":", label="chance bound")
    axes[0, 0].set_xlabel("epoch")
    axes[0, 0].set_ylabel("accuracy")
    axes[0, 0].legend(fontsize=8)
    axes[0, 0].set_title("Fitting random labels")
    axes[0, 1].set_xlabel("epoch")
    axes[0, 1].set_ylabel("training loss (running mean over an epoch)")
    axes[0, 1].set_yscale("log")
    axes[0, 1].legend(fontsize=8)
    save(fig, path)


DIFFERENCES = (
    "A 2,000-example subset of MNIST and an MLP instead of Zhang et al.'s CIFAR-10 and ImageNet convolutional nets (CPU budget).",
    'One seed.',
)

EXPERIMENT = register(Experiment(
    name="memorization", paper="lecture-004", title="Memorising random labels (lecture 4, after Zhang et al. 2017)",
    claim=CLAIM, run=run, judge=judge, quick_seconds=2, full_minutes=1.5, differences=DIFFERENCES))
