"""``DistributedSampler``: each process of a data-parallel job reads its own shard of the dataset.

Exactly torch's ``torch.utils.data.DistributedSampler``, so a ported script
sees the same shards.  With ``n`` examples and ``p`` replicas:

* ``drop_last=False``: each rank gets ``ceil(n / p)`` indices; the list is
  padded to ``p * ceil(n / p)`` by repeating its beginning (so a few examples
  are seen twice per epoch);
* ``drop_last=True``: each rank gets ``floor(n / p)``; the tail is dropped;
* ``shuffle=True``: the order is a permutation drawn from ``seed + epoch``
  (call ``set_epoch(e)`` at the start of every epoch, or every epoch repeats
  the same order), identical on all ranks because they share the seed;
* rank ``r`` takes positions ``r, r + p, r + 2p, ...`` of that list.

So the shards are disjoint (as positions) and together cover every example
of the epoch.  Torch draws its permutation with ``torch.randperm`` on a
generator seeded ``seed + epoch``; thalweg uses NumPy's generator with the same
seed, so the *rule* is torch's but the permutation itself is NumPy's.
"""

from __future__ import annotations

import math
from typing import Any, Iterator

import numpy as np

from .sampler import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler[int]):
    """Indices of this rank's shard of ``dataset`` for the current epoch (see the module docstring).

    ``num_replicas`` and ``rank`` default to the process group's world size and
    rank (or to the MPI launcher's, before ``init_process_group``).
    """

    def __init__(self, dataset: Any, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        from ..distributed import process_group as pg

        if num_replicas is None:
            num_replicas = pg.get_world_size() if pg.is_initialized() else pg.launched_world_size()
        if rank is None:
            rank = pg.get_rank() if pg.is_initialized() else pg.launched_rank()
        if not isinstance(num_replicas, (int, np.integer)) or num_replicas <= 0:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive integer, got {num_replicas!r}")
        if not isinstance(rank, (int, np.integer)) or not 0 <= rank < num_replicas:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.epoch = 0
        self.drop_last = bool(drop_last)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        n = len(dataset)
        if self.drop_last and n % self.num_replicas != 0:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch, as an int64 array."""
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n, dtype=np.int64)
        if not self.drop_last:
            pad = self.total_size - n
            if pad > 0:
                reps = math.ceil(pad / max(n, 1))
                order = np.concatenate([order] + [order] * reps)[:self.total_size] if n else order
        else:
            order = order[:self.total_size]
        return order[self.rank:self.total_size:self.num_replicas].astype(np.int64, copy=False)

    _index_array = indices  # what the loader's BatchSampler reads to batch without a Python loop

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use the permutation of ``seed + epoch`` (call it at the start of each epoch)."""
        self.epoch = int(epoch)

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.seed = int(state["epoch"]), int(state["seed"])

    def __repr__(self) -> str:
        return (f"DistributedSampler({len(self.dataset)} examples, rank {self.rank} of {self.num_replicas}, "
                f"shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last})")
