"""Weight decay, in the gradient (L2) or decoupled from it (AdamW).

The lecture's L2 penalty ``R = lambda/2 * ||theta||^2`` adds ``lambda * theta``
to the gradient; with plain SGD this is the same as shrinking the weights by
``(1 - lr * lambda)`` every step ("weight decay").  With an adaptive method the
two differ, because the added term is rescaled coordinate by coordinate with
the gradient.  Loshchilov and Hutter ("Decoupled Weight Decay Regularization",
2019) therefore add the decay *after* the adaptive scaling.  In a chain the
difference is only the position of the link:

    chain(add_l2(wd), scale_by_adam(), scale_by_learning_rate(lr))               # Adam + L2
    chain(scale_by_adam(), add_decayed_weights(wd), scale_by_learning_rate(lr))  # AdamW

To leave biases and normalisation scales undecayed, use parameter groups:
``optim.param_groups_no_decay(model, weight_decay)``.
"""

from __future__ import annotations

from typing import Sequence

from ..base import Array, GradientTransformation, Hyper, State, Updates, make_link, resolve

__all__ = ["add_decayed_weights", "add_l2"]


def _add_scaled_params(name: str, updates: Updates, params: Sequence[Array] | None, wd: float) -> Updates:
    if wd == 0.0:
        return updates
    if params is None:
        raise ValueError(f"{name}: weight decay needs the parameters; pass params to update()")
    for u, p in zip(updates, params):
        if u is not None:
            u += wd * p
    return updates


def add_l2(weight_decay: float = 0.0) -> GradientTransformation:
    """``u <- u + weight_decay * theta``: the L2 penalty's gradient (torch's ``weight_decay``).

    Put it first in the chain, before any rescaling.  Hyperparameter:
    ``weight_decay`` (default 0).
    """
    return _weight_term_link("add_l2", weight_decay)


def add_decayed_weights(weight_decay: float = 0.0) -> GradientTransformation:
    """``u <- u + weight_decay * theta`` placed *after* the adaptive scaling (decoupled decay).

    Followed by ``scale_by_learning_rate(lr)`` this shrinks the weights by
    ``lr * weight_decay * theta`` per step, exactly as ``torch.optim.AdamW``
    does (``theta <- theta * (1 - lr * wd)``).  Hyperparameter:
    ``weight_decay``.  Paper: Loshchilov & Hutter (2019).
    """
    return _weight_term_link("add_decayed_weights", weight_decay)


def _weight_term_link(name: str, weight_decay: float) -> GradientTransformation:
    """The stateless link ``u <- u + weight_decay * theta``; its place in the chain (``name``) is its meaning."""
    defaults = {"weight_decay": weight_decay}

    def init(params: Sequence[Array]) -> State:
        return {}

    def update(updates: Updates, state: State, params: Sequence[Array] | None = None,
               hyper: Hyper | None = None) -> tuple[Updates, State]:
        wd = float(resolve(hyper, defaults)["weight_decay"])
        return _add_scaled_params(name, updates, params, wd), state

    def constant(hyper: Hyper | None) -> float | None:
        return 1.0 if float(resolve(hyper, defaults)["weight_decay"]) == 0.0 else None

    return make_link(name, defaults, init, update, constant)
