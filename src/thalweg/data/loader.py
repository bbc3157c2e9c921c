"""``DataLoader``: torch's loader, with vectorised batching and an exact, resumable order.

Arguments, defaults and errors are torch's: ``shuffle=False`` by default
(pass ``shuffle=True`` for a training set: a fresh permutation each epoch,
sampling without replacement, so every example is seen once per epoch --
Nagaraj, Jain and Netrapalli, "SGD without Replacement", ICML 2019), or give
a ``sampler=`` (which indices, in which order) or a ``batch_sampler=``
(which batches); ``collate_fn`` turns a list of examples into a batch
(:func:`default_collate` by default).

Reproducibility: the shuffling order comes from the loader's own ``numpy``
generator, built from ``seed=`` (thalweg's extra keyword) or taken from
``generator=``, or seeded from the run's default generator when neither is
given, so ``tw.manual_seed`` fixes it.  ``state_dict()`` captures that
generator, the current epoch's batches and how many of them were consumed;
``load_state_dict`` makes the next iteration continue exactly there, which is
what a bit-for-bit resume needs.

Batching: when the dataset offers ``__getitems__(indices)`` (``TensorDataset``
and ``Subset`` of it do), a batch is one fancy-indexing operation per field.
Otherwise examples are fetched one by one and stacked by ``collate_fn``.

Workers: batches are built in the calling process.  ``num_workers > 0`` is
accepted so torch scripts run unchanged; it warns once and loads in-process
(``worker_init_fn(0)`` is called at the start of each pass).
"""

from __future__ import annotations

import collections.abc
import warnings
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from .. import random as _random
from ..autograd.tensor import Tensor
from .dataset import IterableDataset, as_array
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, numpy_generator

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]

_WORKERS_WARNED = [False]


def get_worker_info() -> None:
    """Always ``None``: batches are built in the calling process (torch returns ``None`` there too)."""
    return None


def default_collate(batch: list[Any]) -> Any:
    """Stack a list of examples into a batch, field by field, as torch's ``default_collate``.

    Tensors and arrays are stacked into one tensor; Python floats become a
    float64 tensor, ints an int64 tensor, bools a bool tensor; strings stay a
    list; dicts are collated per key, namedtuples per field, and tuples and
    lists become a *list* of collated fields (torch's rule).
    """
    if not batch:
        raise ValueError("default_collate: the batch is empty")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return Tensor(np.stack([t.array for t in batch]))
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "OSUV":
            raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                            f"found an array of dtype {elem.dtype}")
        return Tensor(np.stack(batch))
    if isinstance(elem, np.generic):
        return Tensor(np.asarray(batch))
    if hasattr(elem, "detach") and hasattr(elem, "numpy"):  # a torch tensor
        return Tensor(np.stack([as_array(t) for t in batch]))
    if isinstance(elem, bool):
        return Tensor(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, float):
        return Tensor(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, int):
        return Tensor(np.asarray(batch, dtype=np.int64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(collated)  # type: ignore[call-arg]
        except TypeError:
            return collated
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(samples)) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(e) != len(elem) for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(samples)) for samples in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                    f"found {type(elem)}")


def default_convert(data: Any) -> Any:
    """Arrays to tensors, recursively through dicts, tuples and lists (torch's ``default_convert``).

    The loader applies it to each example when automatic batching is off
    (``batch_size=None``).
    """
    if isinstance(data, np.ndarray) and data.dtype.kind not in "OSUV":
        return Tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return type(data)({k: default_convert(v) for k, v in data.items()}) if isinstance(data, dict) else \
            {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, list):
        return [default_convert(d) for d in data]
    return data


class DataLoader:
    """Iterate over ``dataset`` in minibatches (torch's ``DataLoader``).

    ``DataLoader(dataset, batch_size=1, shuffle=False, sampler=None,
    batch_sampler=None, num_workers=0, collate_fn=None, pin_memory=False,
    drop_last=False, timeout=0, worker_init_fn=None, generator=None, *,
    prefetch_factor=None, persistent_workers=False, seed=None)``.

    * ``shuffle=True``: a new permutation of all examples each epoch (a
      :class:`RandomSampler` over the loader's generator);
    * ``sampler`` / ``batch_sampler``: your own order or batches (mutually
      exclusive with ``shuffle``, and ``batch_sampler`` with ``batch_size``,
      ``sampler`` and ``drop_last``, exactly as torch);
    * ``batch_size=None`` turns automatic batching off: one example at a time;
    * ``drop_last=True`` skips the final incomplete batch;
    * ``pin_memory``, ``timeout``, ``prefetch_factor``, ``persistent_workers``
      are checked as torch checks them and otherwise have no effect on the CPU.
    """

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler[Any] | Iterable[Any] | None = None,
                 batch_sampler: Sampler[Any] | Iterable[Any] | None = None, num_workers: int = 0,
                 collate_fn: Callable[[list[Any]], Any] | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context: Any = None, generator: Any = None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "", in_order: bool = True,
                 seed: int | None = None) -> None:
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing.let num_workers > 0 "
                             "to enable multiprocessing, otherwise set prefetch_factor to None.")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                       or batch_size <= 0):
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if generator is not None and seed is not None:
            raise ValueError("DataLoader: give either seed= or generator=, not both")
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, "
                                 f"but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, "
                                 f"but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified batch_sampler option, "
                                 f"but got batch_sampler={batch_sampler}")
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                             "drop_last")

        if generator is None:
            seed = int(_random.default_generator().integers(2**63)) if seed is None else int(seed)
            generator = np.random.default_rng(seed)
        numpy_generator(generator)  # a NumPy generator or a tw.Generator (resolved at each pass: manual_seed works)
        self.generator = generator
        self.dataset = dataset
        self.num_workers = int(num_workers)
        self.prefetch_factor = prefetch_factor
        self.pin_memory = bool(pin_memory)
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.persistent_workers = bool(persistent_workers)
        self.in_order = in_order
        self.shuffle = shuffle
        self.batch_size = None if batch_size is None else int(batch_size)
        self.drop_last = bool(drop_last)
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        self.sampler = sampler
        if batch_sampler is None and self.batch_size is not None and not self._iterable:
            batch_sampler = BatchSampler(sampler, self.batch_size, self.drop_last)  # type: ignore[arg-type]
        self.batch_sampler = batch_sampler
        self._auto_collation = batch_sampler is not None or (self._iterable and self.batch_size is not None)
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if self._auto_collation else default_convert)
        self._user_collate = collate_fn is not None
        self.epoch = 0                                # completed passes over the data
        self._batches: list[np.ndarray] | None = None  # the batches of the epoch in progress
        self._pos = 0                                 # batches of it already handed out
        self._resume = False                          # load_state_dict set a position to continue from

    # ----------------------------------------------------------------- sizes
    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)  # type: ignore[arg-type]
        return len(self.sampler)  # type: ignore[arg-type]

    @property
    def num_examples(self) -> int:
        """Examples per epoch (fewer than ``len(dataset)`` when ``drop_last`` drops a tail)."""
        if isinstance(self.batch_sampler, BatchSampler) and self.batch_sampler.drop_last:
            return len(self.batch_sampler) * self.batch_sampler.batch_size
        if isinstance(self.batch_sampler, BatchSampler):
            return len(self.batch_sampler.sampler)  # type: ignore[arg-type]
        return len(self.dataset)

    # ------------------------------------------------------------- iteration
    def _epoch_batches(self) -> list[np.ndarray]:
        if self.batch_sampler is None:  # no automatic batching: one index per "batch"
            return [np.asarray([int(i)], dtype=np.int64) for i in self.sampler]  # type: ignore[union-attr]
        if isinstance(self.batch_sampler, BatchSampler):
            return self.batch_sampler.batches()
        return [np.asarray([int(i) for i in b], dtype=np.int64) for b in self.batch_sampler]

    def _fetch(self, idx: np.ndarray) -> Any:
        if self.batch_sampler is None:
            return self.collate_fn(self.dataset[int(idx[0])])
        if hasattr(self.dataset, "__getitems__"):
            batch = self.dataset.__getitems__(idx)
            if not isinstance(batch, list):  # already a batch (TensorDataset): one indexing per field
                if self._user_collate:
                    return self.collate_fn(list(zip(*batch)))
                return list(batch) if isinstance(batch, tuple) and not hasattr(batch, "_fields") else batch
            samples = batch  # torch's convention: a list of examples, still to collate
        else:
            samples = [self.dataset[int(i)] for i in idx]
        return self.collate_fn(samples)

    def _start_workers(self) -> None:
        if self.num_workers > 0:
            if not _WORKERS_WARNED[0]:
                _WORKERS_WARNED[0] = True
                warnings.warn(f"DataLoader: num_workers={self.num_workers} runs in-process (thalweg builds "
                              "batches in the calling process with vectorised indexing)", stacklevel=3)
            if self.worker_init_fn is not None:
                self.worker_init_fn(0)

    def _iter_stream(self) -> Iterator[Any]:
        if self.batch_size is None:
            for example in self.dataset:
                yield self.collate_fn(example)
        else:
            buf: list[Any] = []
            for example in self.dataset:
                buf.append(example)
                if len(buf) == self.batch_size:
                    yield self.collate_fn(buf)
                    buf = []
            if buf and not self.drop_last:
                yield self.collate_fn(buf)
        self.epoch += 1

    def __iter__(self) -> Iterator[Any]:
        self._start_workers()
        if self._iterable:
            return self._iter_stream()
        return self._iter_map()

    def _iter_map(self) -> Iterator[Any]:
        if not (self._resume and self._batches is not None):
            self._batches = self._epoch_batches()
            self._pos = 0
        self._resume = False
        batches = self._batches
        while self._pos < len(batches):
            i = self._pos
            self._pos += 1
            yield self._fetch(batches[i])
        self._batches = None
        self._pos = 0
        self.epoch += 1

    # ------------------------------------------------------------ resumption
    def _numpy_generator(self) -> np.random.Generator:
        gen = numpy_generator(self.generator)
        assert gen is not None
        return gen

    def state_dict(self) -> dict[str, Any]:
        """Generator state, epoch count and the position in the epoch in progress (plain data)."""
        batches = self._batches
        if batches is not None and not isinstance(batches, list):
            raise RuntimeError(f"DataLoader.state_dict: the position inside a streamed pass of {len(batches)} "
                               "batches (a RandomSampler with replacement and a huge num_samples) cannot be saved; "
                               "save between passes")
        return {
            "generator": self._numpy_generator().bit_generator.state,
            "epoch": self.epoch,
            "perm": None if batches is None else (np.concatenate(batches) if batches else np.zeros(0, np.int64)),
            "sizes": None if batches is None else np.asarray([b.size for b in batches], dtype=np.int64),
            "pos": self._pos,
            "batch_size": self.batch_size,
            "num_examples": len(self.dataset),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a ``state_dict()``: the next iteration resumes mid-epoch if it was saved mid-epoch."""
        n = len(self.dataset)
        saved_bs = state.get("batch_size", self.batch_size)
        if int(state.get("num_examples", n)) != n or saved_bs != self.batch_size:
            raise ValueError(
                f"DataLoader.load_state_dict: saved for {state.get('num_examples')} examples in batches of "
                f"{saved_bs}, but this loader has {n} examples in batches of {self.batch_size}")
        self._numpy_generator().bit_generator.state = state["generator"]
        self.epoch = int(state["epoch"])
        perm = state.get("perm")
        if perm is None:
            self._batches = None
        else:
            perm = np.asarray(perm, dtype=np.int64)
            sizes = state.get("sizes")
            if sizes is None:  # saved before batch sizes were recorded: fixed-size batches
                bs = self.batch_size or 1
                sizes = [min(bs, perm.size - s) for s in range(0, perm.size, bs)]
            bounds = np.cumsum([0, *[int(s) for s in sizes]])
            if bounds[-1] != perm.size or perm.size and (perm.min() < 0 or perm.max() >= n):
                raise ValueError("DataLoader.load_state_dict: the saved order does not fit this dataset")
            self._batches = [perm[bounds[i]:bounds[i + 1]] for i in range(len(bounds) - 1)]
        self._pos = int(state.get("pos", 0))
        self._resume = self._batches is not None

    def __repr__(self) -> str:
        n = len(self.dataset) if hasattr(self.dataset, "__len__") else "?"
        return (f"DataLoader({n} examples, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last})")
