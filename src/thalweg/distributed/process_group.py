"""The default process group: which process this is (its *rank*) among how many (the *world size*).

``init_process_group(backend="mpi")`` joins the job that an MPI launcher
started (``mpiexec -n 4 python train.py``, ``srun``): the rank and world size
come from ``MPI.COMM_WORLD``, so no address, port or rendezvous file is needed.
``backend="self"`` makes a group of one process with no MPI at all.  As in
torch, the group is global state; ``destroy_process_group()`` leaves it.

The launcher's environment is also read *without* importing MPI
(``launched_rank()``/``launched_world_size()``), so a program can decide to
print or to join a job before any MPI library is loaded.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from .backends import MPIBackend, SelfBackend, load_mpi

__all__ = ["init_process_group", "destroy_process_group", "is_initialized", "is_available", "is_mpi_available",
           "get_rank", "get_world_size", "get_backend", "launched_rank", "launched_world_size"]

_GROUP: Any = None  # the backend of the default group, once initialized

# What MPI launchers put in each process's environment: MPICH/Hydra (PMI_*), Open MPI (OMPI_*), PMIx,
# Intel MPI (PMI_*, like MPICH) and Slurm's srun (SLURM_*, when started with --mpi).
_RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "MV2_COMM_WORLD_RANK", "SLURM_PROCID")
_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "SLURM_NTASKS")


def _env_int(names: tuple[str, ...], default: int) -> int:
    for name in names:
        value = os.environ.get(name)
        if value is not None and value.strip().isdigit():
            return int(value)
    return default


def launched_rank() -> int:
    """This process's rank as the MPI launcher announced it (0 outside a launcher); imports no MPI."""
    if _GROUP is not None:
        return _GROUP.rank
    return _env_int(_RANK_VARS, 0)


def launched_world_size() -> int:
    """The number of processes the launcher started (1 outside a launcher); imports no MPI."""
    if _GROUP is not None:
        return _GROUP.size
    return _env_int(_SIZE_VARS, 1)


def is_available() -> bool:
    """True: the package is always importable (the MPI backend may still be missing; see ``is_mpi_available``)."""
    return True


def is_mpi_available() -> bool:
    """Whether mpi4py can be imported (without initialising MPI)."""
    import importlib.util

    return importlib.util.find_spec("mpi4py") is not None


def init_process_group(backend: str = "mpi", init_method: str | None = None, world_size: int = -1,
                       rank: int = -1, *, abort_on_error: bool = True, **kwargs: Any) -> None:
    """Join the default process group.

    ``backend="mpi"`` reads rank and size from ``MPI.COMM_WORLD``; ``world_size``
    and ``rank``, if given, must agree with them (MPI decides).  ``"self"`` is a
    group of one.  ``init_method``, ``timeout`` and other torch arguments are
    accepted and unused: the MPI launcher has already connected the processes.

    With ``abort_on_error`` (default) and more than one process, an uncaught
    exception on any rank prints that rank's traceback and calls
    ``MPI.COMM_WORLD.Abort(1)``, so the whole job exits non-zero instead of the
    other ranks waiting forever in their next collective.
    """
    global _GROUP
    if _GROUP is not None:
        raise RuntimeError("trying to initialize the default process group twice")
    name = str(backend).lower()
    if name == "self":
        if world_size not in (-1, 1) or rank not in (-1, 0):
            raise ValueError(f"backend 'self' is a group of one process; got world_size={world_size}, rank={rank}")
        group: Any = SelfBackend()
    elif name == "mpi":
        group = MPIBackend()
        for what, given, actual in (("world_size", world_size, group.size), ("rank", rank, group.rank)):
            if given != -1 and given != actual:
                raise ValueError(f"init_process_group: {what}={given} but MPI says {actual} "
                                 "(the MPI launcher decides the rank and world size)")
    elif name in ("gloo", "nccl"):
        raise ValueError(f"backend {backend!r} is torch's; thalweg runs on MPI: use backend='mpi' "
                         "(or 'self' for one process)")
    else:
        raise ValueError(f"unknown backend {backend!r}: use 'mpi' or 'self'")
    _GROUP = group
    if abort_on_error and group.size > 1:
        install_abort_on_error()


def destroy_process_group(group: Any = None) -> None:
    """Leave the default group (MPI itself is finalized by mpi4py when the process exits)."""
    global _GROUP
    _GROUP = None


def is_initialized() -> bool:
    return _GROUP is not None


def default_group() -> Any:
    """The default group's backend, or torch's error when there is none."""
    if _GROUP is None:
        raise RuntimeError("Default process group has not been initialized, "
                           "please make sure to call init_process_group.")
    return _GROUP


def get_rank(group: Any = None) -> int:
    """This process's rank in ``[0, world_size)``; -1 when no group is initialized (as torch)."""
    return -1 if _GROUP is None else _GROUP.rank


def get_world_size(group: Any = None) -> int:
    """The number of processes in the group; -1 when no group is initialized (as torch)."""
    return -1 if _GROUP is None else _GROUP.size


def get_backend(group: Any = None) -> str:
    return default_group().name


_previous_hook: Any = None
ABORT_GRACE_SECONDS = 0.5  # measured: without it the launcher sometimes dropped the failing rank's traceback


def install_abort_on_error() -> None:
    """Make an uncaught exception on this rank print its traceback, tagged with the rank, then abort the job."""
    global _previous_hook
    if _previous_hook is not None:
        return
    _previous_hook = sys.excepthook

    def hook(exc_type: Any, exc: BaseException, tb: Any) -> None:
        rank = launched_rank()
        sys.stderr.write(f"[rank {rank}] uncaught {exc_type.__name__}; aborting the MPI job\n")
        _previous_hook(exc_type, exc, tb)
        sys.stderr.flush()
        sys.stdout.flush()
        time.sleep(ABORT_GRACE_SECONDS)  # let mpiexec forward the traceback before MPI_Abort kills the job
        abort(1)

    sys.excepthook = hook


def abort(code: int = 1) -> None:
    """End every process of the job now (``MPI_Abort``); a no-op request outside MPI exits this process."""
    if _GROUP is not None:
        _GROUP.abort(code)
    if launched_world_size() > 1:
        try:
            mpi = load_mpi()
        except RuntimeError:  # no MPI to abort through: this process at least ends
            raise SystemExit(code) from None
        mpi.COMM_WORLD.Abort(code)
    raise SystemExit(code)
