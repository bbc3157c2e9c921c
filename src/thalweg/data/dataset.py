"""Datasets: ``Dataset``, ``IterableDataset``, ``TensorDataset``, ``Subset``, ``ConcatDataset``, ``random_split``.

A dataset is anything with ``__len__`` and ``__getitem__(i)`` returning one
example (PyTorch's map-style protocol).  Datasets held in arrays also offer
``__getitems__(indices)``, which returns a whole batch with one fancy-indexing
operation per field; the ``DataLoader`` uses it, so batching an array dataset
costs a few NumPy calls, not a Python loop over examples.
"""

from __future__ import annotations

import math
from typing import Any, Iterator, NamedTuple, Sequence

import numpy as np

from .. import random as _random
from ..autograd.tensor import Tensor

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "Splits", "random_split",
           "as_array"]


class Dataset:
    """Map-style dataset: ``len(ds)`` examples, ``ds[i]`` the i-th one (torch's base class).

    Subclass it and define ``__getitem__`` and ``__len__``; any object with
    those two methods works with the ``DataLoader`` too (duck typing).
    ``ds1 + ds2`` is a :class:`ConcatDataset`.
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define __getitem__")

    def __add__(self, other: Any) -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """Stream-style dataset: define ``__iter__``; the ``DataLoader`` batches what it yields, in that order.

    There are no indices, so the loader's ``shuffle``, ``sampler`` and
    ``batch_sampler`` do not apply to it (torch raises for them too).
    """

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} does not define __iter__")

    def __add__(self, other: Any) -> Any:
        raise TypeError("IterableDataset: use itertools.chain to join streams (ConcatDataset needs indices)")


def as_array(x: Any) -> np.ndarray:
    """An ndarray view of ``x`` (a thalweg tensor, a torch tensor or array-like)."""
    if isinstance(x, Tensor):
        return x.array
    if hasattr(x, "detach") and hasattr(x, "numpy"):  # a torch tensor
        return x.detach().cpu().numpy()
    return np.asarray(x)


class TensorDataset(Dataset):
    """Examples stored as aligned arrays: ``TensorDataset(X, y)``.

    Every field must have the same first dimension.  ``ds[i]`` returns a tuple
    of tensors, one per field; ``ds.__getitems__(idx)`` returns a batch.  The
    arrays are kept as given (no copy), so a ``uint8`` image array stays small.
    ``num_classes`` may be given for classification data (the loop uses it to
    check the model's output size); otherwise it is left as ``None``.
    """

    def __init__(self, *tensors: Any, num_classes: int | None = None) -> None:
        if not tensors:
            raise ValueError("TensorDataset: needs at least one array")
        arrays = [as_array(t) for t in tensors]
        n = arrays[0].shape[0] if arrays[0].ndim else None
        for i, a in enumerate(arrays):
            if a.ndim == 0 or a.shape[0] != n:
                shapes = ", ".join(str(b.shape) for b in arrays)
                raise ValueError(f"TensorDataset: every array needs the same first dimension, got shapes {shapes}")
        self.tensors: tuple[np.ndarray, ...] = tuple(arrays)
        self.num_classes = num_classes

    def __len__(self) -> int:
        return int(self.tensors[0].shape[0])

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(Tensor(np.asarray(a[index])) for a in self.tensors)

    def __getitems__(self, indices: np.ndarray) -> tuple[Tensor, ...]:
        """A batch: one fancy-indexing copy per field."""
        return tuple(Tensor(a[indices]) for a in self.tensors)

    def arrays(self, indices: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """The underlying arrays (all of them, or the rows ``indices``)."""
        return self.tensors if indices is None else tuple(a[indices] for a in self.tensors)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{a.dtype}{list(a.shape)}" for a in self.tensors)
        return f"TensorDataset({shapes})"


class Subset(Dataset):
    """The examples of ``dataset`` at positions ``indices``, in that order."""

    def __init__(self, dataset: Any, indices: Sequence[int] | np.ndarray) -> None:
        idx = np.asarray(indices, dtype=np.int64)
        if idx.ndim != 1:
            raise ValueError(f"Subset: indices must be one-dimensional, got shape {idx.shape}")
        n = len(dataset)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"Subset: indices out of range for a dataset of {n} examples")
        self.dataset = dataset
        self.indices = idx
        self.num_classes = getattr(dataset, "num_classes", None)

    def __len__(self) -> int:
        return int(self.indices.size)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def __getitems__(self, indices: np.ndarray) -> Any:
        inner = self.indices[np.asarray(indices)]
        if hasattr(self.dataset, "__getitems__"):
            return self.dataset.__getitems__(inner)
        return [self.dataset[int(i)] for i in inner]

    def arrays(self, indices: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        inner = self.indices if indices is None else self.indices[np.asarray(indices)]
        return self.dataset.arrays(inner)

    def __repr__(self) -> str:
        return f"Subset({len(self)} of {self.dataset!r})"


class ConcatDataset(Dataset):
    """Several datasets one after the other."""

    def __init__(self, datasets: Sequence[Any]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: needs at least one dataset")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative = np.cumsum([len(d) for d in self.datasets])
        self.cumulative_sizes = [int(c) for c in self.cumulative]  # torch's name
        self.num_classes = getattr(self.datasets[0], "num_classes", None)

    def __len__(self) -> int:
        return int(self.cumulative[-1])

    def __getitem__(self, index: int) -> Any:
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"ConcatDataset: index {index} out of range for {n} examples")
        d = int(np.searchsorted(self.cumulative, index, side="right"))
        start = 0 if d == 0 else int(self.cumulative[d - 1])
        return self.datasets[d][index - start]


class Splits(NamedTuple):
    """The lecture's three sets: train (fit the parameters), dev (monitor, select), test (report once)."""

    train: Any
    dev: Any
    test: Any


def _generator(seed: int | None, generator: Any) -> np.random.Generator:
    from .sampler import numpy_generator

    if generator is not None and seed is not None:
        raise ValueError("give either seed= or generator=, not both")
    if seed is not None:
        return np.random.default_rng(seed)
    return _random.get_generator(numpy_generator(generator))


def random_split(dataset: Any, lengths: Sequence[int | float], generator: Any = None, *,
                 seed: int | None = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random subsets of the given sizes.

    ``lengths`` are counts that sum to ``len(dataset)`` or fractions that sum to
    1 (each subset gets ``floor(n * fraction)``; the remainder goes one by one
    to the first subsets, as in torch).  The permutation comes from
    ``generator`` (or ``seed``, or the default generator), so the same seed
    gives the same split.
    """
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths is empty")
    total = float(sum(lengths))
    if math.isclose(total, 1.0) and total <= 1.0:
        for i, frac in enumerate(lengths):
            if not 0.0 <= frac <= 1.0:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1")
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
    else:
        counts = [int(v) for v in lengths]
        if any(c < 0 for c in counts) or sum(counts) != n or any(int(v) != v for v in lengths):
            raise ValueError(
                f"random_split: lengths {lengths} must be non-negative integers summing to the dataset size {n} "
                "(or fractions summing to 1)")
    perm = _generator(seed, generator).permutation(n)
    out, start = [], 0
    for c in counts:
        out.append(Subset(dataset, perm[start:start + c]))
        start += c
    return out


def iter_dataset(dataset: Any) -> Iterator[Any]:
    """Iterate over a map-style dataset example by example."""
    for i in range(len(dataset)):
        yield dataset[i]
