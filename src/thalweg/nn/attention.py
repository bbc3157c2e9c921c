"""``nn.MultiheadAttention`` (Vaswani et al. 2017, "Attention Is All You Need", arXiv 1706.03762, section 3.2.2).

    MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O,   head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)
    Attention(q, k, v) = softmax(q k^T / sqrt(d_head) + mask) v

Parameters carry torch's names and shapes, so ``load_state_dict(torch_mha.state_dict())``
works: ``in_proj_weight`` (3E, E) when key and value have the embedding size
(else ``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight``), ``in_proj_bias``
(3E), ``out_proj.weight``/``out_proj.bias`` and, with ``add_bias_kv``,
``bias_k``/``bias_v`` (1, 1, E).

Masks follow torch's ``MultiheadAttention`` convention, the opposite of
``scaled_dot_product_attention``'s for booleans: here True means "may NOT
attend"; float masks are added to the scores.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import dtypes
from ..autograd.tensor import Tensor
from ..backend import get_array_module
from ..ops import api as _api
from . import init
from .functional_parts.attention import scaled_dot_product_attention
from .functional_parts.basic import dropout, linear
from .linear import Linear
from .module import Module
from .parameter import Parameter

__all__ = ["MultiheadAttention"]


def mask_array(mask: Any, name: str, owner: str) -> Any:
    """A mask as an ndarray (bool or float), or None; anything else is a ``TypeError`` naming it."""
    if mask is None:
        return None
    a = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    if a.dtype != np.bool_ and a.dtype.kind != "f":
        raise TypeError(f"{owner}: only bool and floating {name} are supported, got dtype {a.dtype}")
    return a


class _Masks:
    """The attention masks of one call, merged, in the (N, H, L, S) layout of the scores.

    ``blocked`` is a boolean array (True = may not attend) and ``additive`` a
    float array added to the scores; at most one is set (a boolean mask met with
    a float one becomes float: 0 or -inf).
    """

    def __init__(self) -> None:
        self.blocked: Any = None
        self.additive: Any = None

    def add(self, mask: Any, dtype: Any) -> None:
        if mask is None:
            return
        if mask.dtype == np.bool_ and self.additive is None:
            self.blocked = mask if self.blocked is None else (self.blocked | mask)
            return
        xp = get_array_module(mask)
        if mask.dtype == np.bool_:
            mask = xp.where(mask, dtype.type(-np.inf), dtype.type(0))
        else:
            mask = mask.astype(dtype, copy=False)
        if self.blocked is not None:
            mask = xp.where(self.blocked, dtype.type(-np.inf), mask)
            self.blocked = None
        self.additive = mask if self.additive is None else self.additive + mask

    def pad_key(self) -> None:
        """One more key at the end (a bias or zero key) that every query may attend to."""
        for name in ("blocked", "additive"):
            m = getattr(self, name)
            if m is not None:
                xp = get_array_module(m)
                setattr(self, name, xp.concatenate([m, xp.zeros(m.shape[:-1] + (1,), dtype=m.dtype)], axis=-1))


class MultiheadAttention(Module):
    """Multi-head attention with torch's arguments, parameter names and mask conventions.

    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)`` takes (L, N, E) query and (S, N, kdim/vdim)
    key/value, or (N, L, E)... with ``batch_first=True``, or unbatched (L, E); it returns
    ``(output, weights)``: the output in the query's layout and, with ``need_weights``, the
    attention weights (N, L, S) averaged over heads (or (N, H, L, S)), else None.
    ``key_padding_mask`` (N, S): True (or -inf) hides a key; ``attn_mask`` (L, S) or
    (N * H, L, S): True hides a key from a query, floats are added.  ``is_causal`` is a
    hint that ``attn_mask`` is the causal mask (which must still be given, as in torch).
    With ``need_weights=False`` the heads go through the fused
    ``scaled_dot_product_attention``; with weights, through an explicit softmax (as torch:
    a query with no visible key then gives NaN there).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if not isinstance(embed_dim, int) or embed_dim <= 0 or not isinstance(num_heads, int) or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be positive integers, got "
                             f"embed_dim={embed_dim!r} and num_heads={num_heads!r}")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by num_heads "
                             f"({num_heads})")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1], got {dropout}")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        d = dtypes.resolve(dtype)
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(np.empty((embed_dim, embed_dim), dtype=d))
            self.k_proj_weight = Parameter(np.empty((embed_dim, self.kdim), dtype=d))
            self.v_proj_weight = Parameter(np.empty((embed_dim, self.vdim), dtype=d))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(np.empty((3 * embed_dim, embed_dim), dtype=d))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(np.empty(3 * embed_dim, dtype=d))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        if add_bias_kv:
            self.bias_k = Parameter(np.empty((1, 1, embed_dim), dtype=d))
            self.bias_v = Parameter(np.empty((1, 1, embed_dim), dtype=d))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """torch's initialisation: Xavier-uniform projections, zero biases, Xavier-normal bias_k/bias_v."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def _describe(self) -> str:
        return f"MultiheadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads})"

    # ------------------------------------------------------------------ pieces
    def _project(self, query: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The input projections q = query W_q^T + b_q (and k, v), one GEMM for self-attention."""
        E = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            if query is key and key is value:
                qkv = linear(query, w, b)
                return qkv[..., :E], qkv[..., E:2 * E], qkv[..., 2 * E:]
            if key is value:
                kv = linear(key, w[E:], None if b is None else b[E:])
                return linear(query, w[:E], bq), kv[..., :E], kv[..., E:]
            return linear(query, w[:E], bq), linear(key, w[E:2 * E], bk), linear(value, w[2 * E:], bv)
        return (linear(query, self.q_proj_weight, bq), linear(key, self.k_proj_weight, bk),
                linear(value, self.v_proj_weight, bv))

    def _check(self, query: Tensor, key: Tensor, value: Tensor) -> bool:
        """Shapes as torch's ``_mha_shape_check``; returns whether the input is batched."""
        name = self._describe()
        for arg, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{name}: {arg} must be a Tensor, got {type(t).__name__}")
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"{name}: expected query, key and value all 3-D (batched) or all 2-D (unbatched), got "
                             f"shapes {tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
        if query.shape[-1] != self.embed_dim or key.shape[-1] != self.kdim or value.shape[-1] != self.vdim:
            raise ValueError(f"{name}: expected feature sizes query {self.embed_dim}, key {self.kdim}, value "
                             f"{self.vdim}, got shapes {tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
        if key.shape[:-1] != value.shape[:-1]:
            raise ValueError(f"{name}: key {tuple(key.shape)} and value {tuple(value.shape)} must have the same "
                             f"sequence and batch sizes")
        return query.ndim == 3

    # ------------------------------------------------------------------ forward
    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        name = self._describe()
        batched = self._check(query, key, value)
        kpm = mask_array(key_padding_mask, "key_padding_mask", name)
        am = mask_array(attn_mask, "attn_mask", name)
        if is_causal and am is None:
            raise RuntimeError(f"{name}: need attn_mask if specifying the is_causal hint (you may use "
                               f"Transformer.generate_square_subsequent_mask to create it)")
        if not batched:  # (L, E): a batch of one, batch-first internally
            same_kv, same_qk = key is value, query is key
            query = _api.unsqueeze(query, 0)
            key = query if same_qk else _api.unsqueeze(key, 0)
            value = key if same_kv else _api.unsqueeze(value, 0)
            if kpm is not None:
                kpm = kpm[None]
            seq_axis = 1
        else:
            seq_axis = 1 if self.batch_first else 0
        N, L = query.shape[1 - seq_axis], query.shape[seq_axis]
        S = key.shape[seq_axis]
        H, hd, E = self.num_heads, self.head_dim, self.embed_dim
        if query.shape[1 - seq_axis] != key.shape[1 - seq_axis]:
            raise ValueError(f"{name}: query {tuple(query.shape)} and key {tuple(key.shape)} have different batch "
                             f"sizes")
        q, k, v = self._project(query, key, value)
        dtype = q.dtype
        masks = _Masks()
        if am is not None:
            if am.ndim == 2:
                if am.shape != (L, S):
                    raise ValueError(f"{name}: the 2-D attn_mask should have shape {(L, S)}, got {am.shape}")
                masks.add(am, dtype)
            elif am.ndim == 3 and am.shape == (N * H, L, S):
                masks.add(am.reshape(N, H, L, S), dtype)
            else:
                raise ValueError(f"{name}: attn_mask should have shape {(L, S)} or {(N * H, L, S)}, got {am.shape}")
        if kpm is not None:
            if kpm.shape != (N, S):
                raise ValueError(f"{name}: expected key_padding_mask of shape {(N, S)}, got {kpm.shape}")
            masks.add(kpm.reshape(N, 1, 1, S), dtype)
        if self.bias_k is not None:
            shape = (N, 1, E) if seq_axis == 1 else (1, N, E)
            k = _api.cat([k, _api.expand(self.bias_k, shape)], axis=seq_axis)
            v = _api.cat([v, _api.expand(self.bias_v, shape)], axis=seq_axis)
            masks.pad_key()
            S += 1
        # heads: (N, H, seq, hd)
        perm = (0, 2, 1, 3) if seq_axis == 1 else (1, 2, 0, 3)
        q = _api.permute(_api.reshape(q, q.shape[:2] + (H, hd)), perm)
        k = _api.permute(_api.reshape(k, k.shape[:2] + (H, hd)), perm)
        v = _api.permute(_api.reshape(v, v.shape[:2] + (H, hd)), perm)
        if self.add_zero_attn:
            zeros = Tensor._wrap(get_array_module(q.array).zeros((N, H, 1, hd), dtype=dtype), False)
            k = _api.cat([k, zeros], axis=2)
            v = _api.cat([v, zeros], axis=2)
            masks.pad_key()
        p = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            scores = _api.matmul(q * (1.0 / math.sqrt(hd)), _api.swapaxes(k, -1, -2))
            if masks.additive is not None:
                scores = scores + Tensor._wrap(masks.additive, False)
            if masks.blocked is not None:
                scores = _api.masked_fill(scores, Tensor._wrap(masks.blocked, False), -np.inf)
            w = _api.softmax(scores, dim=-1)
            if p > 0.0:
                w = dropout(w, p, True)
            out = _api.matmul(w, v)
            weights = _api.mean(w, dim=1) if average_attn_weights else w
            if not batched:
                weights = _api.squeeze(weights, 0)
        else:
            causal = is_causal and kpm is None
            attn = None
            if not causal:
                attn = masks.additive if masks.additive is not None else \
                    (None if masks.blocked is None else ~masks.blocked)
                attn = None if attn is None else Tensor._wrap(attn, False)
            out = scaled_dot_product_attention(q, k, v, attn, dropout_p=p, is_causal=causal)
        # (N, H, L, hd) -> the query's layout, heads concatenated
        back = (0, 2, 1, 3) if seq_axis == 1 else (2, 0, 1, 3)
        out = _api.reshape(_api.permute(out, back), (N, L, E) if seq_axis == 1 else (L, N, E))
        out = linear(out, self.out_proj.weight, self.out_proj.bias)
        if not batched:
            out = _api.squeeze(out, 0)
        return out, weights

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"
