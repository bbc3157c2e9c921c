"""Momentum (heavy ball) and Nesterov momentum, as ``torch.optim.SGD`` computes them.

The lecture's momentum keeps a *velocity*, a running sum of past gradients:

    gamma(t+1) = mu * gamma(t) + grad L,      theta(t+1) = theta(t) - eps * gamma(t+1)

so a direction that keeps appearing accumulates speed, and directions that
flip sign cancel out (Polyak, 1964).  Nesterov's variant (in the form of
Sutskever et al., 2013) looks one step ahead: it uses ``g + mu * b`` instead
of ``b``.
"""

from __future__ import annotations

from typing import Sequence

from ..base import Array, GradientTransformation, Hyper, PerParam, State, Updates, make_link, resolve

__all__ = ["scale_by_momentum"]


def scale_by_momentum(momentum: float = 0.9, dampening: float = 0.0,
                      nesterov: bool = False) -> GradientTransformation:
    """Momentum with torch's exact formulation.

    With velocity buffer ``b`` per parameter (``momentum_buffer``)::

        b_1 = g_1                                   (the first buffer is the gradient itself)
        b_t = mu * b_{t-1} + (1 - dampening) * g_t
        u_t = g_t + mu * b_t    if nesterov    else    u_t = b_t

    Defaults: ``momentum=0.9, dampening=0, nesterov=False`` (``optim.SGD``
    uses ``momentum=0``).  With ``momentum == 0`` the link passes the updates
    through and keeps no buffer.  Hyperparameters: ``momentum``,
    ``dampening``, ``nesterov``.  Papers: Polyak (1964), "Some methods of
    speeding up the convergence of iteration methods"; Sutskever, Martens, Dahl
    and Hinton (2013), "On the importance of initialization and momentum in
    deep learning".
    """
    defaults = {"momentum": momentum, "dampening": dampening, "nesterov": nesterov}

    def init(params: Sequence[Array]) -> State:
        return {"momentum_buffer": PerParam.empty(len(params))}

    def update(updates: Updates, state: State, params: Sequence[Array] | None = None,
               hyper: Hyper | None = None) -> tuple[Updates, State]:
        h = resolve(hyper, defaults)
        mu, damp, nest = float(h["momentum"]), float(h["dampening"]), bool(h["nesterov"])
        if mu == 0.0:
            return updates, state
        bufs = state["momentum_buffer"]
        for i, u in enumerate(updates):
            if u is None:
                continue
            buf = bufs[i]
            if buf is None:
                bufs[i] = buf = u.copy()
            elif damp == 0.0:
                buf *= mu
                buf += u
            elif damp == 1.0:
                buf *= mu
            else:
                # mu*b + (1-d)*g  ==  (1-d) * (b * mu/(1-d) + g), with no temporary array
                buf *= mu / (1.0 - damp)
                buf += u
                buf *= 1.0 - damp
            if nest:
                # g + mu*b  ==  mu * (g/mu + b), in place
                u *= 1.0 / mu
                u += buf
                u *= mu
            else:
                u[...] = buf
        return updates, state

    def constant(hyper: Hyper | None) -> float | None:
        return 1.0 if float(resolve(hyper, defaults)["momentum"]) == 0.0 else None

    return make_link("scale_by_momentum", defaults, init, update, constant)
