"""Twelve optimizers side by side on Fashion-MNIST (after Ruder, "An overview of gradient descent optimization algorithms").

The survey's practical advice: the adaptive methods work well with their
default settings, without tuning, and Adam "might be the best overall
choice", whereas plain SGD usually reaches a minimum too but can take much
longer and depends on a good learning rate and schedule.

Here the same MLP, from one initialization and with one minibatch order, is
trained by SGD, momentum, Nesterov, Adagrad, Adadelta, RMSprop, Adam, AdaMax,
Nadam, AMSGrad, RAdam and AdamW at their usual defaults (``SETTINGS``) for
the same number of steps.

Criteria (``judge``):

* Adam ends with a lower training loss than plain SGD (mean of the last 10%
  of the steps' minibatch losses);
* Adam reaches plain SGD's final dev accuracy before SGD's last step;
* (secondary) a majority of the nine adaptive methods end with a lower
  training loss than plain SGD;
* (secondary) momentum and Nesterov end with a lower training loss than plain SGD.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from thalweg import optim
from thalweg.train.models import mlp
from thalweg_lab import datasets
from thalweg_lab.plotting import COLORS, figure, plot_into, save
from thalweg_lab.registry import Experiment, register
from thalweg_lab.result import Check, LabResult, Table, Verdict, verdict_from_checks
from thalweg_lab.training import first_step_reaching, seed_everything, train

__all__ = ["run", "judge", "SETTINGS", "ADAPTIVE", "EXPERIMENT"]

# name -> (factory, the settings in words).  SGD's learning rate has no universal default; 0.01 is Keras's.
SETTINGS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "SGD": (lambda p: optim.SGD(p, lr=0.01), "lr 0.01"),
    "Momentum": (lambda p: optim.SGD(p, lr=0.01, momentum=0.9), "lr 0.01, momentum 0.9"),
    "Nesterov": (lambda p: optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True), "lr 0.01, momentum 0.9"),
    "Adagrad": (lambda p: optim.Adagrad(p, lr=0.01), "lr 0.01"),
    "Adadelta": (lambda p: optim.Adadelta(p, lr=1.0, rho=0.9, eps=1e-6), "rho 0.9, eps 1e-6"),
    "RMSprop": (lambda p: optim.RMSprop(p, lr=0.001, alpha=0.9), "lr 0.001, decay 0.9"),
    "Adam": (lambda p: optim.Adam(p, lr=0.001), "lr 0.001, betas (0.9, 0.999)"),
    "AdaMax": (lambda p: optim.Adamax(p, lr=0.002), "lr 0.002"),
    "Nadam": (lambda p: optim.NAdam(p, lr=0.002), "lr 0.002"),
    "AMSGrad": (lambda p: optim.Adam(p, lr=0.001, amsgrad=True), "lr 0.001"),
    "RAdam": (lambda p: optim.RAdam(p, lr=0.001), "lr 0.001"),
    "AdamW": (lambda p: optim.AdamW(p, lr=0.001, weight_decay=0.01), "lr 0.001, weight decay 0.01"),
}
ADAPTIVE = ("Adagrad", "Adadelta", "RMSprop", "Adam", "AdaMax", "Nadam", "AMSGrad", "RAdam", "AdamW")

CLAIM = ("Used with their default settings and no tuning, adaptive methods such as Adam train a network faster "
         "than plain SGD: on the same MLP, from the same start, they reach a lower training loss and SGD's final "
         "dev accuracy in fewer steps.")


def _settings(quick: bool) -> dict[str, Any]:
    if quick:
        return {"n_train": 2000, "n_dev": 1000, "hidden": [64], "epochs": None, "steps": 150, "batch": 32,
                "eval_every": 25}
    return {"n_train": None, "n_dev": None, "hidden": [256, 256], "epochs": 5, "steps": None, "batch": 64,
            "eval_every": 100}


def run(*, quick: bool, out_dir: Path, seed: int) -> LabResult:
    cfg = _settings(quick)
    data = datasets.load("fashion-mnist", n_train=cfg["n_train"], n_dev=cfg["n_dev"], n_test=0, seed=seed)
    steps = cfg["steps"] or cfg["epochs"] * (len(data.y_train) // cfg["batch"])
    seed_everything(seed)
    init_state = {k: v.copy() for k, v in mlp(data.n_features, 10, cfg["hidden"]).state_dict().items()}
    logs = {}
    for name, (factory, _) in SETTINGS.items():
        model = mlp(data.n_features, 10, cfg["hidden"])
        model.load_state_dict(init_state)
        logs[name] = train(model, factory(model.parameters()), data.x_train, data.y_train, steps=steps,
                           batch_size=cfg["batch"], seed=seed, dev=(data.x_dev, data.y_dev),
                           eval_every=cfg["eval_every"])
    tail = max(1, steps // 10)
    sgd_final = logs["SGD"].final("dev_accuracy")
    measured: dict[str, Any] = {"steps": steps}
    for name, log in logs.items():
        measured[f"final_loss/{name}"] = float(np.mean(log.loss[-tail:])) if not log.diverged else math.inf
        measured[f"final_dev/{name}"] = log.final("dev_accuracy")
        measured[f"best_dev/{name}"] = float(np.max(log.evals["dev_accuracy"]))
        measured[f"steps_to_sgd_final/{name}"] = first_step_reaching(log.eval_steps, log.evals["dev_accuracy"],
                                                                     sgd_final)
    table = Table(["optimizer", "settings", "final training loss", "final dev accuracy", "best dev accuracy",
                   "steps to SGD's final dev accuracy"], title=f"{len(SETTINGS)} optimizers, {steps:,} steps each")
    for name, (_, text) in SETTINGS.items():
        v = measured[f"steps_to_sgd_final/{name}"]
        table.add(name, text, measured[f"final_loss/{name}"], measured[f"final_dev/{name}"],
                  measured[f"best_dev/{name}"], int(v) if math.isfinite(v) else v)
    setup = "\n".join([
        f"- Data: {data.describe()}.",
        f"- Model: MLP 784-{'-'.join(map(str, cfg['hidden']))}-10 with ReLU; one initialization (seed {seed}) and "
        "one minibatch order shared by all runs.",
        f"- Training: {steps:,} steps in batches of {cfg['batch']} "
        f"({steps * cfg['batch'] / len(data.y_train):.2g} epochs), no schedule; dev accuracy every "
        f"{cfg['eval_every']} steps; final training loss = mean minibatch loss over the last {tail} steps.",
        "- Settings: the survey's defaults where it gives them (RMSprop 0.001 with decay 0.9; Adam betas; AdaMax "
        "and Nadam 0.002), torch's otherwise; SGD's learning rate 0.01 (Keras's default)."])
    result = LabResult(setup=setup, tables=[table], measured=measured)
    plot_into(result, out_dir / "optimizers.png", lambda p: _plot(p, logs))
    return result


def judge(m: Mapping[str, Any]) -> Verdict:
    sgd_loss = m["final_loss/SGD"]
    lower = sum(1 for n in ADAPTIVE if m[f"final_loss/{n}"] < sgd_loss)
    return verdict_from_checks([
        Check.less_than("Adam's final training loss, against SGD's", m["final_loss/Adam"], sgd_loss),
        Check.less_than("Adam's steps to SGD's final dev accuracy, against SGD's budget",
                        m["steps_to_sgd_final/Adam"], m["steps"]),
        Check.count_at_least("adaptive methods with a lower final training loss than SGD", lower, len(ADAPTIVE),
                             len(ADAPTIVE) // 2 + 1, primary=False),
        Check.less_than("Momentum and Nesterov: the larger final training loss, against SGD's",
                        max(m["final_loss/Momentum"], m["final_loss/Nesterov"]), sgd_loss, primary=False),
    ], context="Defaults are not tuned for this network; a different SGD learning rate would change the "
               "comparison, and a short budget favours fast starters.")


def _plot(path: Path, logs: dict[str, Any]) -> None:
    fig, axes = figure(1, 2, width=6.0, height=4.5)
    window = max(10, len(next(iter(logs.values())).loss) // 50)
    for i, (name, log) in enumerate(logs.items()):
        style = "--" if i >= 10 else "-"
        axes[0, 0].plot(log.eval_steps, log.evals["dev_accuracy"], color=COLORS[i], ls=style, label=name)
        axes[0, 1].plot(np.arange(1, len(log.loss) + 1), log.smoothed_loss(window), color=COLORS[i], ls=style,
                        label=name)
    axes[0, 0].set_title("Dev accuracy")
    axes[0, 0].set_ylabel("accuracy")
    axes[0, 1].set_title(f"Training loss (running mean over {window} steps)")
    axes[0, 1].set_yscale("log")
    for ax in axes[0]:
        ax.set_xlabel("step")
        ax.legend(fontsize=7, ncol=2)
    save(fig, path)


DIFFERENCES = (
    'The survey reports no experiment of its own; this is our test of its advice on an MLP on Fashion-MNIST for 5 epochs.',
    'Every optimizer runs at its library default learning rate from one initialization and one seed.',
)

EXPERIMENT = register(Experiment(
    name="optimizer-survey", paper="1609.04747",
    title="An overview of gradient descent optimization algorithms (Ruder 2016): twelve optimizers on "
          "Fashion-MNIST", claim=CLAIM, run=run, judge=judge, quick_seconds=3, full_minutes=3, differences=DIFFERENCES))
