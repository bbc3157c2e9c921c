"""Every experiment of issue 8 in quick mode: a real small run that writes a complete report.

The runs use MNIST / Fashion-MNIST when the shared data folder (or
``$THALWEG_DATA``) has them and fall back to the embedded 8x8 digits
otherwise; the fallback itself is exercised below with the data hidden.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import thalweg_lab as lab
from thalweg_lab import datasets, dropout, memorization
from thalweg_lab.plotting import plots_available
from thalweg_lab.report import REPORT_SECTIONS
from thalweg_lab.result import MIN_SEEDS, OUTCOMES

ISSUE_8 = ("depth", "memorization", "weight-decay", "dropout", "optimizer-paths", "optimizer-survey",
           "lr-range-test", "clr")


def _check_run(name: str, out: Path, result: lab.LabResult) -> None:
    exp = lab.get_experiment(name)
    assert result.verdict is not None and result.verdict.outcome in OUTCOMES
    # the verdict is the judge's reading of the recorded figures, nothing else
    again = exp.judge(json.loads(json.dumps(result.measured, default=float)))
    assert again.outcome == result.verdict.outcome and again.reason == result.verdict.reason
    text = (out / "report.md").read_text()
    positions = [text.index(s) for s in REPORT_SECTIONS]
    assert positions == sorted(positions), name
    assert exp.claim.strip() in text
    assert result.verdict.outcome.upper() in text
    assert "| --- |" in text  # a Markdown table of figures
    data = json.loads((out / "result.json").read_text())
    assert data["verdict"]["outcome"] == result.verdict.outcome and data["quick"] is True
    if plots_available():
        assert result.plots and not result.plot_notes
        for p in result.plots:
            assert p.is_file() and p.stat().st_size > 1000 and f"]({p.name})" in text
    else:
        assert "Plots skipped" in text


# experiments whose figures are per-seed lists: some of the lists the verdict is read from
PER_SEED = {"dropout": ("gap_reduction", "dev_difference_se", "dev_accuracy/with dropout"),
            "memorization": ("train_accuracy/random", "dev_accuracy/random", "chance_bound", "epochs_to_95/true")}


@pytest.mark.parametrize("name", ISSUE_8)
def test_quick_run_writes_a_judged_report(name: str, tmp_path: Path) -> None:
    result = lab.run_experiment(name, quick=True, out_dir=tmp_path, seed=0, echo=None)
    _check_run(name, tmp_path, result)
    numbers = [v for v in result.measured.values() if isinstance(v, float)]
    assert numbers and any(math.isfinite(v) for v in numbers)
    if name in PER_SEED:  # one figure per seed, and the report gives the spread and the per-seed table
        n = result.n_seeds
        assert n == result.measured["seeds"] >= 2
        for key in PER_SEED[name]:
            assert len(result.measured[key]) == n, key
        text = (tmp_path / "report.md").read_text()
        assert f"n={n})" in text and "Per seed" in text
        assert f"lowest of {n} seeds" in text


@pytest.mark.parametrize("module", [dropout, memorization])
def test_full_runs_rest_on_enough_seeds(module: Any) -> None:
    assert module._settings(quick=False)["seeds"] >= MIN_SEEDS


@pytest.fixture
def no_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datasets, "candidate_roots", lambda: [])
    monkeypatch.delenv("THALWEG_DATA", raising=False)


def test_without_mnist_the_lab_runs_on_the_embedded_digits_and_says_so(no_data: None, tmp_path: Path) -> None:
    d = datasets.load("mnist", n_train=100)
    assert d.fallback and d.name == "UCI 8x8 digits" and d.x_train.shape == (100, 64)
    assert "MNIST was not found" in d.describe()
    images = datasets.load("fashion-mnist", n_dev=50, images=True)
    assert images.fallback and images.x_dev.shape == (50, 1, 8, 8) and images.image_size == 8
    for name in ("memorization", "lr-range-test"):  # an MLP and the CNN on 8x8 images
        result = lab.run_experiment(name, quick=True, out_dir=tmp_path / name, seed=0, echo=None)
        _check_run(name, tmp_path / name, result)
        assert "embedded 8x8 digits" in (tmp_path / name / "report.md").read_text()


def test_subsets_are_seeded_and_disjoint_from_dev() -> None:
    a = datasets.load("mnist", n_train=50, n_dev=20, n_test=10, seed=1)
    b = datasets.load("mnist", n_train=50, n_dev=20, n_test=10, seed=1)
    c = datasets.load("mnist", n_train=50, n_dev=20, n_test=10, seed=2)
    assert np.array_equal(a.x_train, b.x_train) and not np.array_equal(a.x_train, c.x_train)
    assert a.x_train.dtype == np.float32 and a.y_train.dtype == np.int64
    assert (len(a.y_train), len(a.y_dev), len(a.y_test)) == (50, 20, 10)
    train_rows = {r.tobytes() for r in a.x_train}
    assert not any(r.tobytes() in train_rows for r in a.x_dev)
    with pytest.raises(ValueError, match="unknown dataset"):
        datasets.load("cifar")
