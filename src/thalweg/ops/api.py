"""The public, tensor-level face of the ops: ``tw.exp(x)``, ``x.sum(dim=1)``...

Functions here turn Python values into tensors where needed, accept both
NumPy's (``axis``, ``keepdims``) and PyTorch's (``dim``, ``keepdim``) spellings,
and call the ``Function`` that does the work.  ``Tensor`` methods are bound to
these functions at import time (bottom of this file).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .. import dtypes
from ..autograd.tensor import Tensor, _as_array
from ..backend import as_array, get_array_module
from . import activation as A
from . import elementwise as E
from . import linalg as L
from . import reduce as R
from . import shape as S

_FLOAT_KINDS = "f"


def _axis(axis: Any, dim: Any, op: str) -> Any:
    """Merge ``axis=`` (NumPy) and ``dim=`` (PyTorch); giving both is an error."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{op}: pass either axis= or dim=, not both")
        return dim
    return axis


def _keep(keepdims: Any, keepdim: Any) -> bool:
    return bool(keepdim) if keepdim is not None else bool(keepdims)


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


def _promote_int(x: Tensor, other: Any) -> Tensor:
    """An integer tensor combined with a float becomes the default float dtype (as in torch)."""
    if x.array.dtype.kind in "iub":
        if isinstance(other, float) or (isinstance(other, Tensor) and other.array.dtype.kind == "f"):
            return x.astype(dtypes.get_default_dtype() if not isinstance(other, Tensor) else other.dtype)
    return x


def _binary(fn: Any, x: Any, y: Any) -> Tensor:
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


# ------------------------------------------------------------------ arithmetic
def add(x: Any, y: Any, *, alpha: float = 1.0) -> Tensor:
    """x + alpha * y."""
    return _binary(E.Add, x, y if alpha == 1.0 else mul(y, alpha))


def sub(x: Any, y: Any, *, alpha: float = 1.0) -> Tensor:
    """x - alpha * y."""
    return _binary(E.Sub, x, y if alpha == 1.0 else mul(y, alpha))


def mul(x: Any, y: Any) -> Tensor:
    return _binary(E.Mul, x, y)


def div(x: Any, y: Any) -> Tensor:
    if isinstance(x, Tensor) and x.array.dtype.kind in "iub":
        x = x.astype(dtypes.get_default_dtype())
    elif not isinstance(x, Tensor) and isinstance(y, Tensor) and y.array.dtype.kind in "iub":
        y = y.astype(dtypes.get_default_dtype())
    return _binary(E.Div, x, y)


def neg(x: Tensor) -> Tensor:
    return E.Neg.apply(x)


def pow(x: Any, y: Any) -> Tensor:  # noqa: A001 - torch's name
    return _binary(E.Pow, x, y)


def matmul(x: Any, y: Any) -> Tensor:
    """Matrix product with NumPy's rules (batched, 1-D operands); see ``ops/linalg.py``."""
    if not isinstance(x, Tensor):
        x = _operand(x, y)
    if not isinstance(y, Tensor):
        y = _operand(y, x)
    if not isinstance(x, Tensor) or not isinstance(y, Tensor):
        raise ValueError(f"matmul: both operands must have at least 1 dimension, got {x!r} @ {y!r}")
    return L.MatMul.apply(x, y)  # its forward checks the shapes


# ----------------------------------------------------------------- elementwise
def exp(x: Tensor) -> Tensor:
    return E.Exp.apply(_float(x))


def log(x: Tensor) -> Tensor:
    return E.Log.apply(_float(x))


def sqrt(x: Tensor) -> Tensor:
    return E.Sqrt.apply(_float(x))


def abs(x: Tensor) -> Tensor:  # noqa: A001 - torch's name
    return E.Abs.apply(x)


def sign(x: Tensor) -> Tensor:
    return E.Sign.apply(x)


def clamp(x: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 - torch's names
    """Clip to [min, max]; the gradient is 1 inside the interval, 0 outside."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):  # tensor bounds get gradients too
        out = x if min is None else maximum(x, min)
        return out if max is None else minimum(out, max)
    return E.Clamp.apply(x, lo=min, hi=max)


clip = clamp


def maximum(x: Any, y: Any) -> Tensor:
    return _binary(E.Maximum, x, y)


def minimum(x: Any, y: Any) -> Tensor:
    return _binary(E.Minimum, x, y)


def where(cond: Any, x: Any, y: Any) -> Tensor:
    """Elementwise ``x if cond else y``; the gradient goes to the chosen side."""
    cond = cond if isinstance(cond, Tensor) else Tensor(_as_array(cond))
    if cond.array.dtype != np.bool_:
        cond = Tensor._wrap(cond.array.astype(bool), False)
    like = x if isinstance(x, Tensor) else y if isinstance(y, Tensor) else None
    if like is None:  # two constants: Python floats become the default float dtype
        x, y = Tensor(_as_array(x)), Tensor(_as_array(y))
    else:
        x, y = _operand(x, like), _operand(y, like)
    if isinstance(x, Tensor) and x.array.dtype.kind in "iub":
        x = _promote_int(x, y)
    if isinstance(y, Tensor) and y.array.dtype.kind in "iub":
        y = _promote_int(y, x)
    return E.Where.apply(cond, x, y)


def _float(x: Tensor) -> Tensor:
    if x.array.dtype.kind not in _FLOAT_KINDS:
        return x.astype(dtypes.get_default_dtype())
    return x


# ------------------------------------------------------------------ comparisons
def _compare(ufunc: Any, x: Tensor, y: Any) -> Tensor:
    yv = y.array if isinstance(y, Tensor) else y
    return Tensor._wrap(ufunc(x.array, yv), False)


def eq(x: Tensor, y: Any) -> Tensor:
    return _compare(np.equal, x, y)


def ne(x: Tensor, y: Any) -> Tensor:
    return _compare(np.not_equal, x, y)


def lt(x: Tensor, y: Any) -> Tensor:
    return _compare(np.less, x, y)


def le(x: Tensor, y: Any) -> Tensor:
    return _compare(np.less_equal, x, y)


def gt(x: Tensor, y: Any) -> Tensor:
    return _compare(np.greater, x, y)


def ge(x: Tensor, y: Any) -> Tensor:
    return _compare(np.greater_equal, x, y)


def _eq_dunder(x: Tensor, y: Any) -> Any:
    """``x == y`` elementwise; ``x == None`` is False (Python's fallback), not an error."""
    return NotImplemented if y is None else _compare(np.equal, x, y)


def _ne_dunder(x: Tensor, y: Any) -> Any:
    return NotImplemented if y is None else _compare(np.not_equal, x, y)


def isnan(x: Tensor) -> Tensor:
    return Tensor._wrap(get_array_module(x.array).isnan(x.array), False)


def isfinite(x: Tensor) -> Tensor:
    return Tensor._wrap(get_array_module(x.array).isfinite(x.array), False)


def allclose(x: Any, y: Any, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    xv = x.array if isinstance(x, Tensor) else x
    yv = y.array if isinstance(y, Tensor) else y
    return bool(np.allclose(xv, yv, rtol=rtol, atol=atol))


def equal(x: Tensor, y: Tensor) -> bool:
    return x.shape == y.shape and bool((x.array == y.array).all())


# ------------------------------------------------------------------ reductions
def sum(x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None,  # noqa: A001
        dtype: Any = None) -> Tensor:
    """Sum over ``axis``/``dim`` (all axes by default)."""
    if x.array.dtype.kind in "b":
        x = x.astype(dtypes.int64)
    out = R.Sum.apply(x, axis=_axis(axis, dim, "sum"), keepdims=_keep(keepdims, keepdim))
    return out if dtype is None else out.astype(dtype)


def mean(x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None) -> Tensor:
    """Arithmetic mean over ``axis``/``dim``."""
    return R.Mean.apply(_float(x), axis=_axis(axis, dim, "mean"), keepdims=_keep(keepdims, keepdim))


class _ValuesIndices(tuple):
    """``(values, indices)`` with torch's attribute names, as ``x.max(dim=1)`` returns."""

    @property
    def values(self) -> Tensor:
        return self[0]

    @property
    def indices(self) -> Tensor:
        return self[1]


def _extreme(fn: Any, argfn: Any, x: Tensor, args: tuple[Any, ...], axis: Any, keepdims: Any, dim: Any,
             keepdim: Any, name: str) -> Any:
    if args:
        if isinstance(args[0], Tensor):  # torch.max(a, b) is the elementwise maximum
            if len(args) != 1:
                raise TypeError(f"{name}(a, b): expected two tensors, got {1 + len(args)} arguments")
            return (maximum if name == "max" else minimum)(x, args[0])
        if dim is not None or len(args) > 2:
            raise TypeError(f"{name}: expected {name}(dim, keepdim), got {args} and dim={dim}")
        dim = args[0]
        if len(args) == 2:
            keepdim = args[1]
    ax = _axis(axis, dim, name)
    keep = _keep(keepdims, keepdim)
    if dim is not None and isinstance(dim, int):  # torch: (values, indices), the gradient to the index
        indices = argfn(x, dim=dim, keepdim=True)
        values = S.Gather.apply(x, index=indices.array, axis=dim)
        if not keep:
            values, indices = squeeze(values, dim), squeeze(indices, dim)
        return _ValuesIndices((values, indices))
    return fn.apply(x, axis=ax, keepdims=keep)


def max(x: Tensor, *args: Any, axis: Any = None, keepdims: bool = False, dim: Any = None,  # noqa: A001
        keepdim: Any = None) -> Any:
    """The maximum, spelled as in NumPy or as in PyTorch.

    ``x.max()`` and ``x.max(axis=1, keepdims=True)`` give the values, with ties
    sharing the gradient (NumPy, ``torch.amax``).  ``x.max(1)``, ``x.max(1, True)``
    and ``x.max(dim=1)`` give ``(values, indices)`` as torch does, the gradient
    going to the returned index.  ``tw.max(a, b)`` is the elementwise maximum.
    """
    return _extreme(R.Max, argmax, x, args, axis, keepdims, dim, keepdim, "max")


def min(x: Tensor, *args: Any, axis: Any = None, keepdims: bool = False, dim: Any = None,  # noqa: A001
        keepdim: Any = None) -> Any:
    """The minimum; the same spellings as :func:`max`."""
    return _extreme(R.Min, argmin, x, args, axis, keepdims, dim, keepdim, "min")


def amax(x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None) -> Tensor:
    return R.Max.apply(x, axis=_axis(axis, dim, "amax"), keepdims=_keep(keepdims, keepdim))


def amin(x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None) -> Tensor:
    return R.Min.apply(x, axis=_axis(axis, dim, "amin"), keepdims=_keep(keepdims, keepdim))


def _correction(correction: Any, unbiased: Any, ddof: Any) -> float:
    given = [v for v in (correction, unbiased, ddof) if v is not None]
    if len(given) > 1:
        raise TypeError("var/std: pass only one of correction=, unbiased= and ddof=")
    if unbiased is not None:
        return 1 if unbiased else 0
    if ddof is not None:
        return ddof
    return 1 if correction is None else correction


def var(x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None,
        correction: Any = None, unbiased: Any = None, ddof: Any = None) -> Tensor:
    """Variance; unbiased (correction=1) by default as in torch; ``ddof=0`` gives NumPy's."""
    return R.Var.apply(_float(x), axis=_axis(axis, dim, "var"), keepdims=_keep(keepdims, keepdim),
                       correction=_correction(correction, unbiased, ddof))


def std(x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None,
        correction: Any = None, unbiased: Any = None, ddof: Any = None) -> Tensor:
    """Standard deviation, sqrt(var) (same correction rules; the gradient is 0 where it is 0)."""
    return R.Std.apply(_float(x), axis=_axis(axis, dim, "std"), keepdims=_keep(keepdims, keepdim),
                       correction=_correction(correction, unbiased, ddof))


def logsumexp(x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None) -> Tensor:
    """log sum exp over ``axis``, computed stably."""
    return R.LogSumExp.apply(_float(x), axis=_axis(axis, dim, "logsumexp"), keepdims=_keep(keepdims, keepdim))


def argmax(x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None) -> Tensor:
    """Index of the maximum (no gradient); over the flattened tensor when no axis is given."""
    ax = _axis(axis, dim, "argmax")
    keep = _keep(keepdims, keepdim) and ax is not None
    return Tensor._wrap(as_array(x.array.argmax(axis=ax, keepdims=keep), dtype=np.int64), False)


def argmin(x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None) -> Tensor:
    """Index of the minimum (no gradient)."""
    ax = _axis(axis, dim, "argmin")
    keep = _keep(keepdims, keepdim) and ax is not None
    return Tensor._wrap(as_array(x.array.argmin(axis=ax, keepdims=keep), dtype=np.int64), False)


def prod(x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None) -> Tensor:
    """Product over ``axis``/``dim`` (all elements by default); exact gradients at zeros too."""
    return R.Prod.apply(x, axis=_axis(axis, dim, "prod"), keepdims=_keep(keepdims, keepdim))


def norm(x: Tensor, p: Any = 2, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
         keepdim: Any = None) -> Tensor:
    """Vector p-norm over ``axis`` (all elements by default): (sum |x|^p)^(1/p)."""
    ax = _axis(axis, dim, "norm")
    keep = _keep(keepdims, keepdim)
    if p == 2 or p == "fro":
        return R.VectorNorm2.apply(_float(x), axis=ax, keepdims=keep)
    if p == 1:
        return sum(abs(x), ax, keep)
    if p == float("inf"):
        return amax(abs(x), ax, keep)
    return pow(sum(pow(abs(x), p), ax, keep), 1.0 / p)


# ----------------------------------------------------------------------- shape
def reshape(x: Tensor, *shape: Any) -> Tensor:
    shp = S.normalize_shape(shape)
    if shp == x.array.shape:
        return x
    return S.Reshape.apply(x, shape=shp)


def view_as(x: Tensor, other: Tensor) -> Tensor:
    return reshape(x, other.shape)


def permute(x: Tensor, *axes: Any) -> Tensor:
    return S.Transpose.apply(x, axes=S.normalize_shape(axes))


def transpose(x: Tensor, *axes: Any) -> Tensor:
    """``transpose()`` reverses the axes (NumPy); ``transpose(d0, d1)`` swaps two (torch)."""
    if len(axes) == 2 and all(isinstance(a, int) for a in axes):
        order = list(range(x.ndim))
        d0, d1 = axes[0] % x.ndim, axes[1] % x.ndim
        order[d0], order[d1] = order[d1], order[d0]
        return S.Transpose.apply(x, axes=tuple(order))
    if not axes:
        return S.Transpose.apply(x, axes=None)
    return permute(x, *axes)


def swapaxes(x: Tensor, a: int, b: int) -> Tensor:
    return transpose(x, a, b)


def t(x: Tensor) -> Tensor:
    if x.ndim > 2:
        raise ValueError(f"t(): expects a tensor with <= 2 dimensions, got shape {x.shape}")
    return S.Transpose.apply(x, axes=None)


def broadcast_to(x: Tensor, *shape: Any) -> Tensor:
    shp = S.normalize_shape(shape)
    return S.BroadcastTo.apply(x, shape=shp)


def expand(x: Tensor, *shape: Any) -> Tensor:
    """torch's expand: -1 keeps a dimension's size."""
    shp = list(S.normalize_shape(shape))
    offset = len(shp) - x.ndim
    for i, s in enumerate(shp):
        if s == -1:
            shp[i] = x.shape[i - offset]
    return broadcast_to(x, tuple(shp))


def expand_as(x: Tensor, other: Tensor) -> Tensor:
    return broadcast_to(x, other.shape)


def squeeze(x: Tensor, axis: Any = None, *, dim: Any = None) -> Tensor:
    """Drop size-1 dimensions (all, or the given ones; a non-1 dimension is left alone as in torch)."""
    ax = _axis(axis, dim, "squeeze")
    if ax is None:
        shape = tuple(n for n in x.shape if n != 1)
    else:
        axes = R.normalize_axis(ax, x.ndim, "squeeze")
        shape = tuple(n for i, n in enumerate(x.shape) if not (i in axes and n == 1))
    return reshape(x, shape)


def unsqueeze(x: Tensor, axis: Any = None, *, dim: Any = None) -> Tensor:
    """Insert a size-1 dimension at ``axis``/``dim``."""
    ax = _axis(axis, dim, "unsqueeze")
    if ax is None:
        raise TypeError("unsqueeze: missing the dimension")
    nd = x.ndim + 1
    if not -nd <= ax < nd:
        raise IndexError(f"unsqueeze: dimension {ax} out of range for a result with {nd} dimensions")
    ax %= nd
    shape = x.shape[:ax] + (1,) + x.shape[ax:]
    return reshape(x, shape)


expand_dims = unsqueeze


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions ``start_dim..end_dim`` into one (torch's flatten)."""
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = start_dim % x.ndim, end_dim % x.ndim
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {x.shape}")
    n = 1
    for d in x.shape[s:e + 1]:
        n *= d
    return reshape(x, x.shape[:s] + (n,) + x.shape[e + 1:])


def ravel(x: Tensor) -> Tensor:
    return reshape(x, (-1,))


def _tensors(xs: Sequence[Any]) -> list[Tensor]:
    return [x if isinstance(x, Tensor) else Tensor(_as_array(x)) for x in xs]


def cat(tensors: Sequence[Any], axis: Any = None, *, dim: Any = None) -> Tensor:
    """Concatenate along an existing dimension (``tw.cat`` / ``tw.concatenate``)."""
    ax = _axis(axis, dim, "cat")
    xs = _tensors(tensors)
    return S.Concatenate.apply(*xs, axis=0 if ax is None else ax)


concatenate = cat


def stack(tensors: Sequence[Any], axis: Any = None, *, dim: Any = None) -> Tensor:
    """Stack along a new dimension."""
    ax = _axis(axis, dim, "stack")
    return S.Stack.apply(*_tensors(tensors), axis=0 if ax is None else ax)


def split(x: Tensor, split_size_or_sections: Any, axis: Any = None, *, dim: Any = None) -> list[Tensor]:
    """torch's split: an int is the size of each chunk; a list gives each chunk's size."""
    ax = _axis(axis, dim, "split")
    ax = 0 if ax is None else ax % x.ndim
    n = x.shape[ax]
    if isinstance(split_size_or_sections, int):
        if split_size_or_sections <= 0:
            raise ValueError(f"split: split_size must be positive, got {split_size_or_sections}")
        sizes = [split_size_or_sections] * (n // split_size_or_sections)
        if n % split_size_or_sections:
            sizes.append(n % split_size_or_sections)
    else:
        sizes = list(split_size_or_sections)
        if builtins_sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} do not add up to {n} (dimension {ax} of shape {x.shape})")
    out = []
    start = 0
    for s in sizes:
        index = (slice(None),) * ax + (slice(start, start + s),)
        out.append(getitem(x, index))
        start += s
    return out


def chunk(x: Tensor, chunks: int, axis: Any = None, *, dim: Any = None) -> list[Tensor]:
    """Split into ``chunks`` pieces of (nearly) equal size, as torch.chunk."""
    ax = _axis(axis, dim, "chunk")
    ax = 0 if ax is None else ax
    n = x.shape[ax]
    size = -(-n // chunks)
    return split(x, size, ax)


def pad(x: Tensor, pad_width: Any, value: float = 0.0) -> Tensor:
    """Constant padding with ``numpy.pad``'s ``pad_width`` (see ``nn.functional.pad`` for torch's form)."""
    pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64).reshape(-1, 2) if np.ndim(pad_width) else
                         np.asarray([[pad_width, pad_width]]), (x.ndim, 2))
    return S.Pad.apply(x, pad_width=tuple(map(tuple, pw.tolist())), value=value)


def _index_arrays(index: Any) -> Any:
    if isinstance(index, Tensor):
        return index.array
    if isinstance(index, tuple):
        return tuple(i.array if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]``: slices, masks and integer arrays; repeated indices accumulate in backward."""
    return S.GetItem.apply(x, index=_index_arrays(index))


def gather(x: Tensor, dim: int, index: Any) -> Tensor:
    """torch.gather: ``out[i][j] = x[i][index[i][j]]`` for ``dim=1``; repeated indices accumulate in backward."""
    idx = index.array if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"gather: index must be an integer tensor, got dtype {idx.dtype}")
    return S.Gather.apply(x, index=idx, axis=dim)


def masked_fill(x: Tensor, mask: Any, value: Any) -> Tensor:
    """``x`` with ``value`` where ``mask`` is true (the gradient flows to the other places)."""
    return where(mask, value, x)


def repeat(x: Tensor, *sizes: Any) -> Tensor:
    """torch's repeat (NumPy's tile), as broadcast + reshape so its backward is a sum."""
    reps = S.normalize_shape(sizes)
    if len(reps) < x.ndim:
        raise ValueError(f"repeat: {len(reps)} repeats for a tensor with {x.ndim} dimensions")
    xs = reshape(x, (1,) * (len(reps) - x.ndim) + x.shape)
    inter = []
    target = []
    for r, n in zip(reps, xs.shape):
        inter += [1, n]
        target += [r, n]
    out = broadcast_to(reshape(xs, tuple(inter)), tuple(target))
    return reshape(out, tuple(r * n for r, n in zip(reps, xs.shape)))


# ----------------------------------------------------------------- activations
def relu(x: Tensor) -> Tensor:
    return A.ReLU.apply(x)


def sigmoid(x: Tensor) -> Tensor:
    return A.Sigmoid.apply(_float(x))


def tanh(x: Tensor) -> Tensor:
    return A.Tanh.apply(_float(x))


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    return A.ELU.apply(_float(x), alpha=alpha)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return A.LeakyReLU.apply(_float(x), negative_slope=negative_slope)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return A.Softplus.apply(_float(x), beta=beta, threshold=threshold)


def softmax(x: Tensor, axis: Any = None, *, dim: Any = None) -> Tensor:
    ax = _axis(axis, dim, "softmax")
    return A.Softmax.apply(_float(x), axis=-1 if ax is None else ax)


def log_softmax(x: Tensor, axis: Any = None, *, dim: Any = None) -> Tensor:
    ax = _axis(axis, dim, "log_softmax")
    return A.LogSoftmax.apply(_float(x), axis=-1 if ax is None else ax)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    return A.GELU.apply(_float(x), approximate=approximate)


import builtins as _builtins  # noqa: E402

builtins_sum = _builtins.sum


# ------------------------------------------------------- binding to the Tensor
def _bind() -> None:
    T = Tensor
    T.__add__ = lambda a, b: _binary(E.Add, a, b)
    T.__radd__ = lambda a, b: _binary(E.Add, b, a)
    T.__sub__ = lambda a, b: _binary(E.Sub, a, b)
    T.__rsub__ = lambda a, b: _binary(E.Sub, b, a)
    T.__mul__ = lambda a, b: _binary(E.Mul, a, b)
    T.__rmul__ = lambda a, b: _binary(E.Mul, b, a)
    T.__truediv__ = div
    T.__rtruediv__ = lambda a, b: div(b, a)
    T.__pow__ = lambda a, b: _binary(E.Pow, a, b)
    T.__rpow__ = lambda a, b: _binary(E.Pow, b, a)
    T.__matmul__ = matmul
    T.__rmatmul__ = lambda a, b: matmul(b, a)
    T.__neg__ = neg
    T.__pos__ = lambda a: a
    T.__abs__ = abs
    T.__getitem__ = getitem
    T.__eq__ = _eq_dunder  # type: ignore[assignment]
    T.__ne__ = _ne_dunder  # type: ignore[assignment]
    T.__lt__ = lt
    T.__le__ = le
    T.__gt__ = gt
    T.__ge__ = ge
    T.__invert__ = lambda a: Tensor._wrap(~a.array, False)
    T.__and__ = T.__rand__ = lambda a, b: _compare(np.bitwise_and, a, b)
    T.__or__ = T.__ror__ = lambda a, b: _compare(np.bitwise_or, a, b)
    T.__xor__ = T.__rxor__ = lambda a, b: _compare(np.bitwise_xor, a, b)
    for name in ("add", "sub", "mul", "div", "pow", "matmul", "exp", "log", "sqrt", "abs", "sign",
                 "clamp", "clip", "maximum", "minimum", "eq", "ne", "lt", "le", "gt", "ge", "isnan",
                 "isfinite", "sum", "mean", "max", "min", "amax", "amin", "var", "std", "logsumexp",
                 "argmax", "argmin", "prod", "norm", "reshape", "view_as", "permute", "transpose",
                 "swapaxes", "t", "broadcast_to", "expand", "expand_as", "squeeze", "unsqueeze",
                 "flatten", "ravel", "split", "chunk", "repeat", "relu", "sigmoid", "tanh", "elu",
                 "leaky_relu", "softplus", "softmax", "log_softmax", "gelu", "gather", "masked_fill"):
        setattr(T, name, globals()[name])
    T.view = reshape
    T.T = property(lambda a: S.Transpose.apply(a, axes=None))
    T.mT = property(lambda a: swapaxes(a, -1, -2))
    T.greater = gt
    T.less = lt
    T.multiply = mul
    T.divide = div
    T.subtract = sub
    T.negative = neg
    T.square = lambda a: mul(a, a)


_bind()
