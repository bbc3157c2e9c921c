"""The UCI 8x8 handwritten digits, embedded in the package (no download, no network).

Optical Recognition of Handwritten Digits: 1,797 images of 8x8 pixels with
values 0..16 (counts of set pixels in 4x4 blocks of 32x32 bitmaps), labels
0..9.  Creators: E. Alpaydin and C. Kaynak (1998), UCI Machine Learning
Repository, https://doi.org/10.24432/C50P49, licensed under Creative Commons
Attribution 4.0 (CC BY 4.0).  Shipped as ``bundled/digits.csv.gz``: one image
per line, 64 pixel values row-major, then the label.

It is the default dataset of ``thalweg train``: small enough that a model
trains in seconds, real enough that the curves look like MNIST's.
"""

from __future__ import annotations

import gzip
from importlib import resources

import numpy as np

from .dataset import Splits, TensorDataset
from .errors import DataError

__all__ = ["load_digits", "digits_splits", "DIGITS_ATTRIBUTION"]

DIGITS_ATTRIBUTION = ("UCI Optical Recognition of Handwritten Digits: E. Alpaydin and C. Kaynak (1998), "
                      "UCI Machine Learning Repository, CC BY 4.0")


def load_digits(*, images: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 digits: ``X`` float32 in [0, 1] of shape (1797, 64) (or (1797, 1, 8, 8)), ``y`` int64.

    Pixel values 0..16 are divided by 16.
    """
    try:
        raw = resources.files("thalweg.data").joinpath("bundled/digits.csv.gz").read_bytes()
    except (FileNotFoundError, OSError) as e:  # a broken installation
        raise DataError(f"the embedded digits dataset is missing from the thalweg package ({e})") from None
    table = np.loadtxt(gzip.decompress(raw).decode("ascii").splitlines(), delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 65:
        raise DataError(f"embedded digits: expected 65 columns, got shape {table.shape}")
    x = table[:, :64].astype(np.float32) / np.float32(16.0)
    y = table[:, 64].astype(np.int64)
    return (x.reshape(-1, 1, 8, 8) if images else x), y


def digits_splits(*, seed: int = 0, dev_size: int = 300, test_size: int = 300, images: bool = False) -> Splits:
    """A seeded train/dev/test split of the digits (default 1,197 / 300 / 300).

    The dataset has no official split; the permutation comes from ``seed`` and
    is stratified by nothing (classes are balanced to within a few percent).
    """
    x, y = load_digits(images=images)
    n = len(y)
    if dev_size < 0 or test_size < 0 or dev_size + test_size >= n:
        raise ValueError(f"digits_splits: dev_size + test_size must be below {n}, got {dev_size} + {test_size}")
    perm = np.random.default_rng(seed).permutation(n)
    test, dev, train = perm[:test_size], perm[test_size:test_size + dev_size], perm[test_size + dev_size:]
    return Splits(*(TensorDataset(x[i], y[i], num_classes=10) for i in (train, dev, test)))
