"""Gradient clipping links: by value and by global norm.

Clipping bounds the size of a step when a gradient explodes (deep or
recurrent networks).  These links clip the updates *inside* a chain, so they
see one parameter group; to clip over the whole model before ``step()``, use
``optim.clip_grad_norm_`` / ``optim.clip_grad_value_`` on the gradients.

The math lives here once: ``global_norm``, ``scale_to_norm_`` and ``clip_values_`` act on plain arrays, and
both the links below and ``clip_grad_norm_`` / ``clip_grad_value_`` (and so the training loop's
``GradientClipping`` callback) call them.
"""

from __future__ import annotations

import math
from typing import Sequence

from ...backend import get_array_module
from ..base import Array, GradientTransformation, Hyper, State, Updates, make_link, resolve

__all__ = ["clip_by_global_norm", "clip_by_value", "clip_values_", "global_norm", "scale_to_norm_"]

# torch's guard in ``clip_grad_norm_``: the scale is max_norm / (n + 1e-6)
_NORM_EPS = 1e-6


def global_norm(arrays: Sequence[Array | None], norm_type: float = 2.0) -> float:
    """The joint norm of the arrays that are not ``None``, as if they were one long vector.

    ``(sum_i ||a_i||_q^q)^(1/q)``; ``q = 2`` (the default) is ``sqrt(sum_i ||a_i||^2)``, and ``q = inf`` is
    ``max_i max |a_i|``.
    """
    q = float(norm_type)
    present = [a for a in arrays if a is not None]
    if math.isinf(q):
        return max((float(get_array_module(a).abs(a).max()) for a in present if a.size), default=0.0)
    if q == 2.0:
        return math.sqrt(sum(float(get_array_module(a).vdot(a, a)) for a in present))
    return sum(float((get_array_module(a).abs(a) ** q).sum()) for a in present) ** (1.0 / q)


def scale_to_norm_(arrays: Sequence[Array | None], max_norm: float, total: float) -> None:
    """``a_i <- a_i * min(1, max_norm / (total + 1e-6))`` in place: cap a joint norm ``total`` at ``max_norm``."""
    coef = max_norm / (total + _NORM_EPS)
    if coef < 1.0:
        for a in arrays:
            if a is not None:
                a *= coef


def clip_values_(arrays: Sequence[Array | None], clip_value: float) -> None:
    """``a <- clip(a, -clip_value, clip_value)`` in place, coordinate by coordinate."""
    for a in arrays:
        if a is not None:
            get_array_module(a).clip(a, -clip_value, clip_value, out=a)


def clip_by_value(clip_value: float) -> GradientTransformation:
    """``u <- clip(u, -clip_value, clip_value)`` coordinate by coordinate.

    Hyperparameter: ``clip_value``.  This changes the direction of the step
    as well as its size, unlike clipping by norm.
    """
    defaults = {"clip_value": clip_value}

    def init(params: Sequence[Array]) -> State:
        return {}

    def update(updates: Updates, state: State, params: Sequence[Array] | None = None,
               hyper: Hyper | None = None) -> tuple[Updates, State]:
        clip_values_(updates, float(resolve(hyper, defaults)["clip_value"]))
        return updates, state

    return make_link("clip_by_value", defaults, init, update)


def clip_by_global_norm(max_norm: float) -> GradientTransformation:
    """Rescale all updates together so their global L2 norm is at most ``max_norm``.

    ::

        n = sqrt(sum_i ||u_i||^2),    u_i <- u_i * min(1, max_norm / (n + 1e-6))

    The ``1e-6`` is torch's ``clip_grad_norm_`` guard, kept so the link and
    ``optim.clip_grad_norm_`` agree.  The direction is preserved.
    Hyperparameter: ``max_norm``.  Paper: Pascanu, Mikolov & Bengio (2013),
    "On the difficulty of training recurrent neural networks".
    """
    defaults = {"max_norm": max_norm}

    def init(params: Sequence[Array]) -> State:
        return {}

    def update(updates: Updates, state: State, params: Sequence[Array] | None = None,
               hyper: Hyper | None = None) -> tuple[Updates, State]:
        scale_to_norm_(updates, float(resolve(hyper, defaults)["max_norm"]), global_norm(updates))
        return updates, state

    return make_link("clip_by_global_norm", defaults, init, update)
