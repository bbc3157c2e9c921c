"""Data-dependent initialization (``nn.init.data_dependent_``, arXiv:1511.06856) checked on its own.

Pre-activation statistics are measured here with forward hooks, independently
of the report the function returns.
"""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from thalweg import nn
from thalweg.autograd.grad_mode import no_grad
from thalweg.nn.init_data import affine_layers, change_rates, data_dependent_, unit_statistics


def _mlp(depth: int = 4, width: int = 24, d_in: int = 12) -> nn.Sequential:
    layers: list[nn.Module] = []
    w = d_in
    for _ in range(depth):
        layers += [nn.Linear(w, width), nn.ReLU()]
        w = width
    layers.append(nn.Linear(w, 5))
    return nn.Sequential(*layers)


def _cnn() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3), nn.ReLU(),
                         nn.Flatten(), nn.Linear(6 * 2 * 2, 8), nn.LeakyReLU(0.1), nn.Linear(8, 3))


def _preactivations(model: nn.Module, x: np.ndarray) -> list[np.ndarray]:
    outs: list[np.ndarray] = []
    hooks = [m.register_forward_hook(lambda mod, args, out: outs.append(np.array(out.array)))
             for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    with no_grad():
        model(tw.tensor(x))
    for h in hooks:
        h.remove()
    return outs


@pytest.fixture
def batch() -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.random((96, 12)) * rng.random(12)).astype(np.float32)  # features on different scales, not centred


@pytest.mark.parametrize("beta", [0.0, 0.5])
def test_within_layer_step_gives_every_unit_the_target_mean_and_unit_variance(batch: np.ndarray, beta: float) -> None:
    tw.manual_seed(0)
    model = _mlp()
    report = data_dependent_(model, batch, beta=beta, between_layer=False, generator=np.random.default_rng(1))
    for z in _preactivations(model, batch):
        mu, sd = unit_statistics(z)
        assert np.all(np.abs(mu - beta) <= 0.05) and np.all(np.abs(sd - 1.0) <= 0.05)
        assert np.all(np.abs(mu - beta) < 1e-4) and np.all(np.abs(sd - 1.0) < 1e-4)  # exact up to float32
    assert max(report.mean_error) < 1e-4 and max(report.std_error) < 1e-4 and not report.rates_after


def test_within_layer_step_on_a_cnn_normalizes_each_channel_over_positions() -> None:
    rng = np.random.default_rng(2)
    x = rng.random((40, 1, 8, 8)).astype(np.float32)
    tw.manual_seed(0)
    model = _cnn()
    data_dependent_(model, x, between_layer=False, generator=rng)
    zs = _preactivations(model, x)
    assert [z.ndim for z in zs] == [4, 4, 2, 2]
    for z in zs:
        mu, sd = unit_statistics(z)
        assert mu.shape == (z.shape[1],)
        assert np.all(np.abs(mu) < 1e-4) and np.all(np.abs(sd - 1.0) < 1e-4)


def test_between_layer_step_equalizes_change_rates_and_keeps_the_function(batch: np.ndarray) -> None:
    tw.manual_seed(0)
    model = _mlp(depth=5)
    for m in model.modules():  # a badly scaled start: rates differ by orders of magnitude
        if isinstance(m, nn.Linear):
            m.weight.array *= np.float32(np.random.default_rng(len(m.weight.array)).uniform(0.1, 10))
    layers = affine_layers(model, batch)
    est = np.random.default_rng(7)
    before_rates = change_rates(model, layers, batch, draws=8, generator=est)
    with no_grad():
        before = np.array(model(tw.tensor(batch)).array)
    # alpha = 0.25 removes a quarter of the log-spread per iteration: from a start this bad (a spread of
    # ~100), 10 iterations leave 100^(0.75^10) ~ 1.3, so give it 20
    report = data_dependent_(model, batch, within_layer=False, iterations=20, generator=np.random.default_rng(3))
    with no_grad():
        after = np.array(model(tw.tensor(batch)).array)
    rates = change_rates(model, layers, batch, draws=8, generator=np.random.default_rng(8))  # fresh draws
    assert max(before_rates) / min(before_rates) > 2.0
    assert max(rates) / min(rates) <= 1.2 and report.spread(report.rates_after) <= 1.2
    assert np.max(np.abs(after - before)) <= 1e-4 * np.max(np.abs(before))
    assert report.scales[-1] == pytest.approx(1.0) and report.output_change <= 1e-4
    assert len(report.rate_history) == 20


def test_change_rate_scales_as_the_derivation_says(batch: np.ndarray) -> None:
    # scaling layer k by c and dividing layer k+1's weights by c keeps the function; C_k -> C_k / c^2 and
    # C_{k+1} -> C_{k+1} c^2 (same random losses: same generator seed)
    tw.manual_seed(0)
    model = _mlp(depth=3)
    layers = affine_layers(model, batch)
    r0 = change_rates(model, layers, batch, draws=2, generator=np.random.default_rng(5))
    c = np.float32(3.0)
    (_, l1), (_, l2) = layers[1], layers[2]
    l1.weight.array *= c
    l1.bias.array *= c
    l2.weight.array /= c
    r1 = change_rates(model, layers, batch, draws=2, generator=np.random.default_rng(5))
    assert r1[0] == pytest.approx(r0[0], rel=1e-4) and r1[3] == pytest.approx(r0[3], rel=1e-4)
    assert r1[1] == pytest.approx(r0[1] / 9, rel=1e-4) and r1[2] == pytest.approx(r0[2] * 9, rel=1e-4)


def test_full_procedure_through_nn_init_and_keep_mode(batch: np.ndarray) -> None:
    tw.manual_seed(0)
    model = _mlp()
    model.train()
    report = tw.nn.init.data_dependent_(model, batch, generator=np.random.default_rng(0))
    assert model.training and report.layers == ["0", "2", "4", "6", "8"]
    assert max(report.mean_error) < 1e-4 and report.spread(report.rates_after) <= 1.2


def test_reinit_false_rescales_the_existing_rows(batch: np.ndarray) -> None:
    tw.manual_seed(0)
    model = _mlp(depth=1)
    w0 = np.array(model[0].weight.array)
    data_dependent_(model, batch, reinit=False, between_layer=False)
    ratio = model[0].weight.array / w0
    assert np.allclose(ratio, ratio[:, :1], rtol=1e-4)  # each row multiplied by one positive number
    assert np.all(ratio > 0)


def test_bad_models_and_arguments_are_refused(batch: np.ndarray) -> None:
    shared = nn.Linear(12, 12)
    twice = nn.Sequential(shared, nn.ReLU(), shared)
    with pytest.raises(ValueError, match="exactly once"):
        data_dependent_(twice, batch)
    with pytest.raises(ValueError, match="no bias"):
        data_dependent_(nn.Sequential(nn.Linear(12, 3, bias=False)), batch)
    with pytest.raises(ValueError, match="no Linear or Conv"):
        data_dependent_(nn.Sequential(nn.ReLU()), batch)
    with pytest.raises(ValueError, match="alpha"):
        data_dependent_(_mlp(), batch, alpha=0.0)
    with pytest.raises(ValueError, match="at least 2"):
        data_dependent_(_mlp(), batch[:1])


# --- section 3.3: PCA and k-means weights for the convolutions -------------------------------------------------

def _patch_setup() -> tuple[np.ndarray, "nn.Conv2d"]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((6, 3, 9, 9)).astype(np.float32), nn.Conv2d(3, 5, 3, padding=1, stride=2)


def test_conv_patches_are_what_the_filters_see() -> None:
    from thalweg.nn.init_data import conv_patches

    x, conv = _patch_setup()
    p = conv_patches(conv, x)
    out = conv(tw.Tensor(x)).array.transpose(0, 2, 3, 1).reshape(-1, 5)
    w = conv.weight.array.reshape(5, -1).astype(np.float64)
    np.testing.assert_allclose(out, p @ w.T + conv.bias.array, rtol=1e-4, atol=1e-4)
    c1 = nn.Conv1d(2, 4, 3, padding=1)
    x1 = np.random.default_rng(1).standard_normal((3, 2, 7)).astype(np.float32)
    out1 = c1(tw.Tensor(x1)).array.transpose(0, 2, 1).reshape(-1, 4)
    p1 = conv_patches(c1, x1)
    np.testing.assert_allclose(out1, p1 @ c1.weight.array.reshape(4, -1).T + c1.bias.array, rtol=1e-4, atol=1e-4)
    assert len(conv_patches(conv, x, max_patches=10, generator=np.random.default_rng(0))) == 10
    with pytest.raises(ValueError, match="groups"):
        conv_patches(nn.Conv2d(4, 4, 3, groups=2), np.zeros((2, 4, 5, 5)))


def test_pca_filters_make_the_outputs_white_and_decorrelated() -> None:
    from thalweg.nn.init_data import pca_filters

    rng = np.random.default_rng(2)
    patches = rng.standard_normal((4000, 6)) @ rng.standard_normal((6, 6)) + 3.0
    w, b = pca_filters(patches, 4)
    out = patches @ w.T + b
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-8)
    np.testing.assert_allclose(np.cov(out.T, bias=True), np.eye(4), atol=1e-6)
    assert pca_filters(patches, 9, generator=np.random.default_rng(0))[0].shape == (9, 6)  # extra rows Gaussian


def test_kmeans_filters_find_the_modes_of_the_patches() -> None:
    from thalweg.nn.init_data import kmeans_filters

    rng = np.random.default_rng(3)
    modes = rng.standard_normal((4, 12)) * 3.0
    labels = rng.integers(0, 4, size=3000)
    patches = modes[labels] + 0.3 * rng.standard_normal((3000, 12))
    w, b = kmeans_filters(patches, 4, generator=np.random.default_rng(0))
    unit = np.argmax(np.abs(patches @ w.T + b), axis=1)
    # each true mode is answered by one unit: the unit-to-mode table is (nearly) a permutation
    purity = sum(np.bincount(unit[labels == k], minlength=4).max() for k in range(4)) / len(labels)
    assert purity > 0.95 and len(set(unit)) == 4
    with pytest.raises(ValueError, match="iterations"):
        kmeans_filters(patches, 4, iterations=0)


@pytest.mark.parametrize("method", ["kmeans", "pca"])
def test_data_dependent_with_section_3_3_weights_still_normalizes(method: str) -> None:
    tw.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 8, 3), nn.ReLU(),
                          nn.Flatten(), nn.Linear(8 * 2 * 2, 10))
    x = np.random.default_rng(4).random((40, 1, 10, 10)).astype(np.float32)
    report = nn.init.data_dependent_(model, x, weights=method)
    assert report.weights == {"0": method, "3": method, "6": "gaussian"}  # the paper: convolutions only
    assert max(report.mean_error) < 1e-4 and max(report.std_error) < 1e-4
    assert report.output_change < 1e-4
    with pytest.raises(ValueError, match="weights must be one of"):
        nn.init.data_dependent_(model, x, weights="svd")
