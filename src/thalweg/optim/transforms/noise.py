"""Annealed Gaussian gradient noise (Neelakantan et al., 2015, arXiv:1511.06807).

At training step ``t`` every gradient coordinate gets independent noise

    g_t <- g_t + N(0, sigma_t^2),      sigma_t^2 = eta / (1 + t)^gamma

with ``gamma = 0.55`` and ``eta`` chosen from {0.01, 0.3, 1.0} in the paper
(0.01 for the deep fully-connected MNIST networks, 1.0 for Memory Networks,
Neural Programmer and the Neural GPU experiments).  The noise is large early
and decays, which the paper finds helps very deep or complex networks explore
and escape plateaus; it was added *after* gradient clipping, so put this link
after ``clip_by_global_norm`` in a chain.
"""

from __future__ import annotations

import itertools
import math
from typing import Sequence

import numpy as np

from ...backend import get_array_module
from ...random import get_generator
from ..base import Array, GradientTransformation, Hyper, State, Updates, make_link, resolve

__all__ = ["PAPER_ETAS", "add_gradient_noise", "noise_variance"]

#: the values of eta the paper selects from
PAPER_ETAS = (0.01, 0.3, 1.0)


def noise_variance(t: int, eta: float = 0.01, gamma: float = 0.55) -> float:
    """``sigma_t^2 = eta / (1 + t)^gamma`` (the paper's equation 1); ``t = 0`` is the first step."""
    return eta / (1.0 + t) ** gamma


def add_gradient_noise(eta: float = 0.01, gamma: float = 0.55, *, seed: int | None = None) -> GradientTransformation:
    """``u <- u + N(0, eta / (1 + t)^gamma)``, independently per coordinate.

    ``t`` counts this link's updates from 0.  Hyperparameters: ``eta``
    (default 0.01, the paper's MNIST setting; see ``PAPER_ETAS``) and
    ``gamma`` (default 0.55, the paper's value).

    Randomness: with ``seed=None`` the noise is drawn from thalweg's default
    generator (``tw.manual_seed``).  With an integer ``seed`` the draw at step
    ``t`` comes from ``np.random.default_rng([seed, stream, t])``, where
    ``stream`` numbers the states this link has initialised (one per parameter
    group), so the noise is reproducible and depends only on numbers saved in
    the state: a resumed run continues with the same noise.
    """
    defaults = {"eta": eta, "gamma": gamma}
    streams = itertools.count()

    def init(params: Sequence[Array]) -> State:
        return {"count": 0, "stream": next(streams)}

    def update(updates: Updates, state: State, params: Sequence[Array] | None = None,
               hyper: Hyper | None = None) -> tuple[Updates, State]:
        h = resolve(hyper, defaults)
        t = state["count"]
        std = math.sqrt(noise_variance(t, float(h["eta"]), float(h["gamma"])))
        rng = get_generator(None) if seed is None else np.random.default_rng([seed, state["stream"], t])
        for u in updates:
            if u is None:
                continue
            xp = get_array_module(u)
            dtype = u.dtype if u.dtype in (np.float32, np.float64) else np.float32
            z = rng.standard_normal(u.shape, dtype=dtype)
            z *= std
            u += xp.asarray(z)
        state["count"] = t + 1
        return updates, state

    return make_link("add_gradient_noise", defaults, init, update)
