"""Reverse-mode automatic differentiation: tensors, functions, the engine."""

from .function import Context, Function
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck
from .tensor import Tensor


def grad(outputs, inputs, grad_outputs=None, retain_graph=False):  # type: ignore[no-untyped-def]
    """Gradients of ``outputs`` with respect to ``inputs`` (a list of arrays), leaving ``.grad`` untouched."""
    ins = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    saved = [t.grad for t in ins]
    for t in ins:
        t.grad = None
    try:
        outputs.backward(grad_outputs, retain_graph=retain_graph)
        return [t.grad for t in ins]
    finally:
        for t, g in zip(ins, saved):
            t.grad = g


__all__ = ["Context", "Function", "GradcheckError", "Tensor", "enable_grad", "gradcheck", "grad",
           "is_grad_enabled", "no_grad", "set_grad_enabled"]
