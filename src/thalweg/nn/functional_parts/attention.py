"""``F.scaled_dot_product_attention`` with torch 2.13's signature and mask conventions.

The work is one fused ``Function`` (``ops/attention.py``); this wrapper checks
the arguments, turns the mask into the op's form and draws the dropout mask
from the run's seeded generator.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ... import random as _random
from ...autograd.tensor import Tensor
from ...backend import get_array_module
from ...ops import api as _api
from ...ops.attention import ScaledDotProductAttention

__all__ = ["scaled_dot_product_attention"]


def _array(x: Any) -> Any:
    return x.array if isinstance(x, Tensor) else x


def _repeat_heads(x: Tensor, groups: int) -> Tensor:
    """(..., H, S, E) -> (..., H * groups, S, E), each head repeated ``groups`` times in a row (repeat_interleave)."""
    shape = tuple(x.shape)
    wide = _api.expand(_api.unsqueeze(x, -3), shape[:-2] + (groups,) + shape[-2:])
    return _api.reshape(wide, shape[:-3] + (shape[-3] * groups,) + shape[-2:])


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Any = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False, *, generator: Any = None) -> Tensor:
    """softmax(Q K^T scale + M) V over the last two dimensions (Vaswani et al. 2017, arXiv 1706.03762).

    ``query`` (..., L, E), ``key`` (..., S, E), ``value`` (..., S, Ev) -> (..., L, Ev);
    leading dimensions broadcast.  ``scale`` defaults to 1 / sqrt(E).
    ``attn_mask`` broadcasts to (..., L, S): a boolean mask is True where a query
    *may* attend (False -> -inf), a float mask is added to the scores (and gets a
    gradient if it requires one).  ``is_causal`` instead hides the keys after each
    query (the lower triangle of an L x S matrix of ones, top-left aligned);
    giving both is an error, as in torch.
    ``dropout_p`` drops attention weights with the run's generator (always: like
    torch, this function has no ``training`` flag).  ``enable_gqa`` lets key and
    value have fewer heads (dimension -3) than the query (grouped-query attention:
    each key head serves H_q / H_k consecutive query heads).  A query that can see
    no key gets the output 0, as torch 2.13 returns on the CPU.
    """
    op = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
        if t.ndim < 2:
            raise ValueError(f"{op}: {name} must have at least 2 dimensions (..., seq, features), "
                             f"got shape {tuple(t.shape)}")
    if query.dtype.kind != "f" or key.dtype != query.dtype or value.dtype != query.dtype:
        raise TypeError(f"{op}: query, key and value must share one floating dtype, got {query.dtype}, "
                        f"{key.dtype} and {value.dtype}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(f"{op}: expected query (..., L, E), key (..., S, E), value (..., S, Ev), got shapes "
                         f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
    if is_causal and attn_mask is not None:
        raise RuntimeError(f"{op}: explicit attn_mask should not be set when is_causal=True (as torch)")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{op}: dropout_p must be in [0, 1], got {dropout_p}")
    if enable_gqa and query.ndim >= 3 and key.ndim >= 3 and query.shape[-3] != key.shape[-3]:
        hq, hk = query.shape[-3], key.shape[-3]
        if hq % hk or value.shape[-3] != hk:
            raise ValueError(f"{op}: with enable_gqa the query heads ({hq}) must be a multiple of the key and value "
                             f"heads, got shapes {tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
        key, value = _repeat_heads(key, hq // hk), _repeat_heads(value, hq // hk)
    L, S = query.shape[-2], key.shape[-2]
    try:
        batch = np.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except ValueError:
        raise ValueError(f"{op}: the leading dimensions of query {tuple(query.shape)}, key {tuple(key.shape)} and "
                         f"value {tuple(value.shape)} do not broadcast (heads differ? pass enable_gqa=True)") from None
    scores = batch + (L, S)
    float_mask, blocked = None, None
    if attn_mask is not None:
        mask = _array(attn_mask)
        try:
            scores = np.broadcast_shapes(scores, mask.shape)
        except ValueError:
            raise ValueError(f"{op}: attn_mask of shape {tuple(mask.shape)} does not broadcast to the scores' shape "
                             f"{scores}") from None
        if mask.dtype == np.bool_:
            blocked = ~mask
        elif mask.dtype != query.dtype:
            raise TypeError(f"{op}: attn_mask must be bool or have the query's dtype {query.dtype}, "
                            f"got {mask.dtype}")
        else:
            float_mask = attn_mask if isinstance(attn_mask, Tensor) else Tensor._wrap(mask, False)
    drop = None
    if dropout_p > 0.0:
        xp = get_array_module(query.array)
        dtype = query.dtype
        if dropout_p == 1.0:
            drop = xp.zeros(scores, dtype=dtype)
        else:
            u = _random.get_generator(generator).random(scores, dtype=np.float32)
            drop = xp.asarray(u >= np.float32(dropout_p)) * dtype.type(1.0 / (1.0 - dropout_p))
    s = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    return ScaledDotProductAttention.apply(query, key, value, float_mask, blocked=blocked, causal=bool(is_causal),
                                           scale=s, drop=drop)
