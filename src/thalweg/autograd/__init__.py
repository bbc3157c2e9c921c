"""Reverse-mode automatic differentiation: tensors, functions, the engine."""

from typing import Any

from .function import Context, Function
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck
from .tensor import Tensor


def grad(outputs: Tensor, inputs: Any, grad_outputs: Any = None, retain_graph: bool = False,
         allow_unused: bool = False) -> list[Any]:
    """Gradients of ``outputs`` with respect to ``inputs``, as a list of arrays.

    Unlike ``outputs.backward()``, this leaves every ``.grad`` untouched (as
    ``torch.autograd.grad`` does).  ``inputs`` may be leaves or intermediate
    tensors.  An input the output does not depend on is an error, or ``None``
    with ``allow_unused=True``.  The returned arrays are not part of a graph
    (no ``create_graph``: backward rules work on plain arrays).
    """
    ins = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} is not a tensor that requires grad")
    return outputs._backward_seed(grad_outputs, retain_graph=retain_graph, inputs=ins,
                                  allow_unused=allow_unused)


__all__ = ["Context", "Function", "GradcheckError", "Tensor", "enable_grad", "gradcheck", "grad",
           "is_grad_enabled", "no_grad", "set_grad_enabled"]
