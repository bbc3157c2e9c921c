"""Each experiment's verdict logic on made-up figures: every outcome can come out, and only from the numbers."""

from __future__ import annotations

import math
from typing import Any, Callable

import pytest

from thalweg_lab import clr, depth, dropout, lr_range, memorization, optimizer_paths, optimizer_survey, weight_decay
from thalweg_lab.result import NOT_REPRODUCED, PARTLY, REPRODUCED


# ------------------------------------------------------------------ figures
def _depth(ratio_sig: float = 0.005, ratio_fix: float = 1.0, acc4: float = 0.958, acc0: float = 0.90,
           grads: tuple[float, ...] = (0.001, 0.01, 0.05, 0.2)) -> dict[str, Any]:
    m: dict[str, Any] = {"ratio/sigmoid": ratio_sig, "ratio/tanh-glorot": ratio_fix, "ratio/relu-he": ratio_fix,
                         "ratio_early/sigmoid": ratio_sig * 2}
    for i, g in enumerate(grads, start=1):
        m[f"grad_bias/sigmoid/layer{i}"] = g
    acc = {0: acc0, 1: 0.960, 2: 0.965, 3: 0.962, 4: acc4}
    for d, a in acc.items():
        m[f"test_accuracy/sigmoid/{d}"] = a
        m[f"test_accuracy/tanh-glorot/{d}"] = 0.97
        m[f"test_accuracy/relu-he/{d}"] = 0.97
    return m


def _memorization(train_random: float = 1.0, dev_random: float = 0.1, dev_true: float = 0.9,
                  epochs: tuple[float, float] = (10.0, 30.0), seeds: int = 3) -> dict[str, Any]:
    """Per-seed lists; the first seed gets the given figures, the others clearly reproducing ones."""
    def per_seed(first: float, others: float) -> list[float]:
        return [first] + [others] * (seeds - 1)

    return {"seeds": seeds, "train_accuracy/random": per_seed(train_random, 1.0),
            "dev_accuracy/random": per_seed(dev_random, 0.1), "chance_bound": per_seed(0.13, 0.14),
            "dev_accuracy/true": per_seed(dev_true, 0.92), "epochs_to_95/true": per_seed(epochs[0], 4.0),
            "epochs_to_95/random": per_seed(epochs[1], 16.0)}


def _weight_decay(adam: float = 0.3, sgd: float = 0.0, dev: float = 0.01) -> dict[str, Any]:
    return {"adam_l2_norm_shortfall": [adam, adam + 0.05, adam + 0.1], "sgd_norm_max_rel_diff": [sgd, 0.0, 0.0],
            "adamw_minus_adam_l2_dev": dev, "adamw_minus_adam_l2_dev_se": 0.002}


def _dropout(reduction: float = 0.05, se: float = 0.005, dev_with: float = 0.92, seeds: int = 3) -> dict[str, Any]:
    """Per-seed lists; the first seed gets the given figures, the others clearly reproducing ones."""
    return {"seeds": seeds, "gap_reduction": [reduction] + [0.03] * (seeds - 1),
            "dev_difference_se": [se] + [0.003] * (seeds - 1),
            "dev_accuracy/with dropout": [dev_with] + [0.94] * (seeds - 1),
            "dev_accuracy/without dropout": [0.90] + [0.91] * (seeds - 1)}


def _paths(n_slower: int, sgd: float = 3000.0) -> dict[str, Any]:
    m: dict[str, Any] = {"steps/saddle/SGD": sgd}
    group = optimizer_paths.ADAPTIVE + optimizer_paths.MOMENTUM
    for i, name in enumerate(group):
        m[f"steps/saddle/{name}"] = math.inf if i < n_slower else 500.0
    return m


def _survey(adam_loss: float = 0.3, adam_default_dev: float = 0.85, others: float = 0.4,
            sgd_default_dev: float = 0.80) -> dict[str, Any]:
    m: dict[str, Any] = {"steps": 1000, "final_loss/SGD": [0.6, 0.62, 0.58], "final_dev/SGD": [0.84, 0.85, 0.84],
                         "final_dev/SGD (default)": [sgd_default_dev] * 3, "final_dev/Adam": [0.855, 0.85, 0.86],
                         "final_dev/Adam (default)": [adam_default_dev, adam_default_dev - 0.002,
                                                      adam_default_dev + 0.002]}
    for name in optimizer_survey.ADAPTIVE:
        m[f"final_loss/{name}"] = [others] * 3
    m["final_loss/Adam"] = [adam_loss, adam_loss + 0.01, adam_loss - 0.01]
    return m


def _range(top: tuple[float, ...] = (0.15, 0.12, 0.18), probes: tuple[float, ...] = (0.80, 0.84, 0.85, 0.84)
           ) -> dict[str, Any]:
    m: dict[str, Any] = {"base_lr": [0.01, 0.01, 0.012], "max_lr": list(top), "seeds": 3}
    for f, acc in zip(lr_range.PROBES, probes):
        m[f"probe_dev/{f:g}"] = [acc - 0.005, acc, acc + 0.005]
    return m


def _clr(ratio_max: float = 0.3, tri2: float = 0.88, collapsed: float = 0.0) -> dict[str, Any]:
    return {"ratio_max/triangular2": ratio_max, "final_dev_mean/triangular2": tri2,
            "final_dev_mean/fixed-mid": 0.87, "collapsed_count/triangular2": collapsed}


CASES: dict[str, tuple[Callable[..., Any], dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    # name: (judge, reproduced figures, partly figures, not-reproduced figures)
    "depth": (depth.judge, _depth(), _depth(acc4=0.90),
              _depth(ratio_sig=0.6, ratio_fix=0.1, acc0=0.97, grads=(0.3, 0.2, 0.1, 0.05))),
    "memorization": (memorization.judge, _memorization(), _memorization(dev_true=0.5),
                     _memorization(train_random=0.5, dev_random=0.3)),
    "weight-decay": (weight_decay.judge, _weight_decay(), _weight_decay(dev=-0.02),
                     _weight_decay(adam=-0.3, sgd=0.2)),  # Adam + L2's norm above AdamW's: the prediction fails
    "dropout": (dropout.judge, _dropout(), _dropout(dev_with=0.89), _dropout(reduction=0.005)),
    "optimizer-paths": (optimizer_paths.judge, _paths(0), _paths(3), _paths(9)),
    "optimizer-survey": (optimizer_survey.judge, _survey(), _survey(sgd_default_dev=0.85),
                         _survey(adam_loss=0.7, adam_default_dev=0.7)),
    "lr-range-test": (lr_range.judge, _range(), _range(probes=(0.80, 0.84, 0.85, 0.88)),  # a little too low
                      _range(top=(0.35, 0.1, 0.005), probes=(0.50, 0.60, 0.65, 0.80))),  # far too low
    "clr": (clr.judge, _clr(), _clr(tri2=0.86), _clr(ratio_max=0.5)),  # 0.5 > 25/70: later than the paper's
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_outcome_can_come_out_of_the_figures(name: str) -> None:
    judge, good, partly, bad = CASES[name]
    for figures, expected in ((good, REPRODUCED), (partly, PARTLY), (bad, NOT_REPRODUCED)):
        v = judge(figures)
        assert v.outcome == expected, (name, expected, v.reason)
        assert v.checks and v.reason
        if expected != REPRODUCED:
            assert any(not c.passed for c in v.checks)


def test_dropout_needs_the_gap_reduction_beyond_two_standard_errors_on_every_seed() -> None:
    m = _dropout(reduction=0.005)  # one seed of three within its noise: the mean over seeds would still pass
    assert sum(m["gap_reduction"]) / 3 - 2 * 0.003 > 0
    v = dropout.judge(m)
    assert v.outcome == NOT_REPRODUCED
    assert "lowest of 3 seeds = -0.50%" in v.reason.split("Holds:")[0]
    assert dropout.judge(_dropout(reduction=0.01, se=0.005)).outcome == REPRODUCED  # exactly two s.e.: holds
    m = _dropout()
    m["dev_difference_se"][2] = math.nan  # a seed without a noise level is no evidence
    assert dropout.judge(m).outcome == NOT_REPRODUCED
    # the verdict reads the same from a result.json written by the framework, where NaN is a string
    m = _dropout()
    m["dev_difference_se"] = [str(v) for v in m["dev_difference_se"]]
    assert dropout.judge(m).outcome == REPRODUCED


def test_memorization_needs_every_threshold_on_every_seed() -> None:
    v = memorization.judge(_memorization(train_random=0.9))  # one seed did not memorise its random labels
    assert v.outcome == PARTLY and "random labels: training accuracy, lowest of 3 seeds" in v.reason.split("Holds:")[0]
    v = memorization.judge(_memorization(dev_random=0.135))  # one seed above its own chance bound (0.13)
    assert v.outcome == PARTLY and "chance bound" in v.reason.split("Holds:")[0]
    assert memorization.judge(_memorization(dev_random=0.135, seeds=1)).outcome == PARTLY
    v = memorization.judge(_memorization(epochs=(math.inf, math.inf)))  # neither reached 95%: no evidence
    assert v.outcome == PARTLY and "epochs to 95%" in v.reason.split("Holds:")[0]
    # random labels never reaching 95% while true labels do counts as slower ("inf" as in a result.json)
    m = _memorization(epochs=(10.0, math.inf))
    m["epochs_to_95/random"] = [str(v) for v in m["epochs_to_95/random"]]
    assert memorization.judge(m).outcome == REPRODUCED


def test_optimizer_paths_needs_strictly_fewer_steps_than_sgd() -> None:
    m = _paths(0, sgd=500.0)  # every method exactly as slow as SGD
    assert optimizer_paths.judge(m).outcome == NOT_REPRODUCED
    m = _paths(0, sgd=math.inf)  # SGD never left within the budget, the others did
    assert optimizer_paths.judge(m).outcome == REPRODUCED


def test_memorization_chance_bound_is_the_largest_class_share_plus_three_standard_errors() -> None:
    import numpy as np

    y = np.array([0] * 30 + [1] * 20 + list(range(2, 10)) * 6 + [2, 3])  # class 0: 30 of 100
    assert len(y) == 100
    assert memorization.chance_bound(y) == pytest.approx(0.3 + 3 * math.sqrt(0.3 * 0.7 / 100))


def test_paper_bounds_reads_where_dev_accuracy_stops_rising() -> None:
    lrs = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4]
    acc = [0.10, 0.12, 0.60, 0.75, 0.80, 0.802, 0.79, 0.804, 0.40]  # rises, then ragged, then falls
    base, top = lr_range.paper_bounds(lrs, acc)
    assert base == 0.1 and top == 0.2  # not 0.35, the ragged maximum
    assert all(math.isnan(v) for v in lr_range.paper_bounds(lrs, [0.1] * len(lrs)))  # never rises: no range
    rising = [0.1 + 0.05 * k for k in range(len(lrs))]
    assert lr_range.paper_bounds(lrs, rising)[1] == lrs[-1]  # still rising at the end: the last rate


def test_lr_range_judge_fails_a_bound_past_the_breakdown() -> None:
    v = lr_range.judge(_range(probes=(0.84, 0.85, 0.60, 0.2)))  # 0.5 x max_lr trains far better than max_lr
    assert v.outcome == PARTLY and "not past the breakdown" in v.reason.split("Holds:")[0]
