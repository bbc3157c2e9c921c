"""The base class of probability distributions.

A distribution object holds a *batch* of independent distributions of the same
family: its parameters broadcast to ``batch_shape``, and one draw has shape
``batch_shape + event_shape`` (``event_shape`` is ``()`` for the scalar
families here).  ``sample(sample_shape)`` prepends ``sample_shape``.

Two kinds of sampling, as in PyTorch:

- ``sample()`` draws without a gradient, from the run's seeded generator
  (``tw.manual_seed``) or the ``generator=`` passed in.  It is what
  REINFORCE-style policy gradients need: the gradient goes through
  ``log_prob(action)``, not through the action.
- ``rsample()`` exists where a *reparameterisation* does (Kingma & Welling
  2014, arXiv 1312.6114): the draw is a differentiable function of the
  parameters and of parameter-free noise, e.g. ``loc + scale * eps`` with
  ``eps ~ N(0, 1)``, so gradients flow through the sample itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from ..ops import api as ops
from .utils import as_shape


class Distribution(ABC):
    """A batch of probability distributions (see the module docstring).

    Subclasses define ``sample``, ``log_prob``, ``entropy``, ``mean`` and
    ``variance``; ``stddev`` is ``sqrt(variance)``.  ``validate_args`` (default
    True) checks values passed to ``log_prob`` against the support.
    """

    has_rsample = False

    def __init__(self, batch_shape: tuple[int, ...] = (), event_shape: tuple[int, ...] = (), *,
                 validate_args: bool | None = None) -> None:
        self._batch_shape = tuple(int(s) for s in batch_shape)
        self._event_shape = tuple(int(s) for s in event_shape)
        self._validate_args = True if validate_args is None else bool(validate_args)

    # ------------------------------------------------------------------ shapes
    @property
    def batch_shape(self) -> tuple[int, ...]:
        """The shape over which parameters are batched (independent distributions)."""
        return self._batch_shape

    @property
    def event_shape(self) -> tuple[int, ...]:
        """The shape of one draw from one distribution of the batch."""
        return self._event_shape

    def _extended_shape(self, sample_shape: Any = ()) -> tuple[int, ...]:
        return as_shape(sample_shape) + self._batch_shape + self._event_shape

    # ---------------------------------------------------------------- sampling
    @abstractmethod
    def sample(self, sample_shape: Any = (), *, generator: np.random.Generator | None = None) -> Tensor:
        """Draw ``sample_shape + batch_shape + event_shape`` values, without gradient."""

    def rsample(self, sample_shape: Any = (), *, generator: np.random.Generator | None = None) -> Tensor:
        """A reparameterised draw through which gradients flow (only where ``has_rsample``)."""
        raise TypeError(
            f"{type(self).__name__} has no reparameterised sample (rsample); use sample() and "
            "differentiate log_prob instead (the score-function / REINFORCE estimator)"
        )

    # ---------------------------------------------------------------- densities
    @abstractmethod
    def log_prob(self, value: Any) -> Tensor:
        """log p(value), elementwise over the batch (value broadcasts with ``batch_shape``)."""

    @abstractmethod
    def entropy(self) -> Tensor:
        """H = -E[log p(X)], one value per batch element."""

    # ---------------------------------------------------------------- moments
    @property
    @abstractmethod
    def mean(self) -> Tensor:
        """E[X]."""

    @property
    @abstractmethod
    def variance(self) -> Tensor:
        """Var[X] = E[(X - E X)^2]."""

    @property
    def stddev(self) -> Tensor:
        """The standard deviation sqrt(Var[X])."""
        return ops.sqrt(self.variance)

    # ------------------------------------------------------------------ helpers
    def _check_value_shape(self, value: Tensor) -> None:
        """``value`` must broadcast with ``batch_shape + event_shape``."""
        target = self._batch_shape + self._event_shape
        try:
            np.broadcast_shapes(value.shape, target)
        except ValueError:
            raise ValueError(
                f"{type(self).__name__}.log_prob: value of shape {value.shape} does not broadcast "
                f"with batch_shape + event_shape = {target}"
            ) from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(batch_shape={self._batch_shape}, event_shape={self._event_shape})"
