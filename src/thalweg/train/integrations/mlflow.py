"""``MLflowLogger``: a ``fit`` callback recording the run in an MLflow tracking store.

::

    fit(model, opt, train, dev, epochs=10, run_dir="runs/exp1",
        callbacks=[MLflowLogger("sqlite:///mlflow.db", experiment_name="digits")])
    # then: mlflow ui --backend-store-uri sqlite:///mlflow.db

At the start: one MLflow run with the run's configuration as parameters
(nested keys flattened with dots: ``optimizer_state.hyperparameters.lr``);
a fit resumed from a checkpoint continues that same run (its id is in the
checkpoint).
Each epoch: the epoch row's figures as metrics at ``step=epoch``.  At the
end: the test figures (``test_accuracy``...), the best dev epoch, the status,
and the run record's files (config, metrics, summary, plots; checkpoints when
``log_checkpoints=True``) as artifacts.  The store is a database URI
(``sqlite:///path/mlflow.db``), MLflow's recommended backend, or a directory
(``./mlruns`` or ``file:///...``), MLflow's older file store, which MLflow now
only opens with ``MLFLOW_ALLOW_FILE_STORE=true``: this logger sets that
variable when it is given a directory, since that is then the user's choice.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import distributed as _dist
from ..callbacks import Callback

if TYPE_CHECKING:  # pragma: no cover
    from ..loop import Trainer

__all__ = ["MLflowLogger"]

_STATUS = {"completed": "FINISHED", "stopped": "FINISHED", "diverged": "FAILED"}


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            text = v if isinstance(v, str) else json.dumps(v, default=str)
            out[key] = text[:500]  # MLflow keeps parameters short
    return out


def _store_uri(uri: str | os.PathLike[str] | None) -> str | None:
    """A plain path means MLflow's file store, which needs the explicit opt-in."""
    if uri is None:
        return None
    text = str(uri)
    if "://" not in text or text.startswith("file://"):
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        if "://" not in text:
            text = Path(text).expanduser().resolve().as_uri()
    return text


def _artifact_location(uri: str | None) -> str | None:
    """Beside an SQLite database, not in the working directory (MLflow's default ``./mlruns`` for databases)."""
    if uri is None or not uri.startswith("sqlite:///"):
        return None  # a file store keeps artifacts inside itself
    return (Path(uri[len("sqlite:///"):]).expanduser().resolve().parent / "mlartifacts").as_uri()


class MLflowLogger(Callback):
    """Log parameters, per-epoch metrics and the run record to MLflow (see the module docstring)."""

    def __init__(self, tracking_uri: str | os.PathLike[str] | None = None, *, experiment_name: str = "thalweg",
                 run_name: str | None = None, tags: dict[str, str] | None = None, log_artifacts: bool = True,
                 log_checkpoints: bool = False) -> None:
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.run_name = run_name
        self.tags = dict(tags or {})
        self.log_artifacts = log_artifacts
        self.log_checkpoints = log_checkpoints
        self.client: Any = None
        self.run_id: str | None = None

    def on_fit_start(self, trainer: "Trainer") -> None:
        if not _dist.is_main():
            return
        try:
            from mlflow.entities import Param, RunTag
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise ImportError("MLflowLogger needs mlflow (or mlflow-skinny): pip install 'thalweg[mlflow]'") from None
        self.client = MlflowClient(tracking_uri=_store_uri(self.tracking_uri))
        if self.run_id is not None:  # a resumed fit continues the MLflow run its checkpoint names
            try:
                self.client.update_run(self.run_id, status="RUNNING")
                return
            except Exception:  # noqa: BLE001 - another store, or the run was deleted: start a new one
                self.run_id = None
        exp = self.client.get_experiment_by_name(self.experiment_name)
        exp_id = exp.experiment_id if exp is not None else self.client.create_experiment(
            self.experiment_name, artifact_location=_artifact_location(_store_uri(self.tracking_uri)))
        name = self.run_name or (Path(trainer.run_dir).name if trainer.run_dir is not None else None)
        run = self.client.create_run(exp_id, run_name=name, tags={"framework": "thalweg", **self.tags})
        self.run_id = run.info.run_id
        params = _flatten(self._config(trainer))
        self.client.log_batch(self.run_id, params=[Param(k, v) for k, v in params.items()],
                              tags=[RunTag("model", type(trainer.model).__name__)])

    def state_dict(self) -> dict[str, Any]:
        """The MLflow run's id, saved in checkpoints so that a resumed fit logs into the same run."""
        return {"run_id": self.run_id}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.run_id = state.get("run_id") or None

    @staticmethod
    def _config(trainer: "Trainer") -> dict[str, Any]:
        cfg: dict[str, Any] = {}
        if trainer.run_dir is not None and (Path(trainer.run_dir) / "config.json").is_file():
            try:
                cfg = json.loads((Path(trainer.run_dir) / "config.json").read_text())
            except json.JSONDecodeError:
                cfg = {}
        cfg.setdefault("optimizer", type(trainer.optimizer).__name__)
        cfg.setdefault("lr", trainer.lr)
        cfg.setdefault("batch_size", trainer.batch_size)
        cfg.setdefault("seed", trainer.seed)
        cfg.setdefault("loss", trainer.loss_name)
        cfg.setdefault("monitor", trainer.monitor)
        return cfg

    def _log_metrics(self, figures: dict[str, Any], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, int(step)) for k, v in figures.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict[str, Any]) -> None:
        if self.client is None:
            return
        self._log_metrics({k: v for k, v in logs.items() if k not in ("epoch", "step", "best")}, epoch)

    def on_summary(self, trainer: "Trainer", summary: dict[str, Any]) -> None:
        if self.client is None:
            return
        final = {f"test_{k}": v for k, v in (summary.get("test") or {}).items()}
        if summary.get("best_dev") is not None:
            final["best_dev"] = summary["best_dev"]
            final["best_epoch"] = summary.get("best_epoch")
        self._log_metrics(final, trainer.epoch)
        self.client.set_tag(self.run_id, "status", str(summary.get("status")))
        if self.log_artifacts and trainer.run_dir is not None and Path(trainer.run_dir).is_dir():
            root = Path(trainer.run_dir)
            for f in sorted(root.iterdir()):
                if f.is_file() and not f.name.startswith("."):
                    self.client.log_artifact(self.run_id, str(f), artifact_path="run")
            if self.log_checkpoints and (root / "checkpoints").is_dir():
                for f in sorted((root / "checkpoints").glob("*.npz")):
                    self.client.log_artifact(self.run_id, str(f), artifact_path="run/checkpoints")
        self.client.set_terminated(self.run_id, _STATUS.get(str(summary.get("status")), "FINISHED"))

    def on_exception(self, trainer: "Trainer", exc: BaseException) -> None:
        """The run ends with an error: tag it and mark it FAILED (KILLED for Ctrl-C), so it is not left RUNNING."""
        if self.client is None:
            return
        interrupted = isinstance(exc, KeyboardInterrupt)
        self.client.set_tag(self.run_id, "status", "interrupted" if interrupted else "failed")
        self.client.set_tag(self.run_id, "error", f"{type(exc).__name__}: {exc}"[:5000])
        self.client.set_terminated(self.run_id, "KILLED" if interrupted else "FAILED")
