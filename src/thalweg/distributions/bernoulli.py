"""The Bernoulli distribution over {0, 1}."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import random as _random
from ..autograd.tensor import Tensor
from .distribution import Distribution
from .utils import (as_tensor, bce_with_logits, broadcast_all, check_arg, describe_bad, is_number,
                    logits_to_probs, probs_to_logits)


class Bernoulli(Distribution):
    """P(X = 1) = p, P(X = 0) = 1 - p, from ``probs=`` (p in [0, 1]) or ``logits=``
    (the log-odds log(p / (1 - p))), exactly one.

        log p(x) = x log p + (1 - x) log(1 - p) = -BCE(logits, x)
        H = BCE(logits, p)       (the cross-entropy of p with itself)

    with BCE(l, z) = softplus(l) - l z evaluated stably.  Samples are 0.0/1.0
    floats of the parameter's dtype (as in torch).
    """

    def __init__(self, probs: Any = None, logits: Any = None, *, validate_args: bool | None = None) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Bernoulli: pass exactly one of probs= and logits=")
        self._probs: Tensor | None = None
        self._logits: Tensor | None = None
        given = probs if probs is not None else logits
        (param,) = broadcast_all(given)
        validate = True if validate_args is None else bool(validate_args)
        if probs is not None:
            if validate:
                p = param.array
                bad = ~((p >= 0) & (p <= 1))
                check_arg(not bad.any(), "Bernoulli", f"probs must lie in [0, 1], got {describe_bad(p, bad)}")
            self._probs = param
        else:
            if validate:
                check_arg(not np.isnan(param.array).any(), "Bernoulli", "logits must not be NaN")
            self._logits = param
        super().__init__(() if is_number(given) else param.shape, validate_args=validate_args)

    @property
    def probs(self) -> Tensor:
        """P(X = 1)."""
        if self._probs is None:
            self._probs = logits_to_probs(self._logits, is_binary=True)
        return self._probs

    @property
    def logits(self) -> Tensor:
        """The log-odds log p - log(1 - p) (p clamped into [eps, 1 - eps])."""
        if self._logits is None:
            self._logits = probs_to_logits(self._probs, is_binary=True)
        return self._logits

    @property
    def mean(self) -> Tensor:
        return self.probs

    @property
    def variance(self) -> Tensor:
        return self.probs * (1.0 - self.probs)

    def sample(self, sample_shape: Any = (), *, generator: np.random.Generator | None = None) -> Tensor:
        """0/1 draws of shape ``sample_shape + batch_shape``: 1 where a uniform u < p."""
        p = self.probs.array
        u = _random.get_generator(generator).random(self._extended_shape(sample_shape))
        return Tensor((u < p).astype(p.dtype))

    def log_prob(self, value: Any) -> Tensor:
        value = as_tensor(value, self.logits.dtype)
        if self._validate_args:
            self._check_value_shape(value)
            v = value.array
            bad = ~((v == 0) | (v == 1))
            if bad.any():
                raise ValueError(f"Bernoulli.log_prob: values must be 0 or 1, got {describe_bad(v, bad)}")
        return -bce_with_logits(self.logits, value)

    def entropy(self) -> Tensor:
        return bce_with_logits(self.logits, self.probs)

    def __repr__(self) -> str:
        return f"Bernoulli(batch_shape={self._batch_shape})"
