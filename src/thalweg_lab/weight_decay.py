"""Weight decay is not L2 regularization under adaptive optimizers (the lecture; Loshchilov and Hutter).

With plain SGD, adding ``lambda * theta`` to the gradient (the L2 penalty's
gradient) and shrinking the weights by ``lr * lambda * theta`` after the step
(decoupled weight decay) are the same update.  With Adam they are not: the L2
term passes through the per-coordinate scaling ``1 / (sqrt(v) + eps)``, so
weights with small gradients are decayed much more and weights with large
gradients much less than ``lambda`` says; AdamW (Loshchilov and Hutter,
"Decoupled Weight Decay Regularization", ICLR 2019) applies the decay after
the scaling.  In ``thalweg.optim`` the two differ only in the position of
one link of the chain (``add_l2`` before ``scale_by_adam`` or
``add_decayed_weights`` after it).

Four runs from one initialization per seed (three seeds), with the same
coefficient ``lambda``: SGD + L2, SGD + decoupled decay, Adam + L2
(``Adam(weight_decay=lambda)``), AdamW (``AdamW(weight_decay=lambda)``).
Recorded every few steps: the parameter norm and the dev accuracy.

What the paper's argument predicts, stated before running: under Adam + L2
the decay term ``lambda * theta`` is divided by ``sqrt(v) + eps`` like the
gradient, so a weight whose loss gradients are small is decayed at close to
the full step ``lr`` per step, far more than AdamW's ``lr * lambda * theta``.
Most weights of an MLP get small gradients, so Adam + L2 should end with the
*smaller* parameter norm, and by a clear margin.

Criteria (``judge``):

* on every seed, Adam + L2's final parameter norm is below AdamW's by at least
  5% of AdamW's (the direction is the prediction; a difference the other way
  fails);
* the two SGD runs' parameter-norm curves agree to within 1e-5 (relative) at
  every recorded step, on every seed (the equivalence that holds for SGD);
* (secondary) AdamW generalizes at least as well: its mean final dev accuracy
  is not below Adam + L2's by more than two standard errors of the paired
  difference over seeds (the paper's claim of better generalization, which a
  short MLP run can only fail to contradict).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from thalweg.optim import SGD, Adam, AdamW, Optimizer
from thalweg.optim import transforms as T
from thalweg.train.models import mlp
from thalweg_lab import datasets
from thalweg_lab.plotting import COLORS, figure, plot_into, save
from thalweg_lab.registry import Experiment, register
from thalweg_lab.result import Check, LabResult, Table, Verdict, spread, verdict_from_checks
from thalweg_lab.training import param_norm, seed_everything, train

__all__ = ["run", "judge", "EXPERIMENT", "WEIGHT_DECAY"]

WEIGHT_DECAY = 0.01  # torch's AdamW default, used for all four runs
CLAIM = ("With plain SGD, an L2 penalty in the gradient and decoupled weight decay are the same update, but with "
         "Adam they are not: at the same coefficient the L2 term is rescaled by Adam's 1/sqrt(v), so Adam with L2 "
         "decays weights with small gradients far more and ends with a clearly smaller parameter norm than AdamW, "
         "which generalizes at least as well.")

RUNS = ("SGD + L2", "SGD + decoupled decay", "Adam + L2", "AdamW")


def _optimizer(name: str, params: Any, sgd_lr: float, adam_lr: float) -> Any:
    wd = WEIGHT_DECAY
    if name == "SGD + L2":
        return SGD(params, lr=sgd_lr, weight_decay=wd)
    if name == "SGD + decoupled decay":
        # the decay link after the (identity) rescaling, as AdamW places it
        return Optimizer(params, T.chain(T.add_decayed_weights(wd), T.scale_by_learning_rate(sgd_lr)))
    if name == "Adam + L2":
        return Adam(params, lr=adam_lr, weight_decay=wd)
    if name == "AdamW":
        return AdamW(params, lr=adam_lr, weight_decay=wd)
    raise ValueError(f"weight-decay: unknown run {name!r}")


def _settings(quick: bool) -> dict[str, Any]:
    if quick:
        return {"n_train": 500, "n_dev": 300, "epochs": 3, "batch": 32, "hidden": [64], "eval_every": 10,
                "sgd_lr": 0.1, "adam_lr": 1e-3, "seeds": 3}
    return {"n_train": None, "n_dev": None, "epochs": 5, "batch": 64, "hidden": [256], "eval_every": 100,
            "sgd_lr": 0.1, "adam_lr": 1e-3, "seeds": 3}


def _one_seed(data: datasets.LabData, cfg: dict[str, Any], steps: int, seed: int) -> dict[str, Any]:
    """The four runs from one initialization and minibatch order; their logs."""
    seed_everything(seed)
    init_state = {k: v.copy() for k, v in mlp(data.n_features, 10, cfg["hidden"]).state_dict().items()}
    logs = {}
    for name in RUNS:
        model = mlp(data.n_features, 10, cfg["hidden"])
        model.load_state_dict(init_state)
        opt = _optimizer(name, model.parameters(), cfg["sgd_lr"], cfg["adam_lr"])
        logs[name] = train(model, opt, data.x_train, data.y_train, steps=steps, batch_size=cfg["batch"], seed=seed,
                           dev=(data.x_dev, data.y_dev), eval_every=cfg["eval_every"],
                           on_eval=lambda step, model=model: {"param_norm": param_norm(model)})
    return logs


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-12)))


def run(*, quick: bool, out_dir: Path, seed: int) -> LabResult:
    cfg = _settings(quick)
    data = datasets.load("mnist", n_train=cfg["n_train"], n_dev=cfg["n_dev"], n_test=0, seed=seed)
    steps = cfg["epochs"] * (len(data.y_train) // cfg["batch"])
    seeds = [seed + k for k in range(cfg["seeds"])]
    measured: dict[str, Any] = {"seeds": len(seeds)}
    first: dict[str, Any] = {}
    for s in seeds:
        logs = _one_seed(data, cfg, steps, s)
        first = first or logs
        curve = {n: np.asarray(logs[n].evals["param_norm"]) for n in RUNS}
        for n in RUNS:
            measured.setdefault(f"final_param_norm/{n}", []).append(float(curve[n][-1]))
            measured.setdefault(f"final_dev_accuracy/{n}", []).append(logs[n].final("dev_accuracy"))
        measured.setdefault("adam_l2_norm_shortfall", []).append(
            float((curve["AdamW"][-1] - curve["Adam + L2"][-1]) / curve["AdamW"][-1]))
        measured.setdefault("sgd_norm_max_rel_diff", []).append(_rel(curve["SGD + L2"],
                                                                     curve["SGD + decoupled decay"]))
    d = np.asarray(measured["final_dev_accuracy/AdamW"]) - np.asarray(measured["final_dev_accuracy/Adam + L2"])
    measured["adamw_minus_adam_l2_dev"] = float(d.mean())
    measured["adamw_minus_adam_l2_dev_se"] = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")

    runs = Table(["run", "final parameter norm", "final dev accuracy"],
                 title=f"Four runs, weight decay {WEIGHT_DECAY}; mean ± std (min to max) over {len(seeds)} seeds")
    for n in RUNS:
        runs.add(n, spread(measured[f"final_param_norm/{n}"], ".4g"),
                 spread(measured[f"final_dev_accuracy/{n}"], ".4f"))
    pairs = Table(["figure", "per seed"], title="The comparisons the verdict rests on", spec=".3g")
    pairs.add("(AdamW - Adam + L2) / AdamW, final parameter norm",
              ", ".join(f"{v:.3g}" for v in measured["adam_l2_norm_shortfall"]))
    pairs.add("SGD + L2 vs SGD + decoupled: largest relative norm difference over the curve",
              ", ".join(f"{v:.2g}" for v in measured["sgd_norm_max_rel_diff"]))
    pairs.add("AdamW minus Adam + L2, final dev accuracy", ", ".join(f"{v:.4f}" for v in d))
    setup = "\n".join([
        f"- Data: {data.describe()}.",
        f"- Model: MLP 784-{'-'.join(map(str, cfg['hidden']))}-10 with ReLU; per seed ({seeds[0]} to {seeds[-1]}) "
        "one initialization shared by the four runs and the same minibatch order for all.",
        f"- Optimizers, all with weight-decay coefficient {WEIGHT_DECAY} on every parameter: "
        f"SGD (lr {cfg['sgd_lr']}) with `weight_decay` (L2 in the gradient); SGD built as "
        "`chain(add_decayed_weights, scale_by_learning_rate)` (decoupled); `Adam(weight_decay=...)` (L2, "
        f"lr {cfg['adam_lr']}); `AdamW` (decoupled, lr {cfg['adam_lr']}).",
        f"- {steps:,} steps each in batches of {cfg['batch']}; parameter norm and dev accuracy every "
        f"{cfg['eval_every']} steps."])
    result = LabResult(setup=setup, tables=[runs, pairs], measured=measured, n_seeds=len(seeds))
    plot_into(result, out_dir / "weight_decay.png", lambda p: _plot(p, first))
    return result


def judge(m: Mapping[str, Any]) -> Verdict:
    shortfall = np.asarray(m["adam_l2_norm_shortfall"], dtype=np.float64)
    se = m["adamw_minus_adam_l2_dev_se"]
    return verdict_from_checks([
        Check.at_least("Adam + L2's final norm below AdamW's, as a fraction of AdamW's: smallest over seeds",
                       float(shortfall.min()) if shortfall.size else float("nan"), 0.05),
        Check.at_most("SGD + L2 vs SGD + decoupled decay: largest relative difference of the parameter norms",
                      float(np.max(m["sgd_norm_max_rel_diff"])), 1e-5),
        Check.at_least("AdamW minus Adam + L2 mean final dev accuracy, plus two standard errors",
                       m["adamw_minus_adam_l2_dev"] + 2 * (se if np.isfinite(se) else 0.0), 0.0, primary=False,
                       spec=".2%"),
    ], context="With a short run or a small coefficient the decay has little time to act, and the norms may not "
               "separate.")


def _plot(path: Path, logs: dict[str, Any]) -> None:
    fig, axes = figure(1, 2, width=5.0)
    styles = {"SGD + L2": "-", "SGD + decoupled decay": ":", "Adam + L2": "-", "AdamW": "-"}
    for i, (name, log) in enumerate(logs.items()):
        axes[0, 0].plot(log.eval_steps, log.evals["param_norm"], ls=styles[name], color=COLORS[i], label=name,
                        lw=2.5 if name == "SGD + decoupled decay" else 1.5)
        axes[0, 1].plot(log.eval_steps, log.evals["dev_accuracy"], ls=styles[name], color=COLORS[i], label=name,
                        lw=2.5 if name == "SGD + decoupled decay" else 1.5)
    axes[0, 0].set_title("Parameter norm")
    axes[0, 1].set_title("Dev accuracy")
    for ax in axes[0]:
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
    save(fig, path)


DIFFERENCES = (
    "An MLP on MNIST for 5 epochs instead of Loshchilov and Hutter's ResNets on CIFAR-10 with long cosine schedules (CPU budget).",
    "Three seeds and one decay coefficient (0.01, torch's AdamW default); the paper sweeps the coefficient and the "
    "learning rate.",
)

EXPERIMENT = register(Experiment(
    name="weight-decay", paper="lecture-004",
    title="Weight decay versus L2 under Adam (lecture 4, after Loshchilov and Hutter 2019)",
    claim=CLAIM, run=run, judge=judge, quick_seconds=5, full_minutes=1.5, differences=DIFFERENCES))
