"""Higher-level derivatives of a function, as ``torch.autograd.functional``: vjp, hvp, vhp, hessian.

All are built on ``tw.autograd.grad(..., create_graph=True)``.  For a scalar
function f of inputs x, the Hessian-vector product is the gradient of the
directional derivative,

    H v = d/dx <grad f(x), v>,

one recorded backward pass plus one ordinary one, without forming H.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from . import higher_order
from .grad_mode import enable_grad
from .tensor import Tensor


def _inputs(inputs: Any, create_graph: bool) -> tuple[bool, list[Tensor]]:
    """(was a tuple, the inputs as tensors to differentiate at).

    As torch: with ``create_graph`` an input that requires grad stays connected
    to its own graph (through an alias node), so the results can be
    differentiated with respect to it; otherwise each input becomes a fresh
    leaf.
    """
    from .double_backward.common import Alias

    is_tuple = isinstance(inputs, (tuple, list))
    xs = list(inputs) if is_tuple else [inputs]
    out = []
    for i, x in enumerate(xs):
        if not isinstance(x, Tensor):
            raise TypeError(f"functional: input {i} must be a Tensor, got {type(x).__name__}")
        if create_graph and x.requires_grad:
            with enable_grad():
                out.append(Alias.apply(x))
        else:
            out.append(Tensor(x.array.copy(), requires_grad=True))
    return is_tuple, out


def _vectors(v: Any, like: list[Tensor], what: str) -> list[Any]:
    vs = list(v) if isinstance(v, (tuple, list)) else [v]
    if len(vs) != len(like):
        raise RuntimeError(f"{what}: v has {len(vs)} tensors, the inputs {len(like)}")
    for i, (a, b) in enumerate(zip(vs, like)):
        if tuple(a.shape) != tuple(b.shape):
            raise RuntimeError(f"{what}: v[{i}] has shape {tuple(a.shape)}, the input {tuple(b.shape)}")
    return vs


def _scalar_output(func: Callable[..., Any], xs: list[Tensor], what: str) -> Tensor:
    with enable_grad():
        out = func(*xs)
    if not isinstance(out, Tensor) or out.array.size != 1:
        raise RuntimeError(f"{what}: the function must return a single-element tensor")
    return out


def _first_grads(out: Tensor, xs: list[Tensor]) -> list[Any]:
    """Recorded gradients of ``out`` (``None`` for all when it does not depend on the inputs)."""
    if not out.requires_grad:
        return [None] * len(xs)
    return higher_order.grad(out, xs, allow_unused=True)


def _pack(values: list[Any], is_tuple: bool) -> Any:
    return tuple(values) if is_tuple else values[0]


def _zeros_if_none(gs: list[Any], like: list[Tensor]) -> list[Tensor]:
    return [Tensor(np.zeros(x.shape, dtype=x.dtype)) if g is None else g for g, x in zip(gs, like)]


def _detached(gs: list[Tensor], create_graph: bool) -> list[Tensor]:
    return gs if create_graph else [g.detach() for g in gs]


def vjp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False) -> tuple[Any, Any]:
    """(func(inputs), v^T J): the vector-Jacobian product at ``inputs``."""
    is_tuple, xs = _inputs(inputs, create_graph)
    with enable_grad():
        out = func(*xs)
    gs = higher_order.grad(out, xs, v, allow_unused=True)
    gs = _detached(_zeros_if_none(gs, xs), create_graph)
    return (out if create_graph else out.detach()), _pack(gs, is_tuple)


def hvp(func: Callable[..., Any], inputs: Any, v: Any, create_graph: bool = False) -> tuple[Any, Any]:
    """(func(inputs), H v) for a scalar function, H its Hessian at ``inputs`` (torch's order: H v)."""
    is_tuple, xs = _inputs(inputs, create_graph)
    vs = _vectors(v, xs, "hvp")
    out = _scalar_output(func, xs, "hvp")
    grads = _first_grads(out, xs)
    dot = None
    for g, vec in zip(grads, vs):
        if g is None:
            continue
        term = (g * vec).sum()
        dot = term if dot is None else dot + term
    if dot is None or not dot.requires_grad:
        hv = [None] * len(xs)
    else:
        hv = higher_order.grad(dot, xs, allow_unused=True)
    hv = _detached(_zeros_if_none(hv, xs), create_graph)
    return (out if create_graph else out.detach()), _pack(hv, is_tuple)


def vhp(func: Callable[..., Any], inputs: Any, v: Any, create_graph: bool = False) -> tuple[Any, Any]:
    """(func(inputs), v^T H); equal to ``hvp`` since the Hessian of a smooth function is symmetric."""
    return hvp(func, inputs, v, create_graph=create_graph)


def hessian(func: Callable[..., Any], inputs: Any, create_graph: bool = False) -> Any:
    """The Hessian of a scalar function: for one input of shape S, a tensor of shape S + S;
    for several inputs, a tuple of tuples, ``H[i][j]`` of shape S_i + S_j (torch's layout)."""
    is_tuple, xs = _inputs(inputs, create_graph)
    out = _scalar_output(func, xs, "hessian")
    grads = _zeros_if_none(_first_grads(out, xs), xs)
    blocks: list[list[Any]] = []
    for i, g in enumerate(grads):
        flat = g.reshape(-1)
        rows: list[list[Any]] = [[] for _ in xs]
        for k in range(flat.shape[0]):
            if flat.requires_grad:
                second = higher_order.grad(flat[k], xs, allow_unused=True)
            else:
                second = [None] * len(xs)
            for j, s in enumerate(_zeros_if_none(second, xs)):
                rows[j].append(s if create_graph else s.detach())
        row = []
        for j, x in enumerate(xs):
            stacked = Tensor(np.stack([r.array for r in rows[j]])) if not create_graph else \
                _stack(rows[j])
            row.append(stacked.reshape(tuple(xs[i].shape) + tuple(x.shape)))
        blocks.append(row)
    if not is_tuple:
        return blocks[0][0]
    return tuple(tuple(r) for r in blocks)


def _stack(ts: list[Tensor]) -> Tensor:
    from ..ops.api import stack

    return stack(ts, dim=0)
