"""The thread-count rule of thalweg.threads, with made-up machines and clocks; one live check of the reading of
other processes' CPU use, with a busy child process."""

from __future__ import annotations

import warnings

import pytest

from thalweg import threads
from thalweg.threads import decide_threads


def test_idle_machine_uses_every_core():
    a = decide_threads(8, 0.3, 8)
    assert a.threads == 8 and not a.oversubscribed


def test_busy_machine_gets_the_free_cores_and_flags_oversubscription():
    a = decide_threads(2, 10.0, 2)
    assert a.threads == 1 and a.oversubscribed and "2 BLAS threads" in a.reason
    b = decide_threads(16, 6.0, 16)
    assert b.threads == 10 and b.oversubscribed


def test_own_work_does_not_count_as_competition():
    assert decide_threads(4, 4.0, 4, own_busy=4.0).threads == 4
    assert decide_threads(4, 4.0, 4, own_busy=2.0).threads == 2


def test_one_thread_is_never_oversubscribed_and_counts_never_exceed_cores():
    a = decide_threads(2, 50.0, 1)
    assert a.threads == 1 and not a.oversubscribed
    assert decide_threads(2, 0.0, 64).threads == 2  # a BLAS pool above the affinity mask is cut down


def test_no_load_average_or_unknown_blas_is_handled():
    assert decide_threads(3, None, None) == threads.ThreadAdvice(3, False, "3 available cores")
    assert not decide_threads(2, 9.0, None).oversubscribed


def test_override_wins():
    a = decide_threads(2, 10.0, 2, override=4)
    assert a.threads == 4 and not a.oversubscribed
    assert decide_threads(2, 0.0, 2, override=0).threads == 1


def test_check_threads_warns_once(monkeypatch):
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (10.0, 10.0, 10.0))
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    monkeypatch.setattr(threads, "get_num_threads", lambda: 2)
    monkeypatch.delenv("THALWEG_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "_warned", [False])
    with pytest.warns(RuntimeWarning, match="oversubscribed"):
        assert threads.check_threads().threads == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        threads.check_threads()  # second time: silent


def test_env_override_is_read(monkeypatch):
    monkeypatch.setenv("THALWEG_NUM_THREADS", "3")
    assert threads.check_threads(warn=False).threads == 3
    monkeypatch.setenv("THALWEG_NUM_THREADS", "many")
    assert threads.check_threads(warn=False).threads >= 1


def test_other_work_is_read_from_proc_stat_as_busy_ticks_outside_this_process():
    from thalweg.threads import CpuSample, busy_seconds, other_cores

    # user nice system idle iowait irq softirq steal guest guest_nice: busy = user+nice+system+irq+softirq+steal
    text = "cpu  700 10 200 5000 40 3 7 80 50 0\ncpu0 1 2 3 4 5 6 7 8 9 0\n"
    assert busy_seconds(text, 100) == (700 + 10 + 200 + 3 + 7 + 80) / 100
    with pytest.raises(ValueError, match="/proc/stat"):
        busy_seconds("intr 1 2 3\n", 100)
    before = CpuSample(machine_busy=10.0, own=3.0, wall=100.0)
    after = CpuSample(machine_busy=13.0, own=4.0, wall=102.0)  # 3 s busy, 1 of them ours, over 2 s
    assert other_cores(before, after) == 1.0
    assert other_cores(before, CpuSample(10.5, 4.0, 102.0)) == 0.0  # tick rounding below our own time: clipped
    assert other_cores(None, after) is None and other_cores(after, before) is None


@pytest.mark.skipif(not threads.PROC_STAT.exists(), reason="needs Linux's /proc/stat")
def test_a_busy_child_process_counts_as_other_work_and_our_own_spinning_does_not():
    import subprocess
    import sys
    import time

    from thalweg.threads import cpu_sample, other_cores

    def over(seconds: float, work) -> float:
        start = cpu_sample()
        work(seconds)
        return other_cores(start, cpu_sample())

    def spin(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    def child_spins(seconds: float) -> None:
        busy_loop = "import time\nend = time.time() + 5\nwhile time.time() < end: pass"
        child = subprocess.Popen([sys.executable, "-c", busy_loop])
        try:
            time.sleep(seconds)
        finally:
            child.kill()
            child.wait()

    ours = over(1.5, spin)
    theirs = over(1.5, child_spins)
    assert theirs >= 0.5 and theirs > ours + 0.4


def _fake_clock(other_per_second: float):
    """CpuSample readings one second apart, with ``other_per_second`` cores busy outside the process."""
    from thalweg.threads import CpuSample

    t = [0.0]

    def sample():
        t[0] += 1.0
        return CpuSample(machine_busy=(0.2 + other_per_second) * t[0], own=0.2 * t[0], wall=t[0])

    return sample


@pytest.fixture
def two_core_machine(monkeypatch):
    monkeypatch.delenv("THALWEG_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "_warned", [False])
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    monkeypatch.setattr(threads, "get_num_threads", lambda: 2)


def test_the_watch_warns_once_when_other_processes_take_a_core(two_core_machine):
    watch = threads.OversubscriptionWatch(sample=_fake_clock(0.9))
    with pytest.warns(RuntimeWarning, match=r"kept 0\.9 of this machine's 2 cores busy .*set_num_threads\(1\)"):
        advice = watch.check()
    assert advice.threads == 1 and advice.oversubscribed
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert watch.check().oversubscribed  # still measured, no second warning


def test_the_watch_is_silent_on_a_quiet_machine_with_an_override_or_without_proc_stat(two_core_machine, monkeypatch):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not threads.OversubscriptionWatch(sample=_fake_clock(0.3)).check().oversubscribed
        assert threads.OversubscriptionWatch(sample=lambda: None).check() is None
        monkeypatch.setenv("THALWEG_NUM_THREADS", "2")
        assert threads.OversubscriptionWatch(sample=_fake_clock(1.5)).check().threads == 2


def test_the_watch_waits_for_an_interval_long_enough_to_measure(two_core_machine):
    clock = _fake_clock(0.9)
    watch = threads.OversubscriptionWatch(min_seconds=2.5, sample=clock)
    assert watch.check() is None and watch.check() is None  # one second, then two: too short, so merged
    with pytest.warns(RuntimeWarning):
        assert watch.check().oversubscribed  # three


def test_the_watch_counts_numpys_blas_threads_not_every_loaded_pool(two_core_machine, monkeypatch):
    """numba's import loads SciPy's OpenBLAS with a thread per core whatever limit was set; thalweg's products run
    on NumPy's, so one NumPy thread on a busy machine is no oversubscription."""
    monkeypatch.setattr(threads, "blas_threads", lambda: 2)  # the largest pool: SciPy's
    monkeypatch.setattr(threads, "get_num_threads", lambda: 1)  # NumPy's, as tw.set_num_threads(1) leaves it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not threads.OversubscriptionWatch(sample=_fake_clock(0.9)).check().oversubscribed
        monkeypatch.setattr(threads.os, "getloadavg", lambda: (10.0, 10.0, 10.0))
        assert not threads.check_threads().oversubscribed  # nor by the load average
