"""The backward pass: reverse topological order, accumulation, un-broadcasting.

Read :func:`backpropagate` first: it is the lecture's ``Backward(nodes, L)``
procedure, top to bottom:

1. sort the graph so that every node comes after the nodes it uses
   (*topological order*: the order in which the forward pass created the
   nodes is one; found with an explicit stack, so a chain of 100,000 nodes
   needs no recursion);
2. *seed*: the gradient of the loss with respect to itself is 1;
3. *visit* the nodes in reverse order, so a node's gradient is complete (all
   its consumers have contributed) before it is used;
4. each node's backward operation sends gradients to its inputs (the local
   chain rule);
5. a gradient arriving at an input of another shape is summed over the
   broadcast dimensions (*un-broadcast*, done here in one place, never by ops);
6. gradients *accumulate* (add), because an expression can be used several
   times; at a leaf they are added into ``.grad``.

Everything else a real engine needs is kept out of that loop, in the
:class:`BackwardPass` helpers around it: the checks made when a node is
reached (a freed graph, tensors changed in place since the forward),
gradient hooks and ``retain_grad``, the set of tensors ``autograd.grad``
wants, freeing the graph's buffers, the post-accumulate hooks of leaves, and
the rule that a gradient array is never written in place while someone else
holds it (aliasing).
"""

from __future__ import annotations

import operator
from typing import Any, Sequence

import numpy as np

from ..backend import as_array, get_array_module
from . import function
from .function import IN_PLACE as _IN_PLACE
from .function import Context


# ---------------------------------------------------------------- the algorithm
def backpropagate(root: Context, seed: Any, walk: "BackwardPass") -> None:
    """Send ``seed`` = dL/d(root's output) through the graph ending at ``root`` (the lecture's algorithm)."""
    order = topological_order(root, walk.counted_uses())  # 1. each node after the nodes it uses
    grads = {id(root): seed}  # 2. seed: dL/dL (1 for a scalar loss)
    owned: set[int] = set()  # ids of pending sums in ``grads`` that no one else holds: added to in place
    arrive, leaf, leave = walk.arrive, walk.leaf, walk.leave  # the bookkeeping (local names: a hot loop)
    for node in reversed(order):  # 3. visit: every consumer of a node comes before it
        grad = grads.pop(id(node), None)  # the node's gradient, complete now
        if grad is None:
            continue  # no path from the loss reaches this node
        owned.discard(id(grad))  # handed on from here: never written in place again
        grad = arrive(node, grad)  # checks, hooks, retain_grad, autograd.grad's wanted set
        if node.fn.backward_into is not None and _added_in_place(node, grad, grads, owned):
            leave(node)  # (an indexing op added its gradient into its input's pending sum)
            continue
        in_grads = node.fn.backward(node, grad)  # 4. local chain rule: dL/d(each input)
        if type(in_grads) is not tuple or len(in_grads) != len(node.inputs):
            in_grads = one_per_input(node, in_grads)  # a bare gradient or a list, as a tuple (or an error)
        for inp, g in zip(node.inputs, in_grads):
            if g is None or inp is None:
                continue  # a constant, or an input that needs no gradient
            like = inp.array
            if type(g) is not type(like) or g.shape != like.shape or g.dtype != like.dtype:
                g = fit(g, like, node)  # 5. un-broadcast to the input's shape (and cast to its dtype)
            pnode = inp._ctx
            if pnode is None:  # 6. accumulate: a leaf adds it into .grad ...
                leaf(inp, g)
            else:  # ... a non-leaf sums it until its own visit
                accumulate(grads, owned, id(pnode), g, node.fn.fresh_gradients and g is not grad)
        leave(node)  # free the node's saved buffers (unless retain_graph)


def accumulate(grads: dict[int, Any], owned: set[int], key: int, g: Any, fresh: bool) -> None:
    """``grads[key] += g``: in place when the pending sum is the engine's own array, else as a new array.

    ``owned`` holds the ids of the sums the engine made (and of ``fresh``
    arrays an op promised nobody else holds, ``Function.fresh_gradients``);
    any other array may be seen elsewhere (a hook, ``retain_grad``, another
    input's gradient) and is never written.
    """
    prev = grads.get(key)
    if prev is None:
        grads[key] = g
        if fresh:
            owned.add(id(g))
    elif id(prev) in owned:
        prev += g
    else:
        grads[key] = total = add(prev, g)
        owned.add(id(total))


def _added_in_place(node: Context, grad: Any, grads: dict[int, Any], owned: set[int]) -> bool:
    """Let a one-input op add its gradient straight into its input's pending sum, when the engine owns it.

    ``x[index]`` taken three times (``split``, ``chunk``, ``unbind``) then costs
    one zero array and three slice additions instead of three zero arrays and
    two full-size sums (``Function.backward_into``).
    """
    inp = node.inputs[0] if len(node.inputs) == 1 else None
    if inp is None or inp._ctx is None:
        return False  # a leaf, or no input that needs a gradient
    prev = grads.get(id(inp._ctx))
    if prev is None or id(prev) not in owned:
        return False
    return bool(node.fn.backward_into(node, grad, prev))


def topological_order(roots: Context | Sequence[Context], leaf_uses: dict[int, int] | None = None,
                      stop: set[int] | frozenset[int] = frozenset()) -> list[Context]:
    """The nodes reachable from ``roots``, each after all of its inputs.

    ``Function.apply`` numbers the nodes as it creates them (``node.seq``), and
    an op's node is created after the nodes of its inputs, so creation order is
    a topological order: find every node the roots reach (an explicit stack, so
    a chain of 100,000 nodes needs no recursion), then sort them by number.

    With ``leaf_uses``, also counts how many times the graph uses each leaf (a
    leaf used twice by one node counts twice): the engine knows a leaf's
    gradient is final when that many uses have been visited.  Nodes whose id is
    in ``stop`` are reached but not expanded (``autograd.grad`` with inputs
    inside the graph, for a recorded backward).
    """
    if isinstance(roots, Context):
        roots = (roots,)
    reached = {id(r): r for r in roots}
    stack = [r for r in reached.values() if id(r) not in stop]
    while stack:
        for parent in stack.pop().inputs:
            if parent is None:
                continue
            pnode = parent._ctx
            if pnode is None:
                if leaf_uses is not None:
                    leaf_uses[id(parent)] = leaf_uses.get(id(parent), 0) + 1
            elif id(pnode) not in reached:
                reached[id(pnode)] = pnode
                if id(pnode) not in stop:
                    stack.append(pnode)
    return sorted(reached.values(), key=_creation_number)


_creation_number = operator.attrgetter("seq")


def one_per_input(node: Context, in_grads: Any) -> tuple[Any, ...]:
    """What ``backward`` returned, as one gradient (or ``None``) per positional input, or an error."""
    if type(in_grads) is not tuple:
        in_grads = tuple(in_grads) if isinstance(in_grads, list) else (in_grads,)
    if len(in_grads) != len(node.inputs):
        raise RuntimeError(
            f"{node.fn.__name__}.backward returned {len(in_grads)} gradients, "
            f"expected {len(node.inputs)} (one per positional forward input)"
        )
    return in_grads


def fit(g: Any, like: Any, node: Context) -> Any:
    """``g`` as an array of ``like``'s shape and dtype: un-broadcast, then cast."""
    if type(g) is not type(like):
        g = _as_gradient(g, like, node)
    if g.shape != like.shape:
        g = unbroadcast(g, like.shape, node.fn.__name__)
    if g.dtype != like.dtype:
        g = g.astype(like.dtype)
    return g


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


def add(a: Any, b: Any) -> Any:
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


# ------------------------------------------------------ the entry point
def run_backward(root_tensor: Any, seed: Any, retain_graph: bool = False,
                 inputs: Sequence[Any] | None = None, allow_unused: bool = False,
                 create_graph: bool = False) -> list[Any] | None:
    """Backpropagate ``seed`` (dL/d root) through the graph that made ``root_tensor``.

    Leaf tensors that require grad get their gradient *added* to ``.grad``
    (creating it on first use).  Non-leaf gradients live only during the pass,
    unless the tensor called ``retain_grad()``.  Hooks registered with
    ``Tensor.register_hook`` see (and may replace) a tensor's total gradient;
    post-accumulate hooks run when a leaf's ``.grad`` is final for the pass.

    With ``inputs`` (``tw.autograd.grad``), no ``.grad`` is touched: the
    gradients with respect to those tensors are returned as a list of arrays.
    ``create_graph=True`` (a recorded, differentiable backward) is handed to
    ``higher_order.py``; this first-order engine records nothing.
    """
    if create_graph:  # the recorded, differentiable walk (autograd/higher_order.py)
        from . import higher_order

        return higher_order.run_backward(root_tensor, seed, retain_graph, inputs, allow_unused)
    walk = BackwardPass(retain_graph, inputs)
    root = root_tensor._ctx
    if root is None:  # backward on a leaf: its gradient is the seed itself
        walk.leaf(root_tensor, seed)
    else:
        backpropagate(root, seed, walk)
    return walk.finish(inputs, allow_unused)


# --------------------------------------------- the bookkeeping around it
class BackwardPass:
    """Everything one backward pass does besides backpropagation itself.

    - :meth:`arrive`: when a node is reached: it must not be freed, and the
      tensors it saved must not have changed in place since the forward
      (version check); the output's hooks and ``retain_grad``; ``autograd.grad``
      collects the gradient of a wanted non-leaf here.
    - :meth:`leaf`: a gradient reaching a leaf.  Most leaves add it into
      ``.grad`` at once.  A leaf with hooks, a post-accumulate hook, or wanted
      by ``autograd.grad`` sums its gradients first and is *finalized* when its
      last use has been visited (``leaf_uses`` counts the uses during the sort).
    - :meth:`leave`: frees the node's saved buffers unless ``retain_graph``.
    - :meth:`finish`: finalizes what is left, returns ``autograd.grad``'s list.
    """

    def __init__(self, retain_graph: bool, inputs: Sequence[Any] | None) -> None:
        self.retain_graph = retain_graph
        # leave(node): free what the node saved for backward (Context.free), unless the graph is retained
        self.leave = _keep if retain_graph else Context.free
        self.leaf_uses: dict[int, int] = {}  # leaf id -> uses of it not yet visited (a missing leaf: one use)
        self.pending: dict[int, list[Any]] = {}  # leaf id -> [tensor, summed gradient]
        self.owned: dict[int, bool] = {}  # leaf id -> whether its .grad array is exclusively ours
        self.handed: set[int] = set()  # ids of gradient arrays already given to a leaf in this pass
        self.wanted: dict[int, int] | None = None  # autograd.grad: node id (or leaf id) -> result index
        self.results: list[Any] = []
        if inputs is not None:
            self.wanted = {id(t._ctx) if t._ctx is not None else id(t): i for i, t in enumerate(inputs)}
            self.results = [None] * len(inputs)

    def counted_uses(self) -> dict[int, int] | None:
        """The dict the sort fills with each leaf's uses, or None when no leaf can need them: only hooks and
        ``autograd.grad`` wait for a leaf's last use, so without either (no hook was ever registered) the count
        is skipped."""
        return self.leaf_uses if self.wanted is not None or function.Tensor._hooks_registered else None

    def arrive(self, node: Context, grad: Any) -> Any:
        """The checks and observers run when the walk reaches ``node`` with its complete gradient."""
        if node.saved_versions is None:  # freed
            raise RuntimeError(
                f"Trying to backward through the graph a second time ({node!r}): its saved "
                "buffers were freed after the first backward. Pass retain_graph=True to the "
                "first backward() if you need to backpropagate twice."
            )
        if node.saved_versions[-1] != _IN_PLACE.count and node.__dict__:
            check_versions(node)  # something changed in place since the forward, and this node saved arrays
        if node.retained is not None:  # the output tensor wants to see its gradient
            grad = _observe(node.retained, grad, store=self.wanted is None)
        if self.wanted is not None and id(node) in self.wanted:
            self.results[self.wanted[id(node)]] = grad
        return grad

    def leaf(self, t: Any, g: Any) -> None:
        """A gradient ``g`` for the leaf ``t``: accumulate it now, or sum it until the leaf is final."""
        if not t._requires_grad:  # switched off after the forward
            return
        key = id(t)
        if self.wanted is None:
            if t._hooks is None and t._post_hooks is None:
                _accumulate_leaf(t, g, self.owned, self.handed)
                return
        elif key not in self.wanted and t._hooks is None:
            return  # autograd.grad does not want it, and no hook watches it
        entry = self.pending.get(key)
        if entry is None:
            entry = self.pending[key] = [t, g]
        else:
            entry[1] = add(entry[1], g)
        uses = self.leaf_uses.get(key, 1) - 1
        self.leaf_uses[key] = uses
        if uses <= 0:
            self._finalize(self.pending.pop(key))

    def _finalize(self, entry: list[Any]) -> None:
        """A leaf's gradient for this pass is complete: hooks, then ``.grad`` (or the result), then post hooks."""
        t, g = entry
        if t._hooks is not None:
            g = _run_hooks(t, g)
        if self.wanted is None:
            _accumulate_leaf(t, g, self.owned, self.handed)
            if t._post_hooks is not None:
                for hook in list(t._post_hooks.values()):
                    hook(t)
        elif id(t) in self.wanted:
            self.results[self.wanted[id(t)]] = g

    def finish(self, inputs: Sequence[Any] | None, allow_unused: bool) -> list[Any] | None:
        """Finalize the leaves whose last uses sent no gradient; return ``autograd.grad``'s results."""
        for entry in list(self.pending.values()):
            self._finalize(entry)
        self.pending.clear()
        if self.wanted is None:
            return None
        if not allow_unused:
            for i, (t, r) in enumerate(zip(inputs or (), self.results)):
                if r is None:
                    raise RuntimeError(
                        f"grad: input {i} (shape {t.shape}) was not used to compute the output; "
                        "pass allow_unused=True to get None for it"
                    )
        return [None if r is None else r.copy() for r in self.results]


def check_versions(node: Context) -> None:
    """Raise if a tensor ``node`` saved for backward was changed in place after the forward (torch's check)."""
    for which, now, then, array in function.changed_saved_tensors(node):
        raise RuntimeError(
            "one of the variables needed for gradient computation has been modified by an inplace "
            f"operation: [{array.dtype} tensor of shape {tuple(array.shape)}], {which} of {node!r}, is at "
            f"version {now}; expected version {then} instead. Hint: do the in-place change after "
            "backward(), or on a .clone() of the tensor"
        )


def _keep(node: Context) -> None:
    """``leave`` under ``retain_graph=True``: the node keeps what it saved, for another backward."""


def _run_hooks(t: Any, grad: Any) -> Any:
    """Call ``t``'s hooks in order with the gradient as a tensor (as torch does); a returned tensor or array
    replaces the gradient.

    A returned value is copied: the engine may store it as ``.grad`` and add
    into it later, and must never write into an array the hook's caller holds.
    """
    for hook in list(t._hooks.values()):
        new = hook(function.Tensor._wrap(grad, False))
        if new is not None:
            if isinstance(new, function.Tensor):
                new = new.array
            if getattr(new, "shape", None) != grad.shape:
                raise RuntimeError(
                    f"hook {hook!r} returned a gradient of shape {getattr(new, 'shape', None)}, "
                    f"expected {grad.shape}"
                )
            grad = new.astype(grad.dtype, copy=True)
    return grad


def _observe(t: Any, grad: Any, store: bool) -> Any:
    """A non-leaf tensor's complete gradient: run its hooks, keep it if it called ``retain_grad``."""
    if t._hooks is not None:
        grad = _run_hooks(t, grad)
    if store and t._retains_grad:
        if t._grad is None:
            t._grad = function.Tensor._wrap(grad.copy(), False)
        else:
            t._grad.array = add(t._grad.array, grad)
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
    ``.grad`` is a tensor over that array, the same object for the whole pass.
    """
    key = id(leaf)
    grad = leaf._grad
    if grad is None:
        if g.base is not None or id(g) in handed or not g.flags.writeable:
            g = g.copy()
            owned[key] = True
        else:
            owned[key] = False  # may still alias a pending non-leaf gradient
        handed.add(id(g))
        leaf._grad = function.Tensor._wrap(g, False)
    elif owned.get(key, True) and grad.array.flags.writeable:
        grad.array += g  # accumulation across backward calls is in place, as in torch
    else:
        grad.array = add(grad.array, g)
        owned[key] = True

