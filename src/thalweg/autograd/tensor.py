"""``Tensor``: an n-dimensional array that remembers how it was made.

A tensor wraps an ``ndarray`` (``.array``; ``.data`` is a tensor sharing it, as in torch).  If it ``requires_grad``, every op
on it records a graph node (see ``function.py``); ``backward()`` then walks the
graph in reverse topological order and *accumulates* gradients into the
``.grad`` of the leaves (the lecture's parameter nodes).  ``.grad`` is itself a
tensor (or ``None``) over the array the engine accumulates into.

The operators (``a * b``, ``a @ b``, ``a[i]``, ``a < b`` ...) are defined in the
class below; each calls the ``Function`` of its op, so the path of ``a * b`` is
Tensor -> ``Mul.apply`` -> Tensor.  The named methods (``x.sum(dim=1)``,
``x.view(...)``) are the function-level API of ``thalweg.ops.api``, bound to
the class when that module is imported.  PyTorch's spellings (``dim=``,
``keepdim=``, ``.size()``, ``.view()``...) are accepted beside NumPy's
(``axis=``, ``keepdims=``).

Versions (torch's mechanism against silent wrong gradients): tensors that share
memory (``.data``, ``detach()``, views made by ops) share one version counter;
every in-place method bumps it (``_bump_version()``; code that writes into
``.array`` with NumPy must call it too); an op records the versions of the
tensors whose arrays it saved for backward, and backward raises if they moved.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from .. import dtypes
from ..backend import get_array_module, to_numpy
from . import function as _function
from .function import IN_PLACE as _IN_PLACE
from .function import VersionCounter as _VersionCounter
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


# ------------------------------------------------ operands of the operators
def _operand(x: Any, like: Any) -> Any:
    """Prepare the other operand of a binary op with the tensor ``like``.

    Tensors pass through.  Python numbers stay Python numbers (NumPy 2 keeps a
    float32 array times a Python float in float32), and NumPy scalars become
    Python numbers for the same reason.  Arrays and lists become tensors
    without a gradient; a floating array takes ``like``'s floating dtype, so
    raw data never upcasts a float32 tensor (``x * np.ones(3)`` stays float32).
    """
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.generic):  # before the float check: np.float64 is a subclass of float
        return x.item()
    if isinstance(x, (int, float, bool)):
        return x
    arr = _as_array(x)
    if arr.dtype.kind == "f" and isinstance(like, Tensor) and like.array.dtype.kind == "f":
        arr = arr.astype(like.array.dtype, copy=False)
    return Tensor(arr)


def _promote_int(x: "Tensor", other: Any) -> "Tensor":
    """An integer tensor combined with a float becomes the default float dtype (as in torch)."""
    if x.array.dtype.kind in "iub":
        if isinstance(other, float) or (isinstance(other, Tensor) and other.array.dtype.kind == "f"):
            return x.astype(dtypes.get_default_dtype() if not isinstance(other, Tensor) else other.dtype)
    return x


def _binary(fn: Any, x: Any, y: Any) -> "Tensor":
    """Apply the binary ``Function`` fn to x and y, at least one a tensor, with torch's dtype rules.

    A shape error names the op and both shapes: ``shape mismatch in add: (2, 3) and (4,) ...``.
    """
    try:
        if isinstance(x, Tensor):
            y = _operand(y, x)
            if x.array.dtype.kind in "iub":
                x = _promote_int(x, y)
        else:
            x = _operand(x, y)
        if isinstance(y, Tensor) and y.array.dtype.kind in "iub":
            y = _promote_int(y, x)
        return fn.apply(x, y)
    except ValueError as e:
        if "broadcast" in str(e) and "shape mismatch" not in str(e):
            raise _broadcast_error(fn.__name__.lower(), x, y) from None
        raise


def _broadcast_error(op: str, x: Any, y: Any) -> ValueError:
    xs = getattr(x, "shape", ())
    ys = getattr(y, "shape", ())
    return ValueError(f"shape mismatch in {op}: {tuple(xs)} and {tuple(ys)} cannot be broadcast together")


def _divide(x: Any, y: Any) -> "Tensor":
    """x / y; integer operands become the default float dtype first (true division, as in torch)."""
    if isinstance(x, Tensor) and x.array.dtype.kind in "iub":
        x = x.astype(dtypes.get_default_dtype())
    elif not isinstance(x, Tensor) and isinstance(y, Tensor) and y.array.dtype.kind in "iub":
        y = y.astype(dtypes.get_default_dtype())
    return _binary(_E.Div, x, y)


def _matmul(x: Any, y: Any) -> "Tensor":
    """Matrix product with NumPy's rules (batched, 1-D operands); ``MatMul.forward`` checks the shapes."""
    if not isinstance(x, Tensor):
        x = _operand(x, y)
    if not isinstance(y, Tensor):
        y = _operand(y, x)
    if not isinstance(x, Tensor) or not isinstance(y, Tensor):
        raise ValueError(f"matmul: both operands must have at least 1 dimension, got {x!r} @ {y!r}")
    return _L.MatMul.apply(x, y)


def _compare(ufunc: Any, x: "Tensor", y: Any) -> "Tensor":
    """An elementwise comparison or logical op: a tensor without a gradient.

    An operand that opts out of NumPy's ufuncs (``__array_ufunc__ = None``, as
    ``pytest.approx`` does) gets ``NotImplemented``, so Python asks it instead.
    """
    if isinstance(y, Tensor):
        yv = y.array
    elif getattr(type(y), "__array_ufunc__", False) is None:
        return NotImplemented
    else:
        yv = y
    return Tensor._wrap(ufunc(x.array, yv), False)


def _index_arrays(index: Any) -> Any:
    """An index with its tensors replaced by their arrays (and a list by an array, as torch reads it)."""
    if isinstance(index, Tensor):
        return index.array
    if isinstance(index, tuple):
        return tuple(i.array if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _is_size(x: Any) -> bool:
    """A Python int (not bool), or a tuple of them given as torch.Size: torch's legacy ``Tensor(*size)``."""
    return type(x) is int or (type(x).__name__ == "Size" and isinstance(x, tuple))


class Tensor:
    """An array with an optional gradient and the graph node that produced it.

    ``Tensor(data, requires_grad=False, dtype=None)``; prefer ``tw.tensor(...)``.
    As in torch, ``Tensor(2, 3)`` (integers only) is an uninitialized float
    tensor of shape (2, 3).
    """

    __slots__ = ("array", "_grad", "_requires_grad", "_ctx", "_vc", "__weakref__", "__dict__")
    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor's reflected op
    __hash__ = object.__hash__  # by identity: tensors are dict keys although == is elementwise
    _hooks: dict[int, Any] | None = None  # gradient hooks (register_hook), rarely set
    _post_hooks: dict[int, Any] | None = None  # register_post_accumulate_grad_hook, rarely set
    _hooks_registered = False  # set once any tensor gets a hook: only then does backward count each leaf's uses
    _retains_grad = False  # a non-leaf that called retain_grad()

    def __init__(self, *data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        if len(data) == 1 and not _is_size(data[0]):
            arr = _as_array(data[0], dtype)
        elif data and all(_is_size(d) for d in data):  # torch's legacy Tensor(d0, d1, ...): a shape
            shape = tuple(int(n) for n in (data[0] if len(data) == 1 and not isinstance(data[0], int) else data))
            if any(n < 0 for n in shape):
                raise ValueError(f"Tensor(*size): negative dimension in {shape}")
            arr = np.empty(shape, dtype=dtypes.resolve(dtype) if dtype is not None else dtypes.get_default_dtype())
        elif not data:  # torch.Tensor(): an empty float tensor
            arr = np.empty((0,), dtype=dtypes.resolve(dtype) if dtype is not None else dtypes.get_default_dtype())
        else:
            raise TypeError(f"Tensor(): expected data, or integer sizes, got {len(data)} arguments {data!r}")
        self.array = arr
        self._grad = None
        self._ctx = None
        self._vc = None  # the version counter: made on the first in-place change or sharing; None is version 0
        self._requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, data: Any, requires_grad: bool) -> "Tensor":
        """Fast constructor for op outputs (no dtype conversion)."""
        t = object.__new__(cls)
        t.array = data
        t._grad = None
        t._requires_grad = requires_grad
        t._ctx = None
        t._vc = None
        return t

    # ----------------------------------------------------------- the gradient
    @property
    def grad(self) -> "Tensor | None":
        """dL/dself after ``backward()``: a tensor over the array the engine accumulates into, or ``None``."""
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        if value is None:
            self._grad = None
            return
        if not isinstance(value, Tensor):
            if not hasattr(value, "shape"):
                raise TypeError(f"assigned grad expected to be a Tensor or None, got {type(value).__name__}")
            value = Tensor._wrap(value, False)  # an array (older thalweg code) becomes a tensor over it
        if value.array.shape != self.array.shape:
            raise RuntimeError(f"assigned grad has shape {value.array.shape}, "
                               f"different from the tensor's shape {self.array.shape}")
        if value.array.dtype != self.array.dtype:
            raise RuntimeError(f"assigned grad has dtype {value.array.dtype}, "
                               f"different from the tensor's dtype {self.array.dtype}")
        self._grad = value

    # ---------------------------------------------------------------- version
    @property
    def _version(self) -> int:
        """How many in-place changes this tensor's memory has seen (shared by ``.data``, ``detach()``, views)."""
        vc = self._vc
        return 0 if vc is None else vc.value

    def _version_counter(self) -> _VersionCounter:
        """This tensor's counter, made now if it had none (to share it with a tensor over the same memory).

        Counters are made lazily; the node that produced this tensor learns of
        it (``ctx.out_vc``), so its backward can check a saved output.
        """
        vc = self._vc
        if vc is None:
            vc = self._vc = _VersionCounter()
            if self._ctx is not None:
                self._ctx.out_vc = vc
        return vc

    def _bump_version(self) -> None:
        """Record one in-place change of the memory (call after writing into ``.array`` in place)."""
        vc = self._vc
        if vc is None:
            vc = self._version_counter()
        vc.value += 1
        _IN_PLACE.count += 1

    def _share_memory_view(self, array: Any) -> "Tensor":
        """A new leaf over ``array`` (this memory), outside the graph, sharing this tensor's version counter."""
        t = Tensor._wrap(array, False)
        t._vc = self._version_counter()
        return t

    # ------------------------------------------------------------------ basics
    @property
    def data(self) -> "Tensor":
        """This tensor's values as a new leaf outside the graph, sharing its memory and version (torch's ``.data``)."""
        return self._share_memory_view(self.array)

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

    def __format__(self, spec: str) -> str:
        """``f"{t:.4f}"``: a one-element tensor formats as its number (as in torch); otherwise as ``str``."""
        if self.array.size == 1 and (self.array.ndim == 0 or spec):
            return format(self.item(), spec)
        if spec:
            raise TypeError(f"unsupported format string {spec!r} for a tensor of shape {self.shape} "
                            "(only one-element tensors format as numbers)")
        return str(self)

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
        """A new leaf sharing this tensor's data (and version counter), outside the graph."""
        return self._share_memory_view(self.array)

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
        """Call ``hook(grad)`` with this tensor's gradient (a tensor outside the graph) during ``backward``.

        The hook sees the tensor's total gradient of the pass, before it is
        accumulated into ``.grad`` (for a leaf) or sent on to the inputs (for a
        non-leaf).  If it returns an array (or tensor), a copy of it replaces the
        gradient, so the engine never adds into an array the caller keeps; the
        hook must not modify ``grad`` in place (other tensors may share that array).
        Returns a handle whose ``remove()`` unregisters the hook.
        """
        if not self._requires_grad:
            raise RuntimeError("register_hook(): cannot register a hook on a tensor that does not require grad")
        if self._hooks is None:
            self._hooks = {}
        Tensor._hooks_registered = True
        handle = RemovableHandle(self._hooks)
        self._hooks[handle.id] = hook
        if self._ctx is not None:
            self._ctx.retained = self
        return handle

    def register_post_accumulate_grad_hook(self, hook: Any) -> "RemovableHandle":
        """Call ``hook(self)`` once per backward pass, as soon as this leaf's ``.grad`` is final for the pass.

        The engine counts the graph's uses of each such leaf while it sorts the
        graph and calls the hook when the last one has been visited, while the
        rest of the backward pass continues (data-parallel training launches
        the all-reduce of a gradient here).  Only for leaves; not called by
        ``tw.autograd.grad``.  Returns a handle whose ``remove()`` unregisters it.
        """
        if not self._requires_grad:
            raise RuntimeError("register_post_accumulate_grad_hook(): the tensor does not require grad")
        if self._ctx is not None:
            raise RuntimeError("register_post_accumulate_grad_hook(): only leaf tensors have an accumulated .grad")
        if self._post_hooks is None:
            self._post_hooks = {}
        Tensor._hooks_registered = True
        handle = RemovableHandle(self._post_hooks)
        self._post_hooks[handle.id] = hook
        return handle

    def backward(self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
        """Backpropagate from this tensor: dL/dself = ``gradient`` (1 for a scalar).

        Gradients are *added* to the ``.grad`` of every leaf that requires grad;
        call ``zero_grad()`` (or set ``.grad = None``) between steps.  The graph's
        buffers are freed afterwards unless ``retain_graph=True`` (which
        defaults to ``create_graph``, as in torch).
        """
        if create_graph:  # a recorded backward: .grad gets a graph (autograd/higher_order.py)
            from . import higher_order

            higher_order.backward(self, gradient, retain_graph=retain_graph)
            return
        retain = create_graph if retain_graph is None else bool(retain_graph)
        self._backward_seed(gradient, retain_graph=retain, create_graph=create_graph)

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
    # Every method here changes the memory in place, so it bumps the version.
    def _check_inplace(self, name: str) -> None:
        if self._requires_grad and grad_mode.STATE.enabled:
            raise RuntimeError(
                f"{name}: a tensor that requires grad cannot be modified in place while "
                "recording; wrap the update in `with tw.no_grad():`"
            )

    def _inplace(self, name: str, value: Any, ufunc: Any) -> "Tensor":
        self._check_inplace(name)
        v = value.array if isinstance(value, Tensor) else value
        ufunc(self.array, v, out=self.array, casting="same_kind")
        self._bump_version()
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

    def _assign(self, name: str, index: Any, value: Any) -> "Tensor":
        """``self.array[index] = value`` after the grad-mode check, bumping the version."""
        self._check_inplace(name)
        self.array[index] = value.array if isinstance(value, Tensor) else value
        self._bump_version()
        return self

    def zero_(self) -> "Tensor":
        return self._assign("zero_", ..., 0)

    def fill_(self, value: Any) -> "Tensor":
        return self._assign("fill_", ..., value)

    def copy_(self, src: Any) -> "Tensor":
        return self._assign("copy_", ..., src)

    def clamp_(self, min: Any = None, max: Any = None) -> "Tensor":  # noqa: A002
        self._check_inplace("clamp_")
        np.clip(self.array, min, max, out=self.array)
        self._bump_version()
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0, generator: Any = None) -> "Tensor":
        from .. import random as _random

        return self._assign("uniform_", ..., _random.get_generator(generator).uniform(a, b, self.array.shape))

    def normal_(self, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> "Tensor":
        from .. import random as _random

        return self._assign("normal_", ..., _random.get_generator(generator).normal(mean, std, self.array.shape))

    def __setitem__(self, index: Any, value: Any) -> None:
        self._assign("__setitem__", _index_arrays(index), value)

    # -------------------------------------------------------------- operators
    # Each operator calls its op's Function (thalweg.ops, imported at the bottom
    # of this file): the path of ``a * b`` is Tensor -> Mul.apply -> Tensor.
    def __add__(self, other: Any) -> "Tensor":
        return _binary(_E.Add, self, other)

    def __radd__(self, other: Any) -> "Tensor":
        return _binary(_E.Add, other, self)

    def __sub__(self, other: Any) -> "Tensor":
        return _binary(_E.Sub, self, other)

    def __rsub__(self, other: Any) -> "Tensor":
        return _binary(_E.Sub, other, self)

    def __mul__(self, other: Any) -> "Tensor":
        return _binary(_E.Mul, self, other)

    def __rmul__(self, other: Any) -> "Tensor":
        return _binary(_E.Mul, other, self)

    def __truediv__(self, other: Any) -> "Tensor":
        return _divide(self, other)

    def __rtruediv__(self, other: Any) -> "Tensor":
        return _divide(other, self)

    def __pow__(self, other: Any) -> "Tensor":
        return _binary(_E.Pow, self, other)

    def __rpow__(self, other: Any) -> "Tensor":
        return _binary(_E.Pow, other, self)

    def __matmul__(self, other: Any) -> "Tensor":
        return _matmul(self, other)

    def __rmatmul__(self, other: Any) -> "Tensor":
        return _matmul(other, self)

    def __neg__(self) -> "Tensor":
        return _E.Neg.apply(self)

    def __pos__(self) -> "Tensor":
        return self

    def __abs__(self) -> "Tensor":
        return _E.Abs.apply(self)

    def __getitem__(self, index: Any) -> "Tensor":
        """``x[index]``: slices, masks and integer arrays; repeated indices accumulate in backward."""
        return _S.GetItem.apply(self, index=_index_arrays(index))

    # Comparisons and logic give tensors without a gradient.
    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        return NotImplemented if other is None else _compare(np.equal, self, other)  # x == None is False

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return NotImplemented if other is None else _compare(np.not_equal, self, other)

    def __lt__(self, other: Any) -> "Tensor":
        return _compare(np.less, self, other)

    def __le__(self, other: Any) -> "Tensor":
        return _compare(np.less_equal, self, other)

    def __gt__(self, other: Any) -> "Tensor":
        return _compare(np.greater, self, other)

    def __ge__(self, other: Any) -> "Tensor":
        return _compare(np.greater_equal, self, other)

    def __invert__(self) -> "Tensor":
        return Tensor._wrap(~self.array, False)

    def __and__(self, other: Any) -> "Tensor":
        return _compare(np.bitwise_and, self, other)

    def __or__(self, other: Any) -> "Tensor":
        return _compare(np.bitwise_or, self, other)

    def __xor__(self, other: Any) -> "Tensor":
        return _compare(np.bitwise_xor, self, other)

    __rand__ = __and__
    __ror__ = __or__
    __rxor__ = __xor__

    # ------------------------------------------------------------ NumPy calls
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """``np.exp(t)``, ``arr + t``: through the graph where thalweg has the op (see ``numpy_interop``)."""
        return _numpy_interop.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        """``np.concatenate([t, u])``: thalweg's op where it has one (see ``numpy_interop``)."""
        return _numpy_interop.array_function(func, args, kwargs)


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

# The ops the operators call.  They import only ``function.py``, so importing
# them here, after the class exists, makes no cycle.
from ..ops import elementwise as _E  # noqa: E402
from ..ops import linalg as _L  # noqa: E402
from ..ops import shape as _S  # noqa: E402
from . import numpy_interop as _numpy_interop  # noqa: E402
