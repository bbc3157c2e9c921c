"""Gradient recording switches: ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``inference_mode``.

All work as context managers and as decorators.  Under ``no_grad`` ops run
eagerly but record nothing, so no graph is built (evaluation, optimizer
updates).  ``inference_mode`` is ``no_grad`` that also reports itself through
``is_inference_mode_enabled()``.

The mode is *thread-local*, as in torch: a ``no_grad`` block in one thread never
switches recording off in another, and every new thread starts with recording
on.  Each block saves the previous mode on a per-thread stack when it is
entered and restores it when it exits, so one switch object may be entered by
several threads, or re-entered, and each exit restores what its own entry saw.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _State(threading.local):
    """Per-thread mode.  Class attributes are each new thread's defaults."""

    enabled = True
    inference = False

    def __init__(self) -> None:
        self.saved: list[tuple[bool, bool]] = []  # (enabled, inference) saved by the open blocks


STATE = _State()


class _Disabled:
    """How many threads have recording off now: while it is 0, every thread records (a fast check for ops)."""

    threads = 0


DISABLED = _Disabled()
_lock = threading.Lock()


def recording() -> bool:
    """Whether ops record the graph in this thread; skips the thread-local lookup while no thread has it off."""
    return DISABLED.threads == 0 or STATE.enabled


def set_enabled(enabled: bool) -> None:
    """Switch recording in this thread, keeping the count of threads that have it off."""
    state = STATE
    if state.enabled != enabled:
        with _lock:
            DISABLED.threads += -1 if enabled else 1
        state.enabled = enabled


def is_grad_enabled() -> bool:
    """Whether ops currently record the graph (in this thread)."""
    return STATE.enabled


def is_inference_mode_enabled() -> bool:
    """Whether this thread is inside ``inference_mode()``."""
    return STATE.inference


class _GradMode:
    """A switch that sets (enabled, inference) inside a block and restores the previous pair after it."""

    _mode = True
    _inference: bool | None = None  # None: leave the inference flag as it is

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # ``@tw.no_grad`` without parentheses decorates the function directly.
        if cls is not set_grad_enabled and len(args) == 1 and not kwargs and callable(args[0]):
            switch = object.__new__(cls)
            switch.__init__()  # Python skips __init__ when __new__ returns something else
            return switch(args[0])
        return object.__new__(cls)

    def _switch(self) -> None:
        state = STATE
        state.saved.append((state.enabled, state.inference))
        set_enabled(self._mode)
        if self._inference is not None:
            state.inference = self._inference

    @staticmethod
    def _restore() -> None:
        state = STATE
        enabled, state.inference = state.saved.pop()
        set_enabled(enabled)

    def __enter__(self) -> None:
        self._switch()

    def __exit__(self, *exc: object) -> None:
        self._restore()

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self._switch()
            try:
                return fn(*args, **kwargs)
            finally:
                self._restore()

        return wrapper  # type: ignore[return-value]


class no_grad(_GradMode):  # noqa: N801 - torch's spelling
    """Disable graph recording inside the block or the decorated function."""

    _mode = False


class enable_grad(_GradMode):  # noqa: N801 - torch's spelling
    """Re-enable graph recording (inside a ``no_grad`` block)."""

    _mode = True


class inference_mode(_GradMode):  # noqa: N801 - torch's spelling
    """``no_grad`` for pure inference: ``with tw.inference_mode(): ...`` or ``@tw.inference_mode``.

    ``inference_mode(mode=False)`` leaves inference mode and turns recording on,
    as torch's does.  (torch also marks the tensors made inside as "inference
    tensors" that may never enter a graph later; here they are ordinary tensors
    without a graph, as under ``no_grad``.)
    """

    def __init__(self, mode: bool = True) -> None:
        self._mode = not mode
        self._inference = bool(mode)


class set_grad_enabled(_GradMode):  # noqa: N801 - torch's spelling
    """Set recording on or off: ``with tw.set_grad_enabled(training): ...``.

    As in torch, calling it sets the mode at once (``tw.set_grad_enabled(False)``
    as a plain statement works); used as a context manager or decorator it
    restores the previous mode afterwards.
    """

    def __init__(self, mode: bool) -> None:
        self._mode = bool(mode)
        self._prev = STATE.enabled
        set_enabled(self._mode)  # takes effect at once, as torch's does

    def __enter__(self) -> None:
        # The call already set the mode; the block restores what it was before the call.
        STATE.saved.append((self._prev, STATE.inference))
        set_enabled(self._mode)

    def __call__(self, fn: F) -> F:
        set_enabled(self._prev)  # used as a decorator: undo the immediate effect
        return super().__call__(fn)
