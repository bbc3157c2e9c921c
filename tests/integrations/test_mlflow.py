"""``MLflowLogger``, read back through ``mlflow.tracking.MlflowClient`` from a local store."""

import json
import sys
from pathlib import Path

import pytest

from thalweg import optim
from thalweg.train import Callback, MLflowLogger, fit

pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from train_helpers import mlp, small_digits  # noqa: E402


def _run(tmp_path, uri, **kw):
    train, dev, test = small_digits(128)
    model = mlp()
    logger = MLflowLogger(uri, experiment_name="digits", **kw)
    fit(model, optim.SGD(model.parameters(), lr=0.1), train, dev, test=test, epochs=3, batch_size=32, seed=0,
        run_dir=tmp_path / "run", config={"model": "mlp", "optimizer_state": {"lr": 0.1}}, callbacks=[logger],
        verbose=False, plots=False)
    return logger


def _check(client, logger):
    run = client.get_run(logger.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    p = run.data.params
    assert p["model"] == "mlp" and p["optimizer_state.lr"] == "0.1" and p["batch_size"] == "32"
    history = client.get_metric_history(logger.run_id, "dev_accuracy")
    assert [m.step for m in history] == [1, 2, 3]
    assert [m.step for m in client.get_metric_history(logger.run_id, "loss")] == [1, 2, 3]
    assert 0.0 <= run.data.metrics["test_accuracy"] <= 1.0 and run.data.metrics["best_epoch"] >= 1
    assert run.data.tags["status"] == "completed"
    names = {f.path for f in client.list_artifacts(logger.run_id, "run")}
    assert {"run/config.json", "run/metrics.jsonl", "run/summary.json"} <= names
    local = Path(client.download_artifacts(logger.run_id, "run/summary.json"))
    assert json.loads(local.read_text())["status"] == "completed"


def test_mlflow_logger_to_a_directory_store(tmp_path):
    logger = _run(tmp_path, tmp_path / "mlruns")
    _check(MlflowClient(tracking_uri=(tmp_path / "mlruns").resolve().as_uri()), logger)
    assert MlflowClient(tracking_uri=(tmp_path / "mlruns").resolve().as_uri()).get_experiment_by_name("digits")


@pytest.mark.slow  # MLflow creates its tables with ~40 Alembic migrations: some 20 s
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_mlflow_logger_to_a_sqlite_store(tmp_path):
    pytest.importorskip("sqlalchemy")
    pytest.importorskip("alembic")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    logger = _run(tmp_path, uri, log_checkpoints=False)
    _check(MlflowClient(tracking_uri=uri), logger)
    assert any((tmp_path / "mlartifacts").rglob("summary.json")), "artifacts belong beside the database"
    assert not Path("mlruns").exists(), "nothing may be written into the working directory"


def test_a_resumed_run_continues_the_same_mlflow_run(tmp_path):
    from thalweg.train import ModelCheckpoint

    uri = (tmp_path / "mlruns").resolve().as_uri()
    train, dev, _ = small_digits(96)

    def run(epochs, resume=None):
        model = mlp()
        logger = MLflowLogger(tmp_path / "mlruns", experiment_name="resume")
        fit(model, optim.SGD(model.parameters(), lr=0.1), train, dev, epochs=epochs, batch_size=32, seed=0,
            run_dir=tmp_path / "run", callbacks=[logger, ModelCheckpoint(every_n_epochs=1)], verbose=False,
            plots=False, resume=resume)
        return logger

    first = run(2)
    second = run(3, resume=tmp_path / "run")
    assert second.run_id == first.run_id
    client = MlflowClient(tracking_uri=uri)
    assert [m.step for m in client.get_metric_history(first.run_id, "loss")] == [1, 2, 3]
    assert client.get_run(first.run_id).info.status == "FINISHED"
    assert len(client.search_runs([client.get_experiment_by_name("resume").experiment_id])) == 1


class _Boom(Callback):
    """A callback that raises ``exc`` when the second epoch starts, as a bug in user code (or Ctrl-C) would."""

    def __init__(self, exc):
        self.exc = exc

    def on_epoch_start(self, trainer, epoch):
        if epoch == 2:
            raise self.exc("boom in epoch 2") if self.exc is ValueError else self.exc()


@pytest.mark.parametrize("exc, status", [(ValueError, "FAILED"), (KeyboardInterrupt, "KILLED")])
def test_mlflow_run_is_closed_when_training_fails(tmp_path, exc, status):
    train, dev, _ = small_digits(128)
    model = mlp()
    logger = MLflowLogger(tmp_path / "mlruns", experiment_name="digits")
    with pytest.raises(exc):
        fit(model, optim.SGD(model.parameters(), lr=0.1), train, dev, epochs=3, batch_size=32, seed=0,
            run_dir=tmp_path / "run", callbacks=[logger, _Boom(exc)], verbose=False, plots=False)
    run = MlflowClient(tracking_uri=(tmp_path / "mlruns").resolve().as_uri()).get_run(logger.run_id)
    assert run.info.status == status, "a failed fit must not leave the MLflow run RUNNING"
    assert run.data.tags["status"] == ("interrupted" if exc is KeyboardInterrupt else "failed")
    if exc is ValueError:
        assert "boom in epoch 2" in run.data.tags["error"]
