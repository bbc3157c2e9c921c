"""nn.init: every scheme's empirical statistics against its formula, gains and fans against torch."""

import math

import numpy as np
import pytest

import thalweg as tw
from thalweg import nn
from thalweg.nn import init

# 256 x 400 = 102,400 draws: the sample std of N draws has relative error ~ 1/sqrt(2N) ~ 0.22%,
# so a 2% tolerance is ~9 standard errors (never flaky) yet catches any wrong constant (sqrt(2), sqrt(3)...).
SHAPE = (256, 400)
FAN_IN, FAN_OUT = 400, 256
REL = 0.02


def _w(shape=SHAPE, dtype=tw.float32):
    return nn.Parameter(tw.zeros(*shape, dtype=dtype))


def _check(w, std, bound=None, mean=0.0):
    d = w.array.astype(np.float64)
    assert d.std() == pytest.approx(std, rel=REL)
    assert abs(d.mean() - mean) < 0.02 * std
    if bound is not None:
        assert np.abs(d).max() <= bound * (1 + 1e-6)
        assert np.abs(d).max() > 0.99 * bound  # the whole interval is used


def test_uniform_and_normal():
    tw.manual_seed(0)
    w = init.uniform_(_w(), -2.0, 4.0)
    assert w.array.min() >= -2 and w.array.max() <= 4
    _check(w, 6 / math.sqrt(12), mean=1.0)
    _check(init.normal_(_w(), 1.5, 0.3), 0.3, mean=1.5)


def test_constants():
    w = _w((3, 4))
    assert (init.ones_(w).array == 1).all()
    assert (init.zeros_(w).array == 0).all()
    assert (init.constant_(w, 0.25).array == 0.25).all()
    np.testing.assert_array_equal(init.eye_(w).array, np.eye(3, 4))
    assert w.dtype == np.float32 and w.requires_grad  # still a parameter, nothing recorded


@pytest.mark.parametrize("gain", [1.0, 5.0 / 3])
def test_xavier_uniform_is_glorot_interval(gain):
    tw.manual_seed(1)
    bound = gain * math.sqrt(6) / math.sqrt(FAN_IN + FAN_OUT)  # the lecture's sqrt(6)/sqrt(m+n)
    _check(init.xavier_uniform_(_w(), gain=gain), bound / math.sqrt(3), bound)


def test_xavier_normal():
    tw.manual_seed(2)
    _check(init.xavier_normal_(_w(), gain=2.0), 2.0 * math.sqrt(2 / (FAN_IN + FAN_OUT)))


@pytest.mark.parametrize("mode,fan", [("fan_in", FAN_IN), ("fan_out", FAN_OUT)])
@pytest.mark.parametrize("nonlinearity,a,gain", [("relu", 0, math.sqrt(2)), ("leaky_relu", 0.2, math.sqrt(2 / 1.04)),
                                                 ("linear", 0, 1.0)])
def test_kaiming(mode, fan, nonlinearity, a, gain):
    tw.manual_seed(3)
    std = gain / math.sqrt(fan)
    _check(init.kaiming_uniform_(_w(), a=a, mode=mode, nonlinearity=nonlinearity), std, math.sqrt(3) * std)
    _check(init.kaiming_normal_(_w(), a=a, mode=mode, nonlinearity=nonlinearity), std)


def test_he_relu_is_lecture_interval():
    tw.manual_seed(4)
    bound = math.sqrt(6) / math.sqrt(FAN_IN)
    w = init.kaiming_uniform_(_w(), nonlinearity="relu")
    assert np.abs(w.array).max() <= bound and np.abs(w.array).max() > 0.99 * bound


def test_lecun_normal():
    tw.manual_seed(5)
    _check(init.lecun_normal_(_w()), 1 / math.sqrt(FAN_IN))


def test_trunc_normal():
    tw.manual_seed(6)
    w = init.trunc_normal_(_w(), mean=0.0, std=1.0, a=-1.0, b=1.0)
    assert w.array.min() >= -1 and w.array.max() <= 1
    # variance of N(0,1) truncated to [-1, 1]: 1 - 2 phi(1) / (2 Phi(1) - 1)
    phi = math.exp(-0.5) / math.sqrt(2 * math.pi)
    Phi = 0.5 * (1 + math.erf(1 / math.sqrt(2)))
    _check(w, math.sqrt(1 - 2 * phi / (2 * Phi - 1)))


@pytest.mark.parametrize("shape", [(4, 6), (6, 4), (3, 2, 2, 2)])
def test_orthogonal(shape):
    tw.manual_seed(7)
    w = init.orthogonal_(_w(shape, tw.float64), gain=2.0)
    m = w.array.reshape(shape[0], -1)
    gram = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-10)


def test_calculate_gain_equals_torch():
    torch = pytest.importorskip("torch")
    for name in ["linear", "conv1d", "conv2d", "conv_transpose2d", "sigmoid", "tanh", "relu", "selu"]:
        assert init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name), rel=1e-15), name
    for slope in [None, 0.0, 0.2, math.sqrt(5)]:
        assert init.calculate_gain("leaky_relu", slope) == pytest.approx(
            torch.nn.init.calculate_gain("leaky_relu", slope), rel=1e-15)
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")


@pytest.mark.parametrize("shape", [(5, 3), (8, 4, 3, 3), (6, 2, 5)])
def test_fans_equal_torch(shape):
    torch = pytest.importorskip("torch")
    assert init._calculate_fan_in_and_fan_out(_w(shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


def test_fan_errors_and_bad_mode():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(_w((5,)))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_uniform_(_w((3, 3)), mode="fan_avg")


def test_generator_and_manual_seed_make_draws_reproducible():
    a = init.kaiming_normal_(_w((20, 10)), generator=tw.Generator(11)).array.copy()
    b = init.kaiming_normal_(_w((20, 10)), generator=tw.Generator(11)).array.copy()
    np.testing.assert_array_equal(a, b)
    tw.manual_seed(11)
    c = init.xavier_uniform_(_w((20, 10))).array.copy()
    tw.manual_seed(11)
    d = init.xavier_uniform_(_w((20, 10))).array.copy()
    np.testing.assert_array_equal(c, d)
    assert not np.array_equal(c, init.xavier_uniform_(_w((20, 10))).array)


def test_dtype_is_kept():
    assert init.kaiming_uniform_(_w((4, 4), tw.float32)).dtype == np.float32
    assert init.orthogonal_(_w((4, 4), tw.float32)).dtype == np.float32
    assert init.normal_(_w((4, 4), tw.float64)).dtype == np.float64
