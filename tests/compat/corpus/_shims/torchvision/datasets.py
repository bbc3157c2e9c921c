"""MNIST and FashionMNIST from local IDX files (see the package docstring)."""

import gzip
import os
from pathlib import Path

import numpy as np

from corpus_backend import lib

_FILES = {True: ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
          False: ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


def _read_idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes())
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


class MNIST:
    folder = "mnist"

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        base = Path(os.environ.get("THALWEG_DATA", "../shared/data")) / self.folder
        images, labels = (_read_idx(base / f) for f in _FILES[bool(train)])
        limit = int(os.environ.get("CORPUS_MNIST_LIMIT", "6000"))
        n = limit if train else max(limit // 6, 1)
        torch = lib()
        self.data = torch.from_numpy(images[:n].copy())
        self.targets = torch.from_numpy(labels[:n].astype(np.int64))
        self._images, self._labels = images[:n], labels[:n]
        self.transform, self.target_transform = transform, target_transform

    def __len__(self):
        return len(self._labels)

    def __getitem__(self, i):
        img, target = self._images[i], int(self._labels[i])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target


class FashionMNIST(MNIST):
    folder = "fashion-mnist"
