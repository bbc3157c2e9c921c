"""Datasets: the ``Dataset`` protocol, ``TensorDataset``, ``Subset``, ``random_split``.

A dataset is anything with ``__len__`` and ``__getitem__(i)`` returning one
example (PyTorch's map-style protocol).  Datasets held in arrays also offer
``__getitems__(indices)``, which returns a whole batch with one fancy-indexing
operation per field; the ``DataLoader`` uses it, so batching an array dataset
costs a few NumPy calls, not a Python loop over examples.
"""

from __future__ import annotations

from typing import Any, Iterator, NamedTuple, Protocol, Sequence, runtime_checkable

import numpy as np

from .. import random as _random
from ..autograd.tensor import Tensor

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "Splits", "random_split", "as_array"]


@runtime_checkable
class Dataset(Protocol):
    """Map-style dataset: ``len(ds)`` examples, ``ds[i]`` the i-th one."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Any: ...


def as_array(x: Any) -> np.ndarray:
    """An ndarray view of ``x`` (a thalweg tensor, a torch tensor or array-like)."""
    if isinstance(x, Tensor):
        return x.array
    if hasattr(x, "detach") and hasattr(x, "numpy"):  # a torch tensor
        return x.detach().cpu().numpy()
    return np.asarray(x)


class TensorDataset:
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


class Subset:
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


class ConcatDataset:
    """Several datasets one after the other."""

    def __init__(self, datasets: Sequence[Any]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: needs at least one dataset")
        self.cumulative = np.cumsum([len(d) for d in self.datasets])
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


def _generator(seed: int | None, generator: np.random.Generator | None) -> np.random.Generator:
    if generator is not None and seed is not None:
        raise ValueError("give either seed= or generator=, not both")
    if seed is not None:
        return np.random.default_rng(seed)
    return _random.get_generator(generator)


def random_split(dataset: Any, lengths: Sequence[int | float], *, seed: int | None = None,
                 generator: np.random.Generator | None = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random subsets of the given sizes.

    ``lengths`` are counts that sum to ``len(dataset)`` or fractions that sum to
    1 (the remainder of the rounding goes to the first subsets, as in torch).
    The permutation comes from ``seed`` (or ``generator``, or the default
    generator), so the same seed gives the same split.
    """
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths is empty")
    if all(isinstance(v, float) for v in lengths) and abs(sum(lengths) - 1.0) < 1e-6:
        if any(v < 0 for v in lengths):
            raise ValueError(f"random_split: fractions must be non-negative, got {lengths}")
        counts = [int(np.floor(n * f)) for f in lengths]
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
