"""Clip gradients in place before ``optimizer.step()``: ``clip_grad_norm_`` and ``clip_grad_value_``.

Same names, arguments and results as ``torch.nn.utils``.  They act on the
``.grad`` arrays of all the given parameters together (the whole model), where
the ``clip_by_*`` transforms act on one parameter group inside a chain.  The math is theirs
(``optim/transforms/clipping.py``); this file only gathers the gradients and checks the arguments.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from ..autograd.tensor import Tensor
from .transforms.clipping import clip_values_, global_norm, scale_to_norm_

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[Any]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    out = []
    for p in params:
        g = p.grad
        if g is not None:
            out.append(g.array)
    return out


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    ::

        n = (sum_p ||g_p||_q^q)^(1/q)     (q = norm_type; q = inf: max_p max |g_p|)
        g_p <- g_p * min(1, max_norm / (n + 1e-6))

    Returns the total norm ``n`` (before clipping) as a 0-d tensor.  With
    ``error_if_nonfinite`` a NaN/inf norm raises ``RuntimeError``.
    """
    max_norm, q = float(max_norm), float(norm_type)
    if max_norm < 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be non-negative, got {max_norm}")
    if q <= 0 and not math.isinf(q):
        raise ValueError(f"clip_grad_norm_: norm_type must be positive, got {norm_type}")
    grads = _grads(parameters)
    if not grads:
        return Tensor(np.zeros((), dtype=np.float32))
    total = global_norm(grads, q)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}; "
                           "set error_if_nonfinite=False to clip anyway")
    scale_to_norm_(grads, max_norm, total)
    return Tensor(np.asarray(total, dtype=grads[0].dtype))


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clip every gradient coordinate to ``[-clip_value, clip_value]`` in place."""
    c = float(clip_value)
    if c < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be non-negative, got {clip_value}")
    clip_values_(_grads(parameters), c)
