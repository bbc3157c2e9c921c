"""The lab's framework: checks, verdicts, tables, reports, the registry and plots without matplotlib."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any, Mapping

import pytest

import thalweg_lab as lab
from thalweg_lab import registry
from thalweg_lab.plotting import figure, plot_into, save
from thalweg_lab.report import REPORT_SECTIONS
from thalweg_lab.result import (NOT_REPRODUCED, PARTLY, REPRODUCED, Check, LabResult, Table, Verdict,
                                verdict_from_checks)


# ------------------------------------------------------------------ checks
def test_check_constructors_compute_passed_from_the_value() -> None:
    assert Check.at_most("x", 0.1, 0.1).passed and not Check.at_most("x", 0.11, 0.1).passed
    assert Check.at_least("x", 3.0, 3.0).passed and not Check.at_least("x", 2.9, 3.0).passed
    assert Check.less_than("x", 1.0, 2.0).passed and not Check.less_than("x", 2.0, 2.0).passed
    assert Check.greater_than("x", 2.5, 2.0).passed and not Check.greater_than("x", 2.0, 2.0).passed
    assert Check.between("x", 0.5, 0.0, 1.0).passed and not Check.between("x", 1.5, 0.0, 1.0).passed
    assert Check.count_at_least("x", 3, 4, 3).passed and not Check.count_at_least("x", 2, 4, 3).passed


def test_nan_never_passes_and_infinity_compares_as_a_number() -> None:
    nan = math.nan
    for c in (Check.at_most("x", nan, 1), Check.at_least("x", nan, 1), Check.less_than("x", nan, 1),
              Check.greater_than("x", nan, 1), Check.between("x", nan, 0, 1)):
        assert not c.passed
    assert Check.less_than("steps", 400.0, math.inf).passed          # finished within a budget SGD never met
    assert not Check.less_than("steps", math.inf, math.inf).passed     # neither finished
    assert not Check.at_most("ratio", math.inf, 1.0).passed
    assert Check.at_least("drop", math.inf, 0.02).passed               # "diverged" counts as a fall
    assert Check.less_than("x", 1.0, math.inf).criterion == "< never"


def test_verdict_outcomes_follow_the_rules() -> None:
    ok, bad = Check.at_least("a", 1.0, 0.5), Check.at_least("b", 0.0, 0.5)
    side_ok, side_bad = (Check.at_least("c", 1.0, 0.5, primary=False),
                         Check.at_least("d", 0.0, 0.5, primary=False))
    assert verdict_from_checks([ok, side_ok]).outcome == REPRODUCED
    assert verdict_from_checks([ok, side_bad]).outcome == PARTLY
    assert verdict_from_checks([ok, bad]).outcome == PARTLY
    assert verdict_from_checks([bad, side_ok]).outcome == NOT_REPRODUCED
    assert verdict_from_checks([bad]).outcome == NOT_REPRODUCED
    v = verdict_from_checks([ok, bad], context="short run")
    assert "b = 0, needs >= 0.5" in v.reason and v.reason.endswith("short run")
    assert v.checks == (ok, bad)
    with pytest.raises(ValueError, match="primary"):
        verdict_from_checks([side_ok])
    with pytest.raises(ValueError, match="outcome"):
        Verdict("sort of", "no")


def test_table_markdown_escapes_pipes_and_formats_numbers() -> None:
    t = Table(["name", "||g||"], title="t")
    t.add("a|b", 0.123456)
    t.add("never", math.inf)
    md = t.to_markdown().splitlines()
    assert md[0] == "| name | \\|\\|g\\|\\| |"
    assert md[2] == "| a\\|b | 0.1235 |"
    assert md[3] == "| never | never |"
    with pytest.raises(ValueError, match="2 values for 3 columns"):
        Table(["a", "b", "c"]).add(1, 2)


# ----------------------------------------------------------------- registry
def _fake_run(*, quick: bool, out_dir: Path, seed: int) -> LabResult:
    value = 0.9 if seed == 0 else 0.1
    result = LabResult(setup="- made up", tables=[Table(["figure", "value"], [["score", value]])],
                       measured={"score": value, "curve": [1.0, 2.0]})

    def draw(path: Path) -> None:
        fig, axes = figure(1, 1)
        axes[0, 0].plot([0, 1], [0, value])
        save(fig, path)

    plot_into(result, out_dir / "curve.png", draw)
    return result


_DIFF = ("Made-up data for the framework's tests.",)


def _fake_judge(m: Mapping[str, Any]) -> Verdict:
    return verdict_from_checks([Check.at_least("score", m["score"], 0.5)])


@pytest.fixture
def fake_experiment(monkeypatch: pytest.MonkeyPatch) -> lab.Experiment:
    lab.experiments()  # discover the real ones first, so the copy holds them
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    return lab.register(lab.Experiment("zz-fake", "0000.00000", "A made-up paper", "Scores are high.",
                                       _fake_run, _fake_judge, differences=_DIFF))


def test_run_experiment_writes_the_report_and_judges_from_the_figures(fake_experiment: lab.Experiment,
                                                                     tmp_path: Path) -> None:
    lines: list[str] = []
    good = lab.run_experiment("zz-fake", quick=True, out_dir=tmp_path / "good", seed=0, echo=lines.append)
    bad = lab.run_experiment(fake_experiment, out_dir=tmp_path / "bad", seed=3, echo=None)
    assert good.verdict is not None and good.verdict.outcome == REPRODUCED
    assert bad.verdict is not None and bad.verdict.outcome == NOT_REPRODUCED
    assert good.quick and good.seed == 0 and good.seconds >= 0
    text = (tmp_path / "good" / "report.md").read_text()
    positions = [text.index(s) for s in REPORT_SECTIONS]
    assert positions == sorted(positions)
    assert "Scores are high." in text and "| score | 0.9 |" in text and "REPRODUCED" in text
    assert "0000.00000" in text and "quick mode" in text
    if good.plots:
        assert "![curve](curve.png)" in text and (tmp_path / "good" / "curve.png").stat().st_size > 0
    data = json.loads((tmp_path / "good" / "result.json").read_text())
    assert data["measured"] == {"score": 0.9, "curve": [1.0, 2.0]}
    assert data["verdict"]["outcome"] == REPRODUCED
    printed = "\n".join(lines)
    assert "claim:    Scores are high." in printed and "score: 0.9" in printed and "REPRODUCED" in printed


def test_a_verdict_set_by_run_must_agree_with_judge(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    lab.experiments()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    def lying_run(*, quick: bool, out_dir: Path, seed: int) -> LabResult:
        r = LabResult(setup="-", tables=[], measured={"score": 0.1})
        r.verdict = Verdict(REPRODUCED, "trust me")
        return r

    lab.register(lab.Experiment("zz-liar", "x", "t", "c", lying_run, _fake_judge, differences=_DIFF))
    with pytest.raises(RuntimeError, match="judge"):
        lab.run_experiment("zz-liar", out_dir=tmp_path, echo=None)


def test_register_rejects_a_taken_name_and_bad_fields(fake_experiment: lab.Experiment) -> None:
    other = lab.Experiment("zz-fake", "p", "t", "c", lambda **k: None, _fake_judge, differences=_DIFF)
    with pytest.raises(ValueError, match="already exists"):
        lab.register(other)
    assert lab.register(other, replace=True) is other
    with pytest.raises(ValueError, match="lower case"):
        lab.Experiment("Bad Name", "p", "t", "c", _fake_run, _fake_judge, differences=_DIFF)
    with pytest.raises(ValueError, match="claim"):
        lab.Experiment("ok", "p", "t", " ", _fake_run, _fake_judge, differences=_DIFF)
    with pytest.raises(ValueError, match="differences"):  # a report must say what differs from the paper
        lab.Experiment("ok", "p", "t", "c", _fake_run, _fake_judge)
    with pytest.raises(ValueError, match="differences"):
        lab.Experiment("ok", "p", "t", "c", _fake_run, _fake_judge, differences=(" ",))
    with pytest.raises(ValueError, match="unknown lab experiment 'nope'; valid: .*depth"):
        lab.get_experiment("nope")
    with pytest.raises(ValueError, match="seed"):
        lab.run_experiment(fake_experiment, seed=-1, echo=None)


def test_reports_say_plots_were_skipped_without_matplotlib(fake_experiment: lab.Experiment, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for mod in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, mod, None)
    result = lab.run_experiment("zz-fake", out_dir=tmp_path, echo=None)
    assert result.plots == [] and result.plot_notes
    text = (tmp_path / "report.md").read_text()
    assert "Plots skipped: matplotlib is not installed" in text
    assert not (tmp_path / "curve.png").exists()


def test_every_registered_experiment_states_its_differences_from_the_paper() -> None:
    for name, exp in lab.experiments().items():
        assert exp.differences and all(d.strip() for d in exp.differences), name


def test_the_report_has_no_absolute_path_and_flags_few_seeds(fake_experiment: lab.Experiment, tmp_path: Path) -> None:
    from thalweg_lab.report import render_report

    result = LabResult(setup=f"- Data: MNIST ({tmp_path / 'data' / 'mnist'}), see https://arxiv.org/abs/1506.01186",
                       tables=[], measured={"score": 0.9}, n_seeds=1)
    result.verdict = fake_experiment.judge(result.measured)
    text = render_report(fake_experiment, result, tmp_path)
    assert str(tmp_path) not in text and "data/mnist" in text and "https://arxiv.org/abs/1506.01186" in text
    assert "## Differences from the paper" in text and "Made-up data" in text
    assert "1 seed(s), fewer than the 3" in text


def test_spread_gives_mean_std_and_range() -> None:
    from thalweg_lab.result import spread

    assert spread([1.0, 2.0, 3.0], ".3g") == "2 ± 1 (1 to 3, n=3)"
    assert spread([]) == "n/a" and spread([0.5]) == "0.5 (n=1)"
