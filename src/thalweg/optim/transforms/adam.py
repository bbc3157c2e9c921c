"""Adam and its variants: AMSGrad, Adamax, NAdam, RAdam.

Adam (Kingma & Ba, 2015) combines momentum (a running mean of gradients) with
RMSprop (a running mean of squared gradients) and corrects both for their
start at zero.  The variants change one piece each: AMSGrad keeps the largest
second moment seen (Reddi et al., 2018), Adamax uses an infinity norm,
NAdam folds in Nesterov momentum (Dozat, 2016), RAdam switches the adaptive
step on only once its variance is tractable (Liu et al., 2019).
"""

from __future__ import annotations

import math
from typing import Sequence

from ...ops import kernels
from ..base import (Array, GradientTransformation, Hyper, PerParam, State, Updates, make_link, present, resolve,
                    zeros_once)

__all__ = ["scale_by_adam", "scale_by_adamax", "scale_by_nadam", "scale_by_radam"]


def scale_by_adam(betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                  amsgrad: bool = False) -> GradientTransformation:
    """Adam's direction ``m_hat / (sqrt(v_hat) + eps)``.

    ::

        m_t = b1 * m_{t-1} + (1 - b1) * g_t          v_t = b2 * v_{t-1} + (1 - b2) * g_t^2
        m_hat = m_t / (1 - b1^t)                     v_hat = v_t / (1 - b2^t)
        u_t = m_hat / (sqrt(v_hat) + eps)            (AMSGrad: v_t <- max(v_max, v_t) first)

    Defaults as ``torch.optim.Adam``: ``betas=(0.9, 0.999), eps=1e-8,
    amsgrad=False``.  Papers: Kingma & Ba (2015), "Adam: A method for
    stochastic optimization"; Reddi, Kale & Kumar (2018), "On the convergence
    of Adam and beyond" (AMSGrad).

    Storage.  The state keeps the moments without their ``(1 - b)`` factor,
    ``exp_sum = m_t / (1 - b1) = sum_k b1^(t-k) g_k`` (and ``exp_sum_sq``
    likewise for ``v``), because ``S <- b1 * S + g`` takes two passes over
    memory where ``m <- b1 * m + (1 - b1) * g`` takes three; the bias-corrected
    ``m_hat = (1 - b1) * S / (1 - b1^t)`` is ``S`` divided by the sum of its
    weights ``1 + b1 + ... + b1^(t-1)``.  If a scheduler changes the betas,
    the sums are re-expressed in the new units first, so the result is exactly
    the textbook recursion.  The whole step runs in place, with no temporary
    arrays; for float32 (without AMSGrad) it is one compiled pass over g, S
    and V (``ops/kernels.py``) instead of ten NumPy passes.
    """
    defaults = {"betas": tuple(betas), "eps": eps, "amsgrad": amsgrad}

    def init(params: Sequence[Array]) -> State:
        n = len(params)
        return {"step": PerParam.empty(n, 0), "exp_sum": PerParam.empty(n), "exp_sum_sq": PerParam.empty(n),
                "max_exp_sum_sq": PerParam.empty(n), "beta1": PerParam.empty(n), "beta2": PerParam.empty(n)}

    def update(updates: Updates, state: State, params: Sequence[Array] | None = None,
               hyper: Hyper | None = None) -> tuple[Updates, State]:
        h = resolve(hyper, defaults)
        b1, b2 = (float(b) for b in h["betas"])
        eps, ams = float(h["eps"]), bool(h["amsgrad"])
        for i, u, xp in present(updates):
            if zeros_once(state, i, u, "exp_sum", "exp_sum_sq"):
                state["beta1"][i], state["beta2"][i] = b1, b2
            state["step"][i] += 1
            t = state["step"][i]
            s, v = state["exp_sum"][i], state["exp_sum_sq"][i]
            s_scale = b1 * (1.0 - state["beta1"][i]) / (1.0 - b1)  # S in units of the current b1 (1 if unchanged)
            v_rescale = (1.0 - state["beta2"][i]) / (1.0 - b2)
            # m_hat = c1 * S and sqrt(v_hat) = c2 * sqrt(V), so u = (c1 / c2) * S / (sqrt(V) + eps / c2)
            c1 = (1.0 - b1) / (1.0 - b1**t)
            c2 = math.sqrt((1.0 - b2) / (1.0 - b2**t))
            state["beta1"][i], state["beta2"][i] = b1, b2
            if not ams and kernels.usable(u, s, v):  # the lines below in one compiled pass
                kernels.adam_direction(u, s, v, s_scale, b2 * v_rescale, c1 / c2, eps / c2)
                continue
            # S <- b1 * S + g
            s *= s_scale
            s += u
            u *= u  # u now holds g^2: g itself is no longer needed
            v *= b2 * v_rescale
            v += u
            denom_src = v
            if ams:
                if state["max_exp_sum_sq"][i] is None:
                    state["max_exp_sum_sq"][i] = xp.zeros_like(u)
                vmax = state["max_exp_sum_sq"][i]
                if v_rescale != 1.0:
                    vmax *= v_rescale
                xp.maximum(vmax, v, out=vmax)
                denom_src = vmax
            xp.sqrt(denom_src, out=u)
            u += eps / c2
            xp.divide(s, u, out=u)
            u *= c1 / c2
        return updates, state

    return make_link("scale_by_adam", defaults, init, update)


def scale_by_adamax(betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> GradientTransformation:
    """Adamax: Adam with the infinity norm in place of the RMS.

    ::

        m_t = b1 * m_{t-1} + (1 - b1) * g_t
        u_inf_t = max(b2 * u_inf_{t-1}, |g_t| + eps)
        u_t = m_t / u_inf_t / (1 - b1^t)

    Defaults as ``torch.optim.Adamax``: ``betas=(0.9, 0.999), eps=1e-8``
    (torch adds ``eps`` inside the max).  Paper: Kingma & Ba (2015), section 7.1.
    """
    defaults = {"betas": tuple(betas), "eps": eps}

    def init(params: Sequence[Array]) -> State:
        n = len(params)
        return {"step": PerParam.empty(n, 0), "exp_avg": PerParam.empty(n), "exp_inf": PerParam.empty(n)}

    def update(updates: Updates, state: State, params: Sequence[Array] | None = None,
               hyper: Hyper | None = None) -> tuple[Updates, State]:
        h = resolve(hyper, defaults)
        b1, b2 = (float(b) for b in h["betas"])
        eps = float(h["eps"])
        for i, u, xp in present(updates):
            zeros_once(state, i, u, "exp_avg", "exp_inf")
            state["step"][i] += 1
            t = state["step"][i]
            m, w = state["exp_avg"][i], state["exp_inf"][i]
            m += (1.0 - b1) * (u - m)
            w *= b2
            xp.abs(u, out=u)
            u += eps
            xp.maximum(w, u, out=w)
            xp.divide(m, w, out=u)
            u *= 1.0 / (1.0 - b1**t)
        return updates, state

    return make_link("scale_by_adamax", defaults, init, update)


def scale_by_nadam(betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                   momentum_decay: float = 4e-3) -> GradientTransformation:
    """NAdam: Adam with Nesterov momentum, with torch's momentum schedule.

    ::

        mu_t = b1 * (1 - 0.5 * 0.96^(t * momentum_decay))       (the momentum warms up)
        m_t = b1 * m_{t-1} + (1 - b1) * g_t,   v_t = b2 * v_{t-1} + (1 - b2) * g_t^2
        d_t = sqrt(v_t / (1 - b2^t)) + eps
        u_t = [(1 - mu_t) / (1 - prod_{k<=t} mu_k) * g_t + mu_{t+1} / (1 - prod_{k<=t+1} mu_k) * m_t] / d_t

    The first term is the current gradient's share, the second the look-ahead
    momentum's.  Defaults as ``torch.optim.NAdam``: ``betas=(0.9, 0.999),
    eps=1e-8, momentum_decay=4e-3``.  Paper: Dozat (2016), "Incorporating
    Nesterov momentum into Adam".
    """
    defaults = {"betas": tuple(betas), "eps": eps, "momentum_decay": momentum_decay}

    def init(params: Sequence[Array]) -> State:
        n = len(params)
        return {"step": PerParam.empty(n, 0), "mu_product": PerParam.empty(n, 1.0),
                "exp_avg": PerParam.empty(n), "exp_avg_sq": PerParam.empty(n)}

    def update(updates: Updates, state: State, params: Sequence[Array] | None = None,
               hyper: Hyper | None = None) -> tuple[Updates, State]:
        h = resolve(hyper, defaults)
        b1, b2 = (float(b) for b in h["betas"])
        eps, psi = float(h["eps"]), float(h["momentum_decay"])
        for i, u, xp in present(updates):
            zeros_once(state, i, u, "exp_avg", "exp_avg_sq")
            state["step"][i] += 1
            t = state["step"][i]
            m, v = state["exp_avg"][i], state["exp_avg_sq"][i]
            mu = b1 * (1.0 - 0.5 * 0.96 ** (t * psi))
            mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
            state["mu_product"][i] *= mu
            prod = state["mu_product"][i]
            m += (1.0 - b1) * (u - m)
            v *= b2
            v += (1.0 - b2) * (u * u)
            denom = v * (1.0 / (1.0 - b2**t))
            xp.sqrt(denom, out=denom)
            denom += eps
            u *= (1.0 - mu) / (1.0 - prod)
            u += (mu_next / (1.0 - prod * mu_next)) * m
            u /= denom
        return updates, state

    return make_link("scale_by_nadam", defaults, init, update)


def scale_by_radam(betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> GradientTransformation:
    """RAdam: rectified Adam, momentum SGD until the adaptive step is trustworthy.

    ::

        m_hat = m_t / (1 - b1^t),   rho_inf = 2 / (1 - b2) - 1,
        rho_t = rho_inf - 2 t b2^t / (1 - b2^t)                 (length of the approximated SMA)
        if rho_t > 5:  r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
                       u_t = m_hat * r_t * sqrt(1 - b2^t) / (sqrt(v_t) + eps)
        else:          u_t = m_hat

    Early on the variance of the adaptive learning rate is large (few samples
    of ``v``), so RAdam takes plain momentum steps and then phases in the
    rectified adaptive step.  Defaults as ``torch.optim.RAdam``: ``betas=(0.9,
    0.999), eps=1e-8``.  Paper: Liu et al. (2019), "On the variance of the
    adaptive learning rate and beyond".
    """
    defaults = {"betas": tuple(betas), "eps": eps}

    def init(params: Sequence[Array]) -> State:
        n = len(params)
        return {"step": PerParam.empty(n, 0), "exp_avg": PerParam.empty(n), "exp_avg_sq": PerParam.empty(n)}

    def update(updates: Updates, state: State, params: Sequence[Array] | None = None,
               hyper: Hyper | None = None) -> tuple[Updates, State]:
        h = resolve(hyper, defaults)
        b1, b2 = (float(b) for b in h["betas"])
        eps = float(h["eps"])
        rho_inf = 2.0 / (1.0 - b2) - 1.0
        for i, u, xp in present(updates):
            zeros_once(state, i, u, "exp_avg", "exp_avg_sq")
            state["step"][i] += 1
            t = state["step"][i]
            m, v = state["exp_avg"][i], state["exp_avg_sq"][i]
            m += (1.0 - b1) * (u - m)
            v *= b2
            v += (1.0 - b2) * (u * u)
            bc1, bc2 = 1.0 - b1**t, 1.0 - b2**t
            rho_t = rho_inf - 2.0 * t * b2**t / bc2
            if rho_t > 5.0:
                rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                xp.sqrt(v, out=u)
                u += eps
                xp.divide(m, u, out=u)
                u *= rect * math.sqrt(bc2) / bc1
            else:
                xp.multiply(m, 1.0 / bc1, out=u)
        return updates, state

    return make_link("scale_by_radam", defaults, init, update)
