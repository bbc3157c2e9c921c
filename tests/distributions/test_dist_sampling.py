"""Sampling (shapes, dtypes, seeded reproducibility, frequencies), rsample's
gradient, argument validation and the KL dispatch table."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from thalweg.autograd import gradcheck
from thalweg.distributions import Bernoulli, Categorical, Distribution, Normal, kl_divergence, register_kl

# chi-square critical values at p = 1e-4 (upper quantiles; for 2 dof it is exactly -2 ln 1e-4)
CHI2_CRIT = {2: 18.421, 3: 21.108, 4: 23.513}


def chi_square(counts: np.ndarray, probs: np.ndarray) -> float:
    expected = counts.sum() * probs
    return float(((counts - expected) ** 2 / expected).sum())


def make_all():
    logits = tw.randn(2, 3, 4)
    return [Categorical(logits=logits), Normal(tw.zeros(2, 3), tw.ones(3)), Bernoulli(probs=tw.rand(2, 3))]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_sample_shapes_and_dtypes(index):
    d = make_all()[index]
    assert d.batch_shape == (2, 3)
    assert d.sample().shape == (2, 3)
    assert d.sample(5).shape == (5, 2, 3)
    assert d.sample((4, 1)).shape == (4, 1, 2, 3)
    s = d.sample((7,))
    assert not s.requires_grad
    expected = np.int64 if isinstance(d, Categorical) else np.float32
    assert s.dtype == expected


@pytest.mark.parametrize("index", [0, 1, 2])
def test_sampling_is_reproducible_from_the_seed_and_the_generator(index):
    tw.manual_seed(123)
    d = make_all()[index]
    tw.manual_seed(7)
    a = d.sample((50,))
    tw.manual_seed(7)
    b = d.sample((50,))
    c = d.sample((50,))  # the generator moved on
    np.testing.assert_array_equal(a.array, b.array)
    assert not np.array_equal(b.array, c.array)
    g1 = d.sample((50,), generator=tw.Generator(3))
    g2 = d.sample((50,), generator=tw.Generator(3))
    g3 = d.sample((50,), generator=tw.Generator(4))
    np.testing.assert_array_equal(g1.array, g2.array)
    assert not np.array_equal(g1.array, g3.array)


def test_categorical_frequencies_match_probs():
    probs = np.array([[0.1, 0.2, 0.3, 0.4], [0.7, 0.0, 0.2, 0.1]])
    d = Categorical(probs=tw.tensor(probs))
    s = d.sample((20000,), generator=tw.Generator(0)).array  # (20000, 2)
    for row in range(2):
        counts = np.bincount(s[:, row], minlength=4).astype(float)
        keep = probs[row] > 0
        assert counts[~keep].sum() == 0  # a zero-probability class is never drawn
        stat = chi_square(counts[keep], probs[row][keep])
        assert stat < CHI2_CRIT[int(keep.sum()) - 1], (row, counts, stat)
    # the same test rejects the wrong distribution: it can fail
    counts = np.bincount(s[:, 0], minlength=4).astype(float)
    assert chi_square(counts, probs[0][::-1]) > 100 * CHI2_CRIT[3]


def test_categorical_samples_from_logits_and_last_class():
    # one-hot probabilities: every draw must be that class, including the last one
    d = Categorical(logits=tw.tensor([[-1e9, -1e9, 0.0], [0.0, -1e9, -1e9]], dtype=tw.float64))
    s = d.sample((100,)).array
    assert (s[:, 0] == 2).all() and (s[:, 1] == 0).all()


def test_bernoulli_and_normal_sample_statistics():
    n = 40000
    b = Bernoulli(probs=tw.tensor([0.05, 0.3, 0.9], dtype=tw.float64)).sample((n,), generator=tw.Generator(1)).array
    sigma = np.sqrt(np.array([0.05, 0.3, 0.9]) * (1 - np.array([0.05, 0.3, 0.9])) / n)
    assert np.all(np.abs(b.mean(0) - [0.05, 0.3, 0.9]) < 5 * sigma)
    assert set(np.unique(b)) == {0.0, 1.0}
    x = Normal(tw.tensor([1.0, -2.0]), tw.tensor([0.5, 3.0])).sample((n,), generator=tw.Generator(2)).array
    assert np.all(np.abs(x.mean(0) - [1.0, -2.0]) < 5 * np.array([0.5, 3.0]) / np.sqrt(n))
    assert np.all(np.abs(x.std(0) / [0.5, 3.0] - 1) < 5 / np.sqrt(2 * n))
    assert abs(x.mean(0)[0] - 1.0) > 1e-6  # a real draw, not the mean echoed back


def test_rsample_keeps_the_graph_and_its_gradient_is_right():
    loc = tw.tensor([0.5, -1.0], dtype=tw.float64, requires_grad=True)
    scale = tw.tensor([2.0, 0.3], dtype=tw.float64, requires_grad=True)
    d = Normal(loc, scale)
    x = d.rsample((1000,), generator=tw.Generator(5))
    assert x.requires_grad and x.shape == (1000, 2)
    (x ** 2).mean(0).sum().backward()
    eps = (x.array - loc.array) / scale.array  # the noise that was drawn
    np.testing.assert_allclose(loc.grad, (2 * x.array).mean(0), rtol=1e-12)
    np.testing.assert_allclose(scale.grad, (2 * x.array * eps).mean(0), rtol=1e-12)
    # the same generator state gives the same numbers through sample() (no graph)
    s = Normal(loc, scale).sample((1000,), generator=tw.Generator(5))
    assert not s.requires_grad
    np.testing.assert_array_equal(s.array, x.array)
    gradcheck(lambda m, sd: Normal(m, sd).rsample((3,), generator=tw.Generator(9)), [loc, scale])


def test_float32_stays_float32():
    d = Normal(tw.zeros(3), tw.ones(3))
    for t in (d.rsample(), d.log_prob(tw.zeros(3)), d.entropy(), d.variance):
        assert t.dtype == np.float32
    c = Categorical(logits=tw.randn(4))
    for t in (c.log_prob(tw.tensor(1)), c.entropy(), c.probs, kl_divergence(c, c)):
        assert t.dtype == np.float32
    b = Bernoulli(logits=tw.randn(4))
    for t in (b.log_prob(tw.ones(4)), b.entropy(), b.sample(), kl_divergence(b, b)):
        assert t.dtype == np.float32


def test_moments_and_nan_mean_of_categorical():
    c = Categorical(probs=tw.tensor([[0.2, 0.8], [0.6, 0.4]]))
    assert np.isnan(c.mean.array).all() and c.mean.shape == (2,)
    np.testing.assert_array_equal(c.mode.array, [1, 0])
    np.testing.assert_array_equal(c.enumerate_support().array, [[0, 0], [1, 1]])
    np.testing.assert_allclose(Bernoulli(probs=0.25).variance.array, 0.1875)
    np.testing.assert_allclose(Normal(0.0, 3.0).stddev.array, 3.0)


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize("make, message", [
    (lambda: Normal(0.0, 0.0), "scale must be positive"),
    (lambda: Normal(tw.zeros(2), tw.tensor([1.0, -2.0])), "-2.0"),
    (lambda: Bernoulli(probs=1.5), r"probs must lie in \[0, 1\]"),
    (lambda: Bernoulli(probs=0.5, logits=0.0), "exactly one"),
    (lambda: Categorical(), "exactly one"),
    (lambda: Categorical(probs=tw.tensor([0.5, -0.1])), "non-negative"),
    (lambda: Categorical(probs=tw.tensor([0.0, 0.0])), "non-zero sum"),
    (lambda: Categorical(logits=tw.tensor(1.0)), "at least one dimension"),
])
def test_bad_arguments_raise_clear_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_values_raise_clear_errors():
    with pytest.raises(ValueError, match=r"class indices in \[0, 2\]"):
        Categorical(logits=tw.zeros(3)).log_prob(tw.tensor(3))
    with pytest.raises(ValueError, match="0 or 1"):
        Bernoulli(probs=tw.tensor([0.5, 0.5])).log_prob(tw.tensor([0.0, 2.0]))
    with pytest.raises(ValueError, match=r"does not broadcast"):
        Normal(tw.zeros(3), 1.0).log_prob(tw.zeros(4))
    with pytest.raises(TypeError, match="no reparameterised sample"):
        Categorical(logits=tw.zeros(3)).rsample()
    # validation can be switched off, as in torch
    Normal(0.0, -1.0, validate_args=False)


def test_kl_dispatch_errors_and_registration():
    with pytest.raises(TypeError, match=r"no closed form registered for \(Normal, Bernoulli\)"):
        kl_divergence(Normal(0.0, 1.0), Bernoulli(probs=0.5))

    class MyNormal(Normal):
        pass

    # a subclass inherits its parent's rule through the MRO
    np.testing.assert_allclose(kl_divergence(MyNormal(0.0, 1.0), Normal(1.0, 1.0)).array, 0.5, rtol=1e-6)

    class Point(Distribution):
        def __init__(self, x):
            super().__init__(())
            self.x = tw.tensor(x)

        sample = log_prob = entropy = None
        mean = variance = property(lambda self: self.x)

    register_kl(Point, Point)(lambda p, q: (p.x - q.x).abs())
    assert kl_divergence(Point(1.0), Point(3.0)).item() == 2.0
