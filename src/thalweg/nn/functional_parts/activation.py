"""The rest of torch's activation functions, built from differentiable primitives.

Each is a composition of recorded ops (``where``, ``exp``, ``tanh``, ...), so
its gradient, and its second derivative under ``create_graph=True``, come from
the primitives' rules with no new backward code.  Piecewise functions are
written with ``where`` over the branches so that the gradient at a kink is
torch's (for example ``hardtanh``'s 0 at the bounds, ``hardswish``'s
``x / 3 + 1/2`` at -3 and 3).  The modules of ``nn.activation`` call these.
``inplace`` is accepted for torch compatibility; the result is always a new
tensor (as for ``relu``).
"""

from __future__ import annotations

from typing import Any

from ... import random as _random
from ...autograd.tensor import Tensor
from ...backend import get_array_module
from ...ops import api as _api
from ...ops.activation import ELU, LeakyReLU, Softplus

__all__ = ["celu", "glu", "hardshrink", "hardsigmoid", "hardswish", "hardtanh", "logsigmoid", "mish", "prelu",
           "relu6", "rrelu", "selu", "silu", "softmin", "softshrink", "softsign", "tanhshrink", "threshold",
           "pairwise_distance", "bilinear", "unfold", "fold"]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _const(t: Tensor, array: Any) -> Tensor:
    """A constant (no graph) over ``array``, with ``t``'s dtype."""
    return Tensor._wrap(array.astype(t.array.dtype, copy=False), False)


def _check(input: Any, name: str) -> Tensor:  # noqa: A002
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be a Tensor, not {type(input).__name__}")
    return input


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """clamp(x, min_val, max_val); the gradient is 1 strictly inside the bounds, 0 at and beyond them (torch)."""
    x = _check(input, "hardtanh")
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    a = x.array
    xp = get_array_module(a)
    inside = (a > min_val) & (a < max_val)
    return _api.where(Tensor._wrap(inside, False), x, _const(x, xp.clip(a, min_val, max_val)))


def relu6(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """min(max(0, x), 6) (``hardtanh(x, 0, 6)``, as torch computes it)."""
    return hardtanh(_check(input, "relu6"), 0.0, 6.0)


def selu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """scale * elu(x, alpha), with the self-normalizing constants of Klambauer et al. 2017 (arXiv 1706.02515)."""
    return ELU.apply(_check(input, "selu"), alpha=_SELU_ALPHA) * _SELU_SCALE


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """max(0, x) + min(0, alpha (e^(x/alpha) - 1)) (Barron 2017, arXiv 1704.07483) = alpha * elu(x / alpha)."""
    if alpha == 0:
        raise ValueError("celu: ZeroDivisionError, alpha cannot be 0")
    return ELU.apply(_check(input, "celu") / alpha, alpha=1.0) * alpha


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """relu6(x + 3) / 6; the gradient is 1/6 strictly inside (-3, 3), else 0 (torch)."""
    x = _check(input, "hardsigmoid")
    a = x.array
    xp = get_array_module(a)
    inside = (a > -3) & (a < 3)
    return _api.where(Tensor._wrap(inside, False), x / 6.0 + 0.5, _const(x, xp.clip(a / 6.0 + 0.5, 0.0, 1.0)))


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x relu6(x + 3) / 6 (Howard et al. 2019, arXiv 1905.02244); gradient 0 at -3, x/3 + 1/2 inside, 1 at 3
    (torch 2.13's hardswish_backward)."""
    x = _check(input, "hardswish")
    a = x.array
    low = Tensor._wrap(a <= -3, False)
    mid = Tensor._wrap(a < 3, False)
    return _api.where(low, _const(x, a * 0), _api.where(mid, x * (x + 3.0) / 6.0, x))


def silu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x sigmoid(x) (swish; Elfwing et al. 2017, Ramachandran et al. 2017)."""
    x = _check(input, "silu")
    return x * _api.sigmoid(x)


def mish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x tanh(softplus(x)) (Misra 2019, arXiv 1908.08681)."""
    x = _check(input, "mish")
    return x * _api.tanh(Softplus.apply(x, beta=1.0, threshold=20.0))


def softsign(input: Tensor) -> Tensor:  # noqa: A002
    """x / (1 + |x|)."""
    x = _check(input, "softsign")
    return x / (_api.abs(x) + 1.0)


def tanhshrink(input: Tensor) -> Tensor:  # noqa: A002
    """x - tanh(x)."""
    x = _check(input, "tanhshrink")
    return x - _api.tanh(x)


def _check_lambd(lambd: float, name: str) -> float:
    if lambd < 0:
        raise ValueError(f"{name}: lambda must be greater or equal to 0, but found to be {lambd}.")
    return float(lambd)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:  # noqa: A002
    """x where |x| > lambd, else 0 (NaN stays NaN); gradient 0 on [-lambd, lambd] (torch)."""
    x = _check(input, "hardshrink")
    a = x.array
    inside = Tensor._wrap((a >= -lambd) & (a <= lambd), False)
    return _api.where(inside, _const(x, a * 0), x)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:  # noqa: A002
    """x - lambd sign(x) where |x| > lambd, else 0 (NaN stays NaN); gradient 0 on [-lambd, lambd] (torch)."""
    x = _check(input, "softshrink")
    lambd = _check_lambd(lambd, "softshrink")
    a = x.array
    xp = get_array_module(a)
    inside = Tensor._wrap((a >= -lambd) & (a <= lambd), False)
    shift = _const(x, xp.where(a < 0, lambd, -lambd))
    return _api.where(inside, _const(x, xp.zeros(a.shape)), x + shift)


def logsigmoid(input: Tensor) -> Tensor:  # noqa: A002
    """log sigmoid(x) = min(x, 0) - log(1 + e^-|x|), stable and exact in the tails (no softplus threshold).

    At 0 the tie of ``minimum`` gives 1/2, the true derivative 1 - sigmoid(0).
    """
    from ...ops.math_api import log1p

    x = _check(input, "logsigmoid")
    return _api.minimum(x, _const(x, x.array * 0)) - log1p(_api.exp(-_api.abs(x)))


def glu(input: Tensor, dim: int = -1) -> Tensor:  # noqa: A002
    """a sigmoid(b), where a and b are the two halves of ``input`` along ``dim`` (Dauphin et al. 2017)."""
    x = _check(input, "glu")
    if x.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    if not -x.ndim <= dim < x.ndim:
        raise IndexError(f"glu: dimension out of range (expected to be in range of [{-x.ndim}, {x.ndim - 1}], "
                         f"but got {dim})")
    n = x.shape[dim]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {dim % x.ndim} is size {n}")
    a, b = _api.split(x, n // 2, dim=dim)
    return a * _api.sigmoid(b)


def prelu(input: Tensor, weight: Tensor) -> Tensor:  # noqa: A002
    """x for x > 0, w x otherwise, with one learned slope ``w`` per channel (dim 1) or one for all (He et al. 2015)."""
    x = _check(input, "prelu")
    if not isinstance(weight, Tensor):
        raise TypeError(f"prelu(): argument 'weight' must be a Tensor, not {type(weight).__name__}")
    k = weight.array.size
    if k != 1:
        channels = x.shape[1] if x.ndim >= 2 else 1  # torch: a 1-D input has one channel
        if weight.ndim != 1 or k != channels:
            raise RuntimeError(f"prelu: mismatch of parameter numbers and input channel size. Found parameter "
                               f"numbers = {k} and channel size = {channels}.")
        if x.ndim >= 2:
            weight = _api.reshape(weight, (1, k) + (1,) * (x.ndim - 2))
    elif weight.ndim > x.ndim:
        weight = _api.reshape(weight, ())
    positive = Tensor._wrap(x.array > 0, False)
    return _api.where(positive, x, x * weight)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,  # noqa: A002
          inplace: bool = False, *, generator: Any = None) -> Tensor:
    """Randomized leaky ReLU (Xu et al. 2015, arXiv 1505.00853).

    Evaluation: ``leaky_relu`` with slope (lower + upper) / 2.  Training: each
    negative element gets its own slope a ~ U(lower, upper) from the run's
    seeded generator (or ``generator``); the gradient there is a.
    """
    x = _check(input, "rrelu")
    if lower > upper:
        raise ValueError(f"rrelu: lower bound ({lower}) must be less than or equal to upper bound ({upper})")
    if not training:
        return LeakyReLU.apply(x, negative_slope=(lower + upper) / 2.0)
    rng = _random.get_generator(generator)
    slopes = rng.uniform(lower, upper, size=x.shape)
    a = x.array
    xp = get_array_module(a)
    noise = _const(x, xp.where(a >= 0, 1.0, xp.asarray(slopes)))
    return x * noise


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:  # noqa: A002
    """x where x > threshold, else ``value`` (NaN stays NaN, as torch)."""
    x = _check(input, "threshold")
    a = x.array
    xp = get_array_module(a)
    below = Tensor._wrap(a <= threshold, False)
    return _api.where(below, _const(x, xp.full(a.shape, value)), x)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:  # noqa: A002
    """softmax(-x) along ``dim``: the smallest entries get the largest weights."""
    x = _check(input, "softmin")
    if dtype is not None:
        x = x.to(dtype)
    if dim is None:
        dim = 0 if x.ndim in (0, 1, 3) else 1
    return _api.softmax(-x, dim=dim)


# ------------------------------------------------------------------ distances and bilinear maps
def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p over the last dimension (torch adds ``eps`` to the difference, not the norm)."""
    x1, x2 = _check(x1, "pairwise_distance"), _check(x2, "pairwise_distance")
    diff = x1 - x2 + eps
    if diff.ndim == 0:
        return _api.abs(diff)
    return _api.norm(diff, p, dim=-1, keepdim=keepdim)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y_o = x1^T W_o x2 + b_o, ``weight`` of shape (out, in1, in2), over any leading dimensions."""
    x1, x2 = _check(input1, "bilinear"), _check(input2, "bilinear")
    if weight.ndim != 3 or x1.shape[-1] != weight.shape[1] or x2.shape[-1] != weight.shape[2] \
            or x1.shape[:-1] != x2.shape[:-1]:
        raise RuntimeError(f"bilinear: input1 {tuple(x1.shape)}, input2 {tuple(x2.shape)} and weight "
                           f"{tuple(weight.shape)} do not fit (weight must be (out, in1, in2), inputs (..., in1) "
                           "and (..., in2) with the same leading dimensions)")
    from ...ops.einsum import einsum

    out = einsum("...i,oij,...j->...o", x1, weight, x2)
    return out if bias is None else out + bias


# ------------------------------------------------------------------ im2col / col2im
def _pair(v: Any, name: str, what: str) -> tuple[int, int]:
    t = tuple(int(a) for a in v) if isinstance(v, (tuple, list)) else (int(v), int(v))
    if len(t) != 2:
        raise ValueError(f"{name}: {what} must be an int or a pair, got {v!r}")
    return t


def _blocks(name: str, size: tuple[int, int], kernel_size: Any, dilation: Any, padding: Any,
            stride: Any) -> tuple[tuple[int, int], ...]:
    k, d, p, s = (_pair(kernel_size, name, "kernel_size"), _pair(dilation, name, "dilation"),
                  _pair(padding, name, "padding"), _pair(stride, name, "stride"))
    if min(k) <= 0 or min(d) <= 0 or min(s) <= 0 or min(p) < 0:
        raise ValueError(f"{name}: kernel_size, dilation and stride must be positive and padding non-negative, "
                         f"got kernel_size={k}, dilation={d}, padding={p}, stride={s}")
    out = tuple((size[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2))
    if min(out) <= 0:
        raise RuntimeError(f"{name}: the padded input {tuple(size[i] + 2 * p[i] for i in range(2))} is too small "
                           f"for kernel_size={k} with dilation={d}")
    return k, d, p, s, out


def _batched(input: Any, name: str, ndim: int) -> tuple[Tensor, bool]:  # noqa: A002
    """The input as a batch of rank ``ndim`` (an unbatched one, of rank ndim - 1, gets a batch of one),
    and whether it was batched."""
    x = _check(input, name)
    if x.ndim not in (ndim - 1, ndim):
        raise ValueError(f"{name}: expected a {ndim - 1}-D (unbatched) or {ndim}-D (batched) input, "
                         f"got shape {tuple(x.shape)}")
    batched = x.ndim == ndim
    if not batched:
        x = _api.unsqueeze(x, 0)
    return x, batched


def unfold(input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> Tensor:  # noqa: A002
    """im2col: the sliding (kh, kw) blocks of a (N, C, H, W) or (C, H, W) input as columns,
    (N, C kh kw, L), channel-major as torch.  Built from pad, strided slices and stack."""
    x, batched = _batched(input, "unfold", 4)
    k, d, p, s, (oh, ow) = _blocks("unfold", tuple(x.shape[2:]), kernel_size, dilation, padding, stride)
    if p[0] or p[1]:
        x = _api.pad(x, [(0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])])
    parts = [_api.getitem(x, (slice(None), slice(None),
                              slice(i * d[0], i * d[0] + s[0] * (oh - 1) + 1, s[0]),
                              slice(j * d[1], j * d[1] + s[1] * (ow - 1) + 1, s[1])))
             for i in range(k[0]) for j in range(k[1])]
    n, c = x.shape[0], x.shape[1]
    out = _api.reshape(_api.stack(parts, dim=2), (n, c * k[0] * k[1], oh * ow))
    return out if batched else _api.squeeze(out, 0)


def fold(input: Tensor, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,  # noqa: A002
         stride: Any = 1) -> Tensor:
    """col2im, the adjoint of :func:`unfold`: sums the columns (N, C kh kw, L) back into (N, C, H, W),
    overlapping blocks adding up.  Built from reshape, zero-interleaving pads and slices."""
    x, batched = _batched(input, "fold", 3)
    size = _pair(output_size, "fold", "output_size")
    k, d, p, s, (oh, ow) = _blocks("fold", size, kernel_size, dilation, padding, stride)
    n, ck, length = x.shape
    kk = k[0] * k[1]
    if ck % kk or length != oh * ow:
        raise RuntimeError(f"fold: expected size of input's dimension 1 to be divisible by the product of "
                           f"kernel_size ({kk}) and dimension 2 to match the number of blocks ({oh * ow}), "
                           f"got shape {tuple(x.shape)}")
    c = ck // kk
    hp, wp = size[0] + 2 * p[0], size[1] + 2 * p[1]
    cols = _api.reshape(x, (n, c, kk, oh, 1, ow, 1))
    total = None
    for i in range(k[0]):
        for j in range(k[1]):
            block = _api.getitem(cols, (slice(None), slice(None), i * k[1] + j))  # (n, c, oh, 1, ow, 1)
            if s[0] > 1 or s[1] > 1:  # interleave stride - 1 zeros after each row and column
                block = _api.pad(block, [(0, 0), (0, 0), (0, 0), (0, s[0] - 1), (0, 0), (0, s[1] - 1)])
            block = _api.reshape(block, (n, c, oh * s[0], ow * s[1]))
            block = _api.getitem(block, (slice(None), slice(None), slice(0, s[0] * (oh - 1) + 1),
                                         slice(0, s[1] * (ow - 1) + 1)))
            top, left = i * d[0], j * d[1]
            placed = _api.pad(block, [(0, 0), (0, 0), (top, hp - top - block.shape[2]),
                                      (left, wp - left - block.shape[3])])
            total = placed if total is None else total + placed
    out = _api.getitem(total, (slice(None), slice(None), slice(p[0], p[0] + size[0]), slice(p[1], p[1] + size[1])))
    return out if batched else _api.squeeze(out, 0)
