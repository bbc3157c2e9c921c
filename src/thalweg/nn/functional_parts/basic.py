"""Stateless layers: linear, dropout, normalisation, padding, one-hot.

These are the functions behind the modules of ``nn.linear``, ``nn.dropout`` and
``nn.normalization``; the modules only hold the parameters and call them.
Signatures follow ``torch.nn.functional``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ... import random as _random
from ...autograd.tensor import Tensor
from ...backend import get_array_module
from ...ops import api as _api
from ...ops.activation import ELU, LeakyReLU, ReLU
from ...ops.nn_ops import BatchNormFunction, DropoutFunction, LayerNormFunction, LinearFunction, NormalizeFunction

__all__ = ["batch_norm", "dropout", "dropout1d", "dropout2d", "dropout3d", "elu", "flatten",
           "layer_norm", "leaky_relu", "linear", "normalize", "one_hot", "pad", "relu", "unflatten"]


def _data(t: Any) -> Any:
    return None if t is None else t.array


# ------------------------------------------------------------------ linear
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002 - torch's name
    """y = x W^T + b for x (..., in), W (out, in), b (out,): one fused graph node (see ``ops/nn_ops.py``)."""
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {tuple(weight.shape)}")
    if not input.shape or input.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: expected input with last dimension {weight.shape[1]} (weight shape "
                         f"{tuple(weight.shape)}), got shape {tuple(input.shape)}")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"linear: bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}")
    if input.dtype != weight.dtype or (bias is not None and bias.dtype != weight.dtype):
        raise TypeError(f"linear: input, weight and bias must have the same dtype, got {input.dtype}, "
                        f"{weight.dtype} and {None if bias is None else bias.dtype}")
    return LinearFunction.apply(input, weight, bias)


# --------------------------------------------------------------- activations
def relu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """max(0, x).  ``inplace`` is accepted for torch compatibility; the result is always a new tensor."""
    return ReLU.apply(input)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """x for x > 0, alpha (e^x - 1) otherwise (Clevert et al. 2015).  ``inplace`` is accepted and ignored."""
    return ELU.apply(input, alpha=alpha)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:  # noqa: A002
    """x for x > 0, negative_slope x otherwise.  ``inplace`` is accepted and ignored."""
    return LeakyReLU.apply(input, negative_slope=negative_slope)


# ------------------------------------------------------------------ dropout
def check_dropout_p(p: Any, name: str = "dropout") -> float:
    """Validate a drop probability: a number in [0, 1], else ``ValueError`` naming it."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} probability has to be between 0 and 1, but got {p!r}")
    return float(p)


def _dropout(input: Tensor, p: float, mask_shape: tuple[int, ...], generator: Any) -> Tensor:
    """Inverted dropout with a mask of ``mask_shape`` (broadcast against the input)."""
    xp = get_array_module(input.array)
    dtype = input.array.dtype
    if p == 1.0:
        return DropoutFunction.apply(input, mask=xp.zeros(mask_shape, dtype=dtype))
    rng = _random.get_generator(generator)
    u = rng.random(mask_shape, dtype=np.float32)
    if xp is not np:  # pragma: no cover - a GPU array library
        u = xp.asarray(u)
    keep = u >= np.float32(p)  # P(keep) = 1 - p: m ~ Bernoulli(1 - p)
    mask = keep * dtype.type(1.0 / (1.0 - p))
    return DropoutFunction.apply(input, mask=mask)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,  # noqa: A002
            generator: Any = None) -> Tensor:
    """Inverted dropout (Hinton et al. 2012; Srivastava et al. 2014, JMLR 15).

    In training each element is kept with probability 1 - p: m ~ Bernoulli(1 - p)
    from the run's seeded generator (or ``generator``), and y = x m / (1 - p).
    Scaling by 1/(1 - p) at training time keeps E[y] = x, so evaluation is the
    identity and the network is used unchanged at test time.  dL/dx = g m / (1 - p):
    dropped units get no gradient.  ``inplace`` is accepted and ignored.
    """
    p = check_dropout_p(p)
    if not training or p == 0.0:
        return input
    return _dropout(input, p, input.shape, generator)


def _feature_dropout(input: Tensor, p: float, training: bool, spatial: int, name: str, generator: Any) -> Tensor:
    p = check_dropout_p(p, name)
    if input.ndim not in (spatial + 1, spatial + 2):
        raise ValueError(f"{name}: expected a {spatial + 1}-D (unbatched) or {spatial + 2}-D (batched) input, "
                         f"got shape {tuple(input.shape)}")
    if not training or p == 0.0:
        return input
    lead = input.ndim - spatial
    mask_shape = tuple(input.shape[:lead]) + (1,) * spatial
    return _dropout(input, p, mask_shape, generator)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,  # noqa: A002
              generator: Any = None) -> Tensor:
    """Channel dropout for (N, C, L) or (C, L): whole channels are zeroed (Tompson et al. 2015)."""
    return _feature_dropout(input, p, training, 1, "dropout1d", generator)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,  # noqa: A002
              generator: Any = None) -> Tensor:
    """Channel dropout: whole feature maps of (N, C, H, W) input are zeroed (Tompson et al. 2015, arXiv 1411.4280).

    Exactly torch 2.13's behaviour for other ranks: one Bernoulli draw per
    (dim 0, dim 1) pair, i.e. a mask of shape (N, C, 1, ...).  A 3-D input is
    taken as (N, C, L) (1-D channel dropout, with torch's warning), a 2-D input
    (N, C) gets elementwise dropout and any rank but 3 or 4 warns that it is
    deprecated; rank 0 or 1 is an error.
    """
    import warnings

    p = check_dropout_p(p, "dropout2d")
    nd = input.ndim
    if nd < 2:
        raise ValueError(f"dropout2d: feature dropout requires at least 2 dimensions in the input, "
                         f"got shape {tuple(input.shape)}")
    if nd not in (3, 4):
        warnings.warn(f"dropout2d: Received a {nd}-D input to dropout2d, which is deprecated and will result in "
                      "an error in a future release. To retain the behavior and silence this warning, please use "
                      "dropout instead. Note that dropout2d exists to provide channel-wise dropout on inputs with 2 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 3D or 4D "
                      "inputs).", stacklevel=2)
    if nd == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel dim. "
                      "This behavior will change in a future release to interpret the input as one without a "
                      "batch dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout behavior, "
                      "please switch to using dropout1d instead.", stacklevel=2)
    if not training or p == 0.0:
        return input
    return _dropout(input, p, tuple(input.shape[:2]) + (1,) * (nd - 2), generator)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,  # noqa: A002
              generator: Any = None) -> Tensor:
    """Channel dropout for (N, C, D, H, W) or (C, D, H, W): whole volumes are zeroed (Tompson et al. 2015)."""
    return _feature_dropout(input, p, training, 3, "dropout3d", generator)


# ------------------------------------------------------------ normalisation
def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,  # noqa: A002
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalization over channel axis 1 of (N, C, ...) (Ioffe and Szegedy 2015, arXiv 1502.03167).

    ``training=True`` normalises with the batch statistics and, if running
    buffers are given, updates them in place: r <- (1 - momentum) r + momentum
    s, with the unbiased variance.  ``training=False`` uses the running buffers.
    The math and its backward are in ``ops/nn_ops.py`` (``BatchNormFunction``).
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C, ...), got shape {tuple(input.shape)}")
    C = input.shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if t is not None and tuple(t.shape) != (C,):
            raise ValueError(f"batch_norm: {name} must have shape ({C},) for an input with {C} channels "
                             f"(shape {tuple(input.shape)}), got {tuple(t.shape)}")
    if training:
        if input.array.size // max(C, 1) <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                             f"got input of shape {tuple(input.shape)}")
    elif running_mean is None or running_var is None:
        raise ValueError("batch_norm: running_mean and running_var are required when training=False")
    return BatchNormFunction.apply(input, weight, bias, running_mean=_data(running_mean),
                                   running_var=_data(running_var), training=training,
                                   momentum=float(momentum), eps=float(eps))


def _as_shape(normalized_shape: Any) -> tuple[int, ...]:
    if isinstance(normalized_shape, (int, np.integer)):
        return (int(normalized_shape),)
    return tuple(int(n) for n in normalized_shape)


def layer_norm(input: Tensor, normalized_shape: Any, weight: Tensor | None = None,  # noqa: A002
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Layer normalization over the trailing ``normalized_shape`` dimensions (Ba et al. 2016, arXiv 1607.06450).

    Each sample is normalised by its own mean and (biased) variance over those
    dimensions, then scaled by ``weight`` and shifted by ``bias`` (both of
    ``normalized_shape``).  Math and backward: ``LayerNormFunction`` in ``ops/nn_ops.py``.
    """
    shape = _as_shape(normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise ValueError(f"layer_norm: expected input with trailing dimensions {shape}, "
                         f"got shape {tuple(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise ValueError(f"layer_norm: {name} must have shape {shape}, got {tuple(t.shape)}")
    return LayerNormFunction.apply(input, weight, bias, k=k, eps=float(eps))


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:  # noqa: A002
    """x / max(||x||_p, eps) along ``dim``: unit vectors (zero vectors stay zero)."""
    if p <= 0:
        raise ValueError(f"normalize: p must be positive, got {p}")
    if input.ndim == 0:
        raise ValueError("normalize: expected a tensor with at least one dimension")
    if not -input.ndim <= dim < input.ndim:
        raise IndexError(f"normalize: dim {dim} is out of range for shape {tuple(input.shape)}")
    return NormalizeFunction.apply(input, p=float(p), axis=dim % input.ndim, eps=float(eps))


# ----------------------------------------------------------------- shaping
def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:  # noqa: A002
    """Merge dimensions ``start_dim`` .. ``end_dim`` into one (``tw.flatten``)."""
    return _api.flatten(input, start_dim, end_dim)


def unflatten(input: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:  # noqa: A002
    """Split dimension ``dim`` into ``sizes`` (one entry may be -1)."""
    d = dim % input.ndim
    sizes = tuple(int(s) for s in sizes)
    known = 1
    for s in sizes:
        if s != -1:
            known *= s
    n = input.shape[d]
    if sizes.count(-1) > 1 or (sizes.count(-1) == 0 and known != n) or (known and n % known) or \
            (known == 0 and -1 in sizes):
        raise ValueError(f"unflatten: sizes {sizes} do not match dimension {dim} of size {n} "
                         f"(shape {tuple(input.shape)})")
    sizes = tuple(n // known if s == -1 else s for s in sizes)
    return _api.reshape(input, tuple(input.shape[:d]) + sizes + tuple(input.shape[d + 1:]))


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Class indices (any shape) -> int64 one-hot vectors in a new last dimension of size ``num_classes``.

    ``num_classes=-1`` uses max(index) + 1.  Not differentiable (integers).
    """
    data = tensor.array if isinstance(tensor, Tensor) else np.asarray(tensor)
    if data.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected an integer tensor of class indices, got dtype {data.dtype}")
    xp = get_array_module(data)
    if num_classes == -1:
        num_classes = int(data.max()) + 1 if data.size else 0
    if data.size and (int(data.min()) < 0 or int(data.max()) >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes}), got values in "
                         f"[{int(data.min())}, {int(data.max())}]")
    out = xp.zeros(data.shape + (num_classes,), dtype=np.int64)
    xp.put_along_axis(out, data[..., None].astype(np.int64), 1, axis=-1)
    return Tensor._wrap(out, False)


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _pad_index(n: int, lo: int, hi: int, mode: str) -> Any:
    """Source indices along one dimension for the non-constant padding modes."""
    idx = np.arange(-lo, n + hi)
    if mode == "replicate":
        return np.clip(idx, 0, n - 1)
    if mode == "circular":
        return idx % n
    idx = np.abs(idx)  # reflect: -i -> i, and n - 1 + i -> n - 1 - i
    return np.where(idx > n - 1, 2 * (n - 1) - idx, idx)


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:  # noqa: A002
    """Pad with torch's argument order: ``pad`` lists (left, right) of the LAST dimension first,
    then of the one before it, and so on: ``pad(x, (1, 1, 2, 0))`` adds one column on each side
    of the last dimension and two rows on top of the second-to-last.

    Modes: ``"constant"`` (``value``, 0 by default; negative amounts crop), ``"reflect"``
    (mirror without repeating the edge), ``"replicate"`` (repeat the edge), ``"circular"`` (wrap).
    """
    pads = [int(p) for p in pad]
    if len(pads) % 2 or len(pads) // 2 > input.ndim:
        raise ValueError(f"pad: the padding must have an even length of at most 2 * ndim = {2 * input.ndim}, "
                         f"got {tuple(pads)} for shape {tuple(input.shape)}")
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {_PAD_MODES}, got {mode!r}")
    width = [(0, 0)] * input.ndim
    for i in range(len(pads) // 2):
        width[input.ndim - 1 - i] = (pads[2 * i], pads[2 * i + 1])
    if mode == "constant":
        crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(width, input.shape))
        out = input
        if any(lo < 0 or hi < 0 for lo, hi in width):
            out = _api.getitem(input, crop)
        grow = [(max(lo, 0), max(hi, 0)) for lo, hi in width]
        if any(lo or hi for lo, hi in grow):
            out = _api.pad(out, grow, value=0.0 if value is None else value)
        return out
    if value not in (None, 0, 0.0):
        raise ValueError(f"pad: a fill value is only used with mode='constant', got value={value} with mode={mode!r}")
    if input.ndim not in (len(pads) // 2 + 1, len(pads) // 2 + 2):  # torch's supported combinations
        raise NotImplementedError(
            f"pad: padding size {len(pads)} is not supported for {input.ndim}D input with mode={mode!r}; "
            "non-constant padding takes 2 numbers for 2D/3D input, 4 for 3D/4D, 6 for 4D/5D")
    out = input
    for d, (lo, hi) in enumerate(width):
        if not lo and not hi:
            continue
        n = input.shape[d]
        if lo < 0 or hi < 0:
            raise ValueError(f"pad: negative padding is only supported with mode='constant', got {tuple(pads)}")
        limit = n - 1 if mode == "reflect" else n
        if mode != "replicate" and (lo > limit or hi > limit):
            raise ValueError(f"pad: {mode} padding of ({lo}, {hi}) is too large for dimension {d} of size {n} "
                             f"(at most {limit})")
        if n == 0:
            raise ValueError(f"pad: cannot {mode}-pad the empty dimension {d} of shape {tuple(input.shape)}")
        index = (slice(None),) * d + (_pad_index(n, lo, hi, mode),)
        out = _api.getitem(out, index)
    return out
