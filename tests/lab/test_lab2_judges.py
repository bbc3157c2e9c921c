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


def _ddi(within: float = 1e-6, spread: float = 1.05, change: float = 1e-6, dd: float = 500.0,
         small: float = math.inf, he: float = 500.0, dd_acc: float = 0.95, he_acc: float = 0.95) -> dict[str, Any]:
    return {"within_mean_error": within, "within_std_error": within, "rate_spread_after": spread,
            "output_change": change, "mean_steps_to_target/data-dependent": dd,
            "mean_steps_to_target/N(0, 0.01^2)": small, "mean_steps_to_target/He": he,
            "mean_final_dev_accuracy/data-dependent": dd_acc, "mean_final_dev_accuracy/He": he_acc}


def _elu(epochs: dict[str, list[float]] | None = None, elu_act: float = 0.05, relu_act: float = 0.2,
         lrelu_act: float = 0.15) -> dict[str, Any]:
    epochs = epochs or {"ELU": [2.0, 2.5, 2.0], "ReLU": [4.0, 4.5, 5.0], "LReLU": [3.5, 4.0, 4.0]}
    m: dict[str, Any] = {}
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
    "data-dependent-init": (data_dependent_init.judge, _ddi(), _ddi(he=300.0, dd_acc=0.93),
                            _ddi(within=0.3, spread=3.0, change=0.1, dd=math.inf, he=400.0, small=math.inf)),
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


def test_ddi_never_reaching_the_target_is_not_a_gain() -> None:
    both_never = _ddi(dd=math.inf, small=math.inf, he=math.inf)
    v = data_dependent_init.judge(both_never)
    failed = [c.description for c in v.checks if not c.passed]
    assert any("N(0, 0.01^2)" in d for d in failed)
    assert not any("/ He" in d for d in failed)  # never vs never: "no slower" holds
    v = data_dependent_init.judge(_ddi(he=math.inf, dd=400.0))
    assert all(c.passed for c in v.checks)


def test_elu_never_against_never_is_no_speed_up() -> None:
    m = _elu({"ELU": [math.inf] * 3, "ReLU": [math.inf] * 3, "LReLU": [math.inf] * 3})
    v = elu.judge(m)
    assert not v.checks[0].passed and v.checks[1].passed and v.outcome == PARTLY


def test_sharp_minima_needs_an_order_of_magnitude() -> None:
    m = _sharp(lb=(9.0, 18.0, 13.5))  # 9 times sharper: not enough
    v = sharp_minima.judge(m)
    assert v.outcome == PARTLY and not v.checks[0].passed
