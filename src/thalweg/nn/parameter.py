"""``Parameter``: the lecture's *parameter node*, a persistent value with a gradient.

A ``Parameter`` is a leaf ``Tensor`` that requires grad and that a ``Module``
registers when assigned as an attribute, so ``module.parameters()`` finds it.
"""

from __future__ import annotations

from typing import Any

from ..autograd.tensor import Tensor, _as_array


class Parameter(Tensor):
    """A trainable tensor: ``nn.Parameter(tw.zeros(3))`` or ``nn.Parameter(ndarray)``."""

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = _as_array([])
        super().__init__(data.array if isinstance(data, Tensor) else data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (Parameter, (self.array, self.requires_grad))
