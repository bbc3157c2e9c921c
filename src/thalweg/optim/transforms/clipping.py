"""Gradient clipping links: by value and by global norm.

Clipping bounds the size of a step when a gradient explodes (deep or
recurrent networks).  These links clip the updates *inside* a chain, so they
see one parameter group; to clip over the whole model before ``step()``, use
``optim.clip_grad_norm_`` / ``optim.clip_grad_value_`` on the gradients.
"""

from __future__ import annotations

import math
from typing import Sequence

from ...backend import get_array_module
from ..base import Array, GradientTransformation, Hyper, State, Updates, make_link, resolve

__all__ = ["clip_by_global_norm", "clip_by_value", "global_norm"]


def global_norm(arrays: Sequence[Array | None]) -> float:
    """``sqrt(sum_i ||a_i||^2)`` over the arrays that are not ``None``."""
    total = 0.0
    for a in arrays:
        if a is not None:
            xp = get_array_module(a)
            total += float(xp.vdot(a, a))
    return math.sqrt(total)


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
        c = float(resolve(hyper, defaults)["clip_value"])
        for u in updates:
            if u is not None:
                get_array_module(u).clip(u, -c, c, out=u)
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
        limit = float(resolve(hyper, defaults)["max_norm"])
        coef = limit / (global_norm(updates) + 1e-6)
        if coef < 1.0:
            for u in updates:
                if u is not None:
                    u *= coef
        return updates, state

    return make_link("clip_by_global_norm", defaults, init, update)
