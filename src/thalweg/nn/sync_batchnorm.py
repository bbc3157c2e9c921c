"""``SyncBatchNorm``: batch normalization with statistics over the whole batch of every process.

Under data parallelism each process sees ``m_r`` of the batch's ``M = sum_r m_r``
values per channel.  Plain ``BatchNorm`` normalises with each shard's own
statistics; ``SyncBatchNorm`` gives exactly what one process would compute
on the whole batch:

forward (per channel, A = all axes but the channel one)::

    M = sum_r m_r,  mu = (sum_r sum_A x) / M                     # all-reduce 1: [sum x, count]
    var = (sum_r sum_A (x - mu)^2) / M                           # all-reduce 2: centred squares
    xhat = (x - mu) / sqrt(var + eps),  y = gamma xhat + beta

The variance is all-reduced as a sum of squares about the *global* mean
(two small all-reduces) rather than as ``E[x^2] - E[x]^2`` (one): the latter
cancels catastrophically in float32 when the mean is large against the
spread, and the two-pass form matches single-process BatchNorm to rounding.

backward, with g = dL_r/dy on this rank (its own loss)::

    dbeta_sum = sum_r sum_A g,  dgamma_sum = sum_r sum_A g xhat   # all-reduce 3
    dL/dx = gamma / sqrt(var + eps) (g - dbeta_sum / M - xhat dgamma_sum / M)

and the gradients of ``gamma``/``beta`` returned are this rank's own sums;
``DistributedDataParallel`` then averages every parameter gradient over the
ranks, which makes all of them the gradients of the mean of the ranks'
losses (the whole-batch loss when the shards are equal).

Outside a process group, in eval mode, or with one process, it is BatchNorm.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.function import Context, Function
from ..autograd.tensor import Tensor
from ..ops.nn_ops import apply_affine, update_running_stats
from ..distributed import process_group as _pg
from ..distributed.backends import ReduceOp
from .module import Module
from .normalization import _BatchNorm

__all__ = ["SyncBatchNorm"]


def _view(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (1, shape[1]) + (1,) * (len(shape) - 2)


class SyncBatchNormFunction(Function):
    """Batch normalization in training mode with statistics all-reduced over ``group`` (see the module docstring)."""

    @staticmethod
    def forward(ctx: Context, x: Any, weight: Any = None, bias: Any = None, *, group: Any,
                running_mean: Any = None, running_var: Any = None, momentum: float = 0.1,
                eps: float = 1e-5) -> Any:
        axes = (0,) + tuple(range(2, x.ndim))
        view = _view(x.shape)
        C = x.shape[1]
        acc = np.float64 if x.dtype == np.float64 else np.float32
        stats = np.empty(C + 1, dtype=np.float64)
        stats[:C] = x.sum(axis=axes, dtype=np.float64)
        stats[C] = x.size // C
        group.allreduce(stats, ReduceOp.SUM)
        M = stats[C]
        mean = (stats[:C] / M).astype(x.dtype)
        xc = x - mean.reshape(view)
        sq = np.square(xc).sum(axis=axes, dtype=np.float64)
        group.allreduce(sq, ReduceOp.SUM)
        var = (sq / M).astype(acc)
        if running_mean is not None:
            update_running_stats(running_mean, running_var, mean, var, momentum, M)
        rstd = (1 / np.sqrt(var + eps)).astype(x.dtype).reshape(view)
        xhat = xc
        xhat *= rstd
        ctx.xhat, ctx.rstd, ctx.weight, ctx.axes, ctx.M, ctx.group = xhat, rstd, weight, axes, M, group
        return apply_affine(xhat, weight, bias, view)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any, Any]:
        need_x, need_w, need_b = ctx.needs_input_grad
        xhat, rstd, axes = ctx.xhat, ctx.rstd, ctx.axes
        view = _view(grad.shape)
        C = grad.shape[1]
        sums = np.empty(2 * C, dtype=np.float64)
        sums[:C] = grad.sum(axis=axes, dtype=np.float64)
        sums[C:] = (grad * xhat).sum(axis=axes, dtype=np.float64)
        dbeta_local = sums[:C].astype(grad.dtype)
        dgamma_local = sums[C:].astype(grad.dtype)
        # every rank joins the all-reduce whatever it needs, so no rank waits alone
        ctx.group.allreduce(sums, ReduceOp.SUM)
        gx = None
        if need_x:
            scale = rstd if ctx.weight is None else rstd * ctx.weight.reshape(view)
            gx = grad - (sums[:C] / ctx.M).astype(grad.dtype).reshape(view)
            gx -= xhat * (sums[C:] / ctx.M).astype(grad.dtype).reshape(view)
            gx *= scale
        return gx, (dgamma_local if need_w else None), (dbeta_local if need_b else None)


class SyncBatchNorm(_BatchNorm):
    """Batch normalization of (N, C, ...) inputs with statistics shared by all processes (torch's name).

    Same arguments, parameters and buffers as ``BatchNorm1d``/``BatchNorm2d``
    (so ``state_dict`` files move between them); ``process_group`` is accepted
    for torch scripts (the default group is used).  Convert a model with
    ``SyncBatchNorm.convert_sync_batchnorm(model)`` before wrapping it in
    ``DistributedDataParallel``.
    """

    _ranks = (2, 3, 4, 5)
    _rank_words = "at least 2D"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group: Any = None, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        group = _pg._GROUP
        if not self.training or group is None or group.size == 1:
            return super().forward(input)
        self._check_input(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats:
            self.num_batches_tracked.array += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.array)
        rm = self.running_mean.array if self.track_running_stats else None
        rv = self.running_var.array if self.track_running_stats else None
        return SyncBatchNormFunction.apply(input, self.weight, self.bias, group=group, running_mean=rm,
                                           running_var=rv, momentum=factor, eps=self.eps)

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """Replace every BatchNorm layer in ``module`` by a SyncBatchNorm with its weights and buffers.

        Returns the converted module (a new object if ``module`` itself is a
        BatchNorm layer; otherwise ``module``, changed in place).
        """
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            new = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats,
                      process_group, dtype=_dtype_of(module))
            if module.affine:
                new.weight = module.weight
                new.bias = module.bias
            if module.track_running_stats:
                new.running_mean = module.running_mean
                new.running_var = module.running_var
                new.num_batches_tracked = module.num_batches_tracked
            new.train(module.training)
            return new
        for name, child in list(module.named_children()):
            converted = cls.convert_sync_batchnorm(child, process_group)
            if converted is not child:
                setattr(module, name, converted)
        return module


def _dtype_of(module: _BatchNorm) -> Any:
    for t in (module.weight, module.running_mean):
        if t is not None:
            return t.array.dtype
    return None

