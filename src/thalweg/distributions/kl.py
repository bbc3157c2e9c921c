"""Kullback-Leibler divergence KL(p || q) = E_p[log p(X) - log q(X)] between two
distributions of the same family, in closed form.

A small dispatch table maps ``(type(p), type(q))`` to a function; add a pair
with ``@register_kl(P, Q)``.  Lookup walks both classes' MROs, so a subclass
inherits its parent's rule.
"""

from __future__ import annotations

from typing import Callable

from ..autograd.tensor import Tensor
from ..ops import api as ops
from .bernoulli import Bernoulli
from .categorical import Categorical
from .distribution import Distribution
from .normal import Normal

KLFunction = Callable[[Distribution, Distribution], Tensor]
_KL_TABLE: dict[tuple[type, type], KLFunction] = {}
_INF = float("inf")


def register_kl(type_p: type, type_q: type) -> Callable[[KLFunction], KLFunction]:
    """Decorator: register ``fn(p, q)`` as KL(p || q) for ``p: type_p``, ``q: type_q``."""
    def decorate(fn: KLFunction) -> KLFunction:
        _KL_TABLE[(type_p, type_q)] = fn
        return fn
    return decorate


def kl_divergence(p: Distribution, q: Distribution) -> Tensor:
    """KL(p || q) per batch element, differentiable in both distributions' parameters."""
    for tp in type(p).__mro__:
        for tq in type(q).__mro__:
            fn = _KL_TABLE.get((tp, tq))
            if fn is not None:
                return fn(p, q)
    pairs = ", ".join(f"({a.__name__}, {b.__name__})" for a, b in _KL_TABLE)
    raise TypeError(f"kl_divergence: no closed form registered for ({type(p).__name__}, {type(q).__name__}); "
                    f"registered pairs: {pairs}")


@register_kl(Normal, Normal)
def _kl_normal_normal(p: Normal, q: Normal) -> Tensor:
    """log(s_q / s_p) + (s_p^2 + (m_p - m_q)^2) / (2 s_q^2) - 1/2, written with r = (s_p / s_q)^2."""
    var_ratio = (p.scale / q.scale) ** 2
    t1 = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (var_ratio + t1 - 1.0 - ops.log(var_ratio))


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p: Categorical, q: Categorical) -> Tensor:
    """sum_k p_k (log p_k - log q_k); +inf where q_k = 0 < p_k, and 0 log 0 = 0."""
    t = p.probs * (p.logits - q.logits)
    t = ops.where(q.probs == 0, _INF, t)
    t = ops.where(p.probs == 0, 0.0, t)
    return ops.sum(t, dim=-1)


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p: Bernoulli, q: Bernoulli) -> Tensor:
    """p log(p/q) + (1-p) log((1-p)/(1-q)), with log p = -softplus(-l), log(1-p) = -softplus(l)."""
    t1 = p.probs * (ops.softplus(-q.logits) - ops.softplus(-p.logits))
    t1 = ops.where(q.probs == 0, _INF, t1)
    t1 = ops.where(p.probs == 0, 0.0, t1)
    t2 = (1.0 - p.probs) * (ops.softplus(q.logits) - ops.softplus(p.logits))
    t2 = ops.where(q.probs == 1, _INF, t2)
    t2 = ops.where(p.probs == 1, 0.0, t2)
    return t1 + t2
