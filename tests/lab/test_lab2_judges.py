"""Issue 9's verdict logic on made-up figures: every outcome can come out, and only from the numbers."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pytest

from thalweg_lab import data_dependent_init, elu, gradient_noise, sharp_minima
from thalweg_lab.result import NOT_REPRODUCED, PARTLY, REPRODUCED


# ------------------------------------------------------------------ made-up figures
def _noise(simple: float = 30.0, zero: float = 40.0, good: float = 0.2, good_best: float = -0.3,
           se: float = 3.0) -> dict[str, Any]:
    m: dict[str, Any] = {}
    for init, gain in (("simple", simple), ("zero", zero), ("good", good)):
        m[f"gain/{init}"], m[f"gain_se/{init}"] = gain, se
    m["best_gain/good"] = good_best
    return m


def _ddi(within: float = 1e-6, spread: float = 1.05, change: float = 1e-6, kmeans: float = 0.80,
         caffe: float = 0.70, he: float = 0.79, ours: float = 0.78, se: float = 0.005) -> dict[str, Any]:
    acc = {"Gaussian (caffe)": caffe, "He": he, "Gaussian (ours)": ours, "PCA (ours)": ours,
           "k-means (ours)": kmeans}
    m: dict[str, Any] = {"within_mean_error": within, "within_std_error": within, "rate_spread_after": spread,
                         "output_change": change, "kmeans_minus_he": kmeans - he, "kmeans_minus_he_se": se}
    for init, a in acc.items():
        m[f"mean_final_dev_accuracy/{init}"] = a
    return m


def _elu(epochs: dict[str, list[float]] | None = None, elu_act: float = 0.05, relu_act: float = 0.2,
         lrelu_act: float = 0.15, ahead: float = 1.0) -> dict[str, Any]:
    epochs = epochs or {"ELU": [2.0, 2.5, 2.0], "ReLU": [4.0, 4.5, 5.0], "LReLU": [3.5, 4.0, 4.0]}
    m: dict[str, Any] = {"elu_loss_ahead_fraction": ahead}
    for act, e in epochs.items():
        m[f"epochs_to_target/{act}"] = e
        m[f"mean_epochs_to_target/{act}"] = float(np.mean(e))
    for layer in range(1, elu.DEPTH + 1):
        m[f"mean_act_avg/ELU/layer{layer}"] = elu_act
        m[f"mean_act_avg/ReLU/layer{layer}"] = relu_act
        m[f"mean_act_avg/LReLU/layer{layer}"] = lrelu_act
    return m


def _sharp(sb: tuple[float, ...] = (1.0, 2.0, 1.5), lb: tuple[float, ...] = (150.0, 200.0, 250.0),
           gap: float = 0.3, sub_ratio: float = 20.0) -> dict[str, Any]:
    m: dict[str, Any] = {"accuracy_gap": gap}
    for eps in sharp_minima.EPSILONS:
        m[f"sharpness/{eps:g}/SB"], m[f"sharpness/{eps:g}/LB"] = list(sb), list(lb)
        m[f"ratio_sharpness/{eps:g}"] = float(np.mean(lb) / np.mean(sb))
    m[f"ratio_sharpness_subspace/{sharp_minima.EPSILONS[0]:g}"] = sub_ratio
    return m


CASES: dict[str, tuple[Callable[..., Any], dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    # name: (judge, reproduced figures, partly figures, not-reproduced figures)
    "gradient-noise": (gradient_noise.judge, _noise(), _noise(zero=0.0, se=0.0),
                       _noise(simple=0.5, zero=0.0, good=-5.0, se=0.0)),
    "data-dependent-init": (data_dependent_init.judge, _ddi(), _ddi(he=0.83),  # He clearly better: partly
                            _ddi(kmeans=0.70, he=0.80, caffe=0.71)),
    "elu": (elu.judge, _elu(), _elu(relu_act=0.01),
            _elu({"ELU": [math.inf] * 3, "ReLU": [math.inf] * 3, "LReLU": [4.0] * 3}, elu_act=0.3)),
    "sharp-minima": (sharp_minima.judge, _sharp(), _sharp(gap=-0.1),
                     _sharp(sb=(5.0, 6.0, 7.0), lb=(6.0, 5.0, 8.0), gap=-0.2, sub_ratio=1.0)),
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


def test_gradient_noise_gain_must_clear_two_points_and_good_init_must_not_move() -> None:
    assert gradient_noise.judge(_noise(simple=1.9)).outcome == PARTLY  # a primary check fails, others hold
    assert gradient_noise.judge(_noise(good=2.5)).outcome == PARTLY
    # a 30-point gain with a 20-point standard error is large but not clearly real: secondary failure only
    v = gradient_noise.judge(_noise(se=20.0))
    assert v.outcome == PARTLY and all(c.passed for c in v.checks if c.primary)


def test_welch_difference_and_standard_error() -> None:
    d, se = gradient_noise.welch([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    assert d == pytest.approx(2.0) and se == pytest.approx(math.sqrt(1.0 / 3))
    assert gradient_noise.welch([5.0], [5.0]) == (0.0, 0.0)


def test_ddi_a_he_lead_within_two_standard_errors_is_not_a_loss() -> None:
    assert data_dependent_init.judge(_ddi(he=0.805, se=0.005)).outcome == REPRODUCED
    v = data_dependent_init.judge(_ddi(within=0.3, spread=3.0))  # a broken mechanism is flagged
    assert v.outcome == PARTLY and all(c.primary is False for c in v.checks if not c.passed)


def test_elu_loss_behind_at_checkpoints_lowers_to_partly() -> None:
    assert elu.judge(_elu(ahead=0.6)).outcome == PARTLY


def test_elu_never_against_never_is_no_speed_up() -> None:
    m = _elu({"ELU": [math.inf] * 3, "ReLU": [math.inf] * 3, "LReLU": [math.inf] * 3})
    v = elu.judge(m)
    assert not v.checks[0].passed and v.checks[1].passed and v.outcome == PARTLY


def test_sharp_minima_needs_an_order_of_magnitude() -> None:
    m = _sharp(lb=(9.0, 18.0, 13.5))  # 9 times sharper: not enough
    v = sharp_minima.judge(m)
    assert v.outcome == PARTLY and not v.checks[0].passed
