"""Run a command under ``mpiexec -n P`` with a hard timeout, killing the whole process group if it expires."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Sequence

import pytest

HERE = Path(__file__).parent


def mpiexec_or_skip() -> str:
    """The mpiexec the project would use, or skip the test (mpi4py or MPI missing)."""
    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip("mpi4py is not installed (pip install 'thalweg[mpi]')")
    from thalweg.distributed.launch import find_mpiexec

    try:
        return find_mpiexec()
    except RuntimeError as e:
        pytest.skip(str(e))


def run(cmd: Sequence[str], *, timeout: float = 60, cwd: Path = HERE) -> subprocess.CompletedProcess:
    """``cmd`` with one BLAS thread per process; on timeout every process of the job is killed, then we fail."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{' '.join(cmd)} did not finish within {timeout} s (hang)\n{out}\n{err}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def run_scenarios(nproc: int, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return run([mpiexec_or_skip(), "-n", str(nproc), sys.executable, str(HERE / "ddp_mpi_scenarios.py"), *args],
               timeout=timeout)
