"""Twelve optimizers side by side on Fashion-MNIST (after Ruder, "An overview of gradient descent optimization algorithms").

The survey's practical advice: the adaptive methods work well with their
default settings, without tuning, and Adam "might be the best overall
choice", whereas plain SGD usually reaches a minimum too but can take much
longer and depends on a good learning rate and schedule.

Here every optimizer of the survey (SGD, momentum, Nesterov, Adagrad,
Adadelta, RMSprop, Adam, AdaMax, Nadam, AMSGrad, RAdam, AdamW) first gets its
learning rate tuned on the dev split with the same budget: a grid of five
rates around its default (``LR_FACTORS``), one short run each.  Each then
trains at its tuned rate from three seeds not used for tuning, and SGD and
Adam also at their defaults.

Criteria (``judge``), fixed before running:

* "defaults work": Adam at its default rate ends within 1 point of tuned
  Adam's dev accuracy (mean over seeds);
* tuned Adam ends with a lower training loss than tuned SGD (mean of the last
  10% of the steps' minibatch losses), by more than two standard errors of the
  paired difference over seeds;
* (secondary) a majority of the nine adaptive methods, tuned, end with a lower
  mean training loss than tuned SGD;
* (secondary) "SGD needs tuning": tuned SGD's dev accuracy beats SGD at 0.01 by
  more than two standard errors.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from thalweg import optim
from thalweg.train.models import mlp
from thalweg.train.progress import progress_bar
from thalweg_lab import datasets
from thalweg_lab.plotting import COLORS, figure, plot_into, save
from thalweg_lab.registry import Experiment, register
from thalweg_lab.result import Check, LabResult, Table, Verdict, mean_or_nan, spread, verdict_from_checks
from thalweg_lab.training import seed_everything, train

__all__ = ["run", "judge", "SETTINGS", "ADAPTIVE", "LR_FACTORS", "EXPERIMENT"]

# name -> (factory of (params, lr), the default learning rate, the other settings in words).
# SGD's learning rate has no universal default; 0.01 is Keras's.
SETTINGS: dict[str, tuple[Callable[[Any, float], Any], float, str]] = {
    "SGD": (lambda p, lr: optim.SGD(p, lr=lr), 0.01, ""),
    "Momentum": (lambda p, lr: optim.SGD(p, lr=lr, momentum=0.9), 0.01, "momentum 0.9"),
    "Nesterov": (lambda p, lr: optim.SGD(p, lr=lr, momentum=0.9, nesterov=True), 0.01, "momentum 0.9"),
    "Adagrad": (lambda p, lr: optim.Adagrad(p, lr=lr), 0.01, ""),
    "Adadelta": (lambda p, lr: optim.Adadelta(p, lr=lr, rho=0.9, eps=1e-6), 1.0, "rho 0.9, eps 1e-6"),
    "RMSprop": (lambda p, lr: optim.RMSprop(p, lr=lr, alpha=0.9), 0.001, "decay 0.9"),
    "Adam": (lambda p, lr: optim.Adam(p, lr=lr), 0.001, "betas (0.9, 0.999)"),
    "AdaMax": (lambda p, lr: optim.Adamax(p, lr=lr), 0.002, ""),
    "Nadam": (lambda p, lr: optim.NAdam(p, lr=lr), 0.002, ""),
    "AMSGrad": (lambda p, lr: optim.Adam(p, lr=lr, amsgrad=True), 0.001, ""),
    "RAdam": (lambda p, lr: optim.RAdam(p, lr=lr), 0.001, ""),
    "AdamW": (lambda p, lr: optim.AdamW(p, lr=lr, weight_decay=0.01), 0.001, "weight decay 0.01"),
}
ADAPTIVE = ("Adagrad", "Adadelta", "RMSprop", "Adam", "AdaMax", "Nadam", "AMSGrad", "RAdam", "AdamW")
# Every optimizer's learning rate is tuned over the same grid around its default: the same budget for all.
LR_FACTORS = (0.1, 0.3, 1.0, 3.0, 10.0)
DEFAULT_WITHIN = 0.01  # "defaults work": Adam at its default within 1 point of its tuned dev accuracy

CLAIM = ("Adaptive methods such as Adam work well at their default settings, while plain SGD depends on a good "
         "learning rate: with every optimizer's learning rate tuned on the dev split with the same budget, Adam "
         "at its default rate is within a point of its tuned dev accuracy, and tuned Adam trains faster (a lower "
         "training loss after the same steps) than tuned SGD.")


def _settings(quick: bool) -> dict[str, Any]:
    if quick:
        return {"n_train": 800, "n_dev": 400, "hidden": [32], "tune_steps": 20, "steps": 40, "batch": 32,
                "eval_every": 20, "seeds": 3}
    return {"n_train": None, "n_dev": None, "hidden": [256, 256], "tune_steps": 780, "steps": 2340, "batch": 64,
            "eval_every": 390, "seeds": 3}


def _fresh(data: datasets.LabData, cfg: dict[str, Any], seed: int) -> Any:
    seed_everything(seed)
    return mlp(data.n_features, 10, cfg["hidden"])


def _tune(data: datasets.LabData, cfg: dict[str, Any], seed: int) -> dict[str, dict[float, float]]:
    """Dev accuracy after ``tune_steps`` at each learning rate of the grid, per optimizer (one seed)."""
    scores: dict[str, dict[float, float]] = {}
    runs = [(name, default * f) for name, (_, default, _) in SETTINGS.items() for f in LR_FACTORS]
    bar = progress_bar(len(runs), desc="optimizer-survey: tuning", unit="run")
    for name, lr in runs:
        model = _fresh(data, cfg, seed)
        log = train(model, SETTINGS[name][0](model.parameters(), lr), data.x_train, data.y_train,
                    steps=cfg["tune_steps"], batch_size=cfg["batch"], seed=seed, dev=(data.x_dev, data.y_dev),
                    eval_every=cfg["tune_steps"])
        scores.setdefault(name, {})[lr] = 0.0 if log.diverged else log.final("dev_accuracy")
        bar.update(1)
    bar.close()
    return scores


def run(*, quick: bool, out_dir: Path, seed: int) -> LabResult:
    cfg = _settings(quick)
    data = datasets.load("fashion-mnist", n_train=cfg["n_train"], n_dev=cfg["n_dev"], n_test=0, seed=seed)
    steps, tail = cfg["steps"], max(1, cfg["steps"] // 10)
    scores = _tune(data, cfg, seed)
    tuned = {name: max(s, key=lambda lr: (s[lr], -abs(math.log(lr / SETTINGS[name][1])))) for name, s in
             scores.items()}
    seeds = [seed + 1 + k for k in range(cfg["seeds"])]  # the tuning seed is not reused for the comparison
    plan = [(name, lr, s) for name, lr in tuned.items() for s in seeds]
    plan += [(f"{name} (default)", SETTINGS[name][1], s) for name in ("SGD", "Adam") for s in seeds]
    measured: dict[str, Any] = {"steps": steps, "seeds": len(seeds)}
    logs: dict[str, Any] = {}
    bar = progress_bar(len(plan), desc="optimizer-survey: runs", unit="run")
    for label, lr, s in plan:
        model = _fresh(data, cfg, s)
        log = train(model, SETTINGS[label.split(" ")[0]][0](model.parameters(), lr), data.x_train, data.y_train,
                    steps=steps, batch_size=cfg["batch"], seed=s, dev=(data.x_dev, data.y_dev),
                    eval_every=cfg["eval_every"])
        measured.setdefault(f"final_loss/{label}", []).append(
            float(np.mean(log.loss[-tail:])) if not log.diverged else math.inf)
        measured.setdefault(f"final_dev/{label}", []).append(log.final("dev_accuracy"))
        logs.setdefault(label, log)
        bar.update(1)
    bar.close()
    for name in SETTINGS:
        measured[f"tuned_lr/{name}"] = tuned[name]
    table = Table(["optimizer", "tuned lr (default)", "final training loss", "final dev accuracy"],
                  title=f"Tuned on the dev split ({len(LR_FACTORS)} rates x {cfg['tune_steps']:,} steps each), then "
                        f"{steps:,} steps; mean ± std over {len(seeds)} seeds")
    for label in [*SETTINGS, "SGD (default)", "Adam (default)"]:
        name = label.split(" ")[0]
        lr = measured.get(f"tuned_lr/{label}", SETTINGS[name][1])
        table.add(label, f"{lr:.3g} ({SETTINGS[name][1]:.3g})", spread(measured[f"final_loss/{label}"], ".4f"),
                  spread(measured[f"final_dev/{label}"], ".4f"))
    setup = "\n".join([
        f"- Data: {data.describe()}.",
        f"- Model: MLP 784-{'-'.join(map(str, cfg['hidden']))}-10 with ReLU.",
        f"- Tuning (the same budget for every optimizer): learning rates {', '.join(f'{f:g}' for f in LR_FACTORS)} "
        f"times the default, {cfg['tune_steps']:,} steps each from seed {seed}; the rate with the best dev accuracy "
        "is kept (ties go to the rate nearest the default).",
        f"- Comparison: {steps:,} steps in batches of {cfg['batch']} at the tuned rates, and SGD and Adam at their "
        f"defaults too, seeds {seeds[0]} to {seeds[-1]} (not the tuning seed); final training loss = mean minibatch "
        f"loss over the last {tail} steps."])
    result = LabResult(setup=setup, tables=[table], measured=measured, n_seeds=len(seeds))
    plot_into(result, out_dir / "optimizers.png", lambda p: _plot(p, logs))
    return result



def _paired_gap(a: Any, b: Any) -> tuple[float, float]:
    """Mean of ``a - b`` over seeds and its standard error (0 with one seed)."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else 0.0
    return float(d.mean()), se


def judge(m: Mapping[str, Any]) -> Verdict:
    sgd_loss = mean_or_nan(m["final_loss/SGD"])
    lower = sum(1 for n in ADAPTIVE if mean_or_nan(m[f"final_loss/{n}"]) < sgd_loss)
    gap, se = _paired_gap(m["final_loss/SGD"], m["final_loss/Adam"])
    sgd_gap, sgd_se = _paired_gap(m["final_dev/SGD"], m["final_dev/SGD (default)"])
    return verdict_from_checks([
        Check.at_most("Adam at its default rate: dev accuracy below tuned Adam's (mean over seeds)",
                      mean_or_nan(m["final_dev/Adam"]) - mean_or_nan(m["final_dev/Adam (default)"]), DEFAULT_WITHIN,
                      spec=".2%"),
        Check.greater_than("tuned SGD's minus tuned Adam's final training loss, less two standard errors",
                           gap - 2 * se, 0.0),
        Check.count_at_least("adaptive methods (tuned) with a lower mean training loss than tuned SGD", lower,
                             len(ADAPTIVE), len(ADAPTIVE) // 2 + 1, primary=False),
        Check.greater_than("SGD: tuned minus default dev accuracy, less two standard errors (SGD needs tuning)",
                           sgd_gap - 2 * sgd_se, 0.0, primary=False, spec=".2%"),
    ], context="Tuning uses one seed and a short budget; the rate that wins a short run may not be the best for "
               "a long one.")


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
    "The survey reports no experiment of its own; this is our test of its advice on an MLP on Fashion-MNIST for 3 "
    "epochs (CPU budget).",
    "Learning rates are tuned over a 5-point grid around each default with a 1-epoch run on one seed, the same "
    "budget for every optimizer; the other hyperparameters stay at their defaults.",
)

EXPERIMENT = register(Experiment(
    name="optimizer-survey", paper="1609.04747",
    title="An overview of gradient descent optimization algorithms (Ruder 2016): twelve optimizers on "
          "Fashion-MNIST", claim=CLAIM, run=run, judge=judge, quick_seconds=15, full_minutes=5, differences=DIFFERENCES))
