"""The lab's reproduction of the pruning paper: the quick run writes its report; the verdict follows the numbers."""

import json

import pytest

import thalweg_lab as lab
from thalweg_lab import pruning


def _measured(**over):
    m = {"lenet300/min_compression": 12.2, "lenet300/max_drop_points": 0.2, "lenet300/min_noretrain_gap_points": 3.0,
         "lenet300/seeds": 3, "lenet5/min_compression": 11.9, "lenet5/max_drop_points": 0.3,
         "lenet300/roundtrip_identical": 1.0}
    m.update(over)
    return m


def test_judge_reads_the_numbers():
    assert pruning.judge(_measured()).outcome == lab.REPRODUCED
    assert pruning.judge(_measured(**{"lenet300/seeds": 1})).outcome == lab.PARTLY
    assert pruning.judge(_measured(**{"lenet300/max_drop_points": 0.8})).outcome == lab.PARTLY
    bad = _measured(**{"lenet300/min_compression": 5.0, "lenet300/max_drop_points": 2.0,
                       "lenet300/min_noretrain_gap_points": 0.1})
    assert pruning.judge(bad).outcome == lab.NOT_REPRODUCED


def test_models_have_the_papers_weight_counts():
    count = lambda m: sum(p.array.size for n, p in m.named_parameters() if n.endswith("weight"))  # noqa: E731
    assert count(pruning.lenet_300_100()) == 784 * 300 + 300 * 100 + 100 * 10 == 266_200
    assert count(pruning.lenet_5()) == 20 * 25 + 50 * 20 * 25 + 800 * 500 + 500 * 10 == 430_500


def test_quick_run_writes_the_report(tmp_path):
    result = lab.run_experiment("pruning", quick=True, out_dir=tmp_path, seed=0, echo=None)
    report = (tmp_path / "report.md").read_text()
    for section in lab.REPORT_SECTIONS:
        assert section in report
    assert "LeNet-300-100 per layer" in report and "sparse export" in report
    data = json.loads((tmp_path / "result.json").read_text())
    m = data["measured"]
    assert m["lenet300/min_compression"] > 1            # measured: the sensitivity analysis sets the fractions
    assert m["lenet300/roundtrip_identical"] == 1.0     # the sparse file predicts exactly as the model
    assert result.verdict is not None and result.verdict.outcome in lab.OUTCOMES
    assert (tmp_path / "lenet-300-100-pruned.npz").is_file()
    pytest.importorskip("matplotlib")
    assert {p.name for p in result.plots} >= {"tradeoff.png", "weights-lenet-300-100-fc1.png",
                                              "sensitivity-lenet-300-100.png"}


def test_the_pruned_fractions_come_from_the_sensitivity_analysis():
    model = pruning.lenet_300_100()

    def dev_accuracy(m):  # only the first layer matters: each tenth of it pruned costs a point
        w = dict(m.named_parameters())["0.weight"].array
        return 1.0 - 0.1 * float((w == 0).mean())

    targets = pruning.sensitivity_targets(model, dev_accuracy, ["0.weight", "2.weight", "4.weight"])
    assert targets == {"0.weight": 0.0, "2.weight": max(pruning.SENS_GRID), "4.weight": max(pruning.SENS_GRID)}
