"""Run the benchmark suite: thalweg against PyTorch eager, same process, same shapes, float32.

    python benchmarks/run.py                 # full suite at 1 and 2 threads
    python benchmarks/run.py --threads 1 --cases mlp_b128 lenet_b64
    python benchmarks/run.py --quick         # one call of each case (the tests' smoke mode)

For every case and thread count it warms both sides up, then alternates ours
and torch's calls (so drifts in machine load hit both), and reports the median
time of each and the ratio thalweg / torch (lower is better), next to the
target from the speed issue.  A JSON file with the same table is written.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.cases import CASES, TARGETS, TINY_OPS, Case  # noqa: E402
from thalweg.threads import cpu_sample, other_cores  # noqa: E402


def _set_threads(n: int):
    """Limit BLAS/OpenMP threads for NumPy and PyTorch alike; returns the NumPy limiter."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    return threadpool_limits(limits=n)


def _scale(case: Case, seconds: float) -> float:
    if case.unit == "us/op":
        return seconds / TINY_OPS * 1e6
    if case.unit == "s":
        return seconds
    return seconds * 1e3


ROUND = 6  # calls per library per block at more than one thread, at least (the first is not counted)
BLOCK_SECONDS = 0.05  # ... and at least this long: a cheap step needs a few calls to get back to its steady speed
MAX_BLOCK_CALLS = 100
SCALING_ROUNDS = 4  # rounds at least, at more than one thread (even: the two thalweg blocks swap places)
SETTLE_SECONDS = 0.3  # longer than OpenBLAS's and OpenMP's idle workers spin before they sleep
# Other processes' CPU use (in cores) above which a round's timings at n threads are unreliable: on a two-core
# machine a second thread is worth something only while the second core is free.  (In three of six full runs of
# 2026-12-07 the two-thread MNIST epoch took as long as the one-thread one, torch's too.)
BUSY_CORES = 0.25


def _settle() -> None:
    """Wait ``SETTLE_SECONDS`` busy, not asleep: an idle core would be clocked down (or descheduled) by then."""
    end = time.perf_counter() + SETTLE_SECONDS
    while time.perf_counter() < end:
        pass


def _timed(step, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return times


class Blocks(NamedTuple):
    """What :func:`_measure_in_blocks` timed: every call's seconds, and per round the scaling and the other work."""

    ours: list[float]
    theirs: list[float]
    ours_1_thread: list[float]
    scaling: list[float]
    other_cores: list[float | None]


def _measure_in_blocks(ours, theirs, samples: int, seconds_per_call: float) -> Blocks:
    """Ours at the current thread count, torch, and ours at one thread, in blocks of back-to-back calls.

    Each block is at least ``ROUND`` calls and ``BLOCK_SECONDS`` long (at
    most ``MAX_BLOCK_CALLS``; ``seconds_per_call`` is 0 when unknown); its
    first call (which wakes the workers and refills the caches the other
    library's block left) is not counted.  Thalweg's two blocks swap places
    every other round (A T B, B T A), so that neither always follows torch's.
    Returns the three lists of times and, per round, thalweg's median time at
    n threads over its median at one thread (the thread scaling, paired within
    the round, so that a slow spell of the machine weighs on both sides) and
    the cores other processes kept busy meanwhile (``thalweg.threads.other_cores``).
    """
    from threadpoolctl import threadpool_limits

    calls = ROUND if seconds_per_call <= 0 else min(MAX_BLOCK_CALLS, max(ROUND, math.ceil(BLOCK_SECONDS / seconds_per_call)))
    rounds = max(SCALING_ROUNDS, math.ceil(samples / (calls - 1)))
    rounds += rounds % 2
    timed = Blocks([], [], [], [], [])
    for r in range(rounds):
        blocks = {}
        start = cpu_sample()
        for who in (("n", "torch", "1") if r % 2 == 0 else ("1", "torch", "n")):
            _settle()
            if who == "1":
                with threadpool_limits(limits=1):
                    blocks[who] = _timed(ours, calls)[1:]
            else:
                blocks[who] = _timed(ours if who == "n" else theirs, calls)[1:]
        timed.other_cores.append(other_cores(start, cpu_sample()))
        timed.ours.extend(blocks["n"])
        timed.theirs.extend(blocks["torch"])
        timed.ours_1_thread.extend(blocks["1"])
        timed.scaling.append(statistics.median(blocks["n"]) / statistics.median(blocks["1"]))
    return timed


def measure(case: Case, *, quick: bool = False, warmup: int = 3, repeats: int | None = None,
            threads: int = 1) -> dict:
    """Median seconds per call of ours and torch's for one case, interleaved.

    At one thread the calls alternate one by one.  At more threads each
    library's idle worker threads keep spinning on the cores for a while after
    its call (OpenBLAS's for thalweg, OpenMP's for torch), so alternating call
    by call would time each library against the other's spinning threads, a
    contention no single-library training loop has.  There the calls alternate
    in blocks with a pause between libraries (``_measure_in_blocks``).

    At more threads, thalweg is also timed at one thread in the same rounds
    (``thalweg_1_thread``): this machine's speed drifts by 10-30% over minutes,
    so comparing with the one-thread pass, run minutes earlier, would measure
    the drift as much as the threads.  The scaling is the median over the
    rounds of each round's own ratio (``scaling_rounds``; for a case timed
    call by call, each call's pair).
    """
    ours, theirs = case.build(quick)
    first = (ours(), theirs())
    if quick:
        return {"case": case.name, "first_loss_thalweg": first[0], "first_loss_torch": first[1]}
    warmup_times = []
    for _ in range(warmup if case.unit != "s" else 0):
        warmup_times += _timed(ours, 1)
        theirs()
    from threadpoolctl import threadpool_limits

    n = repeats or case.repeats
    case_start = cpu_sample()
    if threads == 1 or case.unit == "s":
        timed = Blocks([], [], [], [], [])
        for _ in range(n):
            start = cpu_sample()
            timed.ours.extend(_timed(ours, 1))
            timed.theirs.extend(_timed(theirs, 1))
            if threads > 1:
                with threadpool_limits(limits=1):
                    timed.ours_1_thread.extend(_timed(ours, 1))
                timed.scaling.append(timed.ours[-1] / timed.ours_1_thread[-1])  # this call's pair
                timed.other_cores.append(other_cores(start, cpu_sample()))
    else:
        timed = _measure_in_blocks(ours, theirs, n, min(warmup_times, default=0.0))
    mo, mt = statistics.median(timed.ours), statistics.median(timed.theirs)
    row = {"case": case.name, "group": case.group, "unit": case.unit, "thalweg": _scale(case, mo),
           "torch": _scale(case, mt), "ratio": mo / mt, "target": TARGETS.get(case.name),
           "first_loss_thalweg": first[0], "first_loss_torch": first[1],
           "other_cores": other_cores(case_start, cpu_sample())}
    if timed.ours_1_thread:
        row["thalweg_1_thread"] = _scale(case, statistics.median(timed.ours_1_thread))
        row["scaling_rounds"] = timed.scaling or [mo / statistics.median(timed.ours_1_thread)]  # in round order,
        row["other_cores_rounds"] = timed.other_cores or [row["other_cores"]]  # and each round's other work
    return row


MLP_B128_FLOP = 2 * 128 * (784 * 256 + 256 * 256 + 256 * 10) * 2 + 2 * 128 * (256 * 256 + 256 * 10)
ROOFLINE_TARGET = 0.75  # the speed issue's target: MLP batch 128 at 75% of the single-thread GEMM roofline


def sgemm_rate(size: int = 1024, calls: int = 5) -> float:
    """FLOP/s of thalweg's float32 matrix product at the current thread count (best of three rounds): MKL's where
    thalweg uses it (``thalweg.ops.gemm``), else NumPy's, so the roofline is the fastest product thalweg has."""
    import numpy as np

    from thalweg.ops.gemm import matmul

    a = np.random.default_rng(0).standard_normal((size, size)).astype(np.float32)
    matmul(a, a)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(calls):
            matmul(a, a)
        best = min(best, (time.perf_counter() - t0) / calls)
    return 2 * size**3 / best


ROOFLINE_ROUNDS = 7  # rounds of (sgemm rate, MLP steps), so that a slow spell of the machine hits both


def _print_roofline(rows: list[dict]) -> None:
    """The MLP batch-128 step against the GEMM roofline: its 155 MFLOP at NumPy's sgemm rate (1 thread).

    The rate and the step are timed in the same rounds, as thalweg and torch are
    (this machine drifts 10-30% within minutes): each round measures the rate
    (best of its calls) and then 20 steps back to back (their median); the
    fraction is the median over the rounds of ideal time / step time.
    """
    step = next((r for r in rows if r["case"] == "mlp_b128" and r["threads"] == 1), None)
    if step is None:
        return
    from threadpoolctl import threadpool_limits

    from benchmarks.cases import CASES as all_cases

    rates, steps, torch_steps = [], [], []
    with threadpool_limits(limits=1):
        ours, theirs = next(c for c in all_cases if c.name == "mlp_b128").build(False)
        for _ in range(5):
            ours(), theirs()
        start = cpu_sample()
        for _ in range(ROOFLINE_ROUNDS):
            rates.append(sgemm_rate(calls=2))
            steps.append(statistics.median(_timed(ours, 20)))  # back to back, as in a training loop
            torch_steps.append(statistics.median(_timed(theirs, 20)))  # torch's, for scale
    other = other_cores(start, cpu_sample())
    fractions = sorted(MLP_B128_FLOP / rate / s for rate, s in zip(rates, steps))
    torch_fraction = statistics.median(MLP_B128_FLOP / rate / s for rate, s in zip(rates, torch_steps))
    fraction_alone = statistics.median(fractions)
    rate, alone_ms = statistics.median(rates), statistics.median(steps) * 1e3
    ideal_ms = MLP_B128_FLOP / rate * 1e3
    fraction = ideal_ms / step["thalweg"]
    rows.append({"case": "mlp_b128_roofline", "threads": 1, "unit": "fraction", "sgemm_gflops": rate / 1e9,
                 "ideal_ms": ideal_ms, "thalweg": fraction, "alone_ms": alone_ms, "fraction_alone": fraction_alone,
                 "round_fractions": fractions, "target": ROOFLINE_TARGET, "other_cores": other,
                 "torch_fraction_alone": torch_fraction})
    verdict = ": ok" if fraction_alone >= ROOFLINE_TARGET else ": MISS"
    print(f"roofline: mlp_b128 does {MLP_B128_FLOP / 1e6:.0f} MFLOP per step; sgemm runs at {rate / 1e9:.1f} GFLOP/s "
          f"(1 thread, 1024^3), so {ideal_ms:.3f} ms at best; the step takes {alone_ms:.3f} ms back to back "
          f"({fraction_alone:.0%} of the roofline over {len(fractions)} rounds, {fractions[0]:.0%}-{fractions[-1]:.0%}; "
          f"target {ROOFLINE_TARGET:.0%}{verdict}) and {step['thalweg']:.3f} ms interleaved with torch's steps "
          f"({fraction:.0%}; torch evicts its caches); torch's own step reaches {torch_fraction:.0%} back to back"
          + (f"; other processes held {other:.1f} cores meanwhile" if other is not None and other > BUSY_CORES
             else ""))


def scaling_verdict(per_round: list[float]) -> str:
    """'ok' when the median round has thalweg no slower at n threads than at one; 'SLOWER' when at least three
    rounds in four are slower (the lower quartile is above 1); else 'noise': the median is above 1 but the rounds
    straddle it, as they do for a step whose code is the same at either thread count."""
    if statistics.median(per_round) <= 1.0:
        return "ok"
    if len(per_round) < 4 or statistics.quantiles(per_round, n=4, method="inclusive")[0] > 1.0:
        return "SLOWER"
    return "noise"


def _print_thread_scaling(rows: list[dict]) -> None:
    """thalweg's time at each thread count over its time at one thread in the same rounds: more threads must never
    be slower."""
    more = [r for r in rows if r.get("threads", 1) > 1 and "thalweg_1_thread" in r]
    if not more:
        return
    print("thread scaling (thalweg at n threads / thalweg at 1 thread, median of each round's own ratio; "
          "target: at most 1.00; 'noise': above 1 in the median, but the rounds straddle 1)")
    for r in more:
        in_order = r.get("scaling_rounds") or [r["thalweg"] / r["thalweg_1_thread"]]
        per_round = sorted(in_order)
        scale = statistics.median(per_round)
        r["scaling_vs_1_thread"] = scale
        r["scaling_verdict"] = verdict = scaling_verdict(per_round)
        spread = f"  (rounds {per_round[0]:.2f}-{per_round[-1]:.2f})" if len(per_round) > 1 else ""
        busy = busy_rounds_note(r, in_order, r.get("other_cores_rounds") or [None] * len(in_order))
        print(f"  {r['case']:<16}{r['threads']:>3} threads {scale:>6.2f}  {verdict}{spread}{busy}")


def busy_rounds_note(row: dict, scaling: list[float], other: list[float | None]) -> str:
    """What other work did to the thread scaling: '' when every round had the machine to itself (at most
    ``BUSY_CORES`` busy elsewhere, or unknown); else how much, in how many rounds, and the median scaling
    over the quiet rounds alone (also stored on ``row``: ``busy_rounds``, ``scaling_quiet_rounds``).  The verdict
    itself is left as measured."""
    busy = [o for o in other if o is not None and o > BUSY_CORES]
    if not busy:
        return ""
    quiet = [s for s, o in zip(scaling, other) if o is not None and o <= BUSY_CORES]
    row["busy_rounds"] = len(busy)
    row["scaling_quiet_rounds"] = statistics.median(quiet) if quiet else None
    note = f"; other processes held up to {max(busy):.1f} cores in {len(busy)} of {len(other)} rounds"
    return note + (f", the quiet rounds' median {row['scaling_quiet_rounds']:.2f}" if quiet else ", none quiet")


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo (the machine's architecture where that cannot be read)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_check(threads: int, seconds: float = 1.0) -> Any:
    """thalweg.threads' advice for ``threads`` threads from other processes' CPU use measured over ``seconds``
    now (the load average, its fallback without /proc/stat, still counts a run that ended a minute ago)."""
    from thalweg.threads import ThreadAdvice, available_cores, check_threads, decide_threads

    start = cpu_sample()
    time.sleep(seconds)
    other = other_cores(start, cpu_sample())
    if other is None:
        return check_threads(warn=False)
    cores = available_cores()
    advice = decide_threads(cores, other, threads)
    return ThreadAdvice(advice.threads, advice.oversubscribed,
                        f"{cores} available cores, {other:.1f} of them busy with other processes over {seconds:g} s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--cases", nargs="+", default=None, help="names of cases to run (default: all)")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--quick", action="store_true", help="run each case once (smoke mode)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    p.add_argument("--json", default="bench_results/results.json")
    args = p.parse_args(argv)
    import numpy as np
    import torch

    selected = [c for c in CASES if args.cases is None or c.name in args.cases]
    rows = []
    from thalweg.ops.gemm import mkl_status

    print(f"thalweg vs torch {torch.__version__} (numpy {np.__version__}), {cpu_name()}; {mkl_status()}")
    advice = machine_check(max(args.threads))
    if advice.oversubscribed or advice.threads < max(args.threads):
        print(f"warning: oversubscribed machine ({advice.reason}); at most {advice.threads} thread(s) are free, "
              "so timings at more threads (and all ratios) are unreliable")
    print(f"{'case':<16}{'threads':>8}{'thalweg':>12}{'torch':>12}{'unit':>7}{'ratio':>8}{'target':>8}")
    for n in args.threads:
        with _set_threads(n):
            for case in selected:
                r = measure(case, quick=args.quick, repeats=args.repeats, threads=n)
                r["threads"] = n
                rows.append(r)
                if args.quick:
                    print(f"{case.name:<16}{n:>8}  first loss thalweg {r['first_loss_thalweg']:.6g} "
                          f"torch {r['first_loss_torch']:.6g}")
                    continue
                ok = "" if r["target"] is None else ("  ok" if r["ratio"] <= r["target"] else "  MISS")
                busy = r["other_cores"] is not None and r["other_cores"] > BUSY_CORES
                print(f"{case.name:<16}{n:>8}{r['thalweg']:>12.3f}{r['torch']:>12.3f}{case.unit:>7}"
                      f"{r['ratio']:>8.2f}{r['target'] or float('nan'):>8.2f}{ok}"
                      + (f"  (other processes held {r['other_cores']:.1f} cores meanwhile)" if busy else ""))
            if not args.no_memory and not args.quick and (args.cases is None or "lenet_peak_memory" in args.cases):
                from benchmarks.memory import peak_step_memory

                measured = peak_step_memory("thalweg", n)
                mo = measured["step_peak_kib"]
                mt = peak_step_memory("torch", n)["step_peak_kib"]
                ratio = mo / max(mt, 1)
                target = TARGETS["lenet_peak_memory"]
                rows.append({"case": "lenet_peak_memory", "threads": n, "unit": "KiB", "thalweg": mo, "torch": mt,
                             "ratio": ratio, "target": target})
                print(f"{'lenet_peak_mem':<16}{n:>8}{mo:>12.0f}{mt:>12.0f}{'KiB':>7}{ratio:>8.2f}{target:>8.2f}"
                      f"{'  ok' if ratio <= target else '  MISS'}")
                if measured.get("kernels_kib"):
                    print(f"  (thalweg's numba kernels and MKL hold {measured['kernels_kib'] / 1024:.0f} MB once per "
                          "process, loaded before the step; THALWEG_NUMBA=0 and THALWEG_BLAS=numpy avoid it)")
    if not args.quick:
        _print_roofline(rows)
        _print_thread_scaling(rows)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"torch": torch.__version__, "numpy": np.__version__, "rows": rows}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
