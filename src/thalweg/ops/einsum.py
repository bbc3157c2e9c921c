"""``einsum``: any equation NumPy accepts, with the gradient of each operand by another einsum.

For z = einsum("A,B,...->O", a, b, ...), the gradient of operand a is
einsum("O,B,...->A", g, b, ...): every index of a that appears elsewhere is
summed over the same products.  Two twists, both handled here: an index that
appears only in a (summed away inside a) gets the gradient broadcast along it,
and an index repeated in a (a diagonal, "ii->i") gets the gradient written back
onto that diagonal of a zero array.
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np

from ..autograd.function import Context, Function
from ..autograd.tensor import Tensor, _as_array


def _parse(equation: str, shapes: list[tuple[int, ...]]) -> tuple[list[str], str]:
    """Explicit subscripts, one string per operand and the output, with '...' spelled out in letters."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    subs = lhs.split(",")
    if len(subs) != len(shapes):
        raise ValueError(f"einsum: the equation {equation!r} names {len(subs)} operands, got {len(shapes)}")
    used = set(c for c in eq if c.isalpha())
    spare = [c for c in string.ascii_letters if c not in used]
    ell_len = 0
    for s, shape in zip(subs, shapes):
        if "..." in s:
            ell_len = max(ell_len, len(shape) - (len(s) - 3))
    ell = "".join(spare[:ell_len])
    out_subs = []
    for s, shape in zip(subs, shapes):
        if "..." in s:
            n = len(shape) - (len(s) - 3)
            s = s.replace("...", ell[ell_len - n:] if n else "")
        if len(s) != len(shape):
            raise ValueError(f"einsum: subscripts {s!r} do not match an operand of shape {shape}")
        out_subs.append(s)
    if arrow:
        out = rhs.replace("...", ell)
    else:
        counts: dict[str, int] = {}
        for s in out_subs:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in ell))
    return out_subs, out


class Einsum(Function):
    """z = einsum(equation, *operands); see the module docstring for the gradient."""

    @staticmethod
    def forward(ctx: Context, *arrays: Any, equation: str = "") -> Any:
        subs, out = _parse(equation, [a.shape for a in arrays])
        ctx.subs, ctx.out_sub, ctx.arrays = subs, out, arrays
        try:
            return np.asarray(np.einsum(",".join(subs) + "->" + out, *arrays, optimize=len(arrays) > 2))
        except ValueError as e:
            raise ValueError(f"einsum {equation!r} with shapes {[a.shape for a in arrays]}: {e}") from None

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, ...]:
        subs, arrays = ctx.subs, ctx.arrays
        grads = []
        for i, target in enumerate(subs):
            if not ctx.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [s for k, s in enumerate(subs) if k != i]
            other_arrays = [a for k, a in enumerate(arrays) if k != i]
            uniq = "".join(dict.fromkeys(target))
            avail = set(ctx.out_sub).union(*others) if others else set(ctx.out_sub)
            present = "".join(c for c in uniq if c in avail)
            expr = ",".join([ctx.out_sub] + others) + "->" + present
            g = np.einsum(expr, grad, *other_arrays, optimize=len(other_arrays) > 1)
            sizes = {c: n for c, n in zip(target, arrays[i].shape)}
            for j, c in enumerate(present):  # a size-1 dimension broadcast against the others: sum it back
                if g.shape[j] != sizes[c]:
                    g = g.sum(axis=j, keepdims=True)
            g = np.broadcast_to(g.reshape([sizes[c] if c in present else 1 for c in uniq]),
                                [sizes[c] for c in uniq])
            if len(uniq) != len(target):  # repeated index: write onto the diagonal
                full = np.zeros(arrays[i].shape, dtype=grad.dtype)
                grid = {c: np.arange(sizes[c]).reshape([-1 if k == j else 1 for k in range(len(uniq))])
                        for j, c in enumerate(uniq)}
                full[tuple(grid[c] for c in target)] = g
                g = full
            grads.append(np.ascontiguousarray(g, dtype=grad.dtype))
        return tuple(grads)


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation, e.g. ``einsum("bij,bjk->bik", a, b)``; operands may also come as one list."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    tensors = [x if isinstance(x, Tensor) else Tensor(_as_array(x)) for x in operands]
    floats = [t.dtype for t in tensors if t.dtype.kind == "f"]
    if floats:  # mixed integer and floating operands: compute in the floating dtype, as torch
        common = np.result_type(*floats)
        tensors = [t if t.dtype == common else t.astype(common) for t in tensors]
    return Einsum.apply(*tensors, equation=equation)
