"""The three reproductions of issue 11 in quick mode: a real small run that writes a complete, judged report.

The runs use the shared sentence-polarity and MovieLens files when present and generated stand-ins
otherwise (exercised below with the data hidden); ESIM always runs on its generated task.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import thalweg_lab as lab
from thalweg_lab import datasets
from thalweg_lab.plotting import plots_available
from thalweg_lab.report import REPORT_SECTIONS
from thalweg_lab.result import OUTCOMES

ISSUE_11 = ("saliency", "gru4rec", "esim")


def _check_run(name: str, out: Path, result: lab.LabResult) -> str:
    exp = lab.get_experiment(name)
    assert result.verdict is not None and result.verdict.outcome in OUTCOMES
    again = exp.judge(json.loads(json.dumps(result.measured, default=float)))
    assert again.outcome == result.verdict.outcome and again.reason == result.verdict.reason
    text = (out / "report.md").read_text()
    positions = [text.index(s) for s in REPORT_SECTIONS]
    assert positions == sorted(positions), name
    assert exp.claim.strip() in text and result.verdict.outcome.upper() in text and "| --- |" in text
    assert "{" not in text.split("## Setup")[1].split("## Measured")[0]  # no unformatted placeholders
    data = json.loads((out / "result.json").read_text())
    assert data["verdict"]["outcome"] == result.verdict.outcome and data["quick"] is True
    if plots_available():
        assert result.plots and not result.plot_notes
        for p in result.plots:
            assert p.is_file() and p.stat().st_size > 1000 and f"]({p.name})" in text
    else:
        assert "Plots skipped" in text
    numbers = [v for v in result.measured.values() if isinstance(v, float)]
    assert numbers and all(math.isfinite(v) for v in numbers)
    return text


@pytest.mark.parametrize("name", ISSUE_11)
def test_quick_run_writes_a_judged_report(name: str, tmp_path: Path) -> None:
    result = lab.run_experiment(name, quick=True, out_dir=tmp_path, seed=0, echo=None)
    text = _check_run(name, tmp_path, result)
    if name == "esim":
        assert "GENERATED" in text and "SYNTHETIC" in text


@pytest.fixture
def no_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datasets, "candidate_roots", lambda: [])
    monkeypatch.delenv("THALWEG_DATA", raising=False)


@pytest.mark.parametrize("name", ["saliency", "gru4rec"])
def test_without_the_shared_data_the_run_uses_generated_data_and_says_so(no_data: None, tmp_path: Path,
                                                                         name: str) -> None:
    result = lab.run_experiment(name, quick=True, out_dir=tmp_path, seed=1, echo=None)
    text = _check_run(name, tmp_path, result)
    assert "GENERATED" in text
