"""The normal (Gaussian) distribution N(loc, scale^2)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import random as _random
from ..autograd import grad_mode
from ..autograd.tensor import Tensor
from ..ops import api as ops
from .distribution import Distribution
from .utils import as_tensor, broadcast_all, check_arg, describe_bad, is_number

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


class Normal(Distribution):
    """Normal distribution with mean ``loc`` and standard deviation ``scale`` (> 0).

        p(x) = exp(-(x - mu)^2 / (2 sigma^2)) / (sigma sqrt(2 pi))
        log p(x) = -(x - mu)^2 / (2 sigma^2) - log sigma - log sqrt(2 pi)
        H = 1/2 + log sqrt(2 pi) + log sigma

    ``loc`` and ``scale`` broadcast to ``batch_shape``.  ``rsample`` is the
    reparameterisation ``loc + scale * eps``, ``eps ~ N(0, 1)`` (Kingma & Welling
    2014), so a sample carries gradients to ``loc`` and ``scale``.
    """

    has_rsample = True

    def __init__(self, loc: Any, scale: Any, *, validate_args: bool | None = None) -> None:
        self.loc, self.scale = broadcast_all(loc, scale)
        batch_shape = () if is_number(loc) and is_number(scale) else self.loc.shape
        super().__init__(batch_shape, validate_args=validate_args)
        if self._validate_args:
            s = self.scale.array
            bad = ~(s > 0)
            check_arg(not bad.any(), "Normal", f"scale must be positive, got {describe_bad(s, bad)}")
            nan = np.isnan(self.loc.array)
            check_arg(not nan.any(), "Normal", "loc must not be NaN")

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def stddev(self) -> Tensor:
        return self.scale

    @property
    def variance(self) -> Tensor:
        return self.scale ** 2

    def rsample(self, sample_shape: Any = (), *, generator: np.random.Generator | None = None) -> Tensor:
        """loc + scale * eps with eps ~ N(0, 1) drawn from the run's generator; differentiable."""
        shape = self._extended_shape(sample_shape)
        dtype = self.loc.dtype
        rng = _random.get_generator(generator)
        if dtype in (np.float32, np.float64):
            eps = rng.standard_normal(shape, dtype=dtype)
        else:
            eps = rng.standard_normal(shape).astype(dtype)
        return self.loc + Tensor(eps) * self.scale

    def sample(self, sample_shape: Any = (), *, generator: np.random.Generator | None = None) -> Tensor:
        """A draw without gradient (the same numbers ``rsample`` gives for the same generator state)."""
        with grad_mode.no_grad():
            return self.rsample(sample_shape, generator=generator).detach()

    def log_prob(self, value: Any) -> Tensor:
        value = as_tensor(value, self.loc.dtype)
        if self._validate_args:
            self._check_value_shape(value)
        var = self.scale ** 2
        return -((value - self.loc) ** 2) / (2.0 * var) - ops.log(self.scale) - _HALF_LOG_2PI

    def entropy(self) -> Tensor:
        return ops.log(self.scale) + (0.5 + _HALF_LOG_2PI)

    def __repr__(self) -> str:
        return f"Normal(loc: {tuple(self.loc.shape)}, scale: {tuple(self.scale.shape)})"
