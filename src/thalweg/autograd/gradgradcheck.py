"""Second-order gradient checking (torch's ``gradgradcheck``), in float64.

For ``y = f(x)`` and a random output gradient ``v`` (a float64 tensor that
requires grad), the first-order gradient

    G(x, v) = (df/dx)^T v

is computed with ``create_graph=True``, so it is itself a differentiable
function of x and v.  ``gradcheck`` then compares its backpropagated
derivatives (the recorded backward of the backward: Hessian-vector products
of f, and df/dx itself for the dependence on v) with central differences of G.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .grad_mode import enable_grad
from .gradcheck import GradcheckError, _as_outputs, gradcheck
from .higher_order import grad as _grad_with_graph
from .tensor import Tensor


def gradgradcheck(fn: Callable[..., Any], inputs: Sequence[Any], grad_outputs: Sequence[Any] | None = None,
                  eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0,
                  raise_exception: bool = True) -> bool:
    """Check the second derivatives of ``fn(*inputs)`` against finite differences of its gradient.

    ``inputs`` are as for :func:`gradcheck` (tensors that require grad are
    checked, float64).  ``grad_outputs`` (one per output) default to random
    float64 tensors; they are differentiated too.  Returns True, or raises
    ``GradcheckError`` naming the input and the element that disagree.
    """
    inputs = list(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradgradcheck: no input requires grad")
    outs = _as_outputs(fn(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = [Tensor(rng.standard_normal(o.shape), requires_grad=True) for o in outs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outs):
        raise ValueError(f"gradgradcheck: {len(outs)} outputs but {len(grad_outputs)} grad_outputs")
    n_in = len(inputs)

    def first_order(*args: Any) -> list[Tensor]:
        xs, vs = list(args[:n_in]), list(args[n_in:])
        with enable_grad():  # gradcheck evaluates its finite differences under no_grad
            ys = _as_outputs(fn(*xs))
        pairs = [(y, v) for y, v in zip(ys, vs) if y.requires_grad]
        if not pairs:
            return []
        wrt = [xs[i] for i in checked]
        grads = _grad_with_graph([y for y, _ in pairs], wrt, [v for _, v in pairs], allow_unused=True)
        return [g for g in grads if g is not None]

    if not _same_as_first_order(fn, inputs, checked, grad_outputs, atol, rtol, raise_exception):
        return False
    return gradcheck(first_order, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol, seed=seed + 1,
                     raise_exception=raise_exception)


def _same_as_first_order(fn: Callable[..., Any], inputs: list[Any], checked: list[int], grad_outputs: list[Any],
                         atol: float, rtol: float, raise_exception: bool) -> bool:
    """The recorded gradient's values must equal the first-order engine's (the rule computes both)."""
    ys = _as_outputs(fn(*inputs))
    pairs = [(y, v) for y, v in zip(ys, grad_outputs) if y.requires_grad]
    if not pairs:
        return True
    wrt = [inputs[i] for i in checked]
    recorded = _grad_with_graph([y for y, _ in pairs], wrt, [v for _, v in pairs], allow_unused=True)
    total = None
    for y, v in pairs:
        term = (y * v.detach()).sum()
        total = term if total is None else total + term
    plain = _first_order_grad(total, wrt)
    for i, a, b in zip(checked, recorded, plain):
        a_arr = np.zeros(inputs[i].shape) if a is None else np.asarray(a.array, dtype=np.float64)
        b_arr = np.zeros(inputs[i].shape) if b is None else np.asarray(b, dtype=np.float64)
        if not np.allclose(a_arr, b_arr, atol=atol, rtol=rtol):
            if raise_exception:
                raise GradcheckError(f"gradgradcheck: input {i}: the gradient recorded with create_graph=True "
                                     f"differs from the first-order engine's (max difference "
                                     f"{float(np.max(np.abs(a_arr - b_arr))):.3g})")
            return False
    return True


def _first_order_grad(total: Tensor, wrt: list[Tensor]) -> list[Any]:
    from . import grad

    out = grad(total, wrt, allow_unused=True)
    return [None if g is None else (g.array if isinstance(g, Tensor) else g) for g in out]
