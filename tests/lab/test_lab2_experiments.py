"""Issue 9's experiments in quick mode: a real small run that writes a complete, judged report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import thalweg_lab as lab
from thalweg_lab.plotting import plots_available
from thalweg_lab.report import REPORT_SECTIONS
from thalweg_lab.result import OUTCOMES
from thalweg.optim import transforms as T

ISSUE_9 = ("gradient-noise", "data-dependent-init", "elu", "sharp-minima")


@pytest.mark.parametrize("name", ISSUE_9)
def test_quick_run_writes_a_judged_report(name: str, tmp_path: Path) -> None:
    result = lab.run_experiment(name, quick=True, out_dir=tmp_path, seed=0, echo=None)
    exp = lab.get_experiment(name)
    assert result.verdict is not None and result.verdict.outcome in OUTCOMES
    # the verdict is the judge's reading of the recorded figures (after a JSON round trip), nothing else
    again = exp.judge(json.loads(json.dumps(result.measured, default=float)))
    assert again.outcome == result.verdict.outcome and again.reason == result.verdict.reason
    text = (tmp_path / "report.md").read_text()
    positions = [text.index(s) for s in REPORT_SECTIONS]
    assert positions == sorted(positions)
    assert exp.claim.strip() in text and result.verdict.outcome.upper() in text and "| --- |" in text
    data = json.loads((tmp_path / "result.json").read_text())
    assert data["verdict"]["outcome"] == result.verdict.outcome and data["quick"] is True
    numbers = [v for v in result.measured.values() if isinstance(v, float) and math.isfinite(v)]
    assert numbers
    if plots_available():
        assert len(result.plots) >= 2 and not result.plot_notes
        for p in result.plots:
            assert p.is_file() and p.stat().st_size > 1000 and f"]({p.name})" in text
    else:
        assert "Plots skipped" in text


def test_the_experiments_are_listed() -> None:
    assert set(ISSUE_9) <= set(lab.experiments()), lab.discovery_errors()


def test_gradient_noise_transform_follows_the_papers_schedule() -> None:
    # sigma_t^2 = eta / (1 + t)^gamma, t counted from 0, independent per coordinate, added to the update
    link = T.add_gradient_noise(0.01, 0.55, seed=3)
    zeros = [np.zeros(200_000, dtype=np.float32)]
    state = link.init(zeros)
    variances = []
    for _ in range(50):
        out, state = link.update([z.copy() for z in zeros], state, zeros)
        variances.append(float(np.var(out[0], dtype=np.float64)))
    for t in (0, 9, 49):
        assert variances[t] == pytest.approx(0.01 / (1 + t) ** 0.55, rel=0.02)
