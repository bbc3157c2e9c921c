"""The benchmark suite's cases run once (smoke mode) and ours agrees with PyTorch at the first step.

No time is asserted here: speed is measured by ``benchmarks/run.py``, not by the tests.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("threadpoolctl")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.cases import CASES  # noqa: E402
from benchmarks.run import measure  # noqa: E402


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_runs_and_agrees_with_torch(case):
    r = measure(case, quick=True)
    ours, theirs = r["first_loss_thalweg"], r["first_loss_torch"]
    assert math.isfinite(ours) and math.isfinite(theirs)
    if case.name == "mnist_epoch":
        # a whole epoch: the two loops shuffle differently, so only the mean loss level can agree
        assert ours == pytest.approx(theirs, rel=0.05)
    else:
        assert ours == pytest.approx(theirs, rel=1e-4, abs=1e-5)


def test_peak_memory_child_process_reports_both_frameworks():
    from benchmarks.memory import peak_step_memory

    for fw in ("thalweg", "torch"):
        r = peak_step_memory(fw, 1)
        assert r["framework"] == fw and r["step_peak_kib"] >= 0 and r["baseline_kib"] > 0
