"""``Tensor``: an n-dimensional array that remembers how it was made.

A tensor wraps an ``ndarray`` (``.array``; ``.data`` is a tensor sharing it, as in torch).  If it ``requires_grad``, every op
on it records a graph node (see ``function.py``); ``backward()`` then walks the
graph in reverse topological order and *accumulates* gradients into the
``.grad`` of the leaves (the lecture's parameter nodes).

The operator methods are thin: each calls a ``Function`` from ``thalweg.ops``.
PyTorch's spellings (``dim=``, ``keepdim=``, ``.size()``, ``.view()``...) are
accepted beside NumPy's (``axis=``, ``keepdims=``).
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from .. import dtypes
from ..backend import get_array_module, to_numpy
from . import function as _function
from . import grad_mode
from .engine import run_backward

_FLOATING = dtypes.FLOATING
_SUPPORTED = dtypes.SUPPORTED


def _as_array(data: Any, dtype: Any = None) -> Any:
    """Convert user data to an array with thalweg's dtype rules.

    Python floats and lists of numbers become the default float dtype (float32);
    lists of ints become int64 and of bools bool, as in torch; an ndarray keeps
    its dtype.  Unsupported dtypes raise ``TypeError``.
    """
    if isinstance(data, Tensor):
        data = data.array
    if dtype is not None:
        d = dtypes.resolve(dtype)
        xp = get_array_module(data)
        arr = xp.asarray(data, dtype=d)
        return arr
    xp = get_array_module(data)
    if isinstance(data, np.ndarray) or xp is not np:
        arr = data
    elif isinstance(data, np.generic):  # a NumPy scalar keeps its dtype, as an ndarray does
        arr = np.asarray(data)
    else:
        arr = np.asarray(data)
        if arr.dtype.kind == "f":
            arr = arr.astype(dtypes.get_default_dtype(), copy=False)
        elif arr.dtype.kind in "iu" and arr.dtype != np.uint8:
            arr = arr.astype(np.int64, copy=False)
    if arr.dtype not in _SUPPORTED:
        raise TypeError(
            f"unsupported dtype: {arr.dtype} (thalweg supports float16/32/64, int8/16/32/64, uint8 and bool)"
        )
    return arr


class Tensor:
    """An array with an optional gradient and the graph node that produced it.

    ``Tensor(data, requires_grad=False, dtype=None)``; prefer ``tw.tensor(...)``.
    """

    __slots__ = ("array", "grad", "_requires_grad", "_ctx", "__weakref__", "__dict__")
    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor's reflected op
    __hash__ = object.__hash__  # by identity: tensors are dict keys although == is elementwise
    _hooks: dict[int, Any] | None = None  # gradient hooks (register_hook), rarely set
    _retains_grad = False  # a non-leaf that called retain_grad()

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        arr = _as_array(data, dtype)
        self.array = arr
        self.grad = None
        self._ctx = None
        self._requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, data: Any, requires_grad: bool) -> "Tensor":
        """Fast constructor for op outputs (no dtype conversion)."""
        t = object.__new__(cls)
        t.array = data
        t.grad = None
        t._requires_grad = requires_grad
        t._ctx = None
        return t

    # ------------------------------------------------------------------ basics
    @property
    def data(self) -> "Tensor":
        """This tensor's values as a new leaf outside the graph, sharing its memory (torch's ``.data``)."""
        return Tensor._wrap(self.array, False)

    @data.setter
    def data(self, value: Any) -> None:
        arr = _as_array(value)
        if arr.shape != self.array.shape and self._ctx is not None:
            raise RuntimeError(f".data = ...: shape {arr.shape} does not match the non-leaf tensor's {self.shape}")
        self.array = arr

    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def ndim(self) -> int:
        return self.array.ndim

    def size(self, dim: int | None = None) -> Any:
        """torch's ``size()``: the shape, or one dimension of it."""
        if dim is None:
            return self.array.shape
        return self.array.shape[dim]

    def dim(self) -> int:
        return self.array.ndim

    def numel(self) -> int:
        return int(self.array.size)

    def nelement(self) -> int:
        return int(self.array.size)

    @property
    def xp(self) -> Any:
        """The array namespace of this tensor's data (NumPy, or CuPy on a GPU)."""
        return get_array_module(self.array)

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self) -> Any:
        return self._ctx

    @property
    def device(self) -> "device":
        return device("cpu" if self.xp is np else "cuda")

    def __len__(self) -> int:
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __repr__(self) -> str:
        body = np.array2string(to_numpy(self.array), separator=", ", prefix="tensor(")
        extra = ""
        if self.array.dtype != dtypes.get_default_dtype() and self.array.dtype.kind == "f":
            extra += f", dtype={self.array.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn={self._ctx!r}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = to_numpy(self.array)
        if dtype is not None:
            arr = arr.astype(dtype, copy=bool(copy))
        elif copy:
            arr = arr.copy()
        return arr

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.array.size} elements is ambiguous")
        return bool(self.array)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.array.dtype.kind not in "iu" or self.array.size != 1:
            raise TypeError("only integer tensors of one element can be converted to an index")
        return int(self.item())

    def __iter__(self) -> Iterator["Tensor"]:
        for i in range(len(self)):
            yield self[i]

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array, sharing memory with the tensor (no copy, no graph)."""
        return to_numpy(self.array)

    def tolist(self) -> Any:
        return to_numpy(self.array).tolist()

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self.array.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted, this one has shape {self.shape}")
        return self.array.reshape(()).item()

    # --------------------------------------------------------------- autograd
    @property
    def requires_grad(self) -> bool:
        """Whether ops on this tensor record the graph (and ``backward`` fills its gradient)."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Mark this (leaf) tensor as a parameter node whose gradient is wanted."""
        if requires_grad and self.array.dtype not in _FLOATING:
            raise TypeError(
                f"only floating point tensors can require gradients, this one has dtype {self.array.dtype}"
            )
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_(False) is only allowed on leaf tensors; use detach()")
        self._requires_grad = bool(requires_grad)
        return self

    def detach(self) -> "Tensor":
        """A new leaf sharing this tensor's data, outside the graph."""
        return Tensor._wrap(self.array, False)

    def detach_(self) -> "Tensor":
        self._ctx = None
        self._requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keep the gradient of this non-leaf tensor in ``.grad`` after backward."""
        if not self._requires_grad:
            raise RuntimeError("retain_grad(): this tensor does not require grad")
        if self._ctx is not None:
            self._ctx.retained = self
            self._retains_grad = True

    def register_hook(self, hook: Any) -> "RemovableHandle":
        """Call ``hook(grad)`` with this tensor's gradient (an ndarray) during ``backward``.

        The hook sees the tensor's total gradient of the pass, before it is
        accumulated into ``.grad`` (for a leaf) or sent on to the inputs (for a
        non-leaf).  If it returns an array, that array replaces the gradient;
        it must not modify ``grad`` in place (other tensors may share that array).
        Returns a handle whose ``remove()`` unregisters the hook.
        """
        if not self._requires_grad:
            raise RuntimeError("register_hook(): cannot register a hook on a tensor that does not require grad")
        if self._hooks is None:
            self._hooks = {}
        handle = RemovableHandle(self._hooks)
        self._hooks[handle.id] = hook
        if self._ctx is not None:
            self._ctx.retained = self
        return handle

    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Backpropagate from this tensor: dL/dself = ``gradient`` (1 for a scalar).

        Gradients are *added* to the ``.grad`` of every leaf that requires grad;
        call ``zero_grad()`` (or set ``.grad = None``) between steps.  The graph's
        buffers are freed afterwards unless ``retain_graph=True``.
        """
        self._backward_seed(gradient, retain_graph=retain_graph)

    def _backward_seed(self, gradient: Any, **kwargs: Any) -> Any:
        """Check ``gradient`` (or make the implicit 1) and run the engine."""
        if not self._requires_grad:
            raise RuntimeError(
                "backward(): this tensor does not require grad and has no grad_fn "
                "(did you compute it under no_grad, or forget requires_grad=True?)"
            )
        xp = get_array_module(self.array)
        if gradient is None:
            if self.array.size != 1:
                raise RuntimeError(
                    f"backward(): grad can be implicitly created only for scalar outputs, "
                    f"this tensor has shape {self.shape}; pass gradient= of that shape"
                )
            seed = xp.ones(self.array.shape, dtype=self.array.dtype)
        else:
            seed = xp.array(gradient.array if isinstance(gradient, Tensor) else gradient,
                            dtype=self.array.dtype, copy=True)
            if seed.shape != self.array.shape:
                raise RuntimeError(
                    f"backward(): gradient has shape {seed.shape} but the tensor has shape {self.shape}"
                )
        return run_backward(self, seed, **kwargs)

    # ------------------------------------------------------ dtype and device
    def astype(self, dtype: Any) -> "Tensor":
        from ..ops.elementwise import Cast

        d = dtypes.resolve(dtype)
        if d == self.array.dtype:
            return self
        return Cast.apply(self, dtype=d)

    def type(self, dtype: Any = None) -> Any:
        if dtype is None:
            return f"thalweg.{self.array.dtype}"
        return self.astype(dtype)

    def float(self) -> "Tensor":
        return self.astype(dtypes.float32)

    def double(self) -> "Tensor":
        return self.astype(dtypes.float64)

    def half(self) -> "Tensor":
        return self.astype(dtypes.float16)

    def long(self) -> "Tensor":
        return self.astype(dtypes.int64)

    def int(self) -> "Tensor":
        return self.astype(dtypes.int32)

    def bool(self) -> "Tensor":
        return self.astype(dtypes.bool_)

    def to(self, *args: Any, **kwargs: Any) -> "Tensor":
        """``.to("cpu")``, ``.to(tw.float64)``, ``.to(device, dtype)``; the CPU is a no-op."""
        dtype = kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        kwargs.pop("copy", None)
        dev = kwargs.pop("device", None)
        if kwargs:
            raise TypeError(f"to(): unexpected arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, (str, device)):
                dev = a
            elif isinstance(a, Tensor):
                dtype = a.dtype
            else:
                dtype = a
        if dev is not None:
            device(dev)  # validates the name
            if device(dev).type != "cpu":
                raise RuntimeError(f"to(): device {dev!r} is not available; thalweg runs on the CPU here")
        return self if dtype is None else self.astype(dtype)

    def type_as(self, other: "Tensor") -> "Tensor":
        """This tensor converted to ``other``'s dtype."""
        return self.astype(other.dtype)

    def cpu(self) -> "Tensor":
        return self

    def contiguous(self) -> "Tensor":
        return self

    def clone(self) -> "Tensor":
        from ..ops.elementwise import Clone

        return Clone.apply(self)

    # ----------------------------------------------------- in-place (no grad)
    def _check_inplace(self, name: str) -> None:
        if self.requires_grad and grad_mode.STATE.enabled:
            raise RuntimeError(
                f"{name}: a tensor that requires grad cannot be modified in place while "
                "recording; wrap the update in `with tw.no_grad():`"
            )

    def _inplace(self, name: str, value: Any, ufunc: Any) -> "Tensor":
        self._check_inplace(name)
        v = value.array if isinstance(value, Tensor) else value
        ufunc(self.array, v, out=self.array, casting="same_kind")
        return self

    def __iadd__(self, other: Any) -> "Tensor":
        return self._inplace("+=", other, np.add)

    def __isub__(self, other: Any) -> "Tensor":
        return self._inplace("-=", other, np.subtract)

    def __imul__(self, other: Any) -> "Tensor":
        return self._inplace("*=", other, np.multiply)

    def __itruediv__(self, other: Any) -> "Tensor":
        return self._inplace("/=", other, np.true_divide)

    def add_(self, other: Any, alpha: float = 1.0) -> "Tensor":
        v = other.array if isinstance(other, Tensor) else other
        return self._inplace("add_", v if alpha == 1.0 else v * alpha, np.add)

    def sub_(self, other: Any, alpha: float = 1.0) -> "Tensor":
        v = other.array if isinstance(other, Tensor) else other
        return self._inplace("sub_", v if alpha == 1.0 else v * alpha, np.subtract)

    def mul_(self, other: Any) -> "Tensor":
        return self._inplace("mul_", other, np.multiply)

    def div_(self, other: Any) -> "Tensor":
        return self._inplace("div_", other, np.true_divide)

    def zero_(self) -> "Tensor":
        self._check_inplace("zero_")
        self.array[...] = 0
        return self

    def fill_(self, value: Any) -> "Tensor":
        self._check_inplace("fill_")
        self.array[...] = value
        return self

    def copy_(self, src: Any) -> "Tensor":
        self._check_inplace("copy_")
        v = src.array if isinstance(src, Tensor) else src
        self.array[...] = v
        return self

    def clamp_(self, min: Any = None, max: Any = None) -> "Tensor":  # noqa: A002
        self._check_inplace("clamp_")
        np.clip(self.array, min, max, out=self.array)
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0, generator: Any = None) -> "Tensor":
        from .. import random as _random

        self._check_inplace("uniform_")
        self.array[...] = _random.get_generator(generator).uniform(a, b, self.array.shape)
        return self

    def normal_(self, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> "Tensor":
        from .. import random as _random

        self._check_inplace("normal_")
        self.array[...] = _random.get_generator(generator).normal(mean, std, self.array.shape)
        return self

    def __setitem__(self, index: Any, value: Any) -> None:
        self._check_inplace("__setitem__")
        if isinstance(index, Tensor):
            index = index.array
        elif isinstance(index, tuple):
            index = tuple(i.array if isinstance(i, Tensor) else i for i in index)
        self.array[index] = value.array if isinstance(value, Tensor) else value


class RemovableHandle:
    """What ``register_hook`` returns: ``handle.remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks: dict[int, Any]) -> None:
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)


class device:  # noqa: N801 - torch's spelling
    """``tw.device("cpu")``: accepted for PyTorch compatibility; only the CPU exists here."""

    __slots__ = ("type", "index")

    def __init__(self, spec: Any = "cpu") -> None:
        if isinstance(spec, device):
            self.type, self.index = spec.type, spec.index
            return
        name = str(spec)
        kind, _, idx = name.partition(":")
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"unknown device {spec!r}; expected 'cpu' (or 'cuda' with CuPy)")
        self.type = kind
        self.index = int(idx) if idx else None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, (device, str)) and device(other).type == self.type

    def __hash__(self) -> int:
        return hash(self.type)

    def __repr__(self) -> str:
        return f"device(type='{self.type}')"

    def __str__(self) -> str:
        return self.type


_function.Tensor = Tensor  # Function.apply wraps its outputs in this class
