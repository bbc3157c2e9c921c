"""The training loop under data parallelism: what changes when ``fit`` runs on several processes.

Started by an MPI launcher (``mpiexec -n 4 python script.py``, ``mpiexec -n 4
thalweg train ...`` or ``thalweg train --nproc 4``), the same ``fit`` call
becomes a data-parallel run; with one process nothing here does anything.

* The process group is joined (``init_process_group("mpi")``) if the script
  has not done it, and the model is wrapped in ``DistributedDataParallel``
  for the training forward (unless it already is); evaluation uses the plain
  model, whose weights are the same on every rank.
* ``batch_size`` stays the *global* batch: each step, every rank draws the same
  permutation (same seed) and takes every ``p``-th example of the step's batch,
  so with ``batch_size`` divisible by ``p`` the run follows the single-process
  trajectory (to rounding) and a checkpoint resumes on any number of processes.
  A final batch smaller than ``p`` is padded by repeating its examples.
* The loss of each step is averaged over ranks (one tiny all-reduce, so all
  ranks agree on a divergence and stop together), and the epoch's figures are
  example-weighted means over all ranks.
* Only rank 0 prints, shows progress, writes the run record and checkpoints;
  every rank can read them to resume.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from ..distributed import process_group as _pg
from ..distributed.backends import ReduceOp

__all__ = ["setup", "is_main", "world_size", "train_model", "global_loss", "epoch_means", "ShardedLoader"]


def world_size() -> int:
    """Processes in the run: the group's size, else the launcher's (1 outside MPI)."""
    return _pg.get_world_size() if _pg.is_initialized() else _pg.launched_world_size()


def is_main() -> bool:
    """True on the process that prints and writes files (rank 0, or the only one)."""
    return (_pg.get_rank() if _pg.is_initialized() else _pg.launched_rank()) == 0


def setup(trainer: Any) -> None:
    """Prepare ``trainer`` (after its loaders exist) for a data-parallel run; a no-op on one process."""
    if not _pg.is_initialized() and _pg.launched_world_size() > 1:
        _pg.init_process_group("mpi")
    if world_size() <= 1:
        return
    from ..nn.parallel import DistributedDataParallel

    if not is_main():
        trainer.verbose = False
        trainer.progress = False
    trainer.config = {**(trainer.config or {}), "world_size": world_size()}  # recorded in the run's config
    model = trainer.model
    if not isinstance(model, DistributedDataParallel):
        ddp = trainer.__dict__.get("_ddp")
        if ddp is None or ddp.module is not model:
            trainer._ddp = DistributedDataParallel(model)
    from ..data.distributed import DistributedSampler

    if isinstance(getattr(trainer.train_loader, "sampler", None), DistributedSampler):
        return  # the script shards its data itself (torch's way): its batch size is per process
    if getattr(trainer.train_loader, "_iterable", False) or not hasattr(trainer.train_loader, "_fetch"):
        raise ValueError("fit on several processes needs a map-style dataset (one with __getitem__ and __len__); "
                         "shard an IterableDataset yourself by rank")
    if not isinstance(trainer.train_loader, ShardedLoader):
        trainer.train_loader = ShardedLoader(trainer.train_loader, _pg.get_rank(), _pg.get_world_size())


def train_model(trainer: Any) -> Any:
    """The model the training forward goes through: the DDP wrapper in a data-parallel run."""
    return trainer.__dict__.get("_ddp") or trainer.model


def global_loss(value: float, n: int) -> float:
    """The step's loss averaged over all ranks' examples (``value`` is this rank's mean over ``n``)."""
    if world_size() <= 1:
        return value
    buf = np.array([value * n, n], dtype=np.float64)
    _pg.default_group().allreduce(buf, ReduceOp.SUM)
    return float(buf[0] / buf[1])


def epoch_means(means: Any) -> dict[str, float]:
    """A ``RunningMean``'s figures, example-weighted over every rank (its own on one process)."""
    if world_size() <= 1:
        return means.means()
    keys = sorted(means.sums)
    buf = np.array([means.sums[k] for k in keys] + [means.count], dtype=np.float64)
    _pg.default_group().allreduce(buf, ReduceOp.SUM)
    count = buf[-1]
    return {k: (float(buf[i] / count) if count else float("nan")) for i, k in enumerate(keys)}


class ShardedLoader:
    """This rank's part of each batch of a ``DataLoader`` whose order every rank draws alike.

    Batch ``b`` of the global order (indices ``I``) becomes ``I[rank::p]`` here;
    lengths, resumption state and the dataset are the wrapped loader's.
    """

    def __init__(self, loader: Any, rank: int, world: int) -> None:
        self.loader, self.rank, self.world = loader, int(rank), int(world)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["loader"], name)

    def __len__(self) -> int:
        return len(self.loader)

    def shard(self, idx: np.ndarray) -> np.ndarray:
        """This rank's indices of one global batch (padded cyclically when it has fewer than ``p``)."""
        if len(idx) < self.world:
            idx = np.resize(idx, self.world)
        return idx[self.rank::self.world]

    def __iter__(self) -> Iterator[Any]:
        """The wrapped loader's own iteration (order, position, resumption), fetching only this rank's share."""
        inner = self.loader
        fetch = type(inner)._fetch
        inner._fetch = lambda idx: fetch(inner, self.shard(np.asarray(idx)))  # shadows the method meanwhile
        try:
            yield from inner
        finally:
            inner.__dict__.pop("_fetch", None)

    def state_dict(self) -> dict[str, Any]:
        return self.loader.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.loader.load_state_dict(state)

    def __repr__(self) -> str:
        return f"ShardedLoader({self.loader!r}, rank {self.rank} of {self.world})"
