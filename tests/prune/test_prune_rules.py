"""The pruning rules: the paper's std threshold, fixed per-layer sparsity, global magnitude, bad input."""

import math

import numpy as np
import pytest

import thalweg as tw
from thalweg import nn, prune

from prune_helpers import mlp


def _gaussian_linear(n_out: int = 200, n_in: int = 300, seed: int = 0) -> nn.Module:
    m = nn.Sequential(nn.Linear(n_in, n_out))
    m[0].weight.array[...] = np.random.default_rng(seed).normal(0, 0.05, size=(n_out, n_in)).astype(np.float32)
    return m


def test_std_rule_prunes_exactly_the_weights_below_q_times_std():
    model = mlp()
    before = {n: p.array.copy() for n, p in model.named_parameters()}
    q = 0.8
    masks = prune.prune_by_std(model, q)
    assert masks.names() == ["0.weight", "2.weight", "4.weight"]  # weights only, not biases
    for name in masks:
        w = before[name]
        expected = np.abs(w) >= q * np.std(w)
        np.testing.assert_array_equal(masks[name], expected)
        np.testing.assert_array_equal(dict(model.named_parameters())[name].array, w * expected)
    np.testing.assert_array_equal(model[0].bias.array, before["0.bias"])


def test_std_rule_on_gaussian_weights_prunes_the_gaussian_fraction():
    # P(|w| < q sigma) = erf(q / sqrt 2) for Gaussian weights
    for q in (0.5, 1.0, 2.0):
        model = _gaussian_linear()
        masks = prune.prune_by_std(model, q)
        assert masks.sparsity() == pytest.approx(math.erf(q / math.sqrt(2)), abs=0.01)


def test_std_rule_per_layer_quality_and_std_of_kept():
    model = mlp()
    w2 = model[2].weight.array.copy()
    masks = prune.prune_by_std(model, {"0": 1.0, "2.weight": 0.0})
    assert masks.names() == ["0.weight", "2.weight"]
    assert masks.kept("2.weight") == np.count_nonzero(w2)  # q = 0 prunes nothing
    # second round, std over the kept weights only
    w0 = model[0].weight.array.copy()
    kept0 = masks["0.weight"].copy()
    prune.prune_by_std(model, {"0": 1.0}, std_of="kept")
    expected = kept0 & (np.abs(w0) >= np.std(w0[kept0]))
    np.testing.assert_array_equal(masks["0.weight"], expected)


def test_prune_layers_removes_exactly_round_s_n_smallest():
    model = mlp()
    w = model[0].weight.array.copy()
    masks = prune.prune_layers(model, {"0.weight": 0.7})
    n = w.size
    assert masks.kept("0.weight") == n - round(0.7 * n)
    kept_mag = np.abs(w[masks["0.weight"]])
    pruned_mag = np.abs(w[~masks["0.weight"]])
    assert kept_mag.min() >= pruned_mag.max()


def test_prune_layers_one_value_for_all_and_growing_sparsity():
    model = mlp()
    masks = prune.prune_layers(model, 0.5)
    first = {n: masks[n].copy() for n in masks}
    prune.prune_layers(model, 0.8)
    for n in masks:
        assert masks.kept(n) == masks.total(n) - round(0.8 * masks.total(n))
        assert not np.any(masks[n] & ~first[n])  # nothing revived


def test_prune_global_uses_one_threshold():
    model = mlp()
    ws = {n: p.array.copy() for n, p in model.named_parameters() if p.ndim > 1}
    masks = prune.prune_global(model, 0.6)
    total = sum(w.size for w in ws.values())
    assert masks.total() == total and masks.kept() == total - round(0.6 * total)
    kept = np.concatenate([np.abs(ws[n][masks[n]]) for n in ws])
    pruned = np.concatenate([np.abs(ws[n][~masks[n]]) for n in ws])
    assert kept.min() >= pruned.max()
    # layers with smaller weights lose more: the global rule is not per-layer
    assert len({round(masks.sparsity(n), 3) for n in ws}) > 1


def test_the_masks_object_is_the_models_and_only_shrinks():
    model = mlp()
    a = prune.prune_layers(model, 0.3)
    b = prune.prune_by_std(model, 0.1)
    assert a is b is prune.masks_of(model)
    assert a.sparsity("0.weight") >= 0.3  # a low threshold after pruning keeps the pruned ones pruned


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5, float("nan"), "0.5", True])
def test_sparsity_outside_0_1_is_an_error(bad):
    model = mlp()
    with pytest.raises(ValueError, match="sparsity must be a number in \\[0, 1\\)"):
        prune.prune_layers(model, bad)
    with pytest.raises(ValueError, match="sparsity must be a number in \\[0, 1\\)"):
        prune.prune_global(model, bad)


def test_unknown_layer_is_an_error_naming_it_and_the_valid_ones():
    model = mlp()
    with pytest.raises(ValueError, match="no layer or parameter named 'fc9'.*0.weight, 2.weight, 4.weight"):
        prune.prune_layers(model, {"fc9": 0.5})
    with pytest.raises(ValueError, match="'7.weight'"):
        prune.prune_by_std(model, 1.0, layers=["7.weight"])
    with pytest.raises(ValueError, match="'1'"):  # ReLU has no weight
        prune.prune_global(model, 0.5, layers=["1"])


def test_conflicting_masks_are_an_error_and_change_nothing():
    model = mlp()
    masks = prune.prune_layers(model, 0.8)
    before = {n: masks[n].copy() for n in masks}
    weights = model[0].weight.array.copy()
    with pytest.raises(ValueError, match="masks only shrink"):
        prune.prune_layers(model, 0.5)  # less sparsity than already pruned
    with pytest.raises(ValueError, match="keeps .* connection\\(s\\) that are already pruned"):
        prune.prune_with_masks(model, {"2.weight": np.ones(model[2].weight.shape, dtype=bool),
                                       "0.weight": before["0.weight"]})
    with pytest.raises(ValueError, match="masks only shrink"):
        prune.prune_global(model, 0.1)
    for n in masks:
        np.testing.assert_array_equal(masks[n], before[n])
    np.testing.assert_array_equal(model[0].weight.array, weights)


def test_bad_masks_and_quality():
    model = mlp()
    with pytest.raises(ValueError, match="shape"):
        prune.prune_with_masks(model, {"0.weight": np.ones((3, 3), dtype=bool)})
    with pytest.raises(ValueError, match="boolean"):
        prune.prune_with_masks(model, {"0.weight": np.full(model[0].weight.shape, 0.5)})
    with pytest.raises(ValueError, match="quality parameter must be a finite number >= 0"):
        prune.prune_by_std(model, -1.0)
    with pytest.raises(ValueError, match="std_of"):
        prune.prune_by_std(model, 1.0, std_of="median")


def test_remove_keeps_zeros_and_forgets_masks():
    model = mlp()
    prune.prune_layers(model, 0.5)
    zeros = model[0].weight.array == 0
    prune.remove(model)
    assert prune.masks_of(model) is None
    assert np.all(model[0].weight.array[zeros] == 0)
    prune.prune_layers(model, 0.2)  # a fresh start: no conflict
    x = tw.randn(4, 12)
    nn.functional.cross_entropy(model(x), tw.tensor([0, 1, 2, 0])).backward()
    assert model[2].weight.grad is not None


def test_masks_are_read_only_views_and_state_dict_round_trips():
    model = mlp()
    masks = prune.prune_layers(model, 0.5)
    with pytest.raises(ValueError):
        masks["0.weight"][0, 0] = True
    saved = masks.state_dict()
    other = mlp(seed=1)
    prune.prune_with_masks(other, saved)
    for n in saved:
        np.testing.assert_array_equal(prune.masks_of(other)[n], saved[n])


def test_a_copied_or_pickled_model_keeps_its_masks_and_hooks():
    import copy
    import pickle

    model = mlp()
    prune.prune_layers(model, 0.6)
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        masks = prune.masks_of(clone)
        assert masks is not None and masks.model is clone
        assert masks.parameter("0.weight") is clone[0].weight
        np.testing.assert_array_equal(masks["0.weight"], prune.masks_of(model)["0.weight"])
        nn.functional.cross_entropy(clone(tw.randn(4, 12)), tw.tensor([0, 1, 2, 0])).backward()
        assert np.all(clone[0].weight.grad[~masks["0.weight"]] == 0)
        assert len(clone[0].weight._hooks) == 1
