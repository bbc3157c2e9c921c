"""Shape ops: reshape, transpose, broadcast, concatenate, pad, indexing.

These move numbers around without changing them, so each backward moves the
gradient back the same way: reshape it back, transpose it back, slice it back
out of a concatenation.  Indexing is the interesting one: the backward of
``x[idx]`` *scatter-adds* the gradient into a zero array, so repeated indices
accumulate (an embedding row used twice in a batch gets both contributions).
"""

from __future__ import annotations

from typing import Any, Sequence

from ..autograd.function import Context, Function
from ..backend import get_array_module


def normalize_shape(shape: Sequence[Any]) -> tuple[int, ...]:
    """Accept ``reshape(2, 3)``, ``reshape((2, 3))`` and ``reshape([2, 3])``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def check_new_shape(shape: tuple[int, ...], size: int, op: str = "reshape") -> None:
    """torch's rules for a target shape: sizes >= 0 or a single -1, which must be inferable.

    NumPy accepts any negative size as "infer" (``reshape(-2, 6)`` works there); torch does not.
    """
    inferred = [i for i, n in enumerate(shape) if n == -1]
    for i, n in enumerate(shape):
        if n < -1:
            raise ValueError(f"{op}: invalid shape dimension {n} at index {i} of shape {tuple(shape)}")
    if len(inferred) > 1:
        raise ValueError(f"{op}: only one dimension can be inferred, got shape {tuple(shape)}")
    if inferred and size == 0 and any(n == 0 for n in shape):
        raise ValueError(f"{op}: cannot reshape a tensor of 0 elements into shape {tuple(shape)} because the "
                         "unspecified dimension size -1 can be any value and is ambiguous")


class Reshape(Function):
    """z = x viewed with another shape; the gradient is reshaped back."""

    @staticmethod
    def forward(ctx: Context, x: Any, shape: tuple[int, ...] = ()) -> Any:
        ctx.in_shape = x.shape
        check_new_shape(shape, x.size)
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot view a tensor of shape {x.shape} ({x.size} elements) as {shape}") from None

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any]:
        return grad.reshape(ctx.in_shape)


class Transpose(Function):
    """z = x with its axes permuted by ``axes``; the gradient is permuted back."""

    @staticmethod
    def forward(ctx: Context, x: Any, axes: tuple[int, ...] | None = None) -> Any:
        if axes is None:
            axes = tuple(reversed(range(x.ndim)))
        n = max(x.ndim, 1)
        for a in axes:
            if not -n <= a < n:
                raise IndexError(f"permute: dimension {a} out of range for a tensor with {x.ndim} dimensions "
                                 f"(expected to be in range of [{-n}, {n - 1}], but got {a})")
        if sorted(a % max(x.ndim, 1) for a in axes) != list(range(x.ndim)):
            raise ValueError(f"permute: {axes} is not a permutation of the {x.ndim} dimensions of shape {x.shape}")
        ctx.axes = axes
        return x.transpose(axes)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        inverse = [0] * len(ctx.axes)
        for i, a in enumerate(ctx.axes):
            inverse[a % len(ctx.axes)] = i
        return grad.transpose(inverse)


class BroadcastTo(Function):
    """z = x broadcast to ``shape``; the engine sums the gradient back to x's shape."""

    @staticmethod
    def forward(ctx: Context, x: Any, shape: tuple[int, ...] = ()) -> Any:
        try:
            return get_array_module(x).broadcast_to(x, shape)
        except ValueError:
            raise ValueError(f"expand: cannot broadcast a tensor of shape {x.shape} to {shape}") from None

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad


class Concatenate(Function):
    """z = concatenation of the inputs along ``axis``; each input gets its slice of the gradient."""

    @staticmethod
    def forward(ctx: Context, *xs: Any, axis: int = 0) -> Any:
        if not xs:
            raise ValueError("cat: expected a non-empty sequence of tensors")
        xp = get_array_module(*xs)
        # torch's legacy rule: 1-d empty tensors (shape (0,)) are skipped, whatever the others' shapes
        kept = [x for x in xs if not (x.ndim == 1 and x.shape[0] == 0)]
        ctx.skipped = [x.ndim == 1 and x.shape[0] == 0 for x in xs] if len(kept) < len(xs) else None
        if ctx.skipped is not None:
            if not kept:
                ctx.axis, ctx.sizes = 0, [0] * len(xs)
                return xp.concatenate(xs, axis=0)
            xs = tuple(kept)
        nd = xs[0].ndim
        if not -nd <= axis < nd:
            n = max(nd, 1)
            raise IndexError(f"cat: dimension {axis} out of range for tensors with {nd} dimensions "
                             f"(expected to be in range of [{-n}, {n - 1}], but got {axis})")
        axis %= nd
        for x in xs[1:]:
            if x.ndim != nd or any(a != b for i, (a, b) in enumerate(zip(x.shape, xs[0].shape)) if i != axis):
                raise ValueError(
                    f"cat: shapes {[tuple(t.shape) for t in xs]} differ outside dimension {axis}"
                )
        ctx.axis = axis
        ctx.sizes = [x.shape[axis] for x in xs]
        return xp.concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, ...]:
        out = []
        start = 0
        index = [slice(None)] * grad.ndim
        for n in ctx.sizes:
            index[ctx.axis] = slice(start, start + n)
            out.append(grad[tuple(index)])
            start += n
        skipped = getattr(ctx, "skipped", None)
        if skipped is not None and len(out) < len(skipped):  # the skipped 1-d empties get empty gradients
            parts = iter(out)
            empty = get_array_module(grad).zeros((0,), dtype=grad.dtype)
            out = [empty if s else next(parts) for s in skipped]
        return tuple(out)


class Stack(Function):
    """z = the inputs stacked along a new ``axis``; each input gets its slice of the gradient."""

    @staticmethod
    def forward(ctx: Context, *xs: Any, axis: int = 0) -> Any:
        if not xs:
            raise ValueError("stack: expected a non-empty sequence of tensors")
        shapes = {x.shape for x in xs}
        if len(shapes) != 1:
            raise ValueError(f"stack: all tensors must have the same shape, got {[x.shape for x in xs]}")
        nd = xs[0].ndim + 1
        if not -nd <= axis < nd:
            raise IndexError(f"stack: dimension {axis} out of range for a result with {nd} dimensions "
                             f"(expected to be in range of [{-nd}, {nd - 1}], but got {axis})")
        ctx.axis = axis % nd
        ctx.n = len(xs)
        return get_array_module(*xs).stack(xs, axis=ctx.axis)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, ...]:
        return tuple(grad.take(i, axis=ctx.axis) for i in range(ctx.n))


class Pad(Function):
    """Constant padding; ``pad_width`` as in ``numpy.pad``.  The gradient is the un-padded slice."""

    @staticmethod
    def forward(ctx: Context, x: Any, pad_width: Any = (), value: float = 0.0) -> Any:
        xp = get_array_module(x)
        ctx.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(pad_width, x.shape))
        return xp.pad(x, pad_width, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad[ctx.slices]


def _is_basic_index(index: Any) -> bool:
    """True when ``index`` uses only ints, slices, None and Ellipsis (a view, no repeats)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, slice)) for i in items)


def _is_mask_index(index: Any) -> bool:
    return getattr(index, "dtype", None) is not None and index.dtype == bool


class GetItem(Function):
    """z = x[index]: basic slicing, boolean masks, and integer (fancy) indexing.

    Backward scatters the gradient into zeros of x's shape.  For fancy indexing
    it uses ``add.at``, an *unbuffered* add, so an element picked k times gets
    k contributions (plain assignment would keep only the last one).
    """

    @staticmethod
    def forward(ctx: Context, x: Any, index: Any = None) -> Any:
        ctx.shape, ctx.dtype, ctx.index = x.shape, x.dtype, index
        try:
            return x[index]
        except IndexError as e:
            raise IndexError(f"index {index!r} is invalid for a tensor of shape {x.shape}: {e}") from None

    fresh_gradients = True  # backward's result is a new zero array

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        xp = get_array_module(grad)
        out = xp.zeros(ctx.shape, dtype=ctx.dtype)
        if _is_basic_index(ctx.index) or _is_mask_index(ctx.index):
            out[ctx.index] = grad
        else:
            xp.add.at(out, ctx.index, grad)
        return out

    @staticmethod
    def backward_into(ctx: Context, grad: Any, acc: Any) -> bool:
        """acc[index] += grad: the scatter without its zero array (see ``Function.backward_into``)."""
        if _is_basic_index(ctx.index) or _is_mask_index(ctx.index):
            acc[ctx.index] += grad
        else:
            get_array_module(acc).add.at(acc, ctx.index, grad)
        return True


class Gather(Function):
    """z = values of x picked along ``axis`` by ``index`` (``torch.gather``, ``numpy.take_along_axis``).

    For ``axis=1`` of a 3-d x: z[i, j, k] = x[i, index[i, j, k], k].  As in
    torch, ``index`` has x's number of dimensions and may be smaller than x in
    the others.  Backward scatter-adds the gradient, so an element picked
    twice gets both contributions.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, index: Any = None, axis: int = 0) -> Any:
        xp = get_array_module(x)
        if index.ndim != x.ndim:
            raise ValueError(f"gather: index has {index.ndim} dimensions but the tensor has {x.ndim} (shape {x.shape})")
        n = max(x.ndim, 1)
        if not -n <= axis < n:
            raise IndexError(f"gather: dimension {axis} out of range for a tensor with {x.ndim} dimensions "
                             f"(expected to be in range of [{-n}, {n - 1}], but got {axis})")
        axis %= n
        size = x.shape[axis] if x.ndim else 1
        if index.size and (int(index.min()) < 0 or int(index.max()) >= size):  # NumPy would wrap -1 around
            bad = int(index.min()) if int(index.min()) < 0 else int(index.max())
            raise RuntimeError(f"gather: index {bad} is out of bounds for dimension {axis} with size {size}")
        if any(n > m for d, (n, m) in enumerate(zip(index.shape, x.shape)) if d != axis):
            raise ValueError(f"gather: index of shape {index.shape} is larger than the tensor {x.shape} "
                             f"outside dimension {axis}")
        ctx.shape, ctx.dtype, ctx.index, ctx.axis = x.shape, x.dtype, index, axis
        if index.shape != x.shape:
            x = x[tuple(slice(None) if d == axis else slice(0, n) for d, n in enumerate(index.shape))]
        return xp.take_along_axis(x, index, axis=axis)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        xp = get_array_module(grad)
        out = xp.zeros(ctx.shape, dtype=ctx.dtype)
        nd = ctx.index.ndim
        where = tuple(ctx.index if d == ctx.axis else
                      xp.arange(n).reshape((1,) * d + (n,) + (1,) * (nd - d - 1))
                      for d, n in enumerate(ctx.index.shape))
        xp.add.at(out, where, grad)
        return out
