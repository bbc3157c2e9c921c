"""``thalweg.nn.parallel``: data-parallel training over processes (``DistributedDataParallel``)."""

from .distributed import DistributedDataParallel

DDP = DistributedDataParallel

__all__ = ["DDP", "DistributedDataParallel"]
