"""Reverse-mode automatic differentiation: tensors, functions, the engine."""

from typing import Any

from . import functional  # noqa: F401  (tw.autograd.functional.hvp, hessian)
from .function import Context, Function
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad,
                        set_grad_enabled)
from .gradcheck import GradcheckError, gradcheck
from .gradgradcheck import gradgradcheck
from .tensor import Tensor


def grad(outputs: Tensor, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple[Any, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, as a tuple of tensors (as in torch).

    Unlike ``outputs.backward()``, this leaves every ``.grad`` untouched (as
    ``torch.autograd.grad`` does).  ``inputs`` may be leaves or intermediate
    tensors.  An input the output does not depend on is an error, or ``None``
    with ``allow_unused=True``.  The returned tensors are not part of a graph.
    With ``create_graph=True`` the backward pass is itself recorded and the
    gradients are tensors that can be differentiated again (gradient
    penalties, Hessian-vector products, MAML); see ``higher_order.py``.
    """
    if create_graph:  # gradients as tensors with a graph (autograd/higher_order.py)
        from . import higher_order

        return higher_order.grad(outputs, inputs, grad_outputs, retain_graph=retain_graph,
                                 allow_unused=allow_unused)
    ins = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} is not a tensor that requires grad")
    retain = create_graph if retain_graph is None else bool(retain_graph)
    arrays = outputs._backward_seed(grad_outputs, retain_graph=retain, inputs=ins,
                                    allow_unused=allow_unused, create_graph=create_graph)
    return tuple(None if g is None else Tensor._wrap(g, False) for g in arrays)  # tensors, as torch returns


__all__ = ["Context", "Function", "GradcheckError", "Tensor", "enable_grad", "gradcheck", "grad", "gradgradcheck",
           "inference_mode", "is_grad_enabled", "is_inference_mode_enabled", "no_grad", "set_grad_enabled"]
