"""Helpers shared by the distributions: argument conversion, broadcasting, the
probability <-> logit maps, a gather along the last axis and a stable binary
cross-entropy.  Everything that touches a parameter is a differentiable
thalweg op, so ``log_prob``/``entropy``/``kl_divergence`` backpropagate into
``loc``, ``scale``, ``logits`` or ``probs``.
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from .. import dtypes
from ..autograd.function import Context, Function
from ..autograd.tensor import Tensor
from ..backend import get_array_module
from ..ops import api as ops

_INF = float("inf")


def float_dtype(*values: Any) -> np.dtype:
    """The common floating dtype of the tensors among ``values`` (default dtype if none is a float tensor)."""
    kinds = [v.dtype for v in values if isinstance(v, Tensor) and v.dtype.kind == "f"]
    if not kinds:
        return np.dtype(dtypes.get_default_dtype())
    return np.result_type(*kinds)


def as_tensor(value: Any, dtype: Any) -> Tensor:
    """``value`` as a tensor of ``dtype``; a tensor keeps its graph (cast only if needed)."""
    if isinstance(value, Tensor):
        return value if value.dtype == dtype else value.astype(dtype)
    return Tensor(np.asarray(value), dtype=dtype)


def broadcast_all(*values: Any) -> list[Tensor]:
    """Turn numbers/arrays/tensors into float tensors of one dtype and one shape.

    Broadcasting uses ``tw.broadcast_to`` (differentiable: its backward sums the
    gradient back down), so the parameters' gradients keep their own shapes.
    """
    dtype = float_dtype(*values)
    ts = [as_tensor(v, dtype) for v in values]
    shape = np.broadcast_shapes(*(t.shape for t in ts))
    return [t if t.shape == shape else ops.broadcast_to(t, shape) for t in ts]


def is_number(x: Any) -> bool:
    return isinstance(x, numbers.Number) and not isinstance(x, bool)


def as_shape(sample_shape: Any) -> tuple[int, ...]:
    """Accept ``()``, an int, or any sequence of ints (a ``torch.Size`` too)."""
    if isinstance(sample_shape, (int, np.integer)):
        return (int(sample_shape),)
    shape = tuple(int(s) for s in sample_shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"sample_shape must hold non-negative sizes, got {shape}")
    return shape


def clamp_probs(probs: Tensor) -> Tensor:
    """Clamp probabilities into [eps, 1 - eps] (eps: the dtype's machine epsilon), so logs stay finite."""
    eps = float(np.finfo(probs.dtype).eps)
    return ops.clamp(probs, min=eps, max=1.0 - eps)


def probs_to_logits(probs: Tensor, *, is_binary: bool = False) -> Tensor:
    """log p for a categorical; the log-odds log p - log(1 - p) for a Bernoulli."""
    p = clamp_probs(probs)
    if is_binary:
        return ops.log(p) - ops.log(1.0 - p)
    return ops.log(p)


def logits_to_probs(logits: Tensor, *, is_binary: bool = False) -> Tensor:
    """softmax over the last axis; sigmoid for a Bernoulli."""
    if is_binary:
        return ops.sigmoid(logits)
    return ops.softmax(logits, dim=-1)


def softplus_exact(x: Tensor) -> Tensor:
    """log(1 + e^x) without torch's linear cut-off (stable through ``logaddexp``)."""
    return ops.softplus(x, threshold=_INF)


def bce_with_logits(logits: Tensor, target: Tensor) -> Tensor:
    """Elementwise binary cross-entropy from logits x and targets z:

        -[z log sigmoid(x) + (1 - z) log(1 - sigmoid(x))] = softplus(x) - x z,

    stable for any x; its gradient is sigmoid(x) - z for x and -x for z.
    """
    return softplus_exact(logits) - logits * target


class GatherLast(Function):
    """out[..., ] = x[..., index[...]]: pick one entry of the last axis per position.

    ``x`` has shape ``batch + (K,)`` and ``index`` (integers, no gradient) a shape
    that broadcasts with ``batch``.  Backward puts each gradient back in the
    slot it was taken from; the engine sums away the broadcast dimensions.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, index: Any = None) -> Any:
        xp = get_array_module(x)
        shape = np.broadcast_shapes(index.shape, x.shape[:-1])
        full = xp.broadcast_to(x, shape + x.shape[-1:])
        idx = xp.broadcast_to(index, shape)[..., None]
        ctx.full_shape, ctx.idx, ctx.dtype = full.shape, idx, x.dtype
        return xp.take_along_axis(full, idx, axis=-1)[..., 0]

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        xp = get_array_module(grad)
        out = xp.zeros(ctx.full_shape, dtype=ctx.dtype)
        xp.put_along_axis(out, ctx.idx, grad[..., None], axis=-1)
        return out


def gather_last(x: Tensor, index: Any) -> Tensor:
    """Differentiable ``x[..., index]`` per position (see :class:`GatherLast`)."""
    return GatherLast.apply(x, index=index)


def check_arg(ok: bool, dist: str, message: str) -> None:
    """Raise ``ValueError("<dist>: <message>")`` unless ``ok``."""
    if not ok:
        raise ValueError(f"{dist}: {message}")


def describe_bad(values: Any, bad: Any) -> str:
    """A short description of the first offending values, for error messages."""
    arr = np.asarray(values)
    flat = arr[np.asarray(bad)] if arr.shape else arr.reshape(1)
    shown: Sequence[Any] = flat.reshape(-1)[:3].tolist()
    return ", ".join(repr(v) for v in shown)
