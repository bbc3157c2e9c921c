"""Matrix multiplication, including batched and 1-D operands.

For C = A B:  dL/dA = dL/dC B^T  and  dL/dB = A^T dL/dC.  Batched operands
broadcast over their leading dimensions; the engine sums the broadcast batch
dimensions of the gradients away.  A 1-D left operand is treated as a row
vector and a 1-D right operand as a column vector, then the added dimension is
dropped, exactly as ``numpy.matmul`` does.
"""

from __future__ import annotations

from typing import Any

from ..autograd.function import Context, Function
from .gemm import matmul


def check_matmul_shapes(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> None:
    """Raise ``ValueError('shape mismatch in matmul: (32, 784) @ (100, 10)')`` when the inner sizes differ."""
    if len(a_shape) == 0 or len(b_shape) == 0:
        raise ValueError(f"matmul: both operands must have at least 1 dimension, got {a_shape} @ {b_shape}")
    k_a = a_shape[-1]
    k_b = b_shape[0] if len(b_shape) == 1 else b_shape[-2]
    if k_a != k_b:
        raise ValueError(f"shape mismatch in matmul: {a_shape} @ {b_shape}")


class MatMul(Function):
    """C = A @ B (see the module docstring for the gradient)."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        check_matmul_shapes(a.shape, b.shape)
        ctx.a, ctx.b = a, b
        try:
            return matmul(a, b)
        except ValueError:
            raise ValueError(f"shape mismatch in matmul: {a.shape} @ {b.shape} "
                             "(the batch dimensions cannot be broadcast together)") from None

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        a, b = ctx.a, ctx.b
        na, nb = ctx.needs_input_grad
        a1, b1 = a.ndim == 1, b.ndim == 1
        a2 = a[None, :] if a1 else a
        b2 = b[:, None] if b1 else b
        g = grad
        if a1:
            g = g[..., None, :] if not b1 else g[..., None]
        if b1:
            g = g[..., None] if not a1 else g[..., None]
        if a1 and b1:  # dot product: grad is a scalar
            g = grad.reshape(1, 1)
        ga = gb = None
        if na:
            ga = matmul(g, b2.swapaxes(-1, -2))
            if a1:
                ga = ga[..., 0, :]
        if nb:
            gb = matmul(a2.swapaxes(-1, -2), g)
            if b1:
                gb = gb[..., 0]
        return ga, gb
