"""The GAE reproduction (``thalweg lab gae``): its quick mode end to end, and its judge on made-up figures."""

from __future__ import annotations

import json
import math

import pytest

import thalweg_lab as lab
from thalweg_lab import NOT_REPRODUCED, OUTCOMES, PARTLY, REPRODUCED
from thalweg_lab.gae import judge
from thalweg_lab.report import REPORT_SECTIONS


def test_quick_run_writes_a_report(tmp_path):
    assert "gae" in lab.experiments()
    result = lab.run_experiment("gae", quick=True, out_dir=tmp_path, seed=0, echo=None)
    assert result.verdict.outcome in OUTCOMES
    text = (tmp_path / "report.md").read_text()
    for section in REPORT_SECTIONS:
        assert section in text
    assert "TRPO" in text and "Lambda sweep" in text and "no value fn" in text
    m = result.measured
    assert m["lambdas"] == [0.0, 0.96, 1.0] and len(m["lambda_auc_mean"]) == 3
    assert "95% interval" in text and "## Differences from the paper" in text
    assert all(r > 0 for r in m["lambda_final_mean"]) and m["novf_auc_mean"] > 0
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["verdict"]["outcome"] == result.verdict.outcome
    curves = json.loads((tmp_path / "curves.json").read_text())
    assert len(curves["lambda_sweep"]) == 4 and len(curves["lambda_sweep"][0]["curves"][0]) == m["iterations"]
    if result.plot_notes:
        assert "matplotlib" in result.plot_notes[0]
    else:
        assert {p.name for p in result.plots} == {"gae_lambda_curves.png", "gae_sweeps.png"}


def made_up(lam_auc, novf_auc, lam_final=None, novf_final=None, gamma_auc=(100.0, 120.0, 110.0), se=5.0):
    lams = [0.0, 0.5, 0.9, 0.96, 0.99, 1.0]
    lam_final = lam_auc if lam_final is None else lam_final
    return {"iterations": 20, "seeds": 5, "lambdas": lams,
            "lambda_auc_mean": list(lam_auc), "lambda_auc_se": [se] * 6,
            "lambda_final_mean": list(lam_final), "lambda_final_se": [se] * 6,
            "novf_auc_mean": novf_auc, "novf_auc_se": se,
            "novf_final_mean": novf_auc if novf_final is None else novf_final, "novf_final_se": se,
            "best_lambda": 0.96, "gammas": [0.9, 0.98, 1.0], "gamma_auc_mean": list(gamma_auc),
            "gamma_auc_se": [se] * 3, "gamma_final_mean": list(gamma_auc), "gamma_final_se": [se] * 3}


def test_judge_reproduced_when_both_paper_lambdas_clearly_win():
    v = judge(made_up([100, 150, 190, 200, 195, 170], novf_auc=160))
    assert v.outcome == REPRODUCED
    assert [c.description.split(" minus")[0] for c in v.checks if c.primary] == ["lambda = 0.96"] * 2 + \
        ["lambda = 0.99"] * 2  # every paper lambda is judged, none picked after the fact


def test_judge_partly_when_only_lambda_zero_is_beaten():
    v = judge(made_up([100, 150, 190, 200, 195, 170], novf_auc=210))
    assert v.outcome == PARTLY


def test_judge_a_gap_inside_the_confidence_interval_does_not_count():
    # with se = 20 and 5 seeds the 95% interval of a difference is +-2.776 * 28.3 = +-78.5
    v = judge(made_up([100, 150, 190, 200, 195, 170], novf_auc=160, se=20.0))
    assert v.outcome == PARTLY  # beats lambda = 0 (100) by 95-100, but no value function (160) only by 35-40
    failed = [c.description for c in v.checks if not c.passed]
    assert any("no value function" in d for d in failed) and any("lambda = 1:" in d for d in failed)


def test_judge_secondary_failures_lower_to_partly():
    # primary gaps clear, but lambda = 1 is as good and the best gamma (1.0) is outside [0.96, 0.99]
    v = judge(made_up([100, 150, 190, 200, 195, 198], novf_auc=120, gamma_auc=(100, 110, 130)))
    assert v.outcome == PARTLY
    failed = [c.description for c in v.checks if not c.passed]
    assert all(not c.primary for c in v.checks if not c.passed)
    assert any("best gamma" in d for d in failed) and any("lambda = 1:" in d for d in failed)


def test_judge_not_reproduced_when_lambda_zero_wins():
    v = judge(made_up([250, 150, 190, 200, 195, 170], novf_auc=260))
    assert v.outcome == NOT_REPRODUCED


def test_judge_single_seed_gives_no_interval_and_no_pass():
    m = made_up([100, 150, 190, 200, 195, 170], novf_auc=160, se=math.nan)
    m["seeds"] = 1
    v = judge(m)
    assert v.outcome == NOT_REPRODUCED and not any(c.passed for c in v.checks if c.primary)


@pytest.mark.parametrize("name", ["gae"])
def test_registered_with_paper_and_claim(name):
    exp = lab.get_experiment(name)
    assert exp.paper == "1506.02438" and "lambda" in exp.claim
