"""MNIST and Fashion-MNIST from the four official IDX files.

Standard split (the lecture's three sets): the 60,000 official training
images are divided into 50,000 for training and 10,000 for the dev set (a
seeded random choice, or the last 10,000 with ``dev_split="last"``); the
official 10,000 test images are the test set, to be evaluated once at the end.

Images become float32 in [0, 1] of shape ``(1, 28, 28)`` (or ``(784,)`` with
``flatten=True``); labels are int64 in 0..9.  Files are found, downloaded and
verified as described in ``download.py``.

MNIST: Y. LeCun, C. Cortes and C. J. C. Burges.  Fashion-MNIST: H. Xiao,
K. Rasul and R. Vollgraf (2017), Zalando Research, MIT licence.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from .dataset import Splits, TensorDataset
from .download import Fetcher, ensure_file
from .errors import DataError
from .idx import parse_idx

__all__ = ["MNIST", "FashionMNIST", "load_mnist", "load_fashion_mnist", "load_idx_dataset",
           "FASHION_MNIST_CLASSES"]

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                         "Bag", "Ankle boot")

_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _read_pair(dataset: str, part: str, root: str | os.PathLike[str] | None, *, download: bool,
               verify_checksum: bool, fetcher: Fetcher | None, mirrors: Sequence[str] | None) -> tuple[np.ndarray,
                                                                                                       np.ndarray]:
    img_stem, lab_stem = _FILES[part]
    images = parse_idx(ensure_file(dataset, img_stem, root, download=download, verify_checksum=verify_checksum,
                                   fetcher=fetcher, mirrors=mirrors), name=f"{dataset}/{img_stem}")
    labels = parse_idx(ensure_file(dataset, lab_stem, root, download=download, verify_checksum=verify_checksum,
                                   fetcher=fetcher, mirrors=mirrors), name=f"{dataset}/{lab_stem}")
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise DataError(f"{dataset} {part}: images {images.shape} and labels {labels.shape} do not match "
                        "(expected (N, H, W) and (N,))")
    return images, labels


def _prepare(images: np.ndarray, flatten: bool) -> np.ndarray:
    x = images.astype(np.float32)
    x *= np.float32(1.0 / 255.0)
    return x.reshape(len(x), -1) if flatten else x[:, None, :, :]


def load_idx_dataset(dataset: str, root: str | os.PathLike[str] | None = None, *, dev_size: int = 10_000,
                     dev_split: str = "random", seed: int = 0, flatten: bool = False, limit: int | None = None,
                     download: bool = True, verify_checksum: bool = True, fetcher: Fetcher | None = None,
                     mirrors: Sequence[str] | None = None) -> Splits:
    """Train/dev/test ``TensorDataset``s of ``"mnist"`` or ``"fashion-mnist"``.

    ``limit`` keeps only the first ``limit`` examples of each set after the
    split (for quick tests).  ``seed`` fixes which 10,000 training images form
    the dev set when ``dev_split="random"``.
    """
    if dev_split not in ("random", "last"):
        raise ValueError(f"dev_split must be 'random' or 'last', got {dev_split!r}")
    kw = dict(download=download, verify_checksum=verify_checksum, fetcher=fetcher, mirrors=mirrors)
    x_full, y_full = _read_pair(dataset, "train", root, **kw)
    x_test, y_test = _read_pair(dataset, "test", root, **kw)
    n = len(y_full)
    if not 0 <= dev_size < n:
        raise ValueError(f"dev_size must be in [0, {n}), got {dev_size}")
    order = np.random.default_rng(seed).permutation(n) if dev_split == "random" else np.arange(n)
    train_idx, dev_idx = np.sort(order[:n - dev_size]), np.sort(order[n - dev_size:])
    if limit is not None:
        train_idx, dev_idx = train_idx[:limit], dev_idx[:limit]
        x_test, y_test = x_test[:limit], y_test[:limit]

    def make(x: np.ndarray, y: np.ndarray) -> TensorDataset:
        return TensorDataset(_prepare(x, flatten), y.astype(np.int64), num_classes=10)

    return Splits(make(x_full[train_idx], y_full[train_idx]), make(x_full[dev_idx], y_full[dev_idx]),
                  make(x_test, y_test))


def load_mnist(root: str | os.PathLike[str] | None = None, **kwargs: object) -> Splits:
    """MNIST as ``Splits(train=50,000, dev=10,000, test=10,000)``; see ``load_idx_dataset`` for options."""
    return load_idx_dataset("mnist", root, **kwargs)  # type: ignore[arg-type]


def load_fashion_mnist(root: str | os.PathLike[str] | None = None, **kwargs: object) -> Splits:
    """Fashion-MNIST as ``Splits(train, dev, test)``; see ``load_idx_dataset`` for options."""
    return load_idx_dataset("fashion-mnist", root, **kwargs)  # type: ignore[arg-type]


class MNIST(TensorDataset):
    """One split of MNIST as a dataset: ``MNIST(root, split="train"|"dev"|"test"|"train-full")``.

    ``"train"`` and ``"dev"`` are the 50,000/10,000 standard split of the
    official training file (seeded by ``seed``); ``"train-full"`` is all
    60,000; ``"test"`` the official 10,000.  ``train=True/False`` is accepted
    as torchvision's spelling of ``"train-full"``/``"test"``.
    """

    _name = "mnist"

    def __init__(self, root: str | os.PathLike[str] | None = None, split: str | None = None, *,
                 train: bool | None = None, download: bool = True, flatten: bool = False, seed: int = 0,
                 dev_size: int = 10_000, verify_checksum: bool = True, fetcher: Fetcher | None = None) -> None:
        if split is None:
            split = "test" if train is False else ("train-full" if train else "train")
        valid = ("train", "dev", "test", "train-full")
        if split not in valid:
            raise ValueError(f"{type(self).__name__}: unknown split {split!r}; valid: {', '.join(valid)}")
        kw = dict(download=download, verify_checksum=verify_checksum, fetcher=fetcher, mirrors=None)
        if split in ("train-full", "test"):
            x, y = _read_pair(self._name, "train" if split == "train-full" else "test", root, **kw)
            super().__init__(_prepare(x, flatten), y.astype(np.int64), num_classes=10)
        else:
            splits = load_idx_dataset(self._name, root, dev_size=dev_size, seed=seed, flatten=flatten, **kw)
            part = splits.train if split == "train" else splits.dev
            super().__init__(*part.tensors, num_classes=10)
        self.split = split

    @property
    def data(self) -> np.ndarray:
        return self.tensors[0]

    @property
    def targets(self) -> np.ndarray:
        return self.tensors[1]


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando), same format, sizes and splits as ``MNIST``; see ``FASHION_MNIST_CLASSES``."""

    _name = "fashion-mnist"
