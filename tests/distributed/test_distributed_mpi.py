"""Data-parallel training on 2 and 3 MPI processes (each test starts ``mpiexec`` with a timeout).

Skipped when mpi4py is missing; CI installs it with the ``dev`` extra.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from ddp_fit_case import fit_setup
from ddp_mpi_run import mpiexec_or_skip, run, run_scenarios

SCENARIOS = ["collectives", "ddp_matches_single_process", "ddp_no_sync", "ddp_unused_parameters", "sync_batchnorm"]


@pytest.mark.parametrize("nproc", [2, 3])
def test_scenarios(nproc: int) -> None:
    """Collectives = NumPy reductions; DDP = one process on the whole batch (float64, 1e-10), ranks bit-identical
    (3 processes: uneven shards); no_sync accumulation; unused parameters; SyncBatchNorm = BatchNorm on the
    whole batch.  One job per process count: starting one costs seconds on two cores."""
    res = run_scenarios(nproc, *SCENARIOS, timeout=90)
    failed = [s for s in SCENARIOS if f"PASS {s}" not in res.stdout]
    assert not failed, f"failed: {failed}; rc={res.returncode}\n{res.stdout}\n{res.stderr[-3000:]}"


def test_failing_rank_ends_the_job_with_its_error() -> None:
    """Rank 2 raises while ranks 0 and 1 wait in an all-reduce: non-zero exit with its error (a hang fails)."""
    res = run_scenarios(3, "failing_rank", timeout=60)
    assert res.returncode != 0
    assert "rank 2 fails on purpose" in res.stderr


def _reference_weights(epochs: int) -> tuple[list[np.ndarray], list[dict]]:
    import thalweg as tw

    model, opt, train, dev, kw = fit_setup()
    result = tw.train.fit(model, opt, train, dev, epochs=epochs, **{**kw, "verbose": False})
    return [p.array.copy() for p in model.parameters()], result.history


def test_fit_under_mpiexec_matches_one_process_and_resumes(tmp_path) -> None:
    ref, ref_history = _reference_weights(2)
    full = tmp_path / "full"
    full.mkdir()
    res = run_scenarios(2, "trainer_fit", "--out", str(full), "--epochs", "2")
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("epoch 1/2") == 1, "only rank 0 prints"
    got = np.load(full / "weights-2.npz")
    for i, w in enumerate(ref):
        assert np.max(np.abs(got[f"arr_{i}"] - w)) < 1e-10
    history = json.loads((full / "history-2.json").read_text())
    assert [h["dev_accuracy"] for h in history] == [h["dev_accuracy"] for h in ref_history]
    np.testing.assert_allclose([h["loss"] for h in history], [h["loss"] for h in ref_history], rtol=1e-10)
    config = json.loads((full / "run" / "config.json").read_text())
    assert config.get("world_size") == 2

    part = tmp_path / "part"
    part.mkdir()
    res = run_scenarios(2, "trainer_fit", "--out", str(part), "--epochs", "1")
    assert res.returncode == 0, res.stderr[-3000:]
    res = run_scenarios(2, "trainer_fit", "--out", str(part), "--epochs", "2", "--resume")
    assert res.returncode == 0, res.stderr[-3000:]
    got = np.load(part / "weights-2.npz")
    for i, w in enumerate(ref):
        assert np.max(np.abs(got[f"arr_{i}"] - w)) < 1e-10


def test_thalweg_train_nproc_and_mpiexec(tmp_path) -> None:
    """``thalweg train --nproc 2`` starts mpiexec itself; ``mpiexec -n 2 thalweg train`` works the same."""
    mpiexec = mpiexec_or_skip()
    common = ["train", "--epochs", "1", "--limit", "256", "--no-plots", "--no-progress", "--quiet"]
    res = run([sys.executable, "-m", "thalweg.cli", *common, "--nproc", "2", "--out", str(tmp_path / "a")],
              timeout=90)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("run record") == 1, res.stdout
    runs = list((tmp_path / "a").iterdir())
    assert len(runs) == 1 and (runs[0] / "checkpoints" / "last.npz").is_file()
    res = run([mpiexec, "-n", "2", sys.executable, "-m", "thalweg.cli", *common, "--out", str(tmp_path / "b")],
              timeout=90)
    assert res.returncode == 0, res.stderr[-3000:]
    assert len(list((tmp_path / "b").iterdir())) == 1
    summary_a = json.loads((runs[0] / "summary.json").read_text())
    summary_b = json.loads((next((tmp_path / "b").iterdir()) / "summary.json").read_text())
    assert summary_a["final"]["dev_accuracy"] == summary_b["final"]["dev_accuracy"]


def test_scaling_benchmark_smoke(tmp_path) -> None:
    """``benchmarks/distributed_scaling.py`` runs end to end on 2 processes (no time asserted)."""
    from pathlib import Path

    mpiexec_or_skip()
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "distributed_scaling.py"
    out = tmp_path / "rows.json"
    res = run([sys.executable, str(script), "--examples", "256", "--models", "mlp", "--procs", "2", "--caps", "25",
               "--repeat", "1", "--json", str(out)], timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = json.loads(out.read_text())
    assert [(r["procs"], r["bucket_cap_mb"]) for r in rows] == [(2, 25.0)]
    assert all(r["throughput"] > 0 for r in rows)
