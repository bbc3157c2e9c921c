"""The embedded digits and the synthetic sets."""

import numpy as np

from thalweg.data import digits_splits, load_digits, make_moons, make_regression, make_spirals, synthetic_splits


def test_digits_embedded():
    x, y = load_digits()
    assert x.shape == (1797, 64) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() == 1.0
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    xi, _ = load_digits(images=True)
    assert xi.shape == (1797, 1, 8, 8)


def test_digits_splits_are_disjoint_and_seeded():
    s = digits_splits(seed=3)
    assert [len(d) for d in s] == [1197, 300, 300]
    rows = np.concatenate([d.tensors[0] for d in s])
    assert len(np.unique(rows, axis=0)) == len(np.unique(load_digits()[0], axis=0))
    t = digits_splits(seed=3)
    np.testing.assert_array_equal(s.dev.tensors[1], t.dev.tensors[1])
    assert s.train.num_classes == 10


def test_spirals_and_moons():
    x, y = make_spirals(100, 3, seed=0)
    assert x.shape == (300, 2) and x.dtype == np.float32 and np.bincount(y).tolist() == [100, 100, 100]
    x2, y2 = make_spirals(100, 3, seed=0)
    np.testing.assert_array_equal(x, x2)
    m, c = make_moons(301, seed=1)
    assert m.shape == (301, 2) and np.bincount(c).tolist() == [150, 151]


def test_regression_is_linear_plus_noise():
    x, y = make_regression(2000, 3, noise=0.01, seed=0)
    a = np.c_[x, np.ones(len(x))].astype(np.float64)
    coef, res, *_ = np.linalg.lstsq(a, y.astype(np.float64), rcond=None)
    assert np.sqrt(res[0] / len(x)) < 0.02


def test_synthetic_splits():
    s = synthetic_splits(make_moons, n=200, seed=0)
    assert [len(d) for d in s] == [140, 30, 30] and s.train.num_classes == 2
