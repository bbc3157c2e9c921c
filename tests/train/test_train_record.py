"""Run records: the files, the summary, plots optional, nothing half-written on errors."""

import json

import numpy as np
import pytest

from thalweg import optim
from thalweg.train import Callback, RunRecordError, fit, read_run
from thalweg.train import plots as plots_module
from thalweg.train.report import format_report

from train_helpers import mlp, small_digits

PNG = b"\x89PNG\r\n\x1a\n"


def _fit(run_dir, epochs=3, **kw):
    train, dev, test = small_digits(128)
    model = mlp()
    return model, fit(model, optim.SGD(model.parameters(), lr=0.1), train, dev, test=test, epochs=epochs,
                      batch_size=32, seed=0, run_dir=run_dir, config={"note": "unit test"}, verbose=False, **kw)


def test_run_directory_holds_config_metrics_summary_and_plots(tmp_path):
    pytest.importorskip("matplotlib")
    model, r = _fit(tmp_path / "run")
    d = tmp_path / "run"
    assert r.run_dir == d
    config = json.loads((d / "config.json").read_text())
    assert config["note"] == "unit test" and config["epochs"] == 3 and config["seed"] == 0
    rows = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2, 3]
    assert {"loss", "train_accuracy", "dev_loss", "dev_accuracy", "lr", "time", "best"} <= set(rows[0])
    steps = (d / "steps.csv").read_text().splitlines()
    assert steps[0] == "step,epoch,loss,lr" and len(steps) == 1 + 3 * 4
    summary = json.loads((d / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["best_epoch"] == r.best_epoch
    assert summary["test"]["accuracy"] == r.test["accuracy"]
    assert summary["parameters"] == sum(p.array.size for p in model.parameters()) == 64 * 32 + 32 + 32 * 10 + 10
    assert summary["wall_time_s"] > 0 and summary["cpu_time_s"] > 0
    assert sorted(summary["plots"]) == ["accuracy.png", "loss.png", "lr.png"]
    for name in summary["plots"]:
        assert (d / name).read_bytes()[:8] == PNG
    assert not [p for p in d.iterdir() if p.name.startswith(".")]  # no temporary files
    run = read_run(d)
    assert run["summary"] == summary and len(run["history"]) == 3
    text = format_report(d)
    assert "status: completed" in text and "test: loss" in text and "epoch 3/3" in text


def test_without_matplotlib_the_run_works_and_says_plots_were_skipped(tmp_path, monkeypatch):
    def missing(*a, **k):
        raise plots_module.PlotsUnavailable("matplotlib is not installed (pip install 'thalweg[plot]')")

    monkeypatch.setattr(plots_module, "_figure", missing)
    lines = []
    train, dev, _ = small_digits(64)
    model = mlp()
    fit(model, optim.SGD(model.parameters(), lr=0.1), train, dev, epochs=1, run_dir=tmp_path / "run",
        log=lines.append)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["plots"].startswith("skipped: matplotlib is not installed")
    assert any("plots skipped" in ln for ln in lines)
    assert not list((tmp_path / "run").glob("*.png"))


class Explode(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_start(self, trainer, epoch):
        if epoch == self.epoch:
            raise RuntimeError("boom")


def test_failure_before_the_first_epoch_leaves_no_directory(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        _fit(tmp_path / "run", callbacks=[Explode(1)])
    assert not (tmp_path / "run").exists()


def test_failure_later_leaves_a_complete_record_that_says_so(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        _fit(tmp_path / "run", callbacks=[Explode(3)])
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["error"] == "RuntimeError: boom"
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 2
    assert "status: failed" in format_report(tmp_path / "run")


def test_an_existing_run_is_not_overwritten(tmp_path):
    _fit(tmp_path / "run", epochs=1, plots=False)
    before = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir() if p.is_file()}
    with pytest.raises(RunRecordError, match="already holds files"):
        _fit(tmp_path / "run", epochs=1)
    after = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir() if p.is_file()}
    assert after == before


def test_read_run_errors(tmp_path):
    with pytest.raises(RunRecordError, match="not found"):
        read_run(tmp_path / "nope")
    with pytest.raises(RunRecordError, match="not a thalweg run directory"):
        read_run(tmp_path)


def test_compare_plot_and_lr_find_plot(tmp_path):
    pytest.importorskip("matplotlib")
    h = [{"epoch": e, "loss": 1.0 / e, "dev_accuracy": 0.5 + 0.1 * e} for e in (1, 2, 3)]
    p = plots_module.plot_compare(tmp_path / "c.png", {"a": h, "b": h[:2]})
    assert p.read_bytes()[:8] == PNG
    lrs = np.geomspace(1e-4, 1, 50)
    q = plots_module.plot_lr_find(tmp_path / "l.png", lrs, np.linspace(2, 0.5, 50), base_lr=1e-3, max_lr=0.1)
    assert q.read_bytes()[:8] == PNG
