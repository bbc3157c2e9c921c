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


def test_two_thread_measurement_alternates_in_rounds_and_drops_each_rounds_first_call(monkeypatch):
    import benchmarks.run as run
    from benchmarks.cases import Case
    from thalweg.ops import parallel

    monkeypatch.setattr(run, "SETTLE_SECONDS", 0.0)
    calls = []

    def build(quick):
        ours = lambda: calls.append(("ours", parallel.blas_thread_count())) or 0.0  # noqa: E731
        return ours, (lambda: calls.append(("theirs", 0)) or 0.0)

    with run._set_threads(2):
        r = run.measure(Case("fake", "fake", build, repeats=10), warmup=0, threads=2)
    body = calls[2:]  # after the first-loss call of each
    blocks = [body[i:i + run.ROUND] for i in range(0, len(body), run.ROUND)]
    assert all(len(set(block)) == 1 for block in blocks)  # one library (and thread count) per block of ROUND calls
    # each round: ours at 2 threads, torch, then ours at 1 thread (the scaling's baseline, timed in the same round)
    assert [b[0] for b in blocks[:3]] == [("ours", 2), ("theirs", 0), ("ours", 1)]
    assert len(blocks) == 3 * max(2, -(-10 // (run.ROUND - 1)))
    assert r["ratio"] > 0 and r["thalweg_1_thread"] > 0


def test_thread_scaling_compares_with_the_one_thread_time_of_the_same_rounds(capsys):
    import benchmarks.run as run

    rows = [{"case": "a", "threads": 1, "thalweg": 1.0, "ratio": 1.0},
            {"case": "a", "threads": 2, "thalweg": 3.0, "thalweg_1_thread": 4.0, "ratio": 1.0},
            {"case": "b", "threads": 2, "thalweg": 5.0, "thalweg_1_thread": 4.0, "ratio": 1.0}]
    run._print_thread_scaling(rows)
    assert rows[1]["scaling_vs_1_thread"] == 0.75 and rows[2]["scaling_vs_1_thread"] == 1.25
    out = capsys.readouterr().out
    assert "0.75  ok" in out and "1.25  SLOWER" in out


def test_roofline_flop_count_is_the_mlp_steps():
    from benchmarks.run import MLP_B128_FLOP

    layers = [(784, 256), (256, 256), (256, 10)]
    forward = sum(2 * 128 * i * o for i, o in layers)
    weight_grads = forward
    input_grads = sum(2 * 128 * i * o for i, o in layers[1:])  # the first layer's input needs none
    assert MLP_B128_FLOP == forward + weight_grads + input_grads == 155_058_176


def test_roofline_pairs_the_sgemm_rate_and_the_step_round_by_round(monkeypatch, capsys):
    """A slow round slows the rate and the step alike, so its fraction is the same; the result is their median."""
    import types

    import benchmarks.cases as cases
    from benchmarks import run

    rounds = iter([(100e9, 2e-3), (50e9, 4e-3), (100e9, 1.9e-3)] + [(100e9, 2e-3)] * (run.ROOFLINE_ROUNDS - 3))
    current = {}

    def rate(calls):
        current["rate"], current["step"] = next(rounds)
        return current["rate"]

    monkeypatch.setattr(run, "sgemm_rate", rate)
    monkeypatch.setattr(run, "_timed", lambda step, calls: [current.get("step", 1.0)] * calls)
    fake = types.SimpleNamespace(name="mlp_b128", build=lambda quick: (lambda: None, None))
    monkeypatch.setattr(cases, "CASES", [fake])
    rows = [{"case": "mlp_b128", "threads": 1, "thalweg": 2.5}]
    run._print_roofline(rows)
    result = rows[-1]
    ideal = run.MLP_B128_FLOP / 100e9
    assert result["round_fractions"][0] == pytest.approx(ideal / 2e-3)  # the slow round gives 0.775 too, not 0.39
    assert result["fraction_alone"] == pytest.approx(ideal / 2e-3)
    assert result["round_fractions"][-1] == pytest.approx(ideal / 1.9e-3)
    assert "MISS" not in capsys.readouterr().out
