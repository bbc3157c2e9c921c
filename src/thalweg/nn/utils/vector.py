"""Flatten parameters into one vector and back (as ``torch.nn.utils``)."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ...autograd.tensor import Tensor


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """Concatenate the parameters' values into one 1-D tensor (a copy, outside the graph)."""
    arrays = [p.array.reshape(-1) for p in parameters]
    if not arrays:
        raise ValueError("parameters_to_vector: no parameters given")
    return Tensor(np.concatenate(arrays))


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vec`` into the parameters, in order."""
    params = list(parameters)
    v = vec.array if isinstance(vec, Tensor) else np.asarray(vec)
    total = sum(p.array.size for p in params)
    if v.ndim != 1 or v.size != total:
        raise ValueError(f"vector_to_parameters: expected a 1-D vector of {total} elements, got shape {v.shape}")
    start = 0
    for p in params:
        n = p.array.size
        p.array[...] = v[start:start + n].reshape(p.array.shape)
        p._bump_version()
        start += n
