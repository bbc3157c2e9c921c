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

import itertools
from operator import is_not
from typing import Any

from ..backend import as_array, ndarray
from . import grad_mode


class Context:
    """A node of the computation graph, and the scratch space of one op call.

    Attributes set by the engine: ``fn`` (the Function class), ``inputs`` (the
    positional arguments, ``None`` for non-tensors), ``needs_input_grad`` (one
    bool per positional argument), ``retained`` (the output tensor, kept only
    when it asked to see its gradient through ``retain_grad`` or a hook),
    ``seq`` (numbered in creation order, which backward sorts by) and
    ``saved_versions`` (see :func:`changed_saved_tensors`; ``None`` once a
    backward pass that did not retain the graph has freed the node).  Ops may store
    anything else on it in ``forward`` (``ctx.mask = ...``) or use
    ``save_for_backward``.
    """

    __slots__ = ("fn", "inputs", "needs_input_grad", "retained", "saved_versions", "out_vc", "seq", "__dict__")
    saved_tensors: tuple[Any, ...] = ()  # set by save_for_backward (in __dict__, with the op's other saved values)

    @property
    def freed(self) -> bool:
        """Whether a backward pass that did not retain the graph has freed what this node saved."""
        return self.saved_versions is None

    def free(self) -> None:
        """Drop what the node keeps for backward: its inputs, saved arrays and the arguments of its version check."""
        self.inputs = ()
        self.saved_versions = None
        self.__dict__.clear()

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep arrays needed by ``backward`` (freed after the backward pass)."""
        self.saved_tensors = arrays

    def __repr__(self) -> str:
        return f"<{self.fn.__name__}Backward>"


class VersionCounter:
    """How many times the memory of a tensor (and of the tensors sharing it) has been changed in place.

    (No ``__init__``: one is made for every recorded op's output, so making it must cost almost nothing.)
    """

    value = 0


class _Changes:
    """All in-place changes so far, in every tensor: while it has not moved since a node's forward, none of
    the node's saved tensors can have changed, and backward skips the per-tensor check."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


IN_PLACE = _Changes()
_next_node_number = itertools.count().__next__
_NONE = itertools.repeat(None)  # numbers the graph's nodes in the order they are created
_DISABLED = grad_mode.DISABLED
_STATE = grad_mode.STATE


# The Tensor class, bound by tensor.py when it is imported (tensor.py imports
# this module, so importing it here would be circular).
Tensor: Any = None


class Function:
    """Base class of differentiable operations (see the module docstring).

    Two optional speed-ups the engine uses (for ops with one input):
    ``fresh_gradients = True`` promises that ``backward`` returns a new array
    nobody else holds, so the engine may add later gradients into it in place;
    ``backward_into(ctx, grad, acc)`` adds the input's gradient into ``acc``
    (the input's pending sum, which the engine owns) in place and returns
    True, instead of returning a new full-size array.
    """

    fresh_gradients = False
    backward_into: Any = None

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
        changed = False  # whether some input has been changed in place before this call
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a.array)
                inputs.append(a if a._requires_grad else None)
                if a._vc is not None and a._vc.value:
                    changed = True
            else:
                arrays.append(a)
                inputs.append(None)
        # recording (thread-local, read only while some thread has it off) and some input requires grad
        requires = (_DISABLED.threads == 0 or _STATE.enabled) and inputs.count(None) != len(inputs)
        if requires:
            ctx.needs_input_grad = tuple(map(is_not, inputs, _NONE))  # (i is not None for i in inputs)
        out = cls.forward(ctx, *arrays, **kwargs)
        if type(out) is not ndarray:  # NumPy turns full reductions into scalars
            out = as_array(out)
        result = Tensor._wrap(out, requires)
        out_version = 0  # a new array; a counter is made for it only if it is ever changed in place
        if out.base is not None:  # a view (reshape, slice, transpose...): in-place changes are shared
            out_version = _share_version_with_base(result, ctx, out.base, args)
        if not requires:
            return result
        ctx.fn = cls
        ctx.inputs = tuple(inputs)
        ctx.retained = None
        ctx.saved_versions = (args, _versions(args) if changed else None, out_version, id(out), IN_PLACE.count)
        ctx.seq = _next_node_number()  # after the inputs' nodes: creation order is a topological order
        result._ctx = ctx
        return result


def _share_version_with_base(result: Any, ctx: Context, base: Any, args: tuple[Any, ...]) -> int:
    """Give ``result`` (a view of ``base``) the version counter of the input whose memory it views.

    The node learns of the counter too (``ctx.out_vc``); returns its version now (0 if no input owns ``base``).
    """
    for a in args:
        if isinstance(a, Tensor) and (a.array is base or a.array.base is base):
            vc = result._vc = ctx.out_vc = a._version_counter()
            return vc.value
    return 0


def _versions(args: tuple[Any, ...]) -> tuple[int, ...]:
    """The version of each argument now (0 for constants and tensors never changed in place)."""
    return tuple([a._vc.value if isinstance(a, Tensor) and a._vc is not None else 0 for a in args])


def changed_saved_tensors(ctx: Context) -> list[tuple[str, int, int, Any]]:
    """The tensors ``ctx``'s forward saved that were changed in place since: ``(which, now, then, array)``.

    torch's saved-variable check.  ``forward`` keeps arrays as attributes
    (``ctx.x = x``) or through ``save_for_backward``; ``apply`` recorded the
    op's arguments, their versions and the output's version counter
    (``ctx.saved_versions``).  A saved array that is an input's array (or a
    view of it), or the output's, belongs to that tensor; if its version has
    moved, backward would read changed values.  Only saved tensors count: an
    op that saves nothing (``Add``) never reports a change, as in torch.
    """
    args, versions, out_version, out_id, _ = ctx.saved_versions
    out_vc = getattr(ctx, "out_vc", None)  # set when the output got a counter (a view, .data, an in-place change)
    changed = []
    values = [v for v in ctx.__dict__.values() if type(v) is ndarray]
    for v in ctx.__dict__.values():
        if type(v) is tuple or type(v) is list:  # save_for_backward, or a list of arrays
            values.extend(w for w in v if type(w) is ndarray)
    for v in values:
        base = v.base
        for i, a in enumerate(args):
            if isinstance(a, Tensor) and (v is a.array or (base is not None and (base is a.array
                                                                                 or base is a.array.base))):
                now, then = (0 if a._vc is None else a._vc.value), (0 if versions is None else versions[i])
                if now != then:
                    changed.append((f"input {i}", now, then, v))
                break
        else:
            now = out_version if out_vc is None else out_vc.value
            if (id(v) == out_id or (base is not None and id(base) == out_id)) and now != out_version:
                changed.append(("output 0", now, out_version, v))
    return changed
