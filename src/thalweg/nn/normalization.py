"""Normalisation layers: ``BatchNorm1d``, ``BatchNorm2d`` and ``LayerNorm``.

Batch normalization (Ioffe and Szegedy 2015, arXiv 1502.03167) normalises each
channel with the statistics of the current mini-batch during training and with
running averages of them at evaluation time (``model.eval()``).  Layer
normalization (Ba, Kiros and Hinton 2016, arXiv 1607.06450) normalises each
sample over its own features, so it behaves the same in training and
evaluation and does not depend on the batch.  Both have a learned per-feature
scale (``weight``, init 1) and shift (``bias``, init 0), so the layer can undo
the normalisation if that helps.  Forward and backward are fused Functions in
``ops/nn_ops.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import dtypes
from ..autograd.tensor import Tensor
from . import init
from .functional_parts.basic import batch_norm, layer_norm
from .functional_parts.group_norm import group_norm
from .module import Module
from .parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "GroupNorm", "LayerNorm"]


def _affine_parameters(module: Module, shape: Any, dtype: Any, *, affine: bool, bias: bool) -> None:
    """A normalization's learned scale (``weight``, 1) and shift (``bias``, 0), or ``None`` where not learned."""
    module.register_parameter("weight", Parameter(np.ones(shape, dtype=dtype)) if affine else None)
    module.register_parameter("bias", Parameter(np.zeros(shape, dtype=dtype)) if affine and bias else None)


def _reset_affine(module: Module) -> None:
    """Scale 1 and shift 0: the identity transform."""
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class _BatchNorm(Module):
    """Shared body of ``BatchNorm1d``/``BatchNorm2d``; subclasses name the accepted input ranks."""

    _ranks: tuple[int, ...] = ()
    _rank_words = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None, *,
                 bias: bool = True) -> None:
        super().__init__()
        name = type(self).__name__
        if not isinstance(num_features, int) or isinstance(num_features, bool) or num_features <= 0:
            raise ValueError(f"{name}: num_features must be a positive integer, got {num_features!r}")
        if eps <= 0:
            raise ValueError(f"{name}: eps must be positive, got {eps}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum}")
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        d = dtypes.resolve(dtype)
        _affine_parameters(self, num_features, d, affine=affine, bias=bias)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=d)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=d)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self) -> None:
        """Running statistics reset; weight 1 and bias 0 (the identity transform)."""
        self.reset_running_stats()
        _reset_affine(self)

    def _check_input(self, input: Tensor) -> None:
        if input.ndim not in self._ranks:
            raise ValueError(f"{self._short()}: expected {self._rank_words} input, got shape {tuple(input.shape)} "
                             f"({input.ndim}D)")
        if input.shape[1] != self.num_features:
            raise ValueError(f"{self._short()}: expected input with {self.num_features} channels in dimension 1, "
                             f"got shape {tuple(input.shape)}")

    def _short(self) -> str:
        return f"{type(self).__name__}({self.num_features})"

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        """Normalise with batch statistics (training, or no running stats) or the running ones (eval).

        Momentum semantics are torch's: running = (1 - momentum) running +
        momentum batch_statistic, with the unbiased batch variance;
        ``momentum=None`` gives the cumulative average over all batches seen
        (factor 1 / num_batches_tracked).
        """
        self._check_input(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.array)
        use_batch_stats = self.training or self.running_mean is None
        pass_buffers = not self.training or self.track_running_stats  # never update untracked statistics
        return batch_norm(input, self.running_mean if pass_buffers else None,
                          self.running_var if pass_buffers else None, self.weight, self.bias, use_batch_stats,
                          factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) inputs, per channel C.

    y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias, with E and Var over the
    batch (and length) in training and the running averages in eval mode.
    Buffers ``running_mean``, ``running_var`` and ``num_batches_tracked`` are in
    the state dict under torch's names.  ``bias=False`` (keyword) keeps the
    scale but drops the shift, as in torch 2.13.
    """

    _ranks = (2, 3)
    _rank_words = "2D or 3D"


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) inputs, per channel C (statistics over N, H and W)."""

    _ranks = (4,)
    _rank_words = "4D"


class BatchNorm3d(_BatchNorm):
    """Batch normalization of (N, C, D, H, W) inputs, per channel C (statistics over N, D, H and W)."""

    _ranks = (5,)
    _rank_words = "5D"


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` dimensions of each sample.

    y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias, E and Var (biased)
    over the last len(normalized_shape) dimensions; ``weight`` (init 1) and
    ``bias`` (init 0) have ``normalized_shape`` when ``elementwise_affine``.
    """

    def __init__(self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        shape = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) else \
            tuple(int(n) for n in normalized_shape)
        if not shape or any(n <= 0 for n in shape):
            raise ValueError(f"LayerNorm: normalized_shape must be non-empty and positive, got {normalized_shape!r}")
        self.normalized_shape = shape
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        d = dtypes.resolve(dtype)
        _affine_parameters(self, shape, d, affine=elementwise_affine, bias=bias)

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        k = len(self.normalized_shape)
        if input.ndim < k or tuple(input.shape[input.ndim - k:]) != self.normalized_shape:
            raise ValueError(f"{self!r}: expected input with trailing dimensions {self.normalized_shape}, "
                             f"got shape {tuple(input.shape)}")
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(Module):
    """Group normalization (Wu and He 2018, arXiv 1803.08494) of (N, C, *) inputs.

    The C channels form ``num_groups`` groups; each sample's group is normalised
    by its own mean and (biased) variance, y = (x - E[x]) / sqrt(Var[x] + eps) *
    weight + bias, with per-channel ``weight`` (init 1) and ``bias`` (init 0) when
    ``affine`` (``bias=False``, keyword: scale only, as torch 2.13).  Independent of the batch, so it behaves the
    same in training and evaluation.  Math and backward: ``ops/group_norm.py``.
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device: Any = None, dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        if not isinstance(num_groups, int) or not isinstance(num_channels, int) or num_groups < 1 \
                or num_channels < 1 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups}), both positive")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        d = dtypes.resolve(dtype)
        _affine_parameters(self, num_channels, d, affine=affine, bias=bias)

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise ValueError(f"{self!r}: expected input of shape (N, {self.num_channels}, *), "
                             f"got shape {tuple(input.shape)}")
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, bias={self.bias is not None}"
