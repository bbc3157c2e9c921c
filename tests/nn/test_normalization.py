"""BatchNorm1d/2d and LayerNorm: torch parity over training steps and in eval, gradchecks, errors."""

import numpy as np
import pytest

import thalweg as tw
import thalweg.nn.functional as F
from thalweg import nn
from thalweg.autograd import gradcheck

from core_helpers import assert_close, compare_module, copy_torch_weights, torch_dtype

BN_CASES = [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (4, 3, 5)), ("BatchNorm2d", (2, 3, 4, 4))]
BN_OPTIONS = [dict(), dict(momentum=None), dict(affine=False), dict(track_running_stats=False),
              dict(momentum=0.3, eps=1e-3), dict(bias=False)]


def _randomise_affine(ours, theirs, torch, seed=0):
    """Non-trivial weight and bias (the defaults 1 and 0 would hide bugs)."""
    if getattr(theirs, "weight", None) is None:
        return
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(rng.uniform(0.5, 1.5, theirs.weight.shape)))
        if theirs.bias is not None:
            theirs.bias.copy_(torch.tensor(rng.standard_normal(theirs.bias.shape)))
    copy_torch_weights(ours, theirs)


@pytest.mark.parametrize("name,shape", BN_CASES)
@pytest.mark.parametrize("options", BN_OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batchnorm_matches_torch_train_then_eval(name, shape, options, dtype):
    torch = pytest.importorskip("torch")
    C = shape[1]
    theirs = getattr(torch.nn, name)(C, **options).to(torch_dtype(torch, dtype))
    ours = getattr(nn, name)(C, dtype=dtype, **options)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _randomise_affine(ours, theirs, torch)
    rng = np.random.default_rng(1)
    for step in range(3):  # three training steps: running statistics must follow torch's
        x = (rng.standard_normal(shape) * 2 + 0.5).astype(dtype)
        theirs.zero_grad()
        ours.zero_grad()
        compare_module(torch, ours, theirs, [x], dtype, seed=step)
        for key, value in theirs.state_dict().items():
            assert_close(ours.state_dict()[key], value, dtype, key)
    ours.eval()
    theirs.eval()
    theirs.zero_grad()
    ours.zero_grad()
    compare_module(torch, ours, theirs, [rng.standard_normal(shape).astype(dtype)], dtype, seed=9)


@pytest.mark.parametrize("name,shape", BN_CASES)
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradcheck(name, shape, training):
    tw.manual_seed(0)
    bn = getattr(nn, name)(shape[1]).double()
    with tw.no_grad():
        bn.weight.array[...] = np.linspace(0.5, 1.5, shape[1])
        bn.bias.array[...] = np.linspace(-1, 1, shape[1])
        bn.running_mean.array[...] = 0.3
        bn.running_var.array[...] = 2.0
    bn.train(training)
    x = tw.randn(*shape, dtype=tw.float64, requires_grad=True)
    gradcheck(lambda x, w, b: F.batch_norm(x, None if training else bn.running_mean,
                                           None if training else bn.running_var, w, b, training=training),
              [x, bn.weight, bn.bias])


def test_batchnorm_without_affine_gradcheck():
    x = tw.randn(5, 3, dtype=tw.float64, requires_grad=True)
    gradcheck(lambda x: F.batch_norm(x, None, None, training=True), [x])


def test_batchnorm_train_output_is_normalised_and_eval_uses_running_stats():
    tw.manual_seed(0)
    bn = nn.BatchNorm1d(4)
    x = tw.randn(64, 4) * 3 + 2
    y = bn(x).array
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(0), 1, atol=1e-3)
    assert int(bn.num_batches_tracked.array) == 1
    expected_rm = 0.1 * x.array.mean(0)
    np.testing.assert_allclose(bn.running_mean.array, expected_rm, rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.array, 0.9 + 0.1 * x.array.var(0, ddof=1), rtol=1e-5)
    bn.eval()
    before = bn.running_mean.array.copy()
    y_eval = bn(x).array
    np.testing.assert_array_equal(bn.running_mean.array, before)  # eval does not update the statistics
    expected = (x.array - bn.running_mean.array) / np.sqrt(bn.running_var.array + 1e-5)
    np.testing.assert_allclose(y_eval, expected, rtol=1e-5, atol=1e-6)
    assert int(bn.num_batches_tracked.array) == 1


def test_batchnorm_errors_name_layer_and_shapes():
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\): expected input with 3 channels in dimension 1, "
                                         r"got shape \(4, 5\)"):
        nn.BatchNorm1d(3)(tw.zeros(4, 5))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\): expected 4D input, got shape \(2, 3\)"):
        nn.BatchNorm2d(3)(tw.zeros(2, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(tw.zeros(1, 3))
    nn.BatchNorm1d(3).eval()(tw.zeros(1, 3))  # a single sample is fine in eval mode
    with pytest.raises(ValueError, match="momentum"):
        nn.BatchNorm1d(3, momentum=2.0)


def test_batchnorm_repr_matches_torch():
    torch = pytest.importorskip("torch")
    for args in [(3,), (5,)]:
        assert repr(nn.BatchNorm1d(*args)) == repr(torch.nn.BatchNorm1d(*args))
    assert repr(nn.BatchNorm2d(4, momentum=None, affine=False)) == \
        repr(torch.nn.BatchNorm2d(4, momentum=None, affine=False))
    assert repr(nn.BatchNorm1d(2, bias=False)) == repr(torch.nn.BatchNorm1d(2, bias=False))


LN_CASES = [((4, 6), 6, {}), ((2, 3, 4), (3, 4), {}), ((3, 5), 5, {"elementwise_affine": False}),
            ((3, 5), [5], {"bias": False, "eps": 1e-3})]


@pytest.mark.parametrize("shape,normalized,options", LN_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layernorm_matches_torch(shape, normalized, options, dtype):
    torch = pytest.importorskip("torch")
    theirs = torch.nn.LayerNorm(normalized, **options).to(torch_dtype(torch, dtype))
    ours = nn.LayerNorm(normalized, dtype=dtype, **options)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _randomise_affine(ours, theirs, torch)
    assert repr(ours) == repr(theirs)
    x = (np.random.default_rng(3).standard_normal(shape) * 2 + 1).astype(dtype)
    compare_module(torch, ours, theirs, [x], dtype)


@pytest.mark.parametrize("shape,normalized,options", LN_CASES)
def test_layernorm_gradcheck(shape, normalized, options):
    ln = nn.LayerNorm(normalized, **options).double()
    params = list(ln.parameters())
    for i, p in enumerate(params):
        p.array[...] = np.random.default_rng(i).standard_normal(p.shape)
    x = tw.randn(*shape, dtype=tw.float64, requires_grad=True)
    gradcheck(lambda x, *ps: ln(x), [x, *params])


def test_layernorm_wrong_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"LayerNorm\(\(6,\).*trailing dimensions \(6,\), got shape \(2, 5\)"):
        nn.LayerNorm(6)(tw.zeros(2, 5))
