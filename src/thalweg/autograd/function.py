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
forward argument, each of the input's shape *or broadcastable to it*: the engine
sums broadcast dimensions away in one place, so no op un-broadcasts by itself.
"""

from __future__ import annotations

from typing import Any

from . import grad_mode


class Context:
    """A node of the computation graph, and the scratch space of one op call.

    Attributes set by the engine: ``fn`` (the Function class), ``inputs`` (the
    positional arguments, ``None`` for non-tensors), ``needs_input_grad`` (one
    bool per positional argument).  Ops may store anything else on it in
    ``forward`` (``ctx.mask = ...``) or use ``save_for_backward``.
    """

    __slots__ = ("fn", "inputs", "needs_input_grad", "saved_tensors", "freed", "retained", "__dict__")

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep arrays needed by ``backward`` (freed after the backward pass)."""
        self.saved_tensors = arrays

    def __repr__(self) -> str:
        return f"<{self.fn.__name__}Backward>"


class Function:
    """Base class of differentiable operations (see the module docstring)."""

    @staticmethod
    def forward(ctx: Context, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(ctx).__name__}: a Function must define forward")

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        raise NotImplementedError("a Function must define backward")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run ``forward`` on the inputs' arrays and record the node if needed."""
        from .tensor import Tensor

        ctx = Context()
        arrays = []
        requires = False
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a.data)
                if a.requires_grad:
                    requires = True
            else:
                arrays.append(a)
        requires = requires and grad_mode.STATE.enabled
        if requires:
            ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        out = cls.forward(ctx, *arrays, **kwargs)
        if not requires:
            return Tensor._wrap(out, False)
        ctx.fn = cls
        ctx.inputs = tuple(a if isinstance(a, Tensor) else None for a in args)
        ctx.freed = False
        ctx.retained = None
        result = Tensor._wrap(out, True)
        result._ctx = ctx
        return result
