"""``thalweg.distributed``: process groups and collectives over MPI (torch.distributed's names).

::

    import thalweg.distributed as dist
    dist.init_process_group(backend="mpi")        # rank and size from the MPI launcher
    rank, world = dist.get_rank(), dist.get_world_size()
    dist.all_reduce(t, op=dist.ReduceOp.AVG)       # in place on t's buffer, no pickling

Run with ``mpiexec -n 4 python script.py`` (``pip install 'thalweg[mpi]'``
brings mpi4py and MPICH), or ``backend="self"`` for one process without MPI.
``DistributedDataParallel`` is in ``thalweg.nn.parallel``; the sampler that
shards a dataset is ``thalweg.data.DistributedSampler``.  Importing this
package never imports MPI; ``init_process_group("mpi")`` does.
"""

from .backends import MPI_MISSING, ReduceOp, Request
from .collectives import all_gather, all_gather_into_tensor, all_reduce, barrier, broadcast, reduce
from .process_group import (abort, destroy_process_group, get_backend, get_rank, get_world_size,
                            init_process_group, install_abort_on_error, is_available, is_initialized,
                            is_mpi_available, launched_rank, launched_world_size)

__all__ = ["MPI_MISSING", "ReduceOp", "Request", "abort", "all_gather", "all_gather_into_tensor", "all_reduce",
           "barrier", "broadcast", "destroy_process_group", "get_backend", "get_rank", "get_world_size",
           "init_process_group", "install_abort_on_error", "is_available", "is_initialized", "is_mpi_available",
           "launched_rank", "launched_world_size", "reduce"]
