"""The thread-count rule of thalweg.threads, with made-up machines (no timing, no real load)."""

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
    monkeypatch.setattr(threads, "blas_threads", lambda: 2)
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
