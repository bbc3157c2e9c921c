"""Sensitivity analysis, the per-layer table and the weight histograms."""

import numpy as np
import pytest

import thalweg as tw
from thalweg import nn, optim, prune

from prune_helpers import accuracy, blobs, mlp, train_steps


@pytest.fixture(scope="module")
def trained():
    x, y = blobs(n=300, d=12, k=3, seed=4)
    model = mlp(sizes=(12, 32, 16, 3))
    train_steps(model, optim.Adam(model.parameters(), lr=0.01), x, y, 150)
    assert accuracy(model, x, y) > 0.9
    return model, x, y


def test_sensitivity_shape_and_sanity(trained):
    model, x, y = trained
    before = {n: p.array.copy() for n, p in model.named_parameters()}
    fractions = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)
    sens = prune.sensitivity_analysis(model, lambda m: accuracy(m, x, y), fractions=fractions)
    assert list(sens.scores) == ["0.weight", "2.weight", "4.weight"]
    assert sens.fractions.tolist() == list(fractions)
    for name, v in sens.scores.items():
        assert v.shape == (len(fractions),)
        assert v[0] == sens.baseline                      # nothing pruned: the unpruned accuracy
        assert v[-1] < sens.baseline - 0.2                # the whole layer gone: the network is cut
        assert v[-1] <= v[1] + 1e-12                      # more pruning, not better (loosely monotone)
    for n, p in model.named_parameters():                 # the weights are restored
        np.testing.assert_array_equal(p.array, before[n])
    assert prune.masks_of(model) is None
    tol = sens.max_fraction(0.02)
    assert set(tol) == set(sens.scores) and all(0.0 <= f < 1.0 for f in tol.values())
    assert "| 90% |" in sens.to_markdown()


def test_sensitivity_plot(trained, tmp_path):
    pytest.importorskip("matplotlib")
    model, x, y = trained
    sens = prune.sensitivity_analysis(model, lambda m: accuracy(m, x, y), fractions=(0.0, 0.5, 0.9), layers=["0"])
    path = sens.plot(tmp_path / "sens.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sensitivity_bad_fractions(trained):
    model, x, y = trained
    with pytest.raises(ValueError, match="fractions"):
        prune.sensitivity_analysis(model, lambda m: 0.0, fractions=(0.5, 1.5))


def test_layer_table_counts_weights_and_flops():
    tw.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 3 * 3, 10),
                          nn.ReLU(), nn.Linear(10, 3))
    masks = prune.prune_layers(model, {"0.weight": 0.5, "4.weight": 0.75, "6.weight": 0.0})
    x = np.random.default_rng(0).normal(size=(5, 1, 8, 8)).astype(np.float32)
    t = prune.layer_table(model, x)
    rows = {r.name: r for r in t.rows}
    # conv: one multiply-add per weight per output position (6x6), two FLOP each
    assert rows["0.weight"].flop == 2 * 36 * 36
    assert rows["4.weight"].flop == 2 * 360 and rows["6.weight"].flop == 2 * 30
    assert rows["0.weight"].weights_kept == pytest.approx(masks.density("0.weight"))
    assert rows["0.weight"].input_density == 1.0     # the network's input counts as dense (paper)
    # the next layer's input is ReLU + max-pool output: its measured density is this layer's act %
    relu_pool = nn.Sequential(*list(model)[:4])
    relu_pool.eval()
    with tw.no_grad():
        act = relu_pool(tw.tensor(x)).array
    assert rows["4.weight"].input_density == pytest.approx(np.count_nonzero(act) / act.size)
    assert rows["0.weight"].output_density == rows["4.weight"].input_density
    assert rows["4.weight"].flop_kept == pytest.approx(0.25 * rows["4.weight"].input_density)
    assert t.compression == pytest.approx(t.weights / masks.kept())
    assert "**total**" in t.to_markdown()


def test_weight_histograms(tmp_path):
    rng = np.random.default_rng(0)
    dense = rng.normal(0, 0.1, 1000).astype(np.float32)
    pruned = np.where(np.abs(dense) >= 0.1, dense, 0)
    h = prune.weight_histograms({"dense": dense, "pruned": pruned}, bins=40)
    assert h.counts["dense"].sum() == 1000 and h.zeros["dense"] == 0
    assert h.counts["pruned"].sum() == np.count_nonzero(pruned) and h.zeros["pruned"] == 1000 - np.count_nonzero(pruned)
    centre = np.abs(0.5 * (h.edges[1:] + h.edges[:-1])) < 0.09
    assert h.counts["pruned"][centre].sum() == 0     # the hole around zero
    pytest.importorskip("matplotlib")
    path = prune.plot_weight_histograms({"dense": dense, "pruned": pruned}, tmp_path / "h.png")
    assert path.stat().st_size > 1000
