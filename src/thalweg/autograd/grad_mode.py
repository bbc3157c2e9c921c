"""Gradient recording switches: ``no_grad`` and ``enable_grad``.

Both work as context managers and as decorators.  Under ``no_grad`` ops run
eagerly but record nothing, so no graph is built (evaluation, optimizer
updates).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _State:
    enabled = True


STATE = _State()


def is_grad_enabled() -> bool:
    """Whether ops currently record the graph."""
    return STATE.enabled


class _GradMode:
    _mode = True

    def __new__(cls, *args: Any) -> Any:
        # ``@tw.no_grad`` without parentheses decorates the function directly.
        if cls is not set_grad_enabled and len(args) == 1 and callable(args[0]):
            return object.__new__(cls)(args[0])
        return object.__new__(cls)

    def __enter__(self) -> None:
        self._prev = STATE.enabled
        STATE.enabled = self._mode

    def __exit__(self, *exc: object) -> None:
        STATE.enabled = self._prev

    def __call__(self, fn: F) -> F:
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            prev = STATE.enabled
            STATE.enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                STATE.enabled = prev

        return wrapper  # type: ignore[return-value]


class no_grad(_GradMode):  # noqa: N801 - torch's spelling
    """Disable graph recording inside the block or the decorated function."""

    _mode = False


class enable_grad(_GradMode):  # noqa: N801 - torch's spelling
    """Re-enable graph recording (inside a ``no_grad`` block)."""

    _mode = True


class set_grad_enabled(_GradMode):  # noqa: N801 - torch's spelling
    """Set recording on or off: ``with tw.set_grad_enabled(training): ...``.

    As in torch, calling it sets the mode at once (``tw.set_grad_enabled(False)``
    as a plain statement works); used as a context manager or decorator it
    restores the previous mode afterwards.
    """

    def __init__(self, mode: bool) -> None:
        self._mode = bool(mode)
        self._prev = STATE.enabled
        STATE.enabled = self._mode  # takes effect at once, as torch's does

    def __enter__(self) -> None:
        pass

    def __call__(self, fn: F) -> F:
        STATE.enabled = self._prev  # used as a decorator: undo the immediate effect
        return super().__call__(fn)
