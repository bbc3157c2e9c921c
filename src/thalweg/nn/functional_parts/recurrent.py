"""Stateless embedding lookup (``F.embedding``), the function behind ``nn.Embedding``.

The recurrent layers themselves have no functional form in PyTorch's
``torch.nn.functional``; their fused ops live in ``thalweg/ops/recurrent.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...autograd.tensor import Tensor
from ...backend import get_array_module
from ...ops.embedding import EmbeddingFunction

__all__ = ["embedding"]


def _indices(name: str, input: Any, rows: int) -> Any:  # noqa: A002
    """The integer index array of ``input``, checked against ``rows``."""
    if isinstance(input, Tensor):
        idx = input.array
    elif hasattr(input, "detach") and hasattr(input, "numpy"):  # a torch tensor
        idx = input.detach().cpu().numpy()
    else:
        idx = np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must be integers (int64 or int32), got dtype {idx.dtype}")
    if idx.size:
        low, high = int(idx.min()), int(idx.max())
        if low < 0 or high >= rows:
            bad = low if low < 0 else high
            raise IndexError(f"{name}: index {bad} is out of range for {rows} embeddings (valid: 0 to {rows - 1})")
    return idx


def normalize_padding_idx(name: str, padding_idx: int | None, rows: int) -> int | None:
    """PyTorch's rule: a negative ``padding_idx`` counts from the end; it must name a row."""
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)):
        raise TypeError(f"{name}: padding_idx must be an int or None, got {padding_idx!r}")
    if not -rows <= padding_idx < rows:
        raise ValueError(f"{name}: padding_idx={padding_idx} must lie within num_embeddings={rows} "
                         f"(from {-rows} to {rows - 1})")
    return int(padding_idx) % rows


def _renorm_(weight: Tensor, idx: Any, max_norm: float, norm_type: float) -> None:
    """Rescale, in place and outside the graph, the looked-up rows whose p-norm exceeds ``max_norm``."""
    xp = get_array_module(weight.array)
    rows = xp.unique(idx)
    w = weight.array[rows]
    norms = xp.linalg.norm(w, ord=norm_type, axis=1)
    over = norms > max_norm
    if over.any():
        scale = (max_norm / (norms[over] + 1e-7)).astype(w.dtype)
        weight.array[rows[over]] = w[over] * scale[:, None]


def embedding(input: Any, weight: Tensor, padding_idx: int | None = None,  # noqa: A002 - torch's name
              max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
              sparse: bool = False) -> Tensor:
    """Look up rows of ``weight`` (num_embeddings, dim): output shape ``input.shape + (dim,)``.

    ``padding_idx``'s row gets no gradient.  With ``max_norm``, every row that
    is looked up and whose ``norm_type``-norm exceeds ``max_norm`` is first
    rescaled to norm ``max_norm``, in place, as PyTorch does.  Gradients are
    always dense (``sparse=True`` is refused rather than silently ignored).
    """
    return lookup("embedding", input, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse)


def lookup(name: str, input: Any, weight: Tensor, padding_idx: int | None, max_norm: float | None,  # noqa: A002
           norm_type: float, scale_grad_by_freq: bool, sparse: bool) -> Tensor:
    """:func:`embedding` with errors that name ``name`` (the calling layer)."""
    if not isinstance(weight, Tensor) or weight.ndim != 2:
        shape = tuple(weight.shape) if hasattr(weight, "shape") else type(weight).__name__
        raise ValueError(f"{name}: weight must be a 2-D tensor (num_embeddings, embedding_dim), got {shape}")
    if sparse:
        raise ValueError(f"{name}: sparse gradients are not supported in thalweg; use sparse=False "
                         "(the dense gradient has the same values)")
    rows = weight.shape[0]
    idx = _indices(name, input, rows)
    padding_idx = normalize_padding_idx(name, padding_idx, rows)
    if max_norm is not None:
        _renorm_(weight, idx, float(max_norm), float(norm_type))
    return EmbeddingFunction.apply(weight, indices=idx, padding_idx=padding_idx,
                                   scale_grad_by_freq=bool(scale_grad_by_freq))
