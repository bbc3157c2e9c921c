"""Grad mode is thread-local (as in torch); blocks restore what they saw; inference_mode."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

import thalweg as tw


def test_new_thread_starts_enabled_even_inside_no_grad() -> None:
    seen: list[bool] = []
    with tw.no_grad():
        t = threading.Thread(target=lambda: seen.append(tw.is_grad_enabled()))
        t.start()
        t.join()
        assert not tw.is_grad_enabled()
    assert seen == [True]


def test_no_grad_in_one_thread_does_not_affect_another() -> None:
    inside = threading.Event()
    checked = threading.Event()
    seen: list[bool] = []

    def evaluator() -> None:
        with tw.no_grad():
            inside.set()
            checked.wait(5)

    t = threading.Thread(target=evaluator)
    t.start()
    inside.wait(5)
    seen.append(tw.is_grad_enabled())
    x = tw.ones(2, requires_grad=True)
    seen.append((x * 2.0).requires_grad)
    checked.set()
    t.join()
    assert seen == [True, True]


def test_training_and_evaluating_threads_give_exact_gradients() -> None:
    """One thread trains (backward), another evaluates under no_grad, interleaved; gradients stay exact."""
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((5, 3))
    xs = [rng.standard_normal((4, 5)) for _ in range(40)]
    errors: list[BaseException] = []
    grads: list[np.ndarray] = []
    stop = threading.Event()

    def train() -> None:
        try:
            w = tw.tensor(w0, requires_grad=True)
            for x in xs:
                w.grad = None
                loss = (tw.tensor(x) @ w).tanh().sum()
                loss.backward()
                grads.append(np.array(w.grad, copy=True))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    def evaluate() -> None:
        w = tw.tensor(w0, requires_grad=True)
        while not stop.is_set():
            with tw.no_grad():
                y = (tw.tensor(xs[0]) @ w).tanh().sum()
                assert not y.requires_grad

    ev = threading.Thread(target=evaluate)
    tr = threading.Thread(target=train)
    ev.start()
    tr.start()
    tr.join()
    stop.set()
    ev.join()
    assert not errors, errors
    assert len(grads) == len(xs)
    for x, g in zip(xs, grads):
        wt = torch.tensor(w0, requires_grad=True)
        (torch.tensor(x) @ wt).tanh().sum().backward()
        np.testing.assert_allclose(g, wt.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_overlapping_blocks_restore_what_they_saw() -> None:
    ng = tw.no_grad()
    with ng:
        with ng:  # the same object entered twice
            assert not tw.is_grad_enabled()
        assert not tw.is_grad_enabled()
    assert tw.is_grad_enabled()
    with tw.no_grad():
        with tw.enable_grad():
            with tw.set_grad_enabled(False):
                assert not tw.is_grad_enabled()
            assert tw.is_grad_enabled()
        assert not tw.is_grad_enabled()
    assert tw.is_grad_enabled()


def test_shared_decorated_function_across_threads() -> None:
    @tw.no_grad()
    def slow_eval(barrier: threading.Barrier) -> bool:
        barrier.wait(5)  # both threads are inside the decorated call at once
        return tw.is_grad_enabled()

    barrier = threading.Barrier(2)
    out: list[bool] = []
    threads = [threading.Thread(target=lambda: out.append(slow_eval(barrier))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [False, False]
    assert tw.is_grad_enabled()


def test_inference_mode_matches_torch() -> None:
    x = tw.ones(2, requires_grad=True)
    states = []
    with tw.inference_mode():
        states.append((tw.is_grad_enabled(), tw.is_inference_mode_enabled()))
        assert not (x * 2.0).requires_grad
        with tw.inference_mode(False):
            states.append((tw.is_grad_enabled(), tw.is_inference_mode_enabled()))
    with tw.no_grad():
        with tw.inference_mode(mode=False):
            states.append((tw.is_grad_enabled(), tw.is_inference_mode_enabled()))
    states.append((tw.is_grad_enabled(), tw.is_inference_mode_enabled()))
    expected = []
    with torch.inference_mode():
        expected.append((torch.is_grad_enabled(), torch.is_inference_mode_enabled()))
        with torch.inference_mode(False):
            expected.append((torch.is_grad_enabled(), torch.is_inference_mode_enabled()))
    with torch.no_grad():
        with torch.inference_mode(mode=False):
            expected.append((torch.is_grad_enabled(), torch.is_inference_mode_enabled()))
    expected.append((torch.is_grad_enabled(), torch.is_inference_mode_enabled()))
    assert states == expected


@pytest.mark.parametrize("form", ["bare", "called", "mode_false"])
def test_inference_mode_decorator(form: str) -> None:
    def f() -> tuple[bool, bool]:
        return tw.is_grad_enabled(), tw.is_inference_mode_enabled()

    wrapped = {"bare": tw.inference_mode(f), "called": tw.inference_mode()(f),
               "mode_false": tw.inference_mode(mode=False)(f)}[form]
    assert wrapped.__name__ == "f"
    assert wrapped() == ((True, False) if form == "mode_false" else (False, True))
    assert (tw.is_grad_enabled(), tw.is_inference_mode_enabled()) == (True, False)


def test_exception_inside_block_restores_mode() -> None:
    with pytest.raises(ValueError):
        with tw.inference_mode():
            raise ValueError("boom")
    assert tw.is_grad_enabled() and not tw.is_inference_mode_enabled()
