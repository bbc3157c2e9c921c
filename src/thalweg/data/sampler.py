"""Samplers: which examples a ``DataLoader`` visits, in which order, in which batches.

torch's names, arguments, errors and semantics:

* :class:`SequentialSampler` -- ``0, 1, ..., n - 1``;
* :class:`RandomSampler` -- a fresh permutation each pass (sampling *without*
  replacement, every example once per epoch), or ``num_samples`` independent
  uniform draws with ``replacement=True``;
* :class:`SubsetRandomSampler` -- a permutation of given indices;
* :class:`WeightedRandomSampler` -- draws proportional to ``weights``;
* :class:`BatchSampler` -- groups another sampler's indices into lists.

Randomness: each random sampler draws from its ``generator=`` (a
``numpy.random.Generator``, or a ``tw.Generator``), or, when none is given,
from a generator seeded afresh from the run's default generator at every pass,
as torch does, so ``tw.manual_seed`` fixes the order.  The index *sequences*
differ from torch's for the same seed (different generators); their
distribution and lengths are the same.
"""

from __future__ import annotations

from typing import Any, Generic, Iterable, Iterator, Sequence, Sized, TypeVar

import numpy as np

from .. import random as _random

__all__ = ["BatchSampler", "RandomSampler", "Sampler", "SequentialSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "numpy_generator"]

T_co = TypeVar("T_co", covariant=True)


def numpy_generator(generator: Any) -> np.random.Generator | None:
    """The ``numpy.random.Generator`` behind ``generator`` (None stays None).

    Accepts a NumPy generator itself or a wrapper that exposes one (a
    ``tw.Generator``), so torch-style ``generator=`` arguments work.
    """
    if generator is None or isinstance(generator, np.random.Generator):
        return generator
    for name in ("numpy_generator", "generator", "rng", "_rng", "_generator", "_gen"):
        inner = getattr(generator, name, None)
        if callable(inner) and not isinstance(inner, np.random.Generator):
            try:
                inner = inner()
            except TypeError:
                continue
        if isinstance(inner, np.random.Generator):
            return inner
    raise TypeError(f"generator must be a numpy.random.Generator or a tw.Generator, got {type(generator).__name__}")


def _fresh_generator(generator: Any) -> np.random.Generator:
    """The given generator, or one seeded from the default generator (torch's per-pass seed)."""
    gen = numpy_generator(generator)
    if gen is not None:
        return gen
    return np.random.default_rng(int(_random.default_generator().integers(2**63)))


class Sampler(Generic[T_co]):
    """Base class: an iterable over dataset indices (or lists of indices), optionally with ``__len__``."""

    def __init__(self, data_source: Sized | None = None) -> None:
        pass  # torch keeps the argument only for backward compatibility

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"{type(self).__name__} does not define __iter__")


class SequentialSampler(Sampler[int]):
    """Indices ``0 .. len(data_source) - 1`` in order (the loader's default when ``shuffle=False``)."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def _index_array(self) -> np.ndarray:
        """This pass's indices as one array (the loader batches them without a Python loop)."""
        return np.arange(len(self.data_source), dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


def _check_bool(name: str, value: Any, error: type[Exception] = TypeError) -> bool:
    if not isinstance(value, bool):
        raise error(f"{name} should be a boolean value, but got {name}={value}")
    return value


def _check_positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} should be a positive integer value, but got {name}={value}")
    return int(value)


class RandomSampler(Sampler[int]):
    """Random indices: a permutation per pass, or ``num_samples`` draws with ``replacement=True``.

    Without replacement and ``num_samples > len(data_source)``, whole
    permutations follow one another and the last is cut (torch's rule), so
    every example appears ``num_samples // n`` or one more times.
    """

    def __init__(self, data_source: Sized, replacement: bool = False, num_samples: int | None = None,
                 generator: Any = None) -> None:
        self.data_source = data_source
        self.replacement = _check_bool("replacement", replacement)
        self._num_samples = num_samples
        self.generator = generator
        numpy_generator(generator)  # type check now, not at the first pass
        _check_positive("num_samples", self.num_samples)

    @property
    def num_samples(self) -> int:
        """How many indices one pass yields (``len(data_source)`` unless given)."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _index_array(self) -> np.ndarray:
        """This pass's indices as one array (draws from the generator)."""
        n, k = len(self.data_source), self.num_samples
        gen = _fresh_generator(self.generator)
        if self.replacement:
            return gen.integers(0, n, size=k, dtype=np.int64)
        parts = [gen.permutation(n) for _ in range(k // n)]
        if k % n:
            parts.append(gen.permutation(n)[:k % n])
        return np.concatenate(parts).astype(np.int64, copy=False) if parts else np.zeros(0, np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self._index_array().tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """The given ``indices`` in a random order, a new one each pass (without replacement)."""

    def __init__(self, indices: Sequence[int], generator: Any = None) -> None:
        self.indices = indices
        self.generator = generator
        numpy_generator(generator)

    def _index_array(self) -> np.ndarray:
        """This pass's indices as one array."""
        perm = _fresh_generator(self.generator).permutation(len(self.indices))
        return np.asarray(self.indices, dtype=np.int64)[perm] if len(self.indices) else np.zeros(0, np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self._index_array().tolist())

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler[int]):
    """``num_samples`` indices drawn with probability ``weights[i] / sum(weights)``.

    ``replacement=True`` (the default) draws independently; ``False`` draws
    distinct indices, so ``num_samples`` may not exceed the number of positive
    weights.  The weights need not sum to one (they are relative), as in torch.
    """

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator: Any = None) -> None:
        self.num_samples = _check_positive("num_samples", num_samples)
        self.replacement = _check_bool("replacement", replacement, ValueError)
        w = np.asarray(getattr(weights, "array", weights), dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape {tuple(w.shape)}")
        if w.size == 0 or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must be finite, non-negative and not all zero")
        if not replacement and self.num_samples > int(np.count_nonzero(w)):
            raise ValueError(f"WeightedRandomSampler: cannot draw {self.num_samples} distinct indices without "
                             f"replacement from {int(np.count_nonzero(w))} positive weights")
        self.weights = w
        self.generator = generator
        numpy_generator(generator)

    def _index_array(self) -> np.ndarray:
        """This pass's indices as one array."""
        gen = _fresh_generator(self.generator)
        p = self.weights / self.weights.sum()
        return gen.choice(self.weights.size, size=self.num_samples, replace=self.replacement, p=p).astype(np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self._index_array().tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler[list[int]]):
    """Group the indices of ``sampler`` into lists of ``batch_size`` (the last shorter unless ``drop_last``)."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        self.batch_size = _check_positive("batch_size", batch_size)
        self.drop_last = _check_bool("drop_last", drop_last, ValueError)
        self.sampler = sampler

    def batches(self) -> "Sequence[np.ndarray]":
        """This pass's batches as index arrays (one array per pass for the samplers above, no Python loop).

        A ``RandomSampler`` with replacement and a huge ``num_samples`` (scripts pass ``int(1e10)`` for an
        endless stream) is drawn batch by batch instead of as one array.
        """
        s = self.sampler
        if type(s) is RandomSampler and s.replacement and s.num_samples > _MATERIALISE_AT_MOST:
            return _StreamedBatches(s, self.batch_size, self.drop_last)
        if getattr(type(self.sampler), "__iter__", None) in _VECTORISED:
            order = self.sampler._index_array()  # type: ignore[attr-defined]
        else:
            order = np.fromiter((int(i) for i in self.sampler), dtype=np.int64)
        bs, n = self.batch_size, order.size
        stop = (n // bs) * bs if self.drop_last else n
        return [order[i:i + bs] for i in range(0, stop, bs)]

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.batches():
            yield batch.tolist()

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


_MATERIALISE_AT_MOST = 2**24  # indices per pass drawn as one array; longer streams are drawn batch by batch


class _StreamedBatches(Sequence):
    """The batches of a very long ``RandomSampler(replacement=True)`` pass, drawn as they are read (in order)."""

    def __init__(self, sampler: RandomSampler, batch_size: int, drop_last: bool) -> None:
        self._n = len(sampler.data_source)
        self._gen = _fresh_generator(sampler.generator)
        total, self._bs = sampler.num_samples, batch_size
        self._len = total // batch_size if drop_last else -(-total // batch_size)
        self._last = batch_size if drop_last or total % batch_size == 0 else total % batch_size
        self._next = 0

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, i: int) -> np.ndarray:  # type: ignore[override]
        if i != self._next:
            raise IndexError(f"a streamed sampler pass is read in order: asked for batch {i}, next is {self._next}")
        if not 0 <= i < self._len:
            raise IndexError(f"batch {i} out of range for {self._len} batches")
        self._next += 1
        size = self._last if i == self._len - 1 else self._bs
        return self._gen.integers(0, self._n, size=size, dtype=np.int64)


# samplers whose pass is one array (a subclass that overrides __iter__ is iterated instead)
_VECTORISED = {SequentialSampler.__iter__, RandomSampler.__iter__, SubsetRandomSampler.__iter__,
               WeightedRandomSampler.__iter__}
