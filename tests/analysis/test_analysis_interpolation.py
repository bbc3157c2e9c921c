"""The 1-D interpolation between two solutions (Goodfellow et al. 2015; Keskar et al. 2017, Figure 3)."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from thalweg import nn
from thalweg.analysis import interpolate, interpolated_state
from thalweg_lab.training import evaluate


def _model() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3))


def test_interpolated_state_is_affine_and_keeps_integers() -> None:
    a = {"w": np.array([0.0, 2.0], dtype=np.float32), "n": np.array(3)}
    b = {"w": np.array([4.0, -2.0], dtype=np.float32), "n": np.array(7)}
    mid = interpolated_state(a, b, 0.25)
    assert mid["w"].dtype == np.float32 and np.allclose(mid["w"], [1.0, 1.0]) and mid["n"] == 7
    assert np.allclose(interpolated_state(a, b, -1.0)["w"], [-4.0, 6.0])
    with pytest.raises(ValueError, match="keys"):
        interpolated_state(a, {"w": b["w"]}, 0.5)


def test_the_ends_of_the_curve_are_the_two_solutions_and_the_model_is_restored() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=50)
    tw.manual_seed(0)
    model = _model()
    model(tw.tensor(x))
    start = {k: np.array(v) for k, v in model.state_dict().items()}
    tw.manual_seed(1)
    other = _model()
    other(tw.tensor(2 * x))
    end = {k: np.array(v) for k, v in other.state_dict().items()}
    model.train()
    curve = interpolate(model, start, end, [0.0, 0.5, 1.0], {"train": (x, y)})
    assert model.training
    assert all(np.array_equal(v, np.asarray(model.state_dict()[k])) for k, v in start.items())
    assert curve.loss["train"][0] == pytest.approx(evaluate(model, x, y)[0], rel=1e-6)
    assert curve.loss["train"][2] == pytest.approx(evaluate(other, x, y)[0], rel=1e-6)
    assert curve.accuracy["train"][2] == pytest.approx(evaluate(other, x, y)[1])
    model.load_state_dict(interpolated_state(start, end, 0.5))
    assert curve.loss["train"][1] == pytest.approx(evaluate(model, x, y)[0], rel=1e-6)
