"""no_grad / enable_grad / set_grad_enabled: context managers and decorators; nothing is recorded."""

from __future__ import annotations

import pytest

import thalweg as tw


@pytest.fixture()
def x() -> tw.Tensor:
    return tw.tensor([1.0, 2.0], requires_grad=True)


def _recorded(t: tw.Tensor) -> bool:
    return t.requires_grad and t.grad_fn is not None


def test_no_grad_context_records_nothing(x: tw.Tensor) -> None:
    with tw.no_grad():
        assert not tw.is_grad_enabled()
        y = (x * 2.0).exp().sum()
        z = x @ x
        idx = x[[0, 0]]
    assert tw.is_grad_enabled()
    for t in (y, z, idx):
        assert not t.requires_grad and t.grad_fn is None and t.is_leaf
    assert _recorded(x * 2.0)


def test_decorators_with_and_without_parentheses(x: tw.Tensor) -> None:
    @tw.no_grad()
    def f(a: tw.Tensor) -> tw.Tensor:
        return a * 2.0

    @tw.no_grad
    def g(a: tw.Tensor) -> tw.Tensor:
        return a * 2.0

    @tw.enable_grad()
    def h(a: tw.Tensor) -> tw.Tensor:
        return a * 2.0

    assert not f(x).requires_grad and not g(x).requires_grad
    assert f.__name__ == "f"
    with tw.no_grad():
        assert _recorded(h(x))  # enable_grad inside no_grad
        assert not tw.is_grad_enabled()
    assert tw.is_grad_enabled()


def test_enable_grad_nested_in_no_grad(x: tw.Tensor) -> None:
    with tw.no_grad():
        with tw.enable_grad():
            y = x * 2.0
        z = x * 2.0
    assert _recorded(y) and not z.requires_grad


def test_set_grad_enabled_forms(x: tw.Tensor) -> None:
    with tw.set_grad_enabled(False):
        assert not (x * 2.0).requires_grad
    assert tw.is_grad_enabled()
    with tw.no_grad():
        with tw.set_grad_enabled(True):
            assert _recorded(x * 2.0)
        assert not tw.is_grad_enabled()

    @tw.set_grad_enabled(False)
    def f(a: tw.Tensor) -> tw.Tensor:
        return a * 2.0

    assert tw.is_grad_enabled()  # decorating does not switch recording off
    assert not f(x).requires_grad
    assert tw.is_grad_enabled()
    tw.set_grad_enabled(False)  # a plain call takes effect at once, as in torch
    try:
        assert not tw.is_grad_enabled()
    finally:
        tw.set_grad_enabled(True)
    assert tw.is_grad_enabled()


def test_mode_is_restored_after_an_exception(x: tw.Tensor) -> None:
    with pytest.raises(ValueError):
        with tw.no_grad():
            raise ValueError("boom")
    assert tw.is_grad_enabled()

    @tw.no_grad()
    def fails() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError):
        fails()
    assert tw.is_grad_enabled()


def test_parameter_update_under_no_grad_is_not_recorded(x: tw.Tensor) -> None:
    (x * x).sum().backward()
    with tw.no_grad():
        x -= 0.1 * tw.from_numpy(x.grad.array)
    assert x.is_leaf and x.grad_fn is None and x.requires_grad
    assert x.numpy().tolist() == pytest.approx([0.8, 1.6])
