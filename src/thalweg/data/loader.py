"""``DataLoader``: minibatches sampled *without replacement*, a fresh order each epoch.

The lecture's loop shuffles the training set and walks through the new order:
every example is seen exactly once per epoch, which works better in practice
than drawing examples independently with replacement and has better
convergence guarantees (Nagaraj, Jain and Netrapalli, "SGD without
Replacement: Sharper Rates for General Smooth Convex Functions", ICML 2019).

Reproducibility: the order comes from the loader's own ``numpy`` generator,
built from ``seed=`` (or taken from ``generator=``, or drawn from the run's
default generator when neither is given, so ``tw.manual_seed`` fixes it).
``state_dict()`` captures that generator, the current epoch's permutation and
how many batches of it were consumed; ``load_state_dict`` makes the next
iteration continue exactly there, which is what a bit-for-bit resume needs.

Batching: when the dataset offers ``__getitems__(indices)`` (``TensorDataset``
and ``Subset`` of it do), a batch is one fancy-indexing operation per field.
Otherwise examples are fetched one by one and stacked by ``default_collate``.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np

from .. import random as _random
from ..autograd.tensor import Tensor
from .dataset import as_array

__all__ = ["DataLoader", "default_collate"]


def default_collate(samples: list[Any]) -> Any:
    """Stack a list of examples into a batch, field by field (tuples, dicts or arrays)."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        return tuple(default_collate([s[i] for s in samples]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    return Tensor(np.stack([as_array(s) for s in samples]))


class DataLoader:
    """Iterate over ``dataset`` in minibatches.

    ``DataLoader(dataset, batch_size=1, shuffle=True, drop_last=False, *,
    generator=None, seed=None, collate_fn=None)``.

    * ``shuffle=True`` draws a new permutation of all examples at the start of
      each epoch (sampling without replacement); ``shuffle=False`` keeps the
      dataset order (use it for dev and test sets).
    * ``drop_last=True`` skips the final incomplete batch, so every batch has
      exactly ``batch_size`` examples.
    * ``num_workers``/``pin_memory``/``persistent_workers`` are accepted for
      compatibility with PyTorch scripts and ignored: batches are built in the
      calling thread, with vectorised indexing.
    """

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = True, drop_last: bool = False, *,
                 generator: np.random.Generator | None = None, seed: int | None = None,
                 collate_fn: Callable[[list[Any]], Any] | None = None, num_workers: int = 0,
                 pin_memory: bool = False, persistent_workers: bool = False) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if generator is not None and seed is not None:
            raise ValueError("DataLoader: give either seed= or generator=, not both")
        if num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be >= 0, got {num_workers}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        if generator is None:
            seed = int(_random.default_generator().integers(2**63)) if seed is None else int(seed)
            generator = np.random.default_rng(seed)
        self.generator = generator
        self.epoch = 0                       # completed passes over the data
        self._perm: np.ndarray | None = None  # the order of the epoch in progress
        self._pos = 0                        # batches of it already handed out
        self._resume = False                 # load_state_dict set a position to continue from

    # ----------------------------------------------------------------- sizes
    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    @property
    def num_examples(self) -> int:
        """Examples per epoch (fewer than ``len(dataset)`` when ``drop_last`` drops a tail)."""
        n = len(self.dataset)
        return (n // self.batch_size) * self.batch_size if self.drop_last else n

    # ------------------------------------------------------------- iteration
    def _order(self) -> np.ndarray:
        n = len(self.dataset)
        return self.generator.permutation(n) if self.shuffle else np.arange(n)

    def _fetch(self, idx: np.ndarray) -> Any:
        if hasattr(self.dataset, "__getitems__"):
            batch = self.dataset.__getitems__(idx)
            if not isinstance(batch, list):  # already a batch (TensorDataset): one indexing per field
                return batch if self.collate_fn is None else self.collate_fn(list(zip(*batch)))
            samples = batch  # torch's convention: a list of examples, still to collate
        else:
            samples = [self.dataset[int(i)] for i in idx]
        return (self.collate_fn or default_collate)(samples)

    def __iter__(self) -> Iterator[Any]:
        if not (self._resume and self._perm is not None):
            self._perm = self._order()
            self._pos = 0
        self._resume = False
        perm, bs, nb = self._perm, self.batch_size, len(self)
        while self._pos < nb:
            i = self._pos
            self._pos += 1
            yield self._fetch(perm[i * bs:(i + 1) * bs])
        self._perm = None
        self._pos = 0
        self.epoch += 1

    # ------------------------------------------------------------ resumption
    def state_dict(self) -> dict[str, Any]:
        """Generator state, epoch count and the position in the epoch in progress (plain data)."""
        return {
            "generator": self.generator.bit_generator.state,
            "epoch": self.epoch,
            "perm": None if self._perm is None else self._perm.copy(),
            "pos": self._pos,
            "batch_size": self.batch_size,
            "num_examples": len(self.dataset),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a ``state_dict()``: the next iteration resumes mid-epoch if it was saved mid-epoch."""
        n = len(self.dataset)
        if int(state.get("num_examples", n)) != n or int(state.get("batch_size", self.batch_size)) != self.batch_size:
            raise ValueError(
                f"DataLoader.load_state_dict: saved for {state.get('num_examples')} examples in batches of "
                f"{state.get('batch_size')}, but this loader has {n} examples in batches of {self.batch_size}")
        self.generator.bit_generator.state = state["generator"]
        self.epoch = int(state["epoch"])
        perm = state.get("perm")
        self._perm = None if perm is None else np.asarray(perm, dtype=np.int64)
        self._pos = int(state.get("pos", 0))
        self._resume = self._perm is not None

    def __repr__(self) -> str:
        return (f"DataLoader({len(self.dataset)} examples, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last})")
