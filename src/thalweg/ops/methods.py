"""Tensor methods for the torch-named ops (``x.cumsum(0)``, ``x.scatter_(...)``, ``x.new_zeros(...)``).

The functions live in their family modules (``math_api``, ``scan``, ``sorting``,
``indexing``, ``structure``); here each is bound onto ``Tensor`` under torch's
name, with an in-place twin (``name_``) where torch has one.  An in-place
method computes the out-of-place result outside the graph, writes it into the
tensor's memory, bumps the version counter and returns the tensor; like every
in-place change it is refused on a tensor that requires grad while recording.
Methods the ``Tensor`` class defines itself are never replaced.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import dtypes
from ..autograd import grad_mode
from ..autograd.tensor import Tensor
from .. import factories as F
from . import api
from . import indexing as I
from . import math_api as M
from . import scan as C
from . import sorting as O
from . import extras as X
from . import structure as S

_FUNCTIONS: dict[str, Any] = {}
for _module, _names in (
    (M, "sin cos tan asin acos atan arcsin arccos arctan sinh cosh asinh acosh atanh arcsinh arccosh arctanh "
        "log1p expm1 log2 log10 exp2 rsqrt reciprocal square floor ceil round trunc fix frac erf erfc erfinv "
        "lgamma digamma sinc nan_to_num signbit isinf isneginf isposinf isreal isclose logical_and logical_or "
        "logical_not logical_xor bitwise_and bitwise_or bitwise_xor bitwise_not bitwise_left_shift "
        "bitwise_right_shift all any count_nonzero clamp_min clamp_max float_power copysign deg2rad rad2deg "
        "atan2 arctan2 hypot fmod remainder floor_divide xlogy logaddexp lerp addcmul addcdiv logit positive"),
    (C, "cumsum cumprod logcumsumexp cummax cummin"),
    (O, "sort argsort msort topk kthvalue median nanmedian mode"),
    (I, "scatter scatter_add scatter_reduce index_select index_add index_copy index_fill masked_select "
        "masked_scatter take_along_dim nonzero argwhere"),
    (X, "absolute clone cross diff fmax fmin heaviside inner logaddexp2 nanmean nansum negative ravel rot90 "
        "sgn swapdims take tensordot unflatten unique unique_consecutive bincount isin vdot multiply subtract "
        "divide true_divide"),
    (S, "tril triu diagonal diag diag_embed trace flip fliplr flipud roll narrow select unbind movedim moveaxis "
        "tile repeat_interleave mm bmm mv dot outer ger addmm"),
):
    for _name in _names.split():
        _FUNCTIONS[_name] = getattr(_module, _name)
_FUNCTIONS["neg"] = api.neg  # ``x.neg()`` (and so ``x.neg_()``), torch's spelling of ``-x``

_INPLACE = ("sin cos tan asin acos atan sinh cosh asinh acosh atanh log1p expm1 log2 log10 exp2 rsqrt reciprocal "
            "square floor ceil round trunc fix frac erf erfc erfinv lgamma digamma sinc nan_to_num clamp_min "
            "clamp_max float_power copysign deg2rad rad2deg atan2 arctan2 hypot fmod remainder floor_divide xlogy "
            "lerp addcmul addcdiv logit cumsum cumprod scatter scatter_add scatter_reduce index_add index_copy "
            "index_fill masked_scatter masked_fill tril triu logical_and logical_or logical_not logical_xor "
            "bitwise_and bitwise_or bitwise_xor bitwise_not exp log sqrt abs neg sign sigmoid tanh relu pow "
            "clamp clip").split()


def _write_inplace(self: Tensor, out: Tensor, name: str) -> Tensor:
    if out.shape != self.shape:
        raise RuntimeError(f"{name}: the result has shape {out.shape}, which does not match the tensor's "
                           f"{self.shape} (in-place ops cannot broadcast the tensor itself)")
    if out.dtype != self.dtype and not np.can_cast(out.dtype, self.dtype, casting="same_kind"):
        raise RuntimeError(f"{name}: result type {out.dtype} can't be cast to the desired output type {self.dtype}")
    self.array[...] = out.array
    self._bump_version()
    return self


def _records(self: Tensor, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether an in-place op must join the graph: a non-leaf self, or another input, requires grad."""
    if not grad_mode.STATE.enabled:
        return False
    if self._requires_grad and self._ctx is not None:
        return True
    return any(isinstance(a, Tensor) and a._requires_grad for a in (*args, *kwargs.values()))


def _inplace(fn: Any, name: str) -> Any:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        if self._ctx is None:
            self._check_inplace(name)  # a leaf that requires grad is refused while recording, as in torch
        if not _records(self, args, kwargs):
            with grad_mode.no_grad():
                out = fn(self, *args, **kwargs)
            return _write_inplace(self, out, name)
        # In the graph (``out.index_add_(0, idx, messages)``, ``scores.masked_fill_(mask, -inf)``): the op
        # runs on a copy of the old value, the result is written into this tensor's memory and the tensor
        # takes the op's node, so backward flows through the old value to whatever made it.
        old = Tensor._wrap(self.array.copy(), self._requires_grad)
        old._ctx = self._ctx
        out = fn(old, *args, **kwargs)
        _write_inplace(self, out, name)
        self._ctx = out._ctx
        self._requires_grad = out._requires_grad
        return self
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In-place ``{name[:-1]}``: writes the result into this tensor and returns it."
    return method


# ---------------------------------------------------------------- constructors from a tensor
def new_zeros(self: Tensor, *size: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
    """Zeros of ``size`` with this tensor's dtype (unless ``dtype``)."""
    return F.zeros(*size, dtype=self.dtype if dtype is None else dtype, **kwargs)


def new_ones(self: Tensor, *size: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
    return F.ones(*size, dtype=self.dtype if dtype is None else dtype, **kwargs)


def new_empty(self: Tensor, *size: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
    return F.empty(*size, dtype=self.dtype if dtype is None else dtype, **kwargs)


def new_full(self: Tensor, size: Any, fill_value: Any, *, dtype: Any = None, **kwargs: Any) -> Tensor:
    return F.full(size, fill_value, dtype=self.dtype if dtype is None else dtype, **kwargs)


def new_tensor(self: Tensor, data: Any, *, dtype: Any = None, **kwargs: Any) -> Tensor:
    """A copy of ``data`` with this tensor's dtype (unless ``dtype``), outside any graph."""
    return F.tensor(data, dtype=self.dtype if dtype is None else dtype, **kwargs)


def element_size(self: Tensor) -> int:
    """Bytes per element."""
    return int(self.array.itemsize)


def is_floating_point(self: Tensor) -> bool:
    return dtypes.is_floating(self.array.dtype)


def is_contiguous(self: Tensor, memory_format: Any = None) -> bool:
    return bool(self.array.flags.c_contiguous)


def stride(self: Tensor, dim: int | None = None) -> Any:
    """Steps in elements between neighbours along each dimension (torch's strides, not NumPy's bytes)."""
    steps = tuple(s // self.array.itemsize for s in self.array.strides)
    return steps if dim is None else steps[dim]


def storage_offset(self: Tensor) -> int:
    """Elements between the start of the underlying memory and this tensor's first element."""
    base = self.array
    while base.base is not None and isinstance(base.base, np.ndarray):
        base = base.base
    start = self.array.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    return int(start // self.array.itemsize)


def t_(self: Tensor) -> Tensor:
    """Transpose a tensor of at most 2 dimensions in place (its metadata)."""
    if self.ndim > 2:
        raise RuntimeError(f"t_(): expects a tensor with <= 2 dimensions, got shape {self.shape}")
    self._check_inplace("t_")
    self.array = self.array.T
    self._bump_version()
    return self


def _where_method(self: Tensor, condition: Any, y: Any) -> Tensor:
    """``x.where(cond, y)``: x where cond, else y."""
    return api.where(condition, self, y)


def _bind() -> None:
    T = Tensor
    own = set(T.__dict__)
    for name, fn in _FUNCTIONS.items():
        if name not in own:
            setattr(T, name, fn)
    for name in _INPLACE:
        base = getattr(T, name, None) if name != "where" else _where_method
        if base is not None and name + "_" not in own:
            setattr(T, name + "_", _inplace(base, name + "_"))
    for fn in (new_zeros, new_ones, new_empty, new_full, new_tensor, element_size, is_floating_point,
               is_contiguous, stride, storage_offset, t_):
        if fn.__name__ not in own:
            setattr(T, fn.__name__, fn)
    if "where" not in own:
        T.where = _where_method
    for name, value in (("is_cuda", False), ("is_sparse", False), ("is_quantized", False), ("is_meta", False)):
        if name not in own:
            setattr(T, name, property(lambda self, v=value: v))
    if "get_device" not in own:
        T.get_device = lambda self: -1
    if "ndimension" not in own:
        T.ndimension = lambda self: self.ndim
    if "bernoulli" not in own:
        T.bernoulli = lambda self, p=None, *, generator=None: F.bernoulli(self, p, generator=generator)
    if "multinomial" not in own:
        T.multinomial = lambda self, num_samples, replacement=False, *, generator=None: F.multinomial(
            self, num_samples, replacement, generator=generator)
    if "bernoulli_" not in own:
        T.bernoulli_ = _bernoulli_
    if "random_" not in own:
        T.random_ = _random_
    if "to_sparse" not in own:
        T.to_sparse = _to_sparse
    if "to_dense" not in own:
        T.to_dense = lambda self: self


def _to_sparse(self: Tensor, sparse_dim: int | None = None) -> Any:
    """The nonzero entries as a sparse COO tensor (``thalweg.sparse`` is loaded on first use)."""
    from .. import sparse

    return sparse.to_sparse(self, sparse_dim)


def _bernoulli_(self: Tensor, p: Any = 0.5, *, generator: Any = None) -> Tensor:
    """Fill with 0/1 draws of probability ``p`` (a number or a tensor)."""
    self._check_inplace("bernoulli_")
    probs = p if isinstance(p, Tensor) else F.full(self.shape, float(p), dtype=dtypes.float64)
    return _write_inplace(self, F.bernoulli(probs.astype(self.dtype) if self.dtype.kind == "f" else probs,
                                            generator=generator).astype(self.dtype), "bernoulli_")


def _random_(self: Tensor, low: int = 0, high: int | None = None, *, generator: Any = None) -> Tensor:
    """Fill with integers uniform in [low, high) (``random_(high)`` means [0, high))."""
    self._check_inplace("random_")
    if high is None:
        low, high = 0, low
    if high is None or high == 0:
        raise RuntimeError("random_: give an upper bound, e.g. x.random_(10)")
    return _write_inplace(self, F.randint(low, high, self.shape, generator=generator).astype(self.dtype), "random_")


_bind()
