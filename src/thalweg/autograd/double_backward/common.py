"""Helpers shared by the differentiable backward rules."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from ..function import Context, Function
from ..higher_order import constant, partials, register


def arg(ctx: Context, i: int, value: Any) -> Any:
    """Input ``i`` of the node as a tensor: the recorded input if it requires grad, else ``value`` (saved)."""
    t = ctx.inputs[i]
    return t if t is not None else constant(value)


def needs(ctx: Context) -> tuple[bool, ...]:
    return ctx.needs_input_grad


def snapshot(ctx: Context) -> Context:
    """A copy of the node's saved state, so a closure can still call its backward after the node is freed."""
    snap = Context()
    snap.__dict__.update(ctx.__dict__)
    snap.needs_input_grad = ctx.needs_input_grad
    snap.fn = ctx.fn
    return snap


class Alias(Function):
    """y = x, a separate graph node: lets a rule differentiate with respect to an input slot alone."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        return x

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad


@register(Alias)
def _alias(ctx: Context, grad: Any) -> tuple[Any]:
    return (grad,)


def decompose(ctx: Context, grad: Any, build: Callable[..., Any], values: Sequence[Any]) -> tuple[Any, ...]:
    """Gradients of a fused op through a recomputation from primitive ops.

    ``build(*args)`` recomputes the op's output from its inputs (tensors);
    inputs that require grad are passed as aliases of the recorded tensors,
    the others as constants over ``values[i]`` (``None`` if not needed).  The
    result is ``(d build / d arg_i)^T grad`` for each input, recorded, by a
    nested create-graph walk over the recomputed graph.
    """
    args: list[Any] = []
    live: list[Any] = []
    for t, v in zip(ctx.inputs, values):
        if t is not None:
            a = Alias.apply(t)
            live.append(a)
            args.append(a)
        else:
            args.append(None if v is None else constant(v))
    out = build(*args)
    parts = iter(partials(out, grad, live))
    return tuple(next(parts) if t is not None else None for t in ctx.inputs)


class LinearOp(Function):
    """y = A g for a fixed linear map A (given as array functions ``fwd`` = A and ``adj`` = A^T).

    The backward of many ops is such a map of the incoming gradient, with no
    dependence on the input values: indexing (a scatter-add), gather,
    embedding, pooling.  Recording it as this node makes it differentiable:
    d(A g)/dg applied to u is A^T u, itself a ``LinearOp`` with the roles swapped.
    """

    @staticmethod
    def forward(ctx: Context, g: Any, *, fwd: Any = None, adj: Any = None, name: str = "") -> Any:
        ctx.fwd, ctx.adj, ctx.name = fwd, adj, name
        return fwd(g)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return ctx.adj(grad)


@register(LinearOp)
def _linear_op(ctx: Context, grad: Any) -> tuple[Any]:
    return (LinearOp.apply(grad, fwd=ctx.adj, adj=ctx.fwd, name=ctx.name),)


def linear_backward(ctx: Context, grad: Any, adj: Callable[[Any], Any]) -> Any:
    """The node's own array backward, recorded as a :class:`LinearOp` of ``grad`` with adjoint ``adj``."""
    snap = snapshot(ctx)
    fn = ctx.fn

    def fwd(g: Any) -> Any:
        out = fn.backward(snap, g)
        return out[0] if isinstance(out, tuple) else out

    return LinearOp.apply(grad, fwd=fwd, adj=adj, name=fn.__name__)
