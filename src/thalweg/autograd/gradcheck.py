"""Gradient checking by central finite differences (in float64).

For each input element x_i the numerical derivative of the (summed, randomly
weighted) output is

    (f(x + eps e_i) - f(x - eps e_i)) / (2 eps),

whose error is O(eps^2).  It is compared with the gradient the engine computes
by backpropagation.  A random output weighting ``w`` (so the scalar checked is
``sum(w * f(x))``) makes every output element matter, which catches bugs that a
plain ``sum`` hides (for example a softmax gradient, whose row sums are zero).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .grad_mode import no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """The analytic and numerical gradients disagree."""


def _as_outputs(out: Any) -> list[Tensor]:
    if isinstance(out, Tensor):
        return [out]
    return [o for o in out if isinstance(o, Tensor)]


def gradcheck(fn: Callable[..., Any], inputs: Sequence[Any], eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, seed: int = 0, raise_exception: bool = True) -> bool:
    """Check the gradients of ``fn(*inputs)`` against central differences.

    ``inputs`` are tensors (those with ``requires_grad`` are checked) or other
    arguments passed through.  Tensors checked must be float64: float32 has
    too few digits for finite differences.  Returns True, or raises
    ``GradcheckError`` naming the input, the element and both values.
    """
    rng = np.random.default_rng(seed)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} has dtype {inputs[i].dtype}; use float64")
    for i in checked:  # perturbations below write into the data, which must be a plain contiguous array
        x = inputs[i]
        if not x.array.flags.c_contiguous or not x.array.flags.writeable:
            x.array = np.array(x.array, order="C", copy=True)
    outs = _as_outputs(fn(*inputs))
    weights = [rng.standard_normal(o.shape) for o in outs]

    @no_grad()
    def scalar() -> float:
        return float(builtin_sum(float((w * o.array).sum()) for w, o in zip(weights, _as_outputs(fn(*inputs)))))

    for i in checked:
        inputs[i].grad = None
    total = None
    for w, o in zip(weights, outs):
        if not o.requires_grad:
            continue
        term = (o * Tensor(w.astype(o.dtype))).sum()
        total = term if total is None else total + term
    if total is None:
        raise GradcheckError("gradcheck: no output depends on an input that requires grad")
    total.backward()
    for i in checked:
        x = inputs[i]
        analytic = np.zeros(x.shape) if x.grad is None else np.asarray(x.grad, dtype=np.float64)
        numeric = np.zeros(x.shape)
        flat = x.array.reshape(-1)
        for k in range(flat.size):
            orig = flat[k]
            flat[k] = orig + eps
            plus = scalar()
            flat[k] = orig - eps
            minus = scalar()
            flat[k] = orig
            numeric.reshape(-1)[k] = (plus - minus) / (2 * eps)
        bad = ~np.isclose(analytic, numeric, atol=atol, rtol=rtol)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            idx = np.unravel_index(k, x.shape) if x.shape else ()
            msg = (f"gradcheck: input {i} (shape {x.shape}) element {tuple(int(j) for j in idx)}: "
                   f"backprop {analytic.reshape(-1)[k]:.8g} vs numerical {numeric.reshape(-1)[k]:.8g} "
                   f"({int(bad.sum())} of {bad.size} elements differ)")
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


builtin_sum = sum
