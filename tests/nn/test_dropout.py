"""Dropout: inverted dropout statistics, train/eval, seeded masks, channel dropout, errors."""

import numpy as np
import pytest

import thalweg as tw
import thalweg.nn.functional as F
from thalweg import nn
from thalweg.autograd import gradcheck


@pytest.mark.parametrize("p", [1.5, -0.1, float("nan"), "0.5", True])
def test_dropout_rejects_bad_probability(p):
    with pytest.raises(ValueError, match="probability has to be between 0 and 1"):
        nn.Dropout(p)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(tw.ones(3), p)


def test_dropout_p_1_5_message_names_layer_and_value():
    with pytest.raises(ValueError) as info:
        nn.Dropout(p=1.5)
    assert str(info.value) == "Dropout probability has to be between 0 and 1, but got 1.5"


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_mask_is_bernoulli_and_scaled(p):
    tw.manual_seed(0)
    x = tw.ones(200, 500, requires_grad=True)
    y = nn.Dropout(p)(x)
    kept = y.array != 0
    n = kept.size
    # fraction kept ~ Binomial(n, 1-p)/n: within 5 standard deviations
    assert abs(kept.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(y.array[kept], 1 / (1 - p), rtol=1e-6)
    assert y.dtype == np.float32
    # E[y] = x: the mean is preserved
    assert abs(y.array.mean() - 1) < 5 * np.sqrt(p / (1 - p) / n)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.array)  # dL/dx = m / (1 - p): no gradient for dropped units


def test_dropout_train_eval_switch():
    x = tw.randn(4, 10)
    layer = nn.Dropout(0.5)
    assert layer.training
    assert not np.array_equal(layer(x).array, x.array)
    layer.eval()
    assert layer(x) is x
    layer.train()
    assert not np.array_equal(layer(x).array, x.array)
    assert F.dropout(x, 0.5, training=False) is x


def test_dropout_extremes():
    x = tw.randn(3, 4, requires_grad=True)
    assert F.dropout(x, 0.0) is x
    y = F.dropout(x, 1.0)
    assert (y.array == 0).all() and np.isfinite(y.array).all()
    y.sum().backward()
    assert (x.grad == 0).all()


def test_dropout_masks_follow_the_run_seed_and_generator():
    x = tw.ones(50)
    tw.manual_seed(5)
    a = nn.Dropout(0.5)(x).array
    tw.manual_seed(5)
    b = nn.Dropout(0.5)(x).array
    np.testing.assert_array_equal(a, b)
    c = nn.Dropout(0.5, generator=tw.Generator(9))(x).array
    d = F.dropout(x, 0.5, generator=tw.Generator(9)).array
    np.testing.assert_array_equal(c, d)
    # consecutive calls draw new masks
    layer = nn.Dropout(0.5)
    assert not np.array_equal(layer(x).array, layer(x).array)


def test_dropout_gradcheck_with_fixed_mask():
    x = tw.randn(3, 4, dtype=tw.float64, requires_grad=True)
    gradcheck(lambda x: F.dropout(x, 0.3, generator=tw.Generator(1)), [x])
    gradcheck(lambda x: F.dropout2d(x, 0.5, generator=tw.Generator(2)), [tw.randn(2, 3, 2, 2, dtype=tw.float64,
                                                                                  requires_grad=True)])


def test_dropout2d_zeroes_whole_channels():
    tw.manual_seed(1)
    x = tw.ones(8, 16, 3, 3)
    y = nn.Dropout2d(0.5)(x).array
    per_channel = y.reshape(8, 16, 9)
    assert ((per_channel == 0).all(-1) | (per_channel == 2).all(-1)).all()
    assert 0 < (per_channel == 0).all(-1).mean() < 1
    y1 = nn.Dropout1d(0.5)(tw.ones(4, 6, 5)).array
    assert ((y1 == 0).all(-1) | (y1 == 2).all(-1)).all()
    with pytest.warns(UserWarning, match="2-D input to dropout2d"):  # torch 2.13: elementwise, with a warning
        y2 = nn.Dropout2d()(tw.ones(30, 40)).array
    assert 0 < (y2 == 0).mean() < 1 and not ((y2 == 0).all(-1) | (y2 == 2).all(-1)).all()
    with pytest.raises(ValueError, match="dropout2d"):
        nn.Dropout2d()(tw.ones(3))


def test_dropout_float64_stays_float64():
    assert nn.Dropout(0.3)(tw.ones(5, dtype=tw.float64)).dtype == np.float64


def test_dropout_repr_matches_torch():
    torch = pytest.importorskip("torch")
    assert repr(nn.Dropout(0.2)) == repr(torch.nn.Dropout(0.2)) == "Dropout(p=0.2, inplace=False)"
    assert repr(nn.Dropout2d()) == repr(torch.nn.Dropout2d())
