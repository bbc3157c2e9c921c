"""Per-coordinate step sizes: Adagrad, Adadelta, RMSprop.

These replace the single global step size by one per parameter coordinate,
computed from the history of that coordinate's gradients: coordinates with
large gradients take small steps and vice versa (the lecture's "adaptive
learning rates").  Ruder's survey (arXiv:1609.04747, section 4) derives each
from the previous one.
"""

from __future__ import annotations

from typing import Sequence

from ..base import (Array, GradientTransformation, Hyper, PerParam, State, Updates, make_link, present, resolve,
                    zeros_once)

__all__ = ["scale_by_adadelta", "scale_by_adagrad", "scale_by_rms"]


def scale_by_adagrad(lr_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                     eps: float = 1e-10) -> GradientTransformation:
    """Adagrad: divide by the root of the *sum* of all past squared gradients.

    ::

        s_t = s_{t-1} + g_t^2                     (s_0 = initial_accumulator_value)
        u_t = g_t / (sqrt(s_t) + eps) / (1 + (t - 1) * lr_decay)

    The sum only grows, so steps shrink over time; ``lr_decay`` adds torch's
    extra ``1/(1 + (t-1) lr_decay)`` decay.  Defaults as ``torch.optim.Adagrad``:
    ``lr_decay=0, initial_accumulator_value=0, eps=1e-10``.  Paper: Duchi,
    Hazan & Singer (2011), "Adaptive subgradient methods for online learning and
    stochastic optimization".
    """
    defaults = {"lr_decay": lr_decay, "initial_accumulator_value": initial_accumulator_value, "eps": eps}

    def init(params: Sequence[Array]) -> State:
        return {"step": PerParam.empty(len(params), 0), "sum": PerParam.empty(len(params))}

    def update(updates: Updates, state: State, params: Sequence[Array] | None = None,
               hyper: Hyper | None = None) -> tuple[Updates, State]:
        h = resolve(hyper, defaults)
        decay, eps = float(h["lr_decay"]), float(h["eps"])
        steps, sums = state["step"], state["sum"]
        for i, u, xp in present(updates):
            steps[i] += 1
            if sums[i] is None:
                sums[i] = xp.full_like(u, float(h["initial_accumulator_value"]))
            s = sums[i]
            s += u * u
            std = xp.sqrt(s)
            std += eps
            u /= std
            if decay != 0.0:
                u *= 1.0 / (1.0 + (steps[i] - 1) * decay)
        return updates, state

    return make_link("scale_by_adagrad", defaults, init, update)


def scale_by_adadelta(rho: float = 0.9, eps: float = 1e-6) -> GradientTransformation:
    """Adadelta: Adagrad with a decaying window, and units that match the parameters.

    ::

        E[g^2]_t  = rho * E[g^2]_{t-1} + (1 - rho) * g_t^2
        delta_t   = sqrt(E[dx^2]_{t-1} + eps) / sqrt(E[g^2]_t + eps) * g_t
        E[dx^2]_t = rho * E[dx^2]_{t-1} + (1 - rho) * delta_t^2
        u_t       = delta_t

    The ratio of RMS values approximates a diagonal second-order step, so the
    method needs no learning rate (``optim.Adadelta`` still multiplies by
    ``lr=1.0``).  Defaults as torch: ``rho=0.9, eps=1e-6``.  Paper: Zeiler
    (2012), "ADADELTA: An adaptive learning rate method".
    """
    defaults = {"rho": rho, "eps": eps}

    def init(params: Sequence[Array]) -> State:
        n = len(params)
        return {"step": PerParam.empty(n, 0), "square_avg": PerParam.empty(n), "acc_delta": PerParam.empty(n)}

    def update(updates: Updates, state: State, params: Sequence[Array] | None = None,
               hyper: Hyper | None = None) -> tuple[Updates, State]:
        h = resolve(hyper, defaults)
        r, eps = float(h["rho"]), float(h["eps"])
        for i, u, xp in present(updates):
            state["step"][i] += 1
            zeros_once(state, i, u, "square_avg", "acc_delta")
            sq, acc = state["square_avg"][i], state["acc_delta"][i]
            sq *= r
            sq += (1.0 - r) * (u * u)
            std = sq + eps
            xp.sqrt(std, out=std)
            ratio = acc + eps
            xp.sqrt(ratio, out=ratio)
            ratio /= std
            u *= ratio
            acc *= r
            acc += (1.0 - r) * (u * u)
        return updates, state

    return make_link("scale_by_adadelta", defaults, init, update)


def scale_by_rms(alpha: float = 0.99, eps: float = 1e-8, centered: bool = False) -> GradientTransformation:
    """RMSprop: divide by a running root mean square of the gradients.

    ::

        v_t = alpha * v_{t-1} + (1 - alpha) * g_t^2
        m_t = alpha * m_{t-1} + (1 - alpha) * g_t          (centered only)
        u_t = g_t / (sqrt(v_t - m_t^2) + eps)   if centered   else   g_t / (sqrt(v_t) + eps)

    The centered form divides by an estimate of the gradient's standard
    deviation rather than its RMS (Graves, 2013).  ``optim.RMSprop`` adds
    torch's momentum after this link.  Defaults as torch: ``alpha=0.99,
    eps=1e-8, centered=False``.  Source: Hinton's Coursera lecture 6e (2012);
    Graves (2013), "Generating sequences with recurrent neural networks".
    """
    defaults = {"alpha": alpha, "eps": eps, "centered": centered}

    def init(params: Sequence[Array]) -> State:
        n = len(params)
        return {"step": PerParam.empty(n, 0), "square_avg": PerParam.empty(n), "grad_avg": PerParam.empty(n)}

    def update(updates: Updates, state: State, params: Sequence[Array] | None = None,
               hyper: Hyper | None = None) -> tuple[Updates, State]:
        h = resolve(hyper, defaults)
        a, eps, centered_ = float(h["alpha"]), float(h["eps"]), bool(h["centered"])
        for i, u, xp in present(updates):
            state["step"][i] += 1
            if state["square_avg"][i] is None:
                state["square_avg"][i] = xp.zeros_like(u)
            sq = state["square_avg"][i]
            sq *= a
            sq += (1.0 - a) * (u * u)
            if centered_:
                if state["grad_avg"][i] is None:
                    state["grad_avg"][i] = xp.zeros_like(u)
                ga = state["grad_avg"][i]
                ga += (1.0 - a) * (u - ga)
                avg = sq - ga * ga
                xp.sqrt(avg, out=avg)
            else:
                avg = xp.sqrt(sq)
            avg += eps
            u /= avg
        return updates, state

    return make_link("scale_by_rms", defaults, init, update)
