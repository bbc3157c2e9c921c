"""Starting a data-parallel job: ``thalweg train --nproc N`` runs itself again under ``mpiexec -n N``.

``mpiexec`` is looked for next to the Python interpreter first (where
``pip install mpich`` puts it in a virtual environment), then on ``PATH``
(a system or cluster MPI).  On a cluster, prefer its own launcher directly
(``mpiexec -n 64 thalweg train ...`` or ``srun``); ``--nproc`` is the
one-machine shortcut.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from .backends import MPI_MISSING
from .process_group import abort, launched_rank, launched_world_size

__all__ = ["find_mpiexec", "mpiexec_command", "relaunch", "abort_job_on_error"]


def find_mpiexec() -> str:
    """Path of ``mpiexec``: beside ``sys.executable``, else on ``PATH``; ``RuntimeError`` naming the extra if none."""
    for name in ("mpiexec", "mpirun"):
        beside = Path(sys.executable).parent / name
        if beside.is_file() and os.access(beside, os.X_OK):
            return str(beside)
    for name in ("mpiexec", "mpirun"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError(f"no mpiexec found beside {sys.executable} or on PATH; {MPI_MISSING}")


def mpiexec_command(nproc: int, args: Sequence[str]) -> list[str]:
    """``mpiexec -n N <this python> -m thalweg.cli ARGS``."""
    return [find_mpiexec(), "-n", str(nproc), sys.executable, "-m", "thalweg.cli", *args]


def strip_option(argv: Sequence[str], option: str) -> list[str]:
    """``argv`` without ``option VALUE`` / ``option=VALUE``."""
    out: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
        elif a == option:
            skip = True
        elif not a.startswith(option + "="):
            out.append(a)
    return out


def relaunch(nproc: int, argv: Sequence[str]) -> int:
    """Run the command line ``argv`` (with ``--nproc`` removed) on ``nproc`` MPI processes; its exit status."""
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"--nproc must be a positive integer, got {nproc!r}")
    if launched_world_size() > 1:
        raise ValueError("--nproc inside an MPI job: launch either with mpiexec or with --nproc, not both")
    try:
        import mpi4py  # noqa: F401 - only checks that the workers will find it

        cmd = mpiexec_command(nproc, strip_option(argv, "--nproc"))
    except ImportError:
        raise ValueError(MPI_MISSING) from None  # the command line reports it in one line
    except RuntimeError as e:
        raise ValueError(str(e)) from None
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")  # one BLAS thread per process: N processes share the cores
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        return 130


def abort_job_on_error(exc: BaseException) -> None:
    """In a job of several processes, end all of them after ``exc`` on this rank (so none waits forever)."""
    if launched_world_size() > 1 and not isinstance(exc, KeyboardInterrupt):
        sys.stdout.flush()
        sys.stderr.write(f"thalweg: rank {launched_rank()}: {type(exc).__name__}: {exc}\n")
        sys.stderr.flush()
        abort(1)
