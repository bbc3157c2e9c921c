"""The lab plots the new-user review flagged: saddle axes and L-BFGS in frame, dropout's zoom, percent units."""

from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from thalweg_lab import dropout, optimizer_paths  # noqa: E402


def _capture(monkeypatch, module):
    figures = []
    monkeypatch.setattr(module, "save", lambda fig, path: figures.append(fig))
    return figures


def test_in_frame_clips_a_path_at_the_edge_it_crosses():
    path = np.array([[1.0, 0.0], [0.5, 0.5], [-3.0, 6.0], [-9.0, 9.0]])
    shown, step = optimizer_paths._in_frame(path, (-1.5, 1.5), (-1.5, 1.5))
    assert step == 2 and len(shown) == 3
    np.testing.assert_allclose(shown[-1], [0.5 - 1.0 / 5.5 * 3.5, 1.5])  # on the top edge, on the segment
    inside = np.array([[0.0, 0.0], [1.0, 1.0]])
    same, none = optimizer_paths._in_frame(inside, (-1.5, 1.5), (-1.5, 1.5))
    assert none is None and same is inside


def test_saddle_plot_has_axis_labels_and_keeps_every_path_in_frame(monkeypatch, tmp_path):
    figures = _capture(monkeypatch, optimizer_paths)
    surface = optimizer_paths.SURFACES["saddle"]
    paths = {name: optimizer_paths.trajectory(surface, name, 300)[0] for name in ("SGD", "Adam", "L-BFGS")}
    optimizer_paths._plot(tmp_path / "p.png", surface, paths)
    ax = figures[0].axes[0]
    assert ax.get_xlabel().startswith("x") and ax.get_ylabel().startswith("y") and "x² − y²" in ax.get_title()
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    for line in ax.get_lines():
        xs, ys = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
        assert (xs >= x0 - 1e-9).all() and (xs <= x1 + 1e-9).all() and (ys >= y0 - 1e-9).all()
        assert (ys <= y1 + 1e-9).all()
    assert (x0, x1, y0, y1) == (-1.5, 1.5, -1.5, 1.5)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    if np.abs(paths["L-BFGS"]).max() > 1.5:
        assert any(lb.startswith("L-BFGS (leaves the frame at step") for lb in labels)


def _log(train, dev):
    return SimpleNamespace(eval_steps=list(range(0, 10 * len(train), 10)),
                           evals={"train_accuracy": train, "dev_accuracy": dev})


def test_dropout_plot_zooms_on_the_effect_and_plots_the_gap_in_points(monkeypatch, tmp_path):
    figures = _capture(monkeypatch, dropout)
    n = 10
    ramp = 1.0 - 0.9 * np.exp(-np.arange(n))  # 0.1, 0.67, 0.88, 0.96, ... as training curves rise
    logs = {"without dropout": _log(np.minimum(ramp, 1.0), ramp - 0.06),
            "with dropout": _log(ramp - 0.01, ramp - 0.05)}
    dropout._plot(tmp_path / "d.png", [logs], steps_per_epoch=10)  # one seed
    acc_ax, gap_ax = figures[0].axes
    assert acc_ax.get_ylabel() == "accuracy (%)" and "percentage points" in gap_ax.get_ylabel()
    low, high = acc_ax.get_ylim()
    assert low >= 80 and high <= 101  # a 2-point effect is visible, not a hair's width of a 0..100 axis
    gaps = [np.asarray(line.get_ydata(), float) for line in gap_ax.get_lines() if len(line.get_xdata()) == n]
    assert len(gaps) == 2 and max(abs(g).max() for g in gaps) < 50  # points, not fractions


def test_dropout_figures_are_percentages_everywhere():
    m = {"gap_reduction": 0.05, "dev_difference_se": 0.005, "dev_accuracy/with dropout": 0.92,
         "dev_accuracy/without dropout": 0.90}
    verdict = dropout.judge(m)
    assert "4.00%" in verdict.reason and "2.00%" in verdict.reason
    assert all(c.measured.endswith("%") and c.criterion.endswith("%") for c in verdict.checks)
