"""The backward pass: reverse topological order, accumulation, un-broadcasting.

This follows the lecture's ``Backward(nodes, L)`` procedure:

1. the gradient of the loss (the last node created) is set to 1;
2. nodes are visited in *reverse topological order*, so a node's gradient is
   complete (all its consumers have contributed) before it is used;
3. each node's backward operation sends gradients to its antecedents, where
   they are *accumulated* (added), because an expression can be used several
   times.

The topological sort is iterative (an explicit stack), so a chain of 100,000
nodes backpropagates without hitting Python's recursion limit.

Broadcasting is undone here, in one place: a gradient arriving at an input of
a different shape is summed over the broadcast dimensions.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..backend import as_array, get_array_module
from . import function
from .function import Context


def unbroadcast(grad: Any, shape: tuple[int, ...], op_name: str = "op") -> Any:
    """Sum ``grad`` down to ``shape``, undoing NumPy broadcasting.

    Leading dimensions that broadcasting added are summed away, then every
    dimension where ``shape`` has size 1 and ``grad`` does not is summed with
    ``keepdims``.  Raises ``RuntimeError`` when the shapes are not broadcast-
    compatible (an op returned a gradient of the wrong shape).
    """
    if grad.shape == shape:
        return grad
    array_type = type(grad)
    ndim = len(shape)
    extra = grad.ndim - ndim
    if extra < 0:
        raise RuntimeError(
            f"{op_name} backward returned a gradient of shape {grad.shape} for an input of shape {shape}"
        )
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = []
    for i, (g, s) in enumerate(zip(grad.shape, shape)):
        if s == 1 and g != 1:
            axes.append(i)
        elif g != s:
            raise RuntimeError(
                f"{op_name} backward returned a gradient of shape {grad.shape} "
                f"for an input of shape {shape}"
            )
    if axes:
        grad = grad.sum(axis=tuple(axes), keepdims=True)
    return grad if type(grad) is array_type else as_array(grad)  # a full sum gives a NumPy scalar


def topological_order(root: Context) -> list[Context]:
    """Nodes reachable from ``root``, each after all of its inputs (iterative DFS)."""
    order: list[Context] = []
    seen = {id(root)}
    stack = [(root, iter(root.inputs))]
    while stack:
        node, parents = stack[-1]
        for parent in parents:
            if parent is None:
                continue
            pnode = parent._ctx
            if pnode is not None and id(pnode) not in seen:
                seen.add(id(pnode))
                stack.append((pnode, iter(pnode.inputs)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


def run_backward(root_tensor: Any, seed: Any, retain_graph: bool = False,
                 inputs: Sequence[Any] | None = None, allow_unused: bool = False) -> list[Any] | None:
    """Backpropagate ``seed`` (dL/d root) through the graph that made ``root_tensor``.

    Leaf tensors that require grad get their gradient *added* to ``.grad``
    (creating it on first use).  Non-leaf gradients live only during the pass,
    unless the tensor called ``retain_grad()``.  Hooks registered with
    ``Tensor.register_hook`` see (and may replace) a tensor's total gradient.

    With ``inputs`` (``tw.autograd.grad``), no ``.grad`` is touched: the
    gradients with respect to those tensors are returned as a list.
    """
    pending: dict[int, list[Any]] = {}  # leaves with hooks, or captured: id -> [tensor, summed grad]
    wanted: dict[int, int] | None = None
    results: list[Any] = []
    if inputs is not None:
        wanted = {id(t._ctx) if t._ctx is not None else id(t): i for i, t in enumerate(inputs)}
        results = [None] * len(inputs)
    owned: dict[int, bool] = {}  # leaf id -> whether its .grad array is exclusively ours
    handed: set[int] = set()  # ids of gradient arrays already given to a leaf in this pass
    root = root_tensor._ctx
    if root is None:  # backward on a leaf: its gradient is the seed itself
        pending[id(root_tensor)] = [root_tensor, seed]
        order: list[Context] = []
    else:
        order = topological_order(root)
    grads: dict[int, Any] = {} if root is None else {id(root): seed}  # pending non-leaf gradients
    for node in reversed(order):
        grad = grads.pop(id(node), None)
        if grad is None:
            continue
        if node.freed:
            raise RuntimeError(
                f"Trying to backward through the graph a second time ({node!r}): its saved "
                "buffers were freed after the first backward. Pass retain_graph=True to the "
                "first backward() if you need to backpropagate twice."
            )
        if node.retained is not None:  # the output tensor wants to see its gradient
            grad = _observe(node.retained, grad, store=wanted is None)
        if wanted is not None and id(node) in wanted:
            results[wanted[id(node)]] = grad
        in_grads = node.fn.backward(node, grad)
        inputs_ = node.inputs
        if type(in_grads) is not tuple:
            in_grads = tuple(in_grads) if isinstance(in_grads, list) else (in_grads,)
        if len(in_grads) != len(inputs_):
            raise RuntimeError(
                f"{node.fn.__name__}.backward returned {len(in_grads)} gradients, "
                f"expected {len(inputs_)} (one per positional forward input)"
            )
        for inp, g in zip(inputs_, in_grads):
            if g is None or inp is None or not inp._requires_grad:
                continue
            data = inp.array
            if type(g) is not type(data):
                g = _as_gradient(g, data, node)
            if g.shape != data.shape:
                g = unbroadcast(g, data.shape, node.fn.__name__)
            if g.dtype != data.dtype:
                g = g.astype(data.dtype)
            pnode = inp._ctx
            if pnode is not None:
                key = id(pnode)
                prev = grads.get(key)
                grads[key] = g if prev is None else _add(prev, g)
            elif wanted is None and inp._hooks is None:
                _accumulate_leaf(inp, g, owned, handed)
            elif inp._hooks is not None or id(inp) in wanted:  # type: ignore[operator]
                entry = pending.get(id(inp))
                if entry is None:
                    pending[id(inp)] = [inp, g]
                else:
                    entry[1] = _add(entry[1], g)
        if not retain_graph:
            node.freed = True
            node.inputs = ()
            node.saved_tensors = ()
            node.__dict__.clear()
    for leaf, g in pending.values():
        if leaf._hooks is not None:
            g = _run_hooks(leaf, g)
        if wanted is None:
            _accumulate_leaf(leaf, g, owned, handed)
        elif id(leaf) in wanted:
            results[wanted[id(leaf)]] = g
    if wanted is None:
        return None
    if not allow_unused:
        for i, (t, r) in enumerate(zip(inputs or (), results)):
            if r is None:
                raise RuntimeError(
                    f"grad: input {i} (shape {t.shape}) was not used to compute the output; "
                    "pass allow_unused=True to get None for it"
                )
    return [None if r is None else r.copy() for r in results]


def _add(a: Any, b: Any) -> Any:
    """a + b as a new array (NumPy gives a scalar for two 0-d arrays; gradients stay arrays)."""
    s = a + b
    return s if type(s) is type(a) else as_array(s)


def _as_gradient(g: Any, like: Any, node: Context) -> Any:
    """Turn what a backward returned (a NumPy scalar, a number, a Tensor) into an array like ``like``."""
    if isinstance(g, function.Tensor):
        g = g.array
    if not hasattr(g, "shape") or isinstance(g, np.generic):
        g = as_array(g, dtype=like.dtype)
    if type(g) is not type(like) and get_array_module(g) is not get_array_module(like):
        raise TypeError(f"{node.fn.__name__}.backward returned a {type(g).__name__}, expected an array")
    return g


def _run_hooks(t: Any, grad: Any) -> Any:
    """Call ``t``'s hooks in order; a hook returning an array replaces the gradient."""
    for hook in list(t._hooks.values()):
        new = hook(grad)
        if new is not None:
            if isinstance(new, function.Tensor):
                new = new.array
            if getattr(new, "shape", None) != grad.shape:
                raise RuntimeError(
                    f"hook {hook!r} returned a gradient of shape {getattr(new, 'shape', None)}, "
                    f"expected {grad.shape}"
                )
            grad = new
    return grad


def _observe(t: Any, grad: Any, store: bool) -> Any:
    """A non-leaf tensor's complete gradient: run its hooks, keep it if it called ``retain_grad``."""
    if t._hooks is not None:
        grad = _run_hooks(t, grad)
    if store and t._retains_grad:
        t.grad = grad.copy() if t.grad is None else _add(t.grad, grad)
    return grad


def _accumulate_leaf(leaf: Any, g: Any, owned: dict[int, bool], handed: set[int]) -> None:
    """Add ``g`` into ``leaf.grad``, never writing into an array someone else holds.

    The first gradient a leaf gets in a pass is stored without a copy when it
    can be: ops return fresh arrays, or pass their incoming gradient through
    (``Add`` hands the same array to both inputs).  So a gradient is copied when
    it is a view, read-only, or was already handed to another leaf in this pass;
    otherwise it may still be the pending gradient of a non-leaf, so it is
    marked not owned and a second contribution is added out of place.  Arrays
    kept in ``.grad`` from an earlier pass are ours, and accumulate in place.
    """
    key = id(leaf)
    if leaf.grad is None:
        if g.base is not None or id(g) in handed or not g.flags.writeable:
            g = g.copy()
            owned[key] = True
        else:
            owned[key] = False  # may still alias a pending non-leaf gradient
        handed.add(id(g))
        leaf.grad = g
    elif owned.get(key, True):
        leaf.grad += g  # accumulation across backward calls is in place, as in torch
    else:
        leaf.grad = _add(leaf.grad, g)
        owned[key] = True
