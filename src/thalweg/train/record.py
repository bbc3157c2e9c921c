"""Run records: one directory per training run, every file whole at every moment.

::

    runs/20250101-120000-mlp-digits/
      config.json       everything needed to rerun (model, data, optimizer, schedule, seed, ...)
      metrics.jsonl     one JSON row per epoch (loss, train/dev accuracy, lr, time, best flag)
      evals.jsonl       dev evaluations inside epochs (only with evals_per_epoch > 1)
      steps.csv         step, epoch, loss, lr for every optimizer step
      summary.json      status, best dev epoch and figures, test figures, wall/CPU time, parameter count
      loss.png accuracy.png lr.png        (when matplotlib is installed)
      checkpoints/last.npz best.npz       (when checkpointing)

Each file is rewritten atomically (temporary file, then rename), so a reader
or a crash never sees half a file.  ``summary.json`` is written last; a run
that fails before finishing its first epoch leaves no directory at all, and
one that fails later gets a summary saying ``"status": "failed"`` and why.
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
from pathlib import Path
from typing import Any, Sequence

from .io import atomic_write_json, atomic_write_text
from .plots import PlotsUnavailable, plot_run

__all__ = ["RunRecord", "new_run_dir", "read_run", "RunRecordError"]


class RunRecordError(ValueError):
    """A run directory is missing, incomplete or already holds another run."""


def new_run_dir(out: str | Path, name: str) -> Path:
    """A fresh directory path ``<out>/<timestamp>-<name>`` (suffixed ``-2``, ``-3``... if taken)."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(out) / f"{stamp}-{name}"
    path, k = base, 2
    while path.exists():
        path = base.with_name(f"{base.name}-{k}")
        k += 1
    return path


class RunRecord:
    """Writes one run's directory (see the module docstring)."""

    def __init__(self, path: str | Path, *, resume: bool = False) -> None:
        self.path = Path(path)
        self.resume = resume
        self._created = False
        self._started = False

    def start(self, config: dict[str, Any] | None) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise RunRecordError(f"run directory {self.path} is a file")
        if not self.resume and self.path.is_dir() and any(self.path.iterdir()):
            raise RunRecordError(f"run directory {self.path} already holds files; choose a new one or resume")
        self._created = not self.path.exists()
        self.path.mkdir(parents=True, exist_ok=True)
        self._started = True
        if self.resume:
            self.clean_stale_temporaries()
        if config is not None:
            old = self.path / "config.json"
            if self.resume and old.is_file():  # a resumed run keeps what it knew and updates what changed
                try:
                    config = {**json.loads(old.read_text()), **config}
                except json.JSONDecodeError:
                    pass
            atomic_write_json(self.path / "config.json", config)

    def clean_stale_temporaries(self) -> list[Path]:
        """Remove the hidden ``.<name>.*.tmp`` files a killed run left mid-write (atomic writes' temporaries).

        Called on resume: the run that wrote them is gone, and the files they
        were to replace are whole (the rename never happened)."""
        removed = []
        for folder in (self.path, self.path / "checkpoints"):
            if folder.is_dir():
                for f in folder.glob(".*.tmp"):
                    if f.is_file():
                        f.unlink(missing_ok=True)
                        removed.append(f)
        return removed

    def update(self, history: list[dict[str, Any]], evals: list[dict[str, Any]],
               steps: dict[str, Sequence[float]]) -> None:
        atomic_write_text(self.path / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in history))
        if len(evals) > len(history):
            atomic_write_text(self.path / "evals.jsonl", "".join(json.dumps(r) + "\n" for r in evals))
        lines = ["step,epoch,loss,lr\n"]
        for i, (ep, loss, lr) in enumerate(zip(steps["epoch"], steps["loss"], steps["lr"])):
            lines.append(f"{i + 1},{ep},{loss!r},{lr!r}\n")
        atomic_write_text(self.path / "steps.csv", "".join(lines))

    def finish(self, summary: dict[str, Any], history: list[dict[str, Any]], evals: list[dict[str, Any]],
               steps: dict[str, Sequence[float]], *, plots: bool = True, title: str = "") -> dict[str, Any]:
        """Write the last metrics, the plots (if possible) and ``summary.json``; return the summary."""
        self.update(history, evals, steps)
        if plots and history:
            try:
                files = plot_run(self.path, history, evals=evals, steps=steps, title=title)
                summary["plots"] = [p.name for p in files]
            except PlotsUnavailable as e:
                summary["plots"] = f"skipped: {e}"
        atomic_write_json(self.path / "summary.json", summary)
        return summary

    def fail(self, summary: dict[str, Any], *, keep: bool) -> None:
        """After an exception: remove a directory this run created and that holds nothing useful, else
        write a summary that says the run failed.  A record that never started touches nothing."""
        if not self._started:
            return
        if not keep and self._created:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        if self.path.is_dir():
            atomic_write_json(self.path / "summary.json", summary)


def read_run(path: str | Path) -> dict[str, Any]:
    """Load a run directory: ``{"config", "summary", "history"}``; clear errors when it is not one."""
    p = Path(path)
    if not p.exists():
        raise RunRecordError(f"run directory not found: {p}")
    if not p.is_dir():
        raise RunRecordError(f"not a directory: {p}")
    if not (p / "config.json").is_file() and not (p / "summary.json").is_file():
        raise RunRecordError(f"{p} is not a thalweg run directory (no config.json or summary.json)")
    out: dict[str, Any] = {"path": p, "config": None, "summary": None, "history": []}
    for key, name in (("config", "config.json"), ("summary", "summary.json")):
        f = p / name
        if f.is_file():
            try:
                out[key] = json.loads(f.read_text())
            except json.JSONDecodeError as e:
                raise RunRecordError(f"{f}: not valid JSON ({e})") from None
    m = p / "metrics.jsonl"
    if m.is_file():
        out["history"] = [json.loads(line) for line in m.read_text().splitlines() if line.strip()]
    return out
