"""A model's parameters as one flat vector, and its loss and gradient as a function of that vector.

The tools of this package (sharpness, interpolation) treat a trained network
the way the papers do: as a point ``x`` in ``R^n`` (every trainable
parameter, flattened in ``model.parameters()`` order) and a training
function ``f(x)``, the mean loss over a data set.  ``LossFunction`` is that
``f`` with its gradient, computed by the library's own backward pass.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..nn import functional as F
from ..nn.utils.vector import vector_to_parameters

__all__ = ["flat_parameters", "set_flat_parameters", "LossFunction"]

Loss = Callable[[Tensor, Tensor], Tensor]


def _trainable(model: Any) -> list[Any]:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"analysis: {type(model).__name__} has no trainable parameters")
    return params


def flat_parameters(model: Any) -> np.ndarray:
    """All trainable parameters of ``model`` in one float64 vector (a copy)."""
    return np.concatenate([p.array.reshape(-1).astype(np.float64) for p in _trainable(model)])


def set_flat_parameters(model: Any, vector: np.ndarray) -> None:
    """Write ``vector`` (as produced by ``flat_parameters``) back into the parameters, in their own dtype."""
    vector_to_parameters(np.asarray(vector), _trainable(model))


class LossFunction:
    """``f(x)``: the mean loss of ``model`` with parameters ``x`` over ``(inputs, targets)``, and its gradient.

    The model is evaluated in eval mode (dropout off, batch normalization
    with its running statistics), so ``f`` is a deterministic function of
    the parameters; the running statistics are not part of ``x``.  The data
    is processed in batches of ``batch_size``; ``loss(output, target)`` must
    return the batch *mean* (the default is cross-entropy).  Calls are
    counted in ``evaluations``.

    Use it as a context manager (or call ``restore()``) to put the model's
    original parameters and mode back.
    """

    def __init__(self, model: Any, inputs: np.ndarray, targets: np.ndarray, *, loss: Loss | None = None,
                 batch_size: int = 1000) -> None:
        if len(inputs) != len(targets) or len(inputs) == 0:
            raise ValueError(f"LossFunction: need as many targets as inputs (and at least one), got "
                             f"{len(inputs)} inputs and {len(targets)} targets")
        if batch_size <= 0:
            raise ValueError(f"LossFunction: batch_size must be positive, got {batch_size}")
        self.model = model
        self.inputs, self.targets = inputs, targets
        self.loss = loss if loss is not None else F.cross_entropy
        self.batch_size = int(batch_size)
        self.params = _trainable(model)
        self.x0 = flat_parameters(model)
        self.evaluations = 0
        self._was_training = bool(getattr(model, "training", False))
        model.eval()

    @property
    def n(self) -> int:
        return int(self.x0.size)

    def value(self, x: np.ndarray) -> float:
        """``f(x)`` without building a graph."""
        set_flat_parameters(self.model, x)
        self.evaluations += 1
        total, count = 0.0, len(self.targets)
        with no_grad():
            for i in range(0, count, self.batch_size):
                xb, yb = self.inputs[i:i + self.batch_size], self.targets[i:i + self.batch_size]
                total += float(self.loss(self.model(Tensor(xb)), Tensor(yb)).array) * len(yb)
        return total / count

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """``f(x)`` and ``grad f(x)`` (float64), by backpropagation through each batch."""
        set_flat_parameters(self.model, x)
        self.evaluations += 1
        count = len(self.targets)
        for p in self.params:
            p.grad = None
        total = 0.0
        for i in range(0, count, self.batch_size):
            xb, yb = self.inputs[i:i + self.batch_size], self.targets[i:i + self.batch_size]
            batch_loss = self.loss(self.model(Tensor(xb)), Tensor(yb)) * (len(yb) / count)
            batch_loss.backward()  # gradients accumulate over the batches: the gradient of the mean
            total += float(batch_loss.array)
        grad = np.concatenate([(p.grad.array if p.grad is not None else np.zeros_like(p.array)).reshape(-1)
                               .astype(np.float64) for p in self.params])
        for p in self.params:
            p.grad = None
        return total, grad

    __call__ = value_and_grad

    def restore(self) -> None:
        """Put the original parameters and training mode back."""
        set_flat_parameters(self.model, self.x0)
        self.model.train(self._was_training)

    def __enter__(self) -> "LossFunction":
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()
