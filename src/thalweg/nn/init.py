"""``thalweg.nn.init``: parameter initialization schemes.

Why initialization matters: with n inputs of unit variance, a unit that sums
n terms w_i x_i has variance n Var(w).  If Var(w) is too large the activations
(and, going backwards, the gradients) grow layer after layer; too small and
they vanish.  The schemes below pick Var(w) so that the variance stays about
constant through the layers:

- Glorot/Xavier (tanh, sigmoid, linear): Var(w) = 2 / (fan_in + fan_out), i.e.
  for a layer W in R^{m x n}, W ~ U(-sqrt(6)/sqrt(m + n), +sqrt(6)/sqrt(m + n)).
- He/Kaiming (ReLU, which zeroes half of its inputs): Var(w) = 2 / fan_in, i.e.
  W ~ U(-sqrt(6)/sqrt(n), +sqrt(6)/sqrt(n)) for n inputs.
- LeCun (SELU and other self-normalising units): Var(w) = 1 / fan_in.

A uniform U(-a, a) has variance a^2 / 3, so a = sqrt(3) std.

Every function modifies its tensor in place (without recording a gradient),
returns it, and draws from the run's seeded generator
(``thalweg.random.get_generator``: ``tw.manual_seed`` makes it reproducible)
unless a ``generator=`` is passed.  Names and signatures follow ``torch.nn.init``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import random as _random
from ..autograd.tensor import Tensor
from ..backend import get_array_module

__all__ = ["calculate_gain", "constant_", "eye_", "kaiming_normal_", "kaiming_uniform_", "lecun_normal_",
           "normal_", "ones_", "orthogonal_", "trunc_normal_", "uniform_", "xavier_normal_", "xavier_uniform_",
           "zeros_", "data_dependent_"]

_LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
               "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor by which a nonlinearity changes the standard deviation, as ``torch.nn.init``.

    ========================= =============================
    linear, conv, sigmoid     1
    tanh                      5 / 3
    relu                      sqrt(2)
    leaky_relu (slope a)      sqrt(2 / (1 + a^2)), a = 0.01 by default
    selu                      3 / 4
    ========================= =============================

    The ReLU gain sqrt(2) is He et al. (2015), "Delving deep into rectifiers",
    arXiv 1502.01852: a ReLU keeps half the variance, so the weights need twice as much.
    """
    if nonlinearity in _LINEAR_FNS:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel): in * k and out * k, k = prod(kernel)."""
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out can not be computed for a tensor with fewer than 2 dimensions "
                         f"(got shape {tuple(shape)})")
    receptive = 1
    for s in shape[2:]:
        receptive *= s
    return int(shape[1]) * receptive, int(shape[0]) * receptive


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor: Tensor, values: Any) -> Tensor:
    """Write ``values`` into ``tensor.data`` in its own dtype (no gradient is recorded)."""
    tensor.array[...] = values
    tensor._bump_version()
    return tensor


def _uniform(tensor: Tensor, a: float, b: float, generator: Any) -> Tensor:
    rng = _random.get_generator(generator)
    return _fill(tensor, rng.uniform(a, b, tensor.shape))


def _normal(tensor: Tensor, mean: float, std: float, generator: Any) -> Tensor:
    rng = _random.get_generator(generator)
    return _fill(tensor, rng.normal(mean, std, tensor.shape))


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill with draws from U(a, b)."""
    return _uniform(tensor, a, b, generator)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill with draws from N(mean, std^2)."""
    return _normal(tensor, mean, std, generator)


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0, *,
                  generator: Any = None) -> Tensor:
    """Fill with N(mean, std^2) draws conditioned on [a, b] (rejected draws are drawn again)."""
    if not a < b:
        raise ValueError(f"trunc_normal_: need a < b, got a={a}, b={b}")
    rng = _random.get_generator(generator)
    out = rng.normal(mean, std, tensor.shape)
    bad = (out < a) | (out > b)
    while bad.any():
        out[bad] = rng.normal(mean, std, int(bad.sum()))
        bad = (out < a) | (out > b)
    return _fill(tensor, out)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with the constant ``val``."""
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0 (the usual bias initialization)."""
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1 (the usual scale of a normalisation layer)."""
    return _fill(tensor, 1)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity matrix (ones on the diagonal)."""
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only 2-D tensors are supported, got shape {tuple(tensor.shape)}")
    xp = get_array_module(tensor.array)
    return _fill(tensor, xp.eye(*tensor.shape, dtype=tensor.dtype))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, *, generator: Any = None) -> Tensor:
    """Glorot uniform: U(-a, a) with a = gain sqrt(6 / (fan_in + fan_out)).

    Glorot and Bengio (2010), "Understanding the difficulty of training deep
    feedforward neural networks", AISTATS.  Keeping Var(w) = 2 / (fan_in +
    fan_out) balances the variance of activations (forward, wants 1/fan_in)
    and of gradients (backward, wants 1/fan_out).  For W in R^{m x n} and gain 1
    this is the lecture's U(-sqrt(6)/sqrt(m + n), +sqrt(6)/sqrt(m + n)), meant for
    tanh units (``calculate_gain("tanh")`` = 5/3 scales it for deep tanh stacks).
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return _uniform(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, *, generator: Any = None) -> Tensor:
    """Glorot normal: N(0, std^2) with std = gain sqrt(2 / (fan_in + fan_out)) (Glorot and Bengio 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return _normal(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", *,
                     generator: Any = None) -> Tensor:
    """He uniform: U(-bound, bound) with bound = sqrt(3) gain / sqrt(fan), gain = calculate_gain(nonlinearity, a).

    He, Zhang, Ren and Sun (2015), "Delving deep into rectifiers", arXiv
    1502.01852.  For ReLU (gain sqrt(2)) and fan = n inputs this is the lecture's
    U(-sqrt(6)/sqrt(n), +sqrt(6)/sqrt(n)).  ``mode="fan_in"`` preserves the
    variance of the activations in the forward pass, ``"fan_out"`` that of the
    gradients in the backward pass.  ``a`` is the negative slope of a leaky
    ReLU; ``Linear``'s default uses a = sqrt(5), giving bound = 1/sqrt(fan_in).
    """
    fan = _calculate_correct_fan(tensor, mode)
    if fan == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return _uniform(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", *,
                    generator: Any = None) -> Tensor:
    """He normal: N(0, std^2) with std = gain / sqrt(fan) (He et al. 2015, arXiv 1502.01852)."""
    fan = _calculate_correct_fan(tensor, mode)
    if fan == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return _normal(tensor, 0.0, std, generator)


def lecun_normal_(tensor: Tensor, *, generator: Any = None) -> Tensor:
    """LeCun normal: N(0, 1 / fan_in).

    LeCun, Bottou, Orr and Mueller (1998), "Efficient BackProp"; the
    initialization self-normalising networks need (Klambauer et al. 2017, SELU,
    arXiv 1706.02515).  This is the plain (not truncated) normal.  torch has no
    such function; it equals ``kaiming_normal_(t, nonlinearity="linear")``.
    """
    fan_in, _ = _calculate_fan_in_and_fan_out(tensor)
    return _normal(tensor, 0.0, 1.0 / math.sqrt(fan_in), generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, *, generator: Any = None) -> Tensor:
    """A (semi-)orthogonal matrix times ``gain`` (Saxe, McClelland and Ganguli 2013, arXiv 1312.6120).

    The tensor is viewed as (rows = shape[0], cols = the rest).  A Gaussian
    matrix is QR-factorised and Q's columns are multiplied by the signs of R's
    diagonal, which makes Q uniformly (Haar) distributed.  Rows are orthonormal
    if rows <= cols, columns otherwise.
    """
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, "
                         f"got shape {tuple(tensor.shape)}")
    if tensor.array.size == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.array.size // rows
    rng = _random.get_generator(generator)
    flat = rng.standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(tensor.shape))


# ``nn.init.data_dependent_(model, x[:160])`` (Krahenbuhl et al., 2016) initializes a whole network from a batch of
# inputs, so it needs the layer classes, which need this module: it lives a floor up, in ``nn/init_data.py``,
# and is reached from here by name on first use (PEP 562), so this file imports nothing above the tensor.
from .._lazy import lazy_names  # noqa: E402

__getattr__, __dir__ = lazy_names(__name__, {"data_dependent_": ".init_data"})
