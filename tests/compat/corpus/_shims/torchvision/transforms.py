"""Compose, ToTensor, Normalize and Lambda, on uint8 image arrays (torchvision's semantics)."""

import numpy as np

from corpus_backend import lib


class Compose:
    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x


class ToTensor:
    """HxW or HxWxC uint8 -> CxHxW float32 in [0, 1]."""

    def __call__(self, img):
        a = np.asarray(img, dtype=np.float32) / 255.0
        a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
        return lib().from_numpy(np.ascontiguousarray(a))


class Normalize:
    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)

    def __call__(self, t):
        return (t - lib().from_numpy(self.mean)) / lib().from_numpy(self.std)


class Lambda:
    def __init__(self, fn):
        self.fn = fn

    def __call__(self, x):
        return self.fn(x)
