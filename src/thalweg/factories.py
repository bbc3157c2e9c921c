"""Ways to make tensors: ``tw.tensor``, ``tw.zeros``, ``tw.randn``... with torch's signatures.

Floating factories default to the default dtype (float32).  Every factory
takes torch's keywords: ``dtype=``, ``device=`` ("cpu", or a clear error for
any other device), ``requires_grad=``, and ``layout=`` / ``pin_memory=`` /
``memory_format=``, which are accepted and ignored since they change nothing
on the CPU here; ``out=`` is refused with a clear message.  Sizes may be given
as ``zeros(2, 3)``, ``zeros((2, 3))`` or ``zeros(size=(2, 3))``.  Random
factories draw from the run's seeded generator (``tw.manual_seed``) unless a
``generator=`` (a ``tw.Generator``) is given.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import dtypes
from . import random as _random
from .autograd.tensor import Tensor, _as_array

_IGNORED = ("layout", "pin_memory", "memory_format", "non_blocking")


def check_device(device: Any, op: str) -> None:
    """Accept the CPU (``"cpu"``, ``"cpu:0"``, ``tw.device("cpu")``); any other device is a clear error."""
    if device is None:
        return
    name = str(getattr(device, "type", device))
    if name.split(":")[0] != "cpu":
        raise RuntimeError(f"{op}: device {str(device)!r} is not available; thalweg runs on the CPU "
                           "(tw.cuda.is_available() is False): use device='cpu'")


def _options(op: str, device: Any, kwargs: dict[str, Any]) -> None:
    check_device(device, op)
    if kwargs.get("out") is not None:
        raise TypeError(f"{op}: out= is not supported; assign the result instead (x = tw.{op}(...))")
    unknown = sorted(k for k in kwargs if k not in _IGNORED and k not in ("out", "size"))
    if unknown:
        raise TypeError(f"{op}() got unexpected keyword arguments {unknown}")


def _size(args: tuple[Any, ...], size: Any, op: str) -> tuple[int, ...]:
    """``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` or ``f(size=(2, 3))`` -> (2, 3)."""
    if size is not None:
        if args:
            raise TypeError(f"{op}: give the size either positionally or as size=, not both")
        args = (size,)
    if len(args) == 1 and isinstance(args[0], (tuple, list, np.ndarray, Tensor)):
        args = tuple(np.asarray(getattr(args[0], "array", args[0])).reshape(-1).tolist())
    try:
        shape = tuple(int(n) for n in args)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: the size must be integers, got {args!r}") from None
    if any(n < 0 for n in shape):
        raise RuntimeError(f"{op}: negative dimension in size {shape}")
    return shape


def _make(arr: Any, requires_grad: bool) -> Tensor:
    return Tensor(arr, requires_grad=requires_grad)


def _dtype(dtype: Any) -> np.dtype:
    return dtypes.resolve(dtype)


# ------------------------------------------------------------------ from data
def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
           **kwargs: Any) -> Tensor:
    """A new leaf tensor holding a *copy* of ``data``.

    Python floats and lists become float32, ints int64, bools bool; an ndarray
    keeps its dtype (as ``torch.tensor`` does).  ``dtype`` may be ``tw.float64``,
    ``np.float64``, ``"float64"`` or a torch dtype.
    """
    _options("tensor", device, kwargs)
    if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in data):
        data = [d.array if isinstance(d, Tensor) else d for d in data]
    arr = _as_array(data.array if isinstance(data, Tensor) else data, dtype)
    return Tensor(np.array(arr, copy=True), requires_grad=requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Like ``tensor`` but shares memory with an ndarray (or returns the tensor itself) when possible."""
    check_device(device, "as_tensor")
    if isinstance(data, Tensor):
        return data if dtype is None else data.astype(dtype)
    return Tensor(_as_array(data, dtype))


asarray = as_tensor


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (its dtype is kept)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected an np.ndarray, got {type(array).__name__}")
    return Tensor(array)


# ------------------------------------------------------------------ constant fills
def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
          **kwargs: Any) -> Tensor:
    """A tensor of zeros of the given size."""
    _options("zeros", device, kwargs)
    return _make(np.zeros(_size(size, kwargs.pop("size", None), "zeros"), dtype=_dtype(dtype)), requires_grad)


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False, **kwargs: Any) -> Tensor:
    """A tensor of ones of the given size."""
    _options("ones", device, kwargs)
    return _make(np.ones(_size(size, kwargs.pop("size", None), "ones"), dtype=_dtype(dtype)), requires_grad)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
          **kwargs: Any) -> Tensor:
    """An uninitialized tensor of the given size (its values are whatever the memory held)."""
    _options("empty", device, kwargs)
    return _make(np.empty(_size(size, kwargs.pop("size", None), "empty"), dtype=_dtype(dtype)), requires_grad)


def _fill_dtype(fill_value: Any, dtype: Any) -> np.dtype:
    if dtype is not None:
        return _dtype(dtype)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if isinstance(fill_value, (bool, np.bool_)):
        return dtypes.bool_
    if isinstance(fill_value, (int, np.integer)):
        return dtypes.int64
    return dtypes.get_default_dtype()


def full(size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
         **kwargs: Any) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (bool -> bool, int -> int64, float -> float32)."""
    _options("full", device, kwargs)
    shape = _size((size,), None, "full")
    value = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
    return _make(np.full(shape, value, dtype=_fill_dtype(fill_value, dtype)), requires_grad)


def _like_dtype(input: Any, dtype: Any) -> np.dtype:  # noqa: A002
    return input.dtype if dtype is None else _dtype(dtype)


def zeros_like(input: Tensor, dtype: Any = None, *, device: Any = None, requires_grad: bool = False,  # noqa: A002
               **kwargs: Any) -> Tensor:
    _options("zeros_like", device, kwargs)
    return _make(np.zeros(input.shape, dtype=_like_dtype(input, dtype)), requires_grad)


def ones_like(input: Tensor, dtype: Any = None, *, device: Any = None, requires_grad: bool = False,  # noqa: A002
              **kwargs: Any) -> Tensor:
    _options("ones_like", device, kwargs)
    return _make(np.ones(input.shape, dtype=_like_dtype(input, dtype)), requires_grad)


def empty_like(input: Tensor, dtype: Any = None, *, device: Any = None, requires_grad: bool = False,  # noqa: A002
               **kwargs: Any) -> Tensor:
    _options("empty_like", device, kwargs)
    return _make(np.empty(input.shape, dtype=_like_dtype(input, dtype)), requires_grad)


def full_like(input: Tensor, fill_value: Any, dtype: Any = None, *, device: Any = None,  # noqa: A002
              requires_grad: bool = False, **kwargs: Any) -> Tensor:
    _options("full_like", device, kwargs)
    value = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
    return _make(np.full(input.shape, value, dtype=_like_dtype(input, dtype)), requires_grad)


def eye(n: int, m: int | None = None, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
        **kwargs: Any) -> Tensor:
    """The n x m identity (m = n by default)."""
    _options("eye", device, kwargs)
    return _make(np.eye(int(n), None if m is None else int(m), dtype=_dtype(dtype)), requires_grad)


# ------------------------------------------------------------------ ranges
def _number(v: Any) -> Any:
    return v.item() if isinstance(v, Tensor) else v


def arange(start: Any = 0, end: Any = None, step: Any = 1, *, dtype: Any = None, device: Any = None,
           requires_grad: bool = False, **kwargs: Any) -> Tensor:
    """Evenly spaced values in [start, end); int64 for integer arguments, else the default float dtype."""
    _options("arange", device, kwargs)
    start, end, step = _number(start), _number(end), _number(step)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound and larger bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    is_int = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (start, end, step))
    d = _dtype(dtype if dtype is not None else dtypes.int64 if is_int else dtypes.get_default_dtype())
    n = max(0, math.ceil((end - start) / step))  # torch's length: ceil((end - start) / step)
    if is_int and d.kind != "f":
        return _make(np.arange(start, end, step, dtype=d), requires_grad)
    return _make((start + step * np.arange(n, dtype=np.float64)).astype(d), requires_grad)  # start + i step


def linspace(start: Any, end: Any, steps: int, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False, **kwargs: Any) -> Tensor:
    """``steps`` evenly spaced values from start to end, both included."""
    _options("linspace", device, kwargs)
    if int(steps) < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps}")
    return _make(np.linspace(_number(start), _number(end), int(steps)).astype(_dtype(dtype)), requires_grad)


def logspace(start: Any, end: Any, steps: int, base: float = 10.0, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False, **kwargs: Any) -> Tensor:
    """base ** linspace(start, end, steps)."""
    _options("logspace", device, kwargs)
    if int(steps) < 0:
        raise RuntimeError(f"logspace: number of steps must be non-negative, got {steps}")
    exps = np.linspace(_number(start), _number(end), int(steps))
    return _make((float(base) ** exps).astype(_dtype(dtype)), requires_grad)


# ------------------------------------------------------------------ random
def randn(*size: Any, generator: Any = None, dtype: Any = None, device: Any = None, requires_grad: bool = False,
          **kwargs: Any) -> Tensor:
    """Standard normal samples from the run's generator (or ``generator``)."""
    _options("randn", device, kwargs)
    g = _random.get_generator(generator)
    return _make(g.standard_normal(_size(size, kwargs.pop("size", None), "randn")).astype(_dtype(dtype)),
                 requires_grad)


def rand(*size: Any, generator: Any = None, dtype: Any = None, device: Any = None, requires_grad: bool = False,
         **kwargs: Any) -> Tensor:
    """Uniform samples in [0, 1) from the run's generator (or ``generator``)."""
    _options("rand", device, kwargs)
    g = _random.get_generator(generator)
    return _make(g.random(_size(size, kwargs.pop("size", None), "rand")).astype(_dtype(dtype)), requires_grad)


def randint(*args: Any, size: Any = None, generator: Any = None, dtype: Any = None, device: Any = None,
            requires_grad: bool = False, **kwargs: Any) -> Tensor:
    """Integers uniform in [low, high), int64: ``randint(high, size)`` or ``randint(low, high, size)``."""
    low = kwargs.pop("low", None)
    high = kwargs.pop("high", None)
    _options("randint", device, kwargs)
    args = tuple(_number(a) if isinstance(a, Tensor) else a for a in args)
    if args and size is None and isinstance(args[-1], (tuple, list)):
        size, args = args[-1], args[:-1]
    if len(args) == 2:
        low, high = args
    elif len(args) == 1:
        if high is None:
            high = args[0]
        else:
            low = args[0]
    elif args:
        raise TypeError(f"randint: expected (high, size) or (low, high, size), got {args}")
    if size is None:
        raise TypeError("randint: missing the size, e.g. tw.randint(10, (3,))")
    low = 0 if low is None else int(low)
    if high is None:
        raise TypeError("randint: missing high")
    if int(high) <= low:
        raise RuntimeError(f"randint: expected low < high, got low={low}, high={high}")
    g = _random.get_generator(generator)
    shape = _size((size,), None, "randint")
    return _make(g.integers(low, int(high), size=shape).astype(_dtype(dtype or dtypes.int64)), requires_grad)


def randperm(n: int, *, generator: Any = None, dtype: Any = None, device: Any = None, requires_grad: bool = False,
             **kwargs: Any) -> Tensor:
    """A random permutation of 0..n-1 (int64)."""
    _options("randperm", device, kwargs)
    return _make(_random.get_generator(generator).permutation(int(n)).astype(_dtype(dtype or dtypes.int64)),
                 requires_grad)


def randn_like(input: Tensor, *, generator: Any = None, dtype: Any = None, device: Any = None,  # noqa: A002
               requires_grad: bool = False, **kwargs: Any) -> Tensor:
    return randn(input.shape, dtype=_like_dtype(input, dtype), generator=generator, device=device,
                 requires_grad=requires_grad, **kwargs)


def rand_like(input: Tensor, *, generator: Any = None, dtype: Any = None, device: Any = None,  # noqa: A002
              requires_grad: bool = False, **kwargs: Any) -> Tensor:
    return rand(input.shape, dtype=_like_dtype(input, dtype), generator=generator, device=device,
                requires_grad=requires_grad, **kwargs)


def randint_like(input: Tensor, low: int = 0, high: int | None = None, *, generator: Any = None,  # noqa: A002
                 dtype: Any = None, device: Any = None, requires_grad: bool = False, **kwargs: Any) -> Tensor:
    """randint with ``input``'s shape and dtype: ``randint_like(x, high)`` or ``randint_like(x, low, high)``."""
    if high is None:
        low, high = 0, low
    return randint(low, high, input.shape, dtype=_like_dtype(input, dtype), generator=generator, device=device,
                   requires_grad=requires_grad, **kwargs)


def normal(mean: Any = 0.0, std: Any = 1.0, size: Any = None, *, generator: Any = None, dtype: Any = None,
           device: Any = None, requires_grad: bool = False, **kwargs: Any) -> Tensor:
    """Normal samples: ``normal(mean_tensor, std_tensor)`` (broadcast), or ``normal(0.0, 1.0, size)``."""
    _options("normal", device, kwargs)
    m, s = getattr(mean, "array", mean), getattr(std, "array", std)
    if np.any(np.asarray(s) < 0):
        raise RuntimeError("normal: std must be non-negative")
    g = _random.get_generator(generator)
    if size is not None:
        shape = _size((size,), None, "normal")
    elif isinstance(mean, Tensor) or isinstance(std, Tensor):
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
    else:
        raise TypeError("normal: give tensor mean/std, or numbers with a size")
    like = next((t.dtype for t in (mean, std) if isinstance(t, Tensor) and t.dtype.kind == "f"), None)
    d = _dtype(dtype) if dtype is not None else (like or dtypes.get_default_dtype())
    return _make((m + s * g.standard_normal(shape)).astype(d), requires_grad)


def bernoulli(input: Tensor, p: float | None = None, *, generator: Any = None) -> Tensor:  # noqa: A002
    """0/1 samples with probability ``input`` (or the number ``p``), in input's dtype."""
    probs = input.array if p is None else np.full(input.shape, p)
    if np.any((probs < 0) | (probs > 1)):
        raise RuntimeError("bernoulli: probabilities must be in [0, 1]")
    g = _random.get_generator(generator)
    return Tensor._wrap((g.random(input.shape) < probs).astype(input.dtype), False)


def poisson(input: Tensor, generator: Any = None) -> Tensor:  # noqa: A002
    """Poisson samples with rates ``input``, in input's dtype."""
    if np.any(input.array < 0):
        raise RuntimeError("poisson: rates must be non-negative")
    return Tensor._wrap(_random.get_generator(generator).poisson(input.array).astype(input.dtype), False)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,  # noqa: A002
                generator: Any = None) -> Tensor:
    """Category indices drawn with probabilities proportional to the rows of ``input`` (1-D or 2-D), int64.

    Without replacement each row gives ``num_samples`` distinct categories, drawn one after
    another from the renormalized remaining weights (as torch).
    """
    w = np.asarray(input.array, dtype=np.float64)
    if w.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {input.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise RuntimeError("multinomial: probability tensor contains either inf, nan or element < 0")
    rows = w.reshape(-1, w.shape[-1])
    if num_samples <= 0:
        raise RuntimeError(f"multinomial: cannot sample {num_samples} <= 0 samples")
    if not replacement and num_samples > rows.shape[1]:
        raise RuntimeError(f"multinomial: cannot sample n_sample ({num_samples}) > prob_dist.size(-1) "
                           f"({rows.shape[1]}) samples without replacement")
    g = _random.get_generator(generator)
    out = np.empty((rows.shape[0], num_samples), dtype=np.int64)
    for r, row in enumerate(rows):
        total = row.sum()
        if total <= 0:
            raise RuntimeError("multinomial: invalid multinomial distribution (sum of probabilities <= 0)")
        if not replacement and np.count_nonzero(row) < num_samples:
            raise RuntimeError(f"multinomial: row {r} has fewer than {num_samples} nonzero weights to sample "
                               "without replacement")
        out[r] = g.choice(row.size, size=num_samples, replace=replacement, p=row / total)
    return Tensor._wrap(out.reshape(w.shape[:-1] + (num_samples,)), False)
