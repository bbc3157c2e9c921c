"""The categorical distribution over {0, ..., K-1}."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import random as _random
from ..autograd.tensor import Tensor
from ..ops import api as ops
from .distribution import Distribution
from .utils import as_tensor, check_arg, float_dtype, gather_last, logits_to_probs, probs_to_logits


class Categorical(Distribution):
    """A distribution over K classes, from ``probs=`` or ``logits=`` (exactly one).

    ``probs`` (non-negative, finite, non-zero sum) is normalised along the last
    axis: p_k = w_k / sum_j w_j.  ``logits`` are unnormalised log-probabilities,
    normalised as l_k - logsumexp(l).  The leading axes are the batch:
    ``batch_shape = param.shape[:-1]``.

        log p(k) = l_k                  (the normalised logit)
        H = -sum_k p_k l_k

    ``sample`` returns int64 class indices; its gradient-free draws come from
    the inverse CDF of one uniform number per draw.  The policy-gradient code
    differentiates ``log_prob(actions)`` instead.
    """

    def __init__(self, probs: Any = None, logits: Any = None, *, validate_args: bool | None = None) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Categorical: pass exactly one of probs= and logits=")
        self._probs: Tensor | None = None
        self._logits: Tensor | None = None
        param = as_tensor(probs if probs is not None else logits, float_dtype(probs, logits))
        if param.ndim < 1:
            name = "probs" if probs is not None else "logits"
            raise ValueError(f"Categorical: {name} must have at least one dimension, got shape {param.shape}")
        validate = True if validate_args is None else bool(validate_args)
        if probs is not None:
            if validate:
                p = param.array
                check_arg(bool(np.isfinite(p).all()) and bool((p >= 0).all()), "Categorical",
                          f"probs must be finite and non-negative, got min {np.nanmin(p)!r}")
                check_arg(bool((p.sum(-1) > 0).all()), "Categorical",
                          "probs must have a non-zero sum along the last axis")
            self._probs = param / ops.sum(param, dim=-1, keepdim=True)
        else:
            if validate:
                check_arg(not np.isnan(param.array).any(), "Categorical", "logits must not be NaN")
            self._logits = ops.log_softmax(param, dim=-1)
        self._num_events = param.shape[-1]
        self._param_shape = param.shape
        super().__init__(param.shape[:-1], validate_args=validate_args)

    # ------------------------------------------------------------ parameters
    @property
    def probs(self) -> Tensor:
        """Normalised class probabilities, shape ``batch_shape + (K,)``."""
        if self._probs is None:
            self._probs = logits_to_probs(self._logits)
        return self._probs

    @property
    def logits(self) -> Tensor:
        """Normalised log-probabilities (logsumexp over the last axis is 0)."""
        if self._logits is None:
            self._logits = probs_to_logits(self._probs)
        return self._logits

    @property
    def param_shape(self) -> tuple[int, ...]:
        return self._param_shape

    @property
    def num_events(self) -> int:
        """K, the number of classes."""
        return self._num_events

    # --------------------------------------------------------------- moments
    def _nan(self) -> Tensor:
        return Tensor(np.full(self._batch_shape, np.nan, dtype=self._param_dtype()))

    def _param_dtype(self) -> np.dtype:
        return (self._probs if self._probs is not None else self._logits).dtype

    @property
    def mean(self) -> Tensor:
        """Undefined for class labels: NaN, as in torch."""
        return self._nan()

    @property
    def variance(self) -> Tensor:
        """Undefined for class labels: NaN, as in torch."""
        return self._nan()

    @property
    def mode(self) -> Tensor:
        """The most probable class."""
        return ops.argmax(self.probs, dim=-1)

    # --------------------------------------------------------------- sampling
    def sample(self, sample_shape: Any = (), *, generator: np.random.Generator | None = None) -> Tensor:
        """Class indices (int64) of shape ``sample_shape + batch_shape``, by the inverse CDF.

        With u ~ U[0, 1), the class is the number of cumulative probabilities
        F_k <= u, so class k is chosen with probability F_k - F_{k-1} = p_k.
        """
        p = self.probs.array
        cdf = np.cumsum(p, axis=-1)
        cdf /= cdf[..., -1:]  # the last entry is exactly 1, so every u < 1 finds a class
        shape = self._extended_shape(sample_shape)
        u = _random.get_generator(generator).random(shape + (1,))
        idx = (cdf <= u).sum(axis=-1)
        return Tensor(np.minimum(idx, self._num_events - 1).astype(np.int64))

    def enumerate_support(self, *, expand: bool = True) -> Tensor:
        """The classes 0..K-1 along a new leading axis (broadcast over the batch if ``expand``)."""
        values = np.arange(self._num_events, dtype=np.int64).reshape((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = np.broadcast_to(values, (self._num_events,) + self._batch_shape).copy()
        return Tensor(values)

    # --------------------------------------------------------------- densities
    def log_prob(self, value: Any) -> Tensor:
        """The normalised logit of each class index in ``value`` (broadcast with ``batch_shape``)."""
        idx = value.array if isinstance(value, Tensor) else np.asarray(value)
        if self._validate_args:
            self._check_value_shape(Tensor(idx))
            whole = idx.dtype.kind in "iub" or bool((idx == np.round(idx)).all())
            inside = bool(((idx >= 0) & (idx < self._num_events)).all())
            if not (whole and inside):
                raise ValueError(f"Categorical.log_prob: values must be class indices in [0, {self._num_events - 1}], "
                                 f"got min {idx.min()!r}, max {idx.max()!r}")
        return gather_last(self.logits, idx.astype(np.int64, copy=False))

    def entropy(self) -> Tensor:
        """-sum_k p_k log p_k; classes with p_k = 0 contribute 0 (their logit is clamped to the dtype's min)."""
        lo = float(np.finfo(self.logits.dtype).min)
        return -ops.sum(ops.clamp(self.logits, min=lo) * self.probs, dim=-1)

    def __repr__(self) -> str:
        return f"Categorical(batch_shape={self._batch_shape}, num_events={self._num_events})"
