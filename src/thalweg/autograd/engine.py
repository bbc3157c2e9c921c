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

from typing import Any

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
    return grad


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


def run_backward(root_tensor: Any, seed: Any, retain_graph: bool = False) -> None:
    """Backpropagate ``seed`` (dL/d root) through the graph that made ``root_tensor``.

    Leaf tensors that require grad get their gradient *added* to ``.grad``
    (creating it on first use).  Non-leaf gradients live only during the pass,
    unless the tensor called ``retain_grad()``.
    """
    root = root_tensor._ctx
    if root is None:  # backward on a leaf: its gradient is the seed itself
        _accumulate_leaf(root_tensor, seed.copy(), owned={}, handed=set())
        return
    order = topological_order(root)
    grads: dict[int, Any] = {id(root): seed}
    owned: dict[int, bool] = {}  # leaf id -> whether its .grad array is exclusively ours
    handed: set[int] = set()  # ids of gradient arrays already given to a leaf in this pass
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
        if node.retained is not None:
            node.retained.grad = grad.copy()
        in_grads = node.fn.backward(node, grad)
        inputs = node.inputs
        if type(in_grads) is not tuple:
            in_grads = (in_grads,)
        if len(in_grads) != len(inputs):
            raise RuntimeError(
                f"{node.fn.__name__}.backward returned {len(in_grads)} gradients, "
                f"expected {len(inputs)} (one per forward input)"
            )
        for inp, g in zip(inputs, in_grads):
            if g is None or inp is None or not inp.requires_grad:
                continue
            if g.shape != inp.data.shape:
                g = unbroadcast(g, inp.data.shape, node.fn.__name__)
            if g.dtype != inp.data.dtype:
                g = g.astype(inp.data.dtype)
            pnode = inp._ctx
            if pnode is None:
                _accumulate_leaf(inp, g, owned, handed)
            else:
                key = id(pnode)
                prev = grads.get(key)
                grads[key] = g if prev is None else prev + g
        if not retain_graph:
            node.freed = True
            node.inputs = ()
            node.saved_tensors = ()
            node.__dict__.clear()


def _accumulate_leaf(leaf: Any, g: Any, owned: dict[int, bool], handed: set[int]) -> None:
    """Add ``g`` into ``leaf.grad``, never writing into an array someone else holds."""
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
        leaf.grad = leaf.grad + g
        owned[key] = True
