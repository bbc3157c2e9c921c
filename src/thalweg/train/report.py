"""``thalweg report RUN_DIR``: a past run (or comparison) as text."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .progress import format_epoch_line, format_seconds
from .record import RunRecordError, read_run

__all__ = ["format_report"]


def _pct(v: Any) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.2f}%"


def _figures(d: dict[str, Any] | None) -> str:
    if not d:
        return "-"
    return "  ".join(f"{k} {_pct(v)}" if "accuracy" in k else f"{k} {v:.4f}" for k, v in d.items()
                     if isinstance(v, (int, float)))


def format_report(run_dir: str | Path, *, all_rows: bool = False) -> str:
    p = Path(run_dir)
    comp = p / "comparison.json"
    if comp.is_file():
        data = json.loads(comp.read_text())
        text = (p / "comparison.txt").read_text().rstrip() if (p / "comparison.txt").is_file() else ""
        return "\n".join([f"comparison of {data.get('axis')}: {p}", text, f"plot: {data.get('plot', '-')}"])
    lrf = p / "lr_find.json"
    if lrf.is_file():
        data = json.loads(lrf.read_text())
        bounds = ("no suggested bounds" if data.get("base_lr") is None else
                  f"suggested base_lr {data['base_lr']:.3g}  max_lr {data['max_lr']:.3g}")
        return "\n".join([f"LR range test: {p}",
                          f"{data.get('optimizer', '?')}, {len(data.get('lrs', []))} steps, {data.get('mode')} sweep "
                          f"from {data['lrs'][0]:.3g} to {data['lrs'][-1]:.3g}"
                          + ("  (stopped: the loss diverged)" if data.get("diverged") else ""),
                          bounds, f"rule: {data.get('rule', '-')}"]
                         + ([f"warning: {data['warning']}"] if data.get("warning") else []))
    run = read_run(p)
    cfg, summary, history = run["config"] or {}, run["summary"], run["history"]
    lines = [f"run: {p}"]
    if cfg:
        keys = ("model", "dataset", "optimizer", "lr", "schedule", "epochs", "batch_size", "seed")
        shown = dict(cfg)
        if shown.get("lr") is None:  # the optimizer's default rate: what the optimizer was built with
            hyper = (cfg.get("optimizer_state") or {}).get("hyperparameters") or {}
            if "lr" in hyper:
                shown["lr"] = f"{hyper['lr']:g} (default)"
        lines.append("config: " + "  ".join(f"{k}={shown[k]}" for k in keys if k in shown))
    if summary is None:
        lines.append(f"status: unfinished (no summary.json yet; {len(history)} epochs recorded)")
    else:
        lines.append(f"status: {summary.get('status')} ({summary.get('stop_reason') or summary.get('error', '')})")
        if summary.get("best_epoch") is not None:
            lines.append(f"best dev: epoch {summary['best_epoch']:g}, {summary.get('monitor')} "
                         f"{_pct(summary['best_dev']) if 'acc' in str(summary.get('monitor')) else summary['best_dev']}"
                         + ("  (weights restored)" if summary.get("restored_best_weights") else ""))
        lines.append(f"test: {_figures(summary.get('test'))}")
        if "wall_time_s" in summary:
            lines.append(f"time: {format_seconds(summary['wall_time_s'])} wall, "
                         f"{format_seconds(summary.get('cpu_time_s', float('nan')))} CPU; "
                         f"{summary.get('parameters', '?')} parameters; {summary.get('epochs_run')} epochs, "
                         f"{summary.get('steps')} steps")
        plots = summary.get("plots")
        if plots:
            lines.append("plots: " + (", ".join(plots) if isinstance(plots, list) else str(plots)))
    if history:
        epochs = int((cfg or {}).get("epochs") or history[-1]["epoch"])
        metric_names = [k[len("train_"):] for k in history[0] if k.startswith("train_")]
        shown = history if all_rows or len(history) <= 12 else history[:3] + history[-8:]
        lines.append("epochs:")
        for i, r in enumerate(shown):
            if not all_rows and len(history) > 12 and i == 3:
                lines.append(f"  ... ({len(history) - 11} more; --all shows every epoch)")
            lines.append("  " + format_epoch_line(r, epochs, metric_names, best=bool(r.get("best"))))
    if summary is None and not history and not cfg:
        raise RunRecordError(f"{p} holds no run record")
    return "\n".join(lines)
