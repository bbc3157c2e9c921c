"""``Embedding``: a lookup table of learned vectors, one row per token.

``Embedding(num_embeddings, embedding_dim)`` holds ``weight`` of shape
``(num_embeddings, embedding_dim)``, initialised N(0, 1) as in PyTorch, and maps
integer indices of any shape to ``indices.shape + (embedding_dim,)``.  Looking
up row ``k`` is the same as multiplying a one-hot vector by the weight matrix
(Bengio et al. 2003, "A Neural Probabilistic Language Model"), without
building the one-hot vector; the gradient scatter-adds into the looked-up rows
(``ops/embedding.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import dtypes
from .. import random as _random
from ..autograd.tensor import Tensor
from .functional_parts.recurrent import lookup, normalize_padding_idx
from .module import Module
from .parameter import Parameter

__all__ = ["Embedding"]


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``.

    ``padding_idx``: that row starts at zeros and never receives a gradient
    (for a padding token).  ``max_norm``: looked-up rows whose ``norm_type``-norm
    exceeds it are rescaled in place before the lookup.  ``scale_grad_by_freq``:
    divide each row's gradient by its index's count in the batch.  ``_weight``
    supplies the table (not re-initialised), ``_freeze`` makes it untrainable.
    ``generator`` draws the N(0, 1) initialisation (default: the run's generator).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, *,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Any = None, _freeze: bool = False, generator: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        for what, value in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"Embedding: {what} must be a positive integer, got {value!r}")
        if max_norm is not None and not max_norm > 0:
            raise ValueError(f"Embedding: max_norm must be positive, got {max_norm!r}")
        if sparse:
            raise ValueError("Embedding: sparse gradients are not supported in thalweg; use sparse=False "
                             "(the dense gradient has the same values)")
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.padding_idx = normalize_padding_idx("Embedding", padding_idx, self.num_embeddings)
        self.max_norm = max_norm
        self.norm_type = float(norm_type)
        self.scale_grad_by_freq = bool(scale_grad_by_freq)
        self.sparse = False
        self.generator = generator
        shape = (self.num_embeddings, self.embedding_dim)
        if _weight is None:
            dtype = dtypes.get_default_dtype() if dtype is None else dtypes.resolve(dtype)
            self.weight = Parameter(np.empty(shape, dtype), requires_grad=not _freeze)
            self.reset_parameters()
        else:
            data = _weight.array if isinstance(_weight, Tensor) else _weight
            if hasattr(data, "detach") and hasattr(data, "numpy"):  # a torch tensor
                data = data.detach().cpu().numpy()
            data = np.asarray(data)
            if data.shape != shape:
                raise ValueError(f"Embedding: _weight must have shape {shape} (num_embeddings, embedding_dim), "
                                 f"got {data.shape}")
            self.weight = Parameter(data, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """weight ~ N(0, 1), with the ``padding_idx`` row set to zeros (PyTorch's default)."""
        rng = _random.get_generator(self.generator)
        self.weight.array[...] = rng.standard_normal(self.weight.array.shape)
        self.weight._bump_version()
        if self.padding_idx is not None:
            self.weight.array[self.padding_idx] = 0

    def forward(self, input: Any) -> Tensor:  # noqa: A002 - torch's name
        return lookup("Embedding", input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                      self.scale_grad_by_freq, False)

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True, padding_idx: int | None = None, *,
                        max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> "Embedding":
        """An ``Embedding`` whose table is ``embeddings`` (2-D), frozen unless ``freeze=False``.

        The array is used as given (its dtype kept, its ``padding_idx`` row not
        zeroed), as in PyTorch.
        """
        data = embeddings.array if isinstance(embeddings, Tensor) else embeddings
        if hasattr(data, "detach") and hasattr(data, "numpy"):  # a torch tensor
            data = data.detach().cpu().numpy()
        data = np.asarray(data)
        if data.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D (num_embeddings, "
                             f"embedding_dim), got shape {data.shape}")
        return cls(data.shape[0], data.shape[1], padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse, _weight=data, _freeze=freeze)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        return s
