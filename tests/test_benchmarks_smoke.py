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
    # a round: ours at 2 threads, torch, then ours at 1 thread (the scaling's baseline, timed in the same round);
    # the next round swaps thalweg's two blocks, so that neither always follows torch's
    assert [b[0] for b in blocks[:6]] == [("ours", 2), ("theirs", 0), ("ours", 1), ("ours", 1), ("theirs", 0),
                                          ("ours", 2)]
    rounds = max(run.SCALING_ROUNDS, -(-10 // (run.ROUND - 1)))
    assert len(blocks) == 3 * (rounds + rounds % 2)
    assert r["ratio"] > 0 and r["thalweg_1_thread"] > 0
    assert len(r["scaling_rounds"]) == rounds + rounds % 2  # one paired ratio per round


def test_a_two_thread_block_lasts_long_enough_for_a_cheap_step(monkeypatch):
    import benchmarks.run as run

    monkeypatch.setattr(run, "SETTLE_SECONDS", 0.0)
    calls = {"ours": 0, "theirs": 0}
    step = lambda who: (lambda: calls.__setitem__(who, calls[who] + 1))  # noqa: E731
    timed = run._measure_in_blocks(step("ours"), step("theirs"), samples=4, seconds_per_call=run.BLOCK_SECONDS / 20)
    rounds = len(timed.scaling)
    assert rounds == run.SCALING_ROUNDS + run.SCALING_ROUNDS % 2 == len(timed.other_cores)
    assert len(timed.ours) == len(timed.ours_1_thread) == len(timed.theirs) == rounds * 19  # 20 calls, first dropped
    assert calls == {"ours": 2 * rounds * 20, "theirs": rounds * 20}
    few = run._measure_in_blocks(step("ours"), step("theirs"), samples=4, seconds_per_call=1e-12)
    assert calls["theirs"] == rounds * 20 + len(few.scaling) * run.MAX_BLOCK_CALLS  # a cap on a near-free step


def test_thread_scaling_compares_with_the_one_thread_time_of_the_same_rounds(capsys):
    import benchmarks.run as run

    rows = [{"case": "a", "threads": 1, "thalweg": 1.0, "ratio": 1.0},
            {"case": "a", "threads": 2, "thalweg": 3.0, "thalweg_1_thread": 4.0, "ratio": 1.0},
            {"case": "b", "threads": 2, "thalweg": 5.0, "thalweg_1_thread": 4.0, "ratio": 1.0},
            # per-round ratios, when there are some, decide: here one slow round does not
            {"case": "c", "threads": 2, "thalweg": 5.0, "thalweg_1_thread": 4.0, "ratio": 1.0,
             "scaling_rounds": [0.9, 0.95, 0.97, 1.6]}]
    run._print_thread_scaling(rows)
    assert rows[1]["scaling_vs_1_thread"] == 0.75 and rows[2]["scaling_vs_1_thread"] == 1.25
    assert rows[3]["scaling_vs_1_thread"] == 0.96
    out = capsys.readouterr().out
    assert "0.75  ok" in out and "1.25  SLOWER" in out and "0.96  ok  (rounds 0.90-1.60)" in out


def test_thread_scaling_verdict_tells_a_slowdown_from_noise():
    from benchmarks.run import scaling_verdict

    assert scaling_verdict([0.8, 0.9, 1.0, 1.2]) == "ok"
    assert scaling_verdict([0.95, 0.99, 1.04, 1.1]) == "noise"  # median above 1, but the rounds straddle it
    assert scaling_verdict([0.97, 1.05, 1.06, 1.08, 1.1, 1.12]) == "SLOWER"  # five rounds in six slower
    assert scaling_verdict([1.01, 1.02, 1.03, 1.04]) == "SLOWER"
    assert scaling_verdict([1.01]) == "SLOWER"  # one ratio: no spread to call noise


def test_thread_scaling_names_the_rounds_that_other_processes_made_busy(capsys):
    import benchmarks.run as run

    quiet = {"case": "q", "threads": 2, "thalweg": 1.0, "thalweg_1_thread": 1.0, "ratio": 1.0,
             "scaling_rounds": [0.9, 0.95, 0.97, 0.96], "other_cores_rounds": [0.0, 0.1, None, 0.2]}
    busy = {"case": "b", "threads": 2, "thalweg": 1.0, "thalweg_1_thread": 1.0, "ratio": 1.0,
            # in round order: the three rounds with the second core taken are the slow ones
            "scaling_rounds": [0.64, 1.09, 1.16, 1.12], "other_cores_rounds": [0.05, 0.8, 0.9, 0.6]}
    run._print_thread_scaling([quiet, busy])
    out = capsys.readouterr().out.splitlines()
    assert out[1].endswith("0.95  ok  (rounds 0.90-0.97)") and "busy_rounds" not in quiet
    assert busy["scaling_verdict"] == "noise" and busy["busy_rounds"] == 3  # the verdict stays as measured
    assert busy["scaling_quiet_rounds"] == 0.64
    assert out[2].endswith("; other processes held up to 0.9 cores in 3 of 4 rounds, the quiet rounds' median 0.64")
    all_busy = dict(busy, other_cores_rounds=[0.5, 0.8, 0.9, 0.6])
    assert run.busy_rounds_note(all_busy, all_busy["scaling_rounds"], all_busy["other_cores_rounds"]).endswith(
        "in 4 of 4 rounds, none quiet")
    assert all_busy["scaling_quiet_rounds"] is None


def test_the_opening_check_measures_other_processes_now_not_the_load_average(monkeypatch):
    import benchmarks.run as run
    import thalweg.threads as threads

    readings = iter([threads.CpuSample(10.0, 1.0, 100.0), threads.CpuSample(11.9, 2.0, 101.0)])  # 0.9 cores
    monkeypatch.setattr(run, "cpu_sample", lambda: next(readings))
    monkeypatch.setattr(run.time, "sleep", lambda s: None)
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    advice = run.machine_check(2)
    assert advice.oversubscribed and advice.threads == 1
    assert advice.reason == "2 available cores, 0.9 of them busy with other processes over 1 s"
    quiet = iter([threads.CpuSample(10.0, 1.0, 100.0), threads.CpuSample(11.1, 2.0, 101.0)])
    monkeypatch.setattr(run, "cpu_sample", lambda: next(quiet))
    assert not run.machine_check(2).oversubscribed


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
    fake = types.SimpleNamespace(name="mlp_b128", build=lambda quick: (lambda: None, lambda: None))
    monkeypatch.setattr(cases, "CASES", [fake])
    rows = [{"case": "mlp_b128", "threads": 1, "thalweg": 2.5}]
    run._print_roofline(rows)
    result = rows[-1]
    ideal = run.MLP_B128_FLOP / 100e9
    assert result["round_fractions"][0] == pytest.approx(ideal / 2e-3)  # the slow round gives 0.775 too, not 0.39
    assert result["fraction_alone"] == pytest.approx(ideal / 2e-3)
    assert result["round_fractions"][-1] == pytest.approx(ideal / 1.9e-3)
    assert result["torch_fraction_alone"] == pytest.approx(ideal / 2e-3)  # torch's steps timed in the same rounds
    assert "MISS" not in capsys.readouterr().out
