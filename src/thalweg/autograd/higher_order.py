"""Backward passes that are themselves recorded: ``create_graph=True`` (double backward).

The ordinary engine (``engine.py``) runs every node's ``backward`` on plain
arrays, which is fast but leaves no trace: the gradients it returns are
constants.  Gradient penalties (WGAN-GP), Hessian-vector products, Newton
steps and meta-learning (MAML) need the gradient as a *function* of the
parameters, so they can differentiate it again.  This module is a second walk
over the same graph, used only when ``create_graph=True`` (first-order speed is
untouched), where

- gradients are :class:`Tensor` objects, not arrays;
- each node's gradient rule runs as thalweg ops, with grad mode on, so the
  backward pass builds a new graph (its nodes point at the forward's tensors
  and at the incoming gradient);
- accumulation (``+``) and un-broadcasting (``sum``) are recorded ops too.

The differentiable rules live in ``double_backward/`` (one module per op
family), registered per ``Function`` class.  A ``Function`` without a rule
still gets its first-order gradient, computed by its array ``backward``, but
wrapped in a node that raises ``RuntimeError`` naming the op if anything
differentiates through it: never a silently wrong second derivative (torch
does the same for fused kernels it cannot differentiate twice).

Mathematically, for a node ``y = f(x_1, ..., x_k)`` with incoming gradient
``g = dL/dy``, the rule returns ``v_i(x, g) = (df/dx_i)^T g`` built from
recorded ops.  A later backward with cotangents ``u_i`` for the ``v_i`` then
gets, through the recorded ops,

    d/dx_j sum_i <u_i, v_i> = sum_i d^2<g, f>/(dx_i dx_j) u_i     (second derivatives of f)
    d/dg   sum_i <u_i, v_i> = sum_i (df/dx_i) u_i                  (a Jacobian-vector product)

which is all a Hessian-vector product, a gradient penalty or a MAML outer
step needs.  Rules compose, so third and higher orders follow.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..backend import as_array, get_array_module
from . import function
from .engine import topological_order
from .function import Context, Function
from .grad_mode import enable_grad

Rule = Callable[[Context, Any], Any]

# Function class -> rule(ctx, grad_tensor) -> one gradient tensor (or None) per positional input.
RULES: dict[type, Rule] = {}
_loaded = False
_resolved: dict[type, Rule | None] = {}  # Function class -> its rule after the base-class lookup


def register(*fns: type) -> Callable[[Rule], Rule]:
    """Decorator: ``@register(Exp)`` makes the function the differentiable backward of ``Exp``.

    The rule is called as ``rule(ctx, grad)``: ``ctx`` is the graph node, with
    ``ctx.inputs[i]`` the recorded input tensor (``None`` for an input that
    needs no gradient), ``ctx.needs_input_grad`` and whatever ``forward``
    saved on it; ``grad`` is the output's gradient as a tensor.  It returns
    one gradient tensor (or ``None``) per positional input, written with
    thalweg ops so that it can be differentiated again.  For example::

        @register(Cube)
        def _cube(ctx, grad):
            x = ctx.inputs[0]
            return grad * 3 * x * x
    """

    def deco(rule: Rule) -> Rule:
        for fn in fns:
            RULES[fn] = rule
        _resolved.clear()
        return rule

    return deco


def unregister(*fns: type) -> None:
    """Remove the rules of ``fns`` (their gradients then raise when differentiated again)."""
    for fn in fns:
        RULES.pop(fn, None)
    _resolved.clear()


def _rule_for(fn: type) -> Rule | None:
    """The rule of ``fn`` or of its nearest registered base class (``Max`` -> ``_Extreme``)."""
    global _loaded
    if not _loaded:
        from . import double_backward  # noqa: F401  (fills RULES)

        _loaded = True
    if fn in _resolved:
        return _resolved[fn]
    found = None
    for cls in fn.__mro__:
        found = RULES.get(cls)
        if found is not None or cls is Function:
            break
    _resolved[fn] = found
    return found


def unsupported_message(name: str) -> str:
    """The error raised when a gradient computed by ``name``'s array backward is differentiated."""
    return (f"double backward is not implemented for {name}: its gradient was computed with "
            "create_graph=True by a backward rule with no differentiable form, so it cannot be "
            "differentiated again (register one with thalweg.autograd.higher_order.register).")


class DelayedError(Function):
    """Carries a first-order gradient computed on arrays; differentiating it raises.

    ``forward(value, *sources)`` returns ``value`` (an array computed from the
    sources); the output requires grad when a source does, so the error is
    raised exactly when a second derivative through it is asked for.
    """

    @staticmethod
    def forward(ctx: Context, value: Any, *sources: Any, name: str = "op") -> Any:
        ctx.name = name
        return value

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        raise RuntimeError(unsupported_message(ctx.name))


def first_order_only(node: Context, grad: Any) -> tuple[Any, ...]:
    """First-order gradients of a node without a rule, wrapped so that differentiating them raises.

    The values come from the node's own array ``backward``, so they are exact;
    only their derivatives are refused.  Rules may return this for a case they
    do not cover (``scatter_reduce`` with ``prod``).
    """
    arrays = node.fn.backward(node, grad.array)
    if type(arrays) is not tuple:
        arrays = tuple(arrays) if isinstance(arrays, list) else (arrays,)
    sources = [grad] + [t for t in node.inputs if t is not None]
    out = []
    for a in arrays:
        if a is None:
            out.append(None)
            continue
        if isinstance(a, function.Tensor):
            a = a.array
        out.append(DelayedError.apply(as_array(a).copy(), *sources, name=node.fn.__name__))  # never aliases grad
    return tuple(out)


def constant(value: Any) -> Any:
    """A tensor outside the graph over ``value`` (arrays); Python numbers stay numbers."""
    if isinstance(value, function.Tensor):
        return value
    if isinstance(value, (int, float, bool)) and not isinstance(value, np.generic):
        return value
    return function.Tensor._wrap(as_array(value), False)


def _sum_to(g: Any, shape: tuple[int, ...], op: str) -> Any:
    """Differentiable un-broadcasting: sum the gradient tensor ``g`` down to ``shape``."""
    from ..ops.reduce import Sum

    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra < 0:
        raise RuntimeError(f"{op} backward returned a gradient of shape {g.shape} for an input of shape {shape}")
    if extra:
        g = Sum.apply(g, axis=tuple(range(extra)))
    axes = []
    for i, (n, s) in enumerate(zip(g.shape, shape)):
        if s == 1 and n != 1:
            axes.append(i)
        elif n != s:
            raise RuntimeError(f"{op} backward returned a gradient of shape {g.shape} for an input of shape {shape}")
    if axes:
        g = Sum.apply(g, axis=tuple(axes), keepdims=True)
    return g


def _as_tensor_grad(g: Any, like: Any, op: str) -> Any:
    """A rule's or hook's return value as a gradient tensor of ``like``'s shape and dtype."""
    from ..ops.elementwise import Cast

    if not isinstance(g, function.Tensor):
        g = function.Tensor._wrap(as_array(g, dtype=like.dtype), False)
    if g.shape != like.shape:
        g = _sum_to(g, like.shape, op)
    if g.dtype != like.dtype:
        g = Cast.apply(g, dtype=like.dtype)
    return g


def _needed(order: list[Context], targets: set[int], leaves: set[int]) -> set[int]:
    """Ids of the nodes with a path to a wanted tensor (a wanted node, or a wanted leaf among their inputs)."""
    need: set[int] = set()
    for node in order:  # inputs come first, so a node's parents are decided before it
        nid = id(node)
        if nid in targets:
            need.add(nid)
            continue
        for t in node.inputs:
            if t is None:
                continue
            if (t._ctx is None and id(t) in leaves) or (t._ctx is not None and id(t._ctx) in need):
                need.add(nid)
                break
    return need


def _run_hooks(t: Any, grad: Any) -> Any:
    """Call ``t``'s gradient hooks with the gradient tensor; a returned value replaces it."""
    for hook in list(t._hooks.values()):
        new = hook(grad)
        if new is not None:
            if getattr(new, "shape", None) != grad.shape:
                raise RuntimeError(f"hook {hook!r} returned a gradient of shape {getattr(new, 'shape', None)}, "
                                   f"expected {grad.shape}")
            grad = _as_tensor_grad(new, grad, "hook")
    return grad


def _accumulate_leaf(leaf: Any, g: Any, handed: set[int]) -> None:
    """``leaf.grad = leaf.grad + g``, out of place and recorded (torch's rule under create_graph)."""
    from ..ops.elementwise import Add, Clone

    arr = g.array
    if id(g) in handed or arr.base is not None or not arr.flags.writeable:
        g = Clone.apply(g)  # each leaf owns its .grad memory: not shared, not a (read-only) view
    handed.add(id(g))
    old = leaf.grad
    if old is None:
        leaf.grad = g
        return
    if not isinstance(old, function.Tensor):
        old = function.Tensor._wrap(old, False)
    leaf.grad = Add.apply(old, g)


def walk(roots: Sequence[Any], seeds: Sequence[Any], retain_graph: bool = True,
         inputs: Sequence[Any] | None = None, allow_unused: bool = False,
         stop_at_inputs: bool = False) -> list[Any] | None:
    """The recorded backward pass from ``roots`` (tensors) seeded with ``seeds`` (gradient tensors).

    Without ``inputs`` the gradients are accumulated into the ``.grad`` of the
    leaves (as tensors with a graph).  With ``inputs`` they are returned, one
    tensor (or ``None`` when unused and ``allow_unused``) per input, and no
    ``.grad`` is touched.  ``stop_at_inputs`` treats each input as an
    independent variable (its own history is not walked): partial derivatives,
    used by the rules that differentiate a recomputed composite.
    """
    from ..ops.elementwise import Add

    wanted: dict[int, list[int]] = {}
    results: list[Any] = []
    leaf_wanted: set[int] = set()
    if inputs is not None:
        results = [None] * len(inputs)
        for i, t in enumerate(inputs):
            key = id(t._ctx) if t._ctx is not None else id(t)
            wanted.setdefault(key, []).append(i)
            if t._ctx is None:
                leaf_wanted.add(id(t))
    grads: dict[int, Any] = {}
    pending: dict[int, list[Any]] = {}  # leaves: id -> [tensor, gradient]
    root_nodes = []
    for r, s in zip(roots, seeds):
        if r._ctx is None:
            entry = pending.get(id(r))
            pending[id(r)] = [r, s] if entry is None else [r, Add.apply(entry[1], s)]
        else:
            key = id(r._ctx)
            grads[key] = s if key not in grads else Add.apply(grads[key], s)
            root_nodes.append(r._ctx)
    stop = set(wanted) if stop_at_inputs else set()
    order = topological_order(root_nodes, stop=stop)
    need = _needed(order, set(wanted), leaf_wanted) if inputs is not None else None
    handed: set[int] = {id(s) for s in seeds}  # a caller's gradient tensor is never stored as a .grad itself
    for node in reversed(order):
        grad = grads.pop(id(node), None)
        if grad is None:
            continue
        if node.freed:
            raise RuntimeError(
                f"Trying to backward through the graph a second time ({node!r}): its saved buffers were "
                "freed after the first backward. Pass retain_graph=True to the first backward() if you need "
                "to backpropagate twice.")
        if node.retained is not None:
            t = node.retained
            if t._hooks is not None:
                grad = _run_hooks(t, grad)
            if inputs is None and t._retains_grad:
                t.grad = grad if t.grad is None else Add.apply(t.grad, grad)
        hit = wanted.get(id(node))
        if hit is not None:
            for i in hit:
                results[i] = grad
            if stop_at_inputs:
                continue
        if need is not None and id(node) not in need:
            continue
        if getattr(node, "saved_versions", None) is not None:  # an input changed in place since the forward
            from .engine import check_versions

            check_versions(node)
        rule = _rule_for(node.fn)
        in_grads = first_order_only(node, grad) if rule is None else rule(node, grad)
        if type(in_grads) is not tuple:
            in_grads = tuple(in_grads) if isinstance(in_grads, list) else (in_grads,)
        if len(in_grads) != len(node.inputs):
            raise RuntimeError(f"double backward rule of {node.fn.__name__} returned {len(in_grads)} gradients, "
                               f"expected {len(node.inputs)}")
        for inp, g in zip(node.inputs, in_grads):
            if g is None or inp is None or not inp._requires_grad:
                continue
            g = _as_tensor_grad(g, inp, node.fn.__name__)
            pnode = inp._ctx
            if pnode is not None:
                key = id(pnode)
                prev = grads.get(key)
                grads[key] = g if prev is None else Add.apply(prev, g)
            elif inputs is None or id(inp) in leaf_wanted or inp._hooks is not None:
                entry = pending.get(id(inp))
                if entry is None:
                    pending[id(inp)] = [inp, g]
                else:
                    entry[1] = Add.apply(entry[1], g)
        if not retain_graph:
            node.free()
    for leaf, g in pending.values():
        if leaf._hooks is not None:
            g = _run_hooks(leaf, g)
        if inputs is None:
            if leaf._requires_grad:
                _accumulate_leaf(leaf, g, handed)
                if leaf._post_hooks is not None:
                    for hook in list(leaf._post_hooks.values()):
                        hook(leaf)
        else:
            for i in wanted.get(id(leaf), ()):
                results[i] = g
    if inputs is None:
        return None
    if not allow_unused:
        for i, (t, r) in enumerate(zip(inputs, results)):
            if r is None:
                raise RuntimeError(f"grad: input {i} (shape {t.shape}) was not used to compute the output; "
                                   "pass allow_unused=True to get None for it")
    return results


def _seed(t: Any, gradient: Any, who: str) -> Any:
    """The gradient tensor that starts the pass at ``t`` (1 for a one-element tensor)."""
    if not t._requires_grad:
        raise RuntimeError(f"{who}: this tensor does not require grad and has no grad_fn "
                           "(did you compute it under no_grad, or forget requires_grad=True?)")
    xp = get_array_module(t.array)
    if gradient is None:
        if t.array.size != 1:
            raise RuntimeError(f"{who}: grad can be implicitly created only for scalar outputs, this tensor "
                               f"has shape {t.shape}; pass a gradient of that shape")
        return function.Tensor._wrap(xp.ones(t.array.shape, dtype=t.array.dtype), False)
    if isinstance(gradient, function.Tensor):
        if gradient.shape != t.shape:
            raise RuntimeError(f"{who}: gradient has shape {gradient.shape} but the tensor has shape {t.shape}")
        return gradient
    seed = xp.array(gradient, dtype=t.array.dtype, copy=True)
    if seed.shape != t.array.shape:
        raise RuntimeError(f"{who}: gradient has shape {seed.shape} but the tensor has shape {t.shape}")
    return function.Tensor._wrap(seed, False)


def _as_list(x: Any) -> list[Any]:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None,
             inputs: Any = None) -> None:
    """``Tensor.backward(create_graph=True)``: accumulate recorded gradients into the leaves' ``.grad``.

    ``inputs`` (optional) limits the accumulation to those leaves.
    """
    outs = _as_list(tensors)
    gos = [None] * len(outs) if grad_tensors is None else _as_list(grad_tensors)
    seeds = [_seed(o, g, "backward()") for o, g in zip(outs, gos)]
    retain = True if retain_graph is None else bool(retain_graph)
    with enable_grad(), np.errstate(divide="ignore", invalid="ignore"):
        if inputs is None:
            walk(outs, seeds, retain_graph=retain)
            return
        ins = _as_list(inputs)
        grads = walk(outs, seeds, retain_graph=retain, inputs=ins, allow_unused=True)
        handed: set[int] = set()
        for t, g in zip(ins, grads or ()):
            if g is not None:
                _accumulate_leaf(t, g, handed)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         allow_unused: bool = False) -> list[Any]:
    """``tw.autograd.grad(..., create_graph=True)``: gradients as tensors that can be differentiated again."""
    outs = _as_list(outputs)
    gos = [None] * len(outs) if grad_outputs is None else _as_list(grad_outputs)
    if len(gos) != len(outs):
        raise RuntimeError(f"grad: {len(outs)} outputs but {len(gos)} grad_outputs")
    ins = _as_list(inputs)
    for i, t in enumerate(ins):
        if not isinstance(t, function.Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} is not a tensor that requires grad")
    seeds = [_seed(o, g, "grad") for o, g in zip(outs, gos)]
    retain = True if retain_graph is None else bool(retain_graph)
    with enable_grad(), np.errstate(divide="ignore", invalid="ignore"):
        res = walk(outs, seeds, retain_graph=retain, inputs=ins, allow_unused=allow_unused)
    return res  # type: ignore[return-value]


def partials(out: Any, grad: Any, args: Sequence[Any]) -> list[Any]:
    """Recorded partial derivatives ``(d out / d arg)^T grad`` for each tensor in ``args``.

    Each argument is treated as an independent variable (its own history is not
    walked); ``None`` for an unused argument.  Rules of fused ops use this on a
    composite recomputation of the op from primitive ops.
    """
    if not out.requires_grad:
        return [None] * len(args)
    return walk([out], [grad], retain_graph=True, inputs=list(args), allow_unused=True,
                stop_at_inputs=True) or []


def run_backward(root: Any, seed: Any, retain_graph: bool | None = None, inputs: Sequence[Any] | None = None,
                 allow_unused: bool = False) -> list[Any] | None:
    """The engine's entry point with ``create_graph=True``: ``seed`` is an array or a tensor."""
    if inputs is None:
        backward(root, seed, retain_graph=retain_graph)
        return None
    return grad(root, list(inputs), seed, retain_graph=retain_graph, allow_unused=allow_unused)
