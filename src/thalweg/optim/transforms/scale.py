"""Scaling links: a constant factor, and the learning rate.

The learning-rate link is normally the last one in a chain: it turns a
direction into a step, ``u <- -lr * u``, so that adding ``u`` to the
parameters is a descent step.
"""

from __future__ import annotations

from typing import Callable, Sequence

from ..base import Array, GradientTransformation, Hyper, State, Updates, make_link, resolve, write_hyper

__all__ = ["scale", "scale_by_learning_rate"]


def scale(step_size: float) -> GradientTransformation:
    """``u <- step_size * u`` with a fixed factor (it reads no hyperparameter)."""
    factor = float(step_size)

    def init(params: Sequence[Array]) -> State:
        return {}

    def update(updates: Updates, state: State, params: Sequence[Array] | None = None,
               hyper: Hyper | None = None) -> tuple[Updates, State]:
        for u in updates:
            if u is not None:
                u *= factor
        return updates, state

    return make_link("scale", {}, init, update, constant=lambda hyper: factor)


def scale_by_learning_rate(learning_rate: float | Callable[[int], float] = 1e-3, *,
                           flip_sign: bool = True) -> GradientTransformation:
    """``u <- -lr * u`` (or ``+lr * u`` with ``flip_sign=False``).

    With a number, the learning rate is the hyperparameter ``"lr"``: the front
    reads it from ``param_groups[i]["lr"]`` at every step, so a scheduler (or
    you) can change it at any time.  With a schedule, a function of the step
    count ``t = 0, 1, 2, ...``, the link evaluates ``lr = schedule(t)``, keeps
    ``t`` in its state and writes the value into the group's ``"lr"``, so the
    learning rate in use is always one lookup away.
    """
    schedule = learning_rate if callable(learning_rate) else None
    sign = -1.0 if flip_sign else 1.0
    default_lr = float(schedule(0)) if schedule is not None else learning_rate
    defaults = {"lr": default_lr}

    def init(params: Sequence[Array]) -> State:
        return {"count": 0} if schedule is not None else {}

    def update(updates: Updates, state: State, params: Sequence[Array] | None = None,
               hyper: Hyper | None = None) -> tuple[Updates, State]:
        if schedule is not None:
            lr = float(schedule(state["count"]))
            state["count"] += 1
            write_hyper(hyper, "lr", lr)
        else:
            lr = float(resolve(hyper, defaults)["lr"])
        factor = sign * lr
        for u in updates:
            if u is not None:
                u *= factor
        return updates, state

    def constant(hyper: Hyper | None) -> float | None:
        return None if schedule is not None else sign * float(resolve(hyper, defaults)["lr"])  # a schedule counts

    return make_link("scale_by_learning_rate", defaults, init, update, constant)
