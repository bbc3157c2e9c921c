"""``Function``: one differentiable operation, forward and backward side by side.

This is the lecture's *expression node*.  ``Function.apply`` runs ``forward`` on
the raw arrays of its inputs (the eager forward pass) and, if any input requires
a gradient and recording is on, attaches a :class:`Context` to the output.  The
context is the graph node: it remembers which ``Function`` made the output (the
backward operation), the input tensors (the back-pointers) and whatever the
forward saved for the backward.

Writing your own op::

    class Cube(tw.autograd.Function):
        @staticmethod
        def forward(ctx, x):              # x is an ndarray
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad):          # grad is dL/d(output), an ndarray
            (x,) = ctx.saved_tensors
            return grad * 3 * x ** 2      # one gradient per forward input

    y = Cube.apply(t)

``forward`` receives ndarrays for tensor arguments and every other argument as
given; ``backward`` returns exactly one gradient (or ``None``) per positional
forward argument.  Each gradient has the input's shape, or the shape the input
was broadcast to in ``forward``: the engine sums broadcast dimensions away in
one place, so no op un-broadcasts by itself.  Any other shape is an error.
``backward`` should return new arrays (or pass ``grad`` itself through), not
arrays it keeps: the engine may store a returned array as a leaf's ``.grad``.
"""

from __future__ import annotations

from typing import Any

from ..backend import as_array, ndarray
from . import grad_mode


class Context:
    """A node of the computation graph, and the scratch space of one op call.

    Attributes set by the engine: ``fn`` (the Function class), ``inputs`` (the
    positional arguments, ``None`` for non-tensors), ``needs_input_grad`` (one
    bool per positional argument), ``freed`` (set after a backward pass that
    did not retain the graph), ``retained`` (the output tensor, kept only
    when it asked to see its gradient through ``retain_grad`` or a hook) and
    ``saved_versions`` (see :func:`record_saved_versions`).  Ops may store
    anything else on it in ``forward`` (``ctx.mask = ...``) or use
    ``save_for_backward``.
    """

    __slots__ = ("fn", "inputs", "needs_input_grad", "saved_tensors", "freed", "retained", "saved_versions",
                 "__dict__")

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep arrays needed by ``backward`` (freed after the backward pass)."""
        self.saved_tensors = arrays

    def __repr__(self) -> str:
        return f"<{self.fn.__name__}Backward>"


# The Tensor class, bound by tensor.py when it is imported (tensor.py imports
# this module, so importing it here would be circular).
Tensor: Any = None


class Function:
    """Base class of differentiable operations (see the module docstring)."""

    @staticmethod
    def forward(ctx: Context, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("a Function must define forward")

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        raise NotImplementedError("a Function must define backward")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run ``forward`` on the inputs' arrays and record the node if needed.

        Positional arguments are the op's inputs (tensors, or constants that get
        no gradient); keyword arguments are options passed to ``forward`` as
        they are.  The output is a new tensor; it requires grad, and carries
        this call's :class:`Context` as its ``grad_fn``, when some input
        requires grad and recording is on (see ``no_grad``).  An output that is
        a view of an input's memory shares that input's version counter.
        """
        ctx = Context()
        arrays = []
        inputs = []  # the back-pointers: tensors that require grad, None for the rest
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a.array)
                inputs.append(a if a._requires_grad else None)
            else:
                arrays.append(a)
                inputs.append(None)
        requires = grad_mode.STATE.enabled and inputs.count(None) != len(inputs)  # some input requires grad
        if requires:
            ctx.needs_input_grad = tuple(i is not None for i in inputs)
        out = cls.forward(ctx, *arrays, **kwargs)
        if type(out) is not ndarray:  # NumPy turns full reductions into scalars
            out = as_array(out)
        result = Tensor._wrap(out, requires)
        if out.base is not None:  # a view (reshape, slice, transpose...): in-place changes are shared
            _share_version_with_base(result, out.base, args)
        if not requires:
            return result
        ctx.fn = cls
        ctx.inputs = tuple(inputs)
        ctx.freed = False
        ctx.retained = None
        ctx.saved_versions = record_saved_versions(ctx, args, result) if ctx.__dict__ else None
        result._ctx = ctx
        return result


def _share_version_with_base(result: Any, base: Any, args: tuple[Any, ...]) -> None:
    """Give ``result`` (a view of ``base``) the version counter of the input whose memory it views."""
    for a in args:
        if isinstance(a, Tensor) and (a.array is base or a.array.base is base):
            result._vc = a._version_counter()
            return


def _saved_from(v: Any, array: Any) -> bool:
    """Whether the saved array ``v`` is ``array`` or a view of the same memory."""
    if v is array:
        return True
    base = v.base
    return base is not None and (base is array or base is array.base)


def record_saved_versions(ctx: Context, args: tuple[Any, ...], result: Any) -> tuple[Any, ...] | None:
    """The versions of the tensors whose arrays ``forward`` saved on ``ctx`` (torch's saved-variable check).

    ``forward`` keeps arrays as attributes (``ctx.x = x``) or through
    ``save_for_backward``.  Each saved array that is an input's array (or a
    view of it), or the output's, is recorded as ``(owner, version, label,
    array)``, where ``owner`` is the input tensor or the output's version
    counter (not the output itself, which would make a reference cycle).  The
    engine compares the versions before it runs ``backward``, so an in-place
    change of a saved tensor raises instead of giving a wrong gradient.  Ops
    that save nothing (``Add``) record nothing and never raise.
    """
    values = list(ctx.__dict__.values())
    saved = getattr(ctx, "saved_tensors", None)
    if saved:
        values.extend(saved)
    records = []
    out = result.array
    for v in values:
        if type(v) is not ndarray:
            if type(v) in (tuple, list):
                values.extend(x for x in v if type(x) is ndarray)
            continue
        for i, a in enumerate(args):
            if isinstance(a, Tensor) and _saved_from(v, a.array):
                records.append((a, a._version, f"input {i}", v))
                break
        else:
            if _saved_from(v, out):
                records.append((result._version_counter(), result._version, "output 0", v))
    return tuple(records) if records else None
