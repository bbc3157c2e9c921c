"""Generalized Advantage Estimation on cart-pole: the lambda and gamma sweep (Schulman et al., ICLR 2016, 1506.02438).

The paper's cart-pole study (section 6.3.1, figure 2) trains a linear policy
with TRPO, a value network with one hidden layer of 20 units, 20 trajectories
per batch, and varies the two knobs of the advantage estimator: the best
results come at intermediate values, gamma in [0.96, 0.99] and lambda in
[0.92, 0.99]; lambda = 0 (the one-step TD residual) learns slowly because of
its bias, and replacing the value function by a time-dependent baseline ("No
value fn") is worse too.

Our run, with ``thalweg_lab.rl``:

* lambda in {0, 0.5, 0.9, 0.96, 0.99, 1} at gamma = 0.99, plus the "no value
  function" baseline (discounted return minus the mean return at the same
  time step over the batch), each over several seeds;
* then gamma in {0.9, 0.95, 0.96, 0.98, 0.99, 0.995, 1} at the lambda that
  did best in the lambda sweep;
* the figures per run: the mean return of the batches over the N policy
  iterations (the area under the learning curve, i.e. how fast the policy
  improved: the paper's figure 2, left) and the mean return of 20 fresh
  episodes after the N iterations (the paper's "performance after 20
  iterations", figure 2, right).

Criteria (``judge``), stated before any run and not chosen from its results:

* the figure: the mean return over the iterations (the area under the
  learning curve; CartPole-v1 caps a return at 500 and most settings reach
  the cap by iteration 20, which hides differences in the final return);
* every lambda of the sweep is reported with a 95% confidence interval over
  at least 5 seeds (Student's t on the seeds), and no lambda is picked after
  the fact: the paper's range [0.92, 0.99] is represented by lambda = 0.96 and
  0.99 (``PAPER_LAMBDAS``), and the gamma sweep runs at lambda = 0.96;
* primary, for each of the two: the 95% interval of its difference from
  lambda = 0 lies above zero, and so does that of its difference from the
  no-value-function baseline (four checks);
* secondary, for each of the two: the 95% interval of its difference from
  lambda = 1 (the unbiased, high-variance estimate) lies above zero; and the
  best gamma of the gamma sweep lies in the paper's [0.96, 0.99].
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from thalweg_lab.rl import PGConfig, PolicyGradientTrainer
from thalweg_lab.plotting import COLORS, figure, plot_into, save
from thalweg_lab.registry import Experiment, register
from thalweg_lab.result import Check, LabResult, Table, Verdict, verdict_from_checks

__all__ = ["CLAIM", "EXPERIMENT", "judge", "run", "settings", "sweep"]

CLAIM = ("With TRPO on cart-pole, generalized advantage estimation works best at intermediate settings: gamma in "
         "[0.96, 0.99] and lambda in [0.92, 0.99]; lambda = 0 (the biased one-step estimate) and a baseline without "
         "a value function both do worse.")

LAMBDAS = (0.0, 0.5, 0.9, 0.96, 0.99, 1.0)
GAMMAS = (0.9, 0.95, 0.96, 0.98, 0.99, 0.995, 1.0)
GAMMA_FOR_LAMBDAS = 0.99
PAPER_LAMBDAS = (0.96, 0.99)  # the paper's best range [0.92, 0.99], as sampled by LAMBDAS; fixed in advance
LAMBDA_FOR_GAMMAS = 0.96      # the gamma sweep's lambda, fixed in advance (not the sweep's winner)
_T95 = {1: 12.71, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}


def t95(df: int) -> float:
    """Two-sided 95% Student's t quantile for ``df`` degrees of freedom (1.96 past 30; NaN for df < 1)."""
    if df < 1:
        return math.nan
    return _T95.get(df, 2.2 if df < 20 else 2.09 if df < 30 else 1.96)


def settings(quick: bool) -> dict[str, Any]:
    """What a run does; quick mode is a real but tiny run for the test suite (seconds)."""
    if quick:
        return {"iterations": 3, "seeds": 2, "lambdas": (0.0, 0.96, 1.0), "gammas": (0.96, 0.99)}
    return {"iterations": 20, "seeds": 5, "lambdas": LAMBDAS, "gammas": GAMMAS}


def _env_id() -> tuple[str, str]:
    """gymnasium's CartPole-v1 when gymnasium is installed, else the built-in copy of its dynamics."""
    try:
        import gymnasium  # noqa: F401
    except ImportError:
        return "tw/CartPole-v1", ("the built-in NumPy CartPole (`tw/CartPole-v1`, gymnasium's CartPole-v1 dynamics, "
                                  "reward 1 per step, 500-step limit), since gymnasium is not installed")
    return "CartPole-v1", f"gymnasium's CartPole-v1 (gymnasium {gymnasium.__version__}; reward 1 per step, " \
                          "500-step limit)"


def _config(gamma: float, lam: float | None) -> PGConfig:
    """The paper's cart-pole setup: linear policy, value net with 20 hidden units, 20 trajectories per batch."""
    return PGConfig(gamma=gamma, lam=1.0 if lam is None else lam, value_function=lam is not None,
                    episodes_per_batch=20, step="trpo", policy_hidden=(), vf_hidden=(20,), max_kl=0.01)


def sweep(env_id: str, gamma: float, lam: float | None, seeds: Sequence[int], iterations: int,
          echo: Any = None) -> dict[str, Any]:
    """Train one (gamma, lambda) setting (``lam=None``: no value function) over ``seeds``; return its figures."""
    finals, aucs, curves = [], [], []
    for s in seeds:
        trainer = PolicyGradientTrainer(env_id, config=_config(gamma, lam), seed=int(s))
        hist = trainer.train(iterations)
        final = trainer.evaluate()["mean_return"]
        finals.append(final)
        aucs.append(float(np.mean([h["mean_return"] for h in hist])))
        curves.append([h["mean_return"] for h in hist])
        if echo is not None:
            label = "no value fn" if lam is None else f"lambda={lam}"
            echo(f"  gamma={gamma} {label} seed={s}: final return {final:.1f}, mean over iterations "
                 f"{aucs[-1]:.1f}, {sum(h['time_s'] for h in hist):.1f}s")
    return {"gamma": gamma, "lam": lam, "finals": finals, "aucs": aucs, "curves": curves,
            "final_mean": float(np.mean(finals)), "final_se": _se(finals), "final_std": float(np.std(finals)),
            "auc_mean": float(np.mean(aucs)), "auc_se": _se(aucs), "auc_std": float(np.std(aucs))}


def _se(x: Sequence[float]) -> float:
    """Standard error of the mean over seeds (NaN for a single seed)."""
    return float(np.std(x, ddof=1) / math.sqrt(len(x))) if len(x) > 1 else math.nan


def _row(r: Mapping[str, Any]) -> list[Any]:
    h = t95(len(r["aucs"]) - 1) * r["auc_se"]
    return [r["auc_mean"], f"[{r['auc_mean'] - h:.1f}, {r['auc_mean'] + h:.1f}]",
            ", ".join(f"{x:.0f}" for x in r["aucs"]), r["final_mean"], r["final_se"],
            ", ".join(f"{x:.0f}" for x in r["finals"])]


def _label(lam: float | None) -> str:
    return "no value fn" if lam is None else f"lambda = {lam:g}"


def run(*, quick: bool, out_dir: Path, seed: int) -> LabResult:
    cfg = settings(quick)
    env_id, env_text = _env_id()
    seeds = [seed + i for i in range(cfg["seeds"])]
    echo = None if quick else (lambda line: print(line, flush=True))
    if echo:
        echo(f"gae: lambda sweep at gamma={GAMMA_FOR_LAMBDAS} on {env_id}, {len(seeds)} seeds x "
             f"{cfg['iterations']} iterations")
    lam_runs = [sweep(env_id, GAMMA_FOR_LAMBDAS, lam, seeds, cfg["iterations"], echo)
                for lam in (*cfg["lambdas"], None)]
    by_lam = {r["lam"]: r for r in lam_runs}
    best_lam = LAMBDA_FOR_GAMMAS  # fixed in advance, whatever the lambda sweep finds
    if echo:
        echo(f"gae: gamma sweep at lambda = {best_lam}")
    gamma_runs = []
    for g in cfg["gammas"]:
        if g == GAMMA_FOR_LAMBDAS:
            gamma_runs.append(by_lam[best_lam])  # already run
        else:
            gamma_runs.append(sweep(env_id, g, best_lam, seeds, cfg["iterations"], echo))

    lam_list = list(cfg["lambdas"])
    measured: dict[str, Any] = {
        "iterations": cfg["iterations"], "seeds": len(seeds),
        "lambdas": lam_list,
        "lambda_auc_mean": [by_lam[l]["auc_mean"] for l in lam_list],
        "lambda_auc_se": [by_lam[l]["auc_se"] for l in lam_list],
        "lambda_final_mean": [by_lam[l]["final_mean"] for l in lam_list],
        "lambda_final_se": [by_lam[l]["final_se"] for l in lam_list],
        "novf_auc_mean": by_lam[None]["auc_mean"], "novf_auc_se": by_lam[None]["auc_se"],
        "novf_final_mean": by_lam[None]["final_mean"], "novf_final_se": by_lam[None]["final_se"],
        "best_lambda": best_lam,
        "gammas": list(cfg["gammas"]),
        "gamma_auc_mean": [r["auc_mean"] for r in gamma_runs],
        "gamma_auc_se": [r["auc_se"] for r in gamma_runs],
        "gamma_final_mean": [r["final_mean"] for r in gamma_runs],
        "gamma_final_se": [r["final_se"] for r in gamma_runs],
    }

    cols = ["mean return over iterations", "95% interval", "per seed", "final return", "s.e.", "per seed"]
    t1 = Table(["setting", *cols], spec=".1f",
               title=f"Lambda sweep at gamma = {GAMMA_FOR_LAMBDAS}, {cfg['iterations']} iterations "
                     f"(mean over {len(seeds)} seeds)")
    for r in lam_runs:
        t1.add(_label(r["lam"]), *_row(r))
    t2 = Table(["gamma", *cols], spec=".1f",
               title=f"Gamma sweep at lambda = {best_lam:g} (fixed in advance)")
    for r in gamma_runs:
        t2.add(f"{r['gamma']:g}", *_row(r))

    setup = "\n".join([
        f"- Environment: {env_text}. The paper used the Barto et al. (1983) cart-pole with a 1000-step limit and "
        "reports cost (negative reward); CartPole-v1's returns are capped at 500.",
        "- Policy: linear (logits = W s + b), categorical over the two pushes; TRPO step (conjugate gradient, 10 "
        "iterations, on analytic Fisher-vector products, damping 0.01; mean KL bound 0.01; backtracking line "
        "search).",
        "- Value function: one hidden layer of 20 tanh units, fitted after each policy step by 25 iterations of "
        "full-batch L-BFGS on the discounted returns (eq. 28). The paper solved this regression with a trust "
        "region (eq. 30); the L-BFGS fit is what the authors' released code did. The policy step uses the value "
        "function from before the fit, as the paper prescribes.",
        "- \"No value fn\": advantage = discounted return minus the average discounted return at the same time "
        "step over the batch (the paper's time-dependent baseline).",
        "- Batches: 20 whole episodes per iteration; time-limit truncation bootstraps from V of the last state; "
        "advantages normalised to mean 0, std 1 per batch.",
        f"- Runs: {cfg['iterations']} policy iterations, seeds {seeds[0]}..{seeds[-1]} ({len(seeds)} per setting; "
        "the paper averaged 21). Mean return over iterations = the average of the 20-episode batch returns over "
        "the iterations (area under the learning curve); final return = mean return of 20 fresh episodes after "
        "the last iteration; s.e. = standard error of the mean over seeds.",
    ])
    result = LabResult(setup=setup, tables=[t1, t2], measured=measured, n_seeds=len(seeds))
    result.notes.append(f"The gamma sweep reuses the lambda sweep's runs at gamma = 0.99 for lambda = {best_lam:g}.")
    by_final = max(lam_runs, key=lambda r: r["final_mean"])
    capped = sum(x >= 490 for r in lam_runs for x in r["finals"])
    result.notes.append(f"By final return alone the best setting is {_label(by_final['lam'])} "
                        f"({by_final['final_mean']:.1f}); {capped} of {sum(len(r['finals']) for r in lam_runs)} "
                        "lambda-sweep runs end within 10 of CartPole-v1's cap of 500, so the final return separates "
                        "the settings poorly and the verdict rests on the mean return over the iterations.")
    if quick:
        result.notes.append(f"Quick mode: only lambda in {list(cfg['lambdas'])} and gamma in {list(cfg['gammas'])}, "
                            f"{cfg['seeds']} seeds, {cfg['iterations']} iterations; the figures are not meaningful.")
    out_dir = Path(out_dir)
    _save_curves(out_dir / "curves.json", lam_runs, gamma_runs)
    plot_into(result, out_dir / "gae_lambda_curves.png", lambda p: _plot_curves(p, lam_runs))
    plot_into(result, out_dir / "gae_sweeps.png",
              lambda p: _plot_sweeps(p, lam_runs, gamma_runs, best_lam))
    return result


def _gap_low(m: Mapping[str, Any], lam: float, other: float | None) -> float:
    """Lower end of the 95% interval of ``mean(lam) - mean(other)`` (``other=None``: no value function), from
    the mean return over the iterations; NaN when a standard error is missing (one seed)."""
    lams = list(m["lambdas"])
    i = lams.index(lam)
    mean_a, se_a = m["lambda_auc_mean"][i], m["lambda_auc_se"][i]
    if other is None:
        mean_b, se_b = m["novf_auc_mean"], m["novf_auc_se"]
    else:
        j = lams.index(other)
        mean_b, se_b = m["lambda_auc_mean"][j], m["lambda_auc_se"][j]
    return mean_a - mean_b - t95(int(m["seeds"]) - 1) * math.hypot(se_a, se_b)


def judge(m: Mapping[str, Any]) -> Verdict:
    lams = list(m["lambdas"])
    checks = []
    for lam in (l for l in PAPER_LAMBDAS if l in lams):
        if 0.0 in lams:
            checks.append(Check.greater_than(f"lambda = {lam:g} minus lambda = 0: lower end of the 95% interval",
                                             _gap_low(m, lam, 0.0), 0.0, spec=".1f"))
        checks.append(Check.greater_than(f"lambda = {lam:g} minus no value function: lower end of the 95% interval",
                                         _gap_low(m, lam, None), 0.0, spec=".1f"))
        if 1.0 in lams:
            checks.append(Check.greater_than(f"lambda = {lam:g} minus lambda = 1: lower end of the 95% interval",
                                             _gap_low(m, lam, 1.0), 0.0, primary=False, spec=".1f"))
    best_gamma = list(m["gammas"])[int(np.argmax(m["gamma_auc_mean"]))]
    checks.append(Check.between(f"best gamma at lambda = {m['best_lambda']:g} (mean return over iterations)",
                                best_gamma, 0.96, 0.99, primary=False))
    return verdict_from_checks(checks, context=(
        "CartPole-v1 caps returns at 500, so settings that all reach the cap cannot be told apart by their final "
        f"return; with {m['seeds']} seeds the 95% intervals are wide, and a difference inside them is not counted."))


def _save_curves(path: Path, lam_runs: list[dict[str, Any]], gamma_runs: list[dict[str, Any]]) -> None:
    data = {"lambda_sweep": [{k: r[k] for k in ("gamma", "lam", "finals", "curves")} for r in lam_runs],
            "gamma_sweep": [{k: r[k] for k in ("gamma", "lam", "finals", "curves")} for r in gamma_runs]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data) + "\n")


def _plot_curves(path: Path, lam_runs: list[dict[str, Any]]) -> None:
    fig, axes = figure(1, 1, width=6.5, height=4.2)
    ax = axes[0, 0]
    for i, r in enumerate(lam_runs):
        y = np.array(r["curves"])
        x = np.arange(1, y.shape[1] + 1)
        mean = y.mean(axis=0)
        style = "--" if r["lam"] is None else "-"
        ax.plot(x, mean, style, color=COLORS[i], label=_label(r["lam"]))
        if len(y) > 1:
            ax.fill_between(x, mean - y.std(axis=0), mean + y.std(axis=0), color=COLORS[i], alpha=0.08, lw=0)
    ax.set_xlabel("policy iteration")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("mean episode return of the batch")
    ax.set_title(f"Cart-pole learning curves at gamma = {GAMMA_FOR_LAMBDAS} (mean +- std over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, path)


def _plot_sweeps(path: Path, lam_runs: list[dict[str, Any]], gamma_runs: list[dict[str, Any]],
                 best_lam: float) -> None:
    """The paper's right panel is a (gamma, lambda) heat map; we measured its lambda row and gamma column."""
    lams = [r["lam"] for r in lam_runs if r["lam"] is not None]
    gammas = [r["gamma"] for r in gamma_runs]
    grid = np.full((len(gammas), len(lams)), np.nan)
    gi = gammas.index(GAMMA_FOR_LAMBDAS) if GAMMA_FOR_LAMBDAS in gammas else None
    for j, r in enumerate(r for r in lam_runs if r["lam"] is not None):
        if gi is not None:
            grid[gi, j] = r["auc_mean"]
    for i, r in enumerate(gamma_runs):
        grid[i, lams.index(best_lam)] = r["auc_mean"]
    fig, axes = figure(1, 2, width=5.2, height=4.2)
    ax = axes[0, 0]
    im = ax.imshow(np.ma.masked_invalid(grid), cmap="gray", origin="lower", aspect="auto", vmin=0)
    ax.set_xticks(range(len(lams)), [f"{l:g}" for l in lams])
    ax.set_yticks(range(len(gammas)), [f"{g:g}" for g in gammas])
    ax.set_xlabel("lambda")
    ax.set_ylabel("gamma")
    ax.set_title("Mean return over the iterations (white = higher)", fontsize=9)
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.0f}", ha="center", va="center", fontsize=8,
                        color="black" if grid[i, j] > np.nanmean(grid) else "white")
    fig.colorbar(im, ax=ax)
    ax = axes[0, 1]
    lr = [r for r in lam_runs if r["lam"] is not None]
    novf = next(r for r in lam_runs if r["lam"] is None)
    x = np.arange(len(lr))
    for k, (key, name) in enumerate((("auc", "mean over iterations"), ("final", "final return"))):
        ax.errorbar(x, [r[f"{key}_mean"] for r in lr], yerr=[r[f"{key}_se"] for r in lr], fmt="o-",
                    color=COLORS[k], capsize=3, label=name)
        ax.axhline(novf[f"{key}_mean"], color=COLORS[k], ls="--", lw=1, label=f"{name}, no value fn")
    ax.set_xticks(x, [f"{r['lam']:g}" for r in lr])
    ax.set_xlabel(f"lambda (gamma = {GAMMA_FOR_LAMBDAS})")
    ax.set_ylabel("return (mean +- s.e. over seeds)")
    ax.set_title("Lambda sweep", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    save(fig, path)


DIFFERENCES = (
    "CartPole-v1 (returns capped at 500) instead of the paper's Barto cart-pole with a 1000-step limit; the "
    "paper's policy and value-function sizes and 20 episodes per batch.",
    "20 policy iterations and 5 seeds per setting instead of the paper's 21 seeds (CPU budget); the value "
    "function is fitted with L-BFGS (as the authors' code did) rather than the paper's trust region.",
)

EXPERIMENT = register(Experiment(
    name="gae", paper="1506.02438",
    title="High-Dimensional Continuous Control Using Generalized Advantage Estimation (cart-pole lambda/gamma study)",
    claim=CLAIM, run=run, judge=judge, quick_seconds=6, full_minutes=3, differences=DIFFERENCES))
