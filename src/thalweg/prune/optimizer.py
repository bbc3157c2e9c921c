"""``MaskedOptimizer``: any optimizer, with pruned weights held at exactly zero.

Retraining a pruned network (Han et al. 2015) updates only the kept
connections.  Zeroing a pruned weight's gradient is not enough on its own:

* SGD with momentum keeps moving a weight with the velocity it had *before*
  it was pruned (``v <- mu v + g`` stays non-zero with ``g = 0``);
* Adam's first moment decays but is not zero for many steps after pruning;
* a chain with gradient noise, or any link that looks at ``p`` itself, can
  write to every entry.

So the wrapper does both, around the wrapped optimizer's own ``step``::

    g <- g * mask          (before the step; backward's hook already did it)
    optimizer.step()
    p <- p * mask          (after the step: the guarantee)

The wrapper is the optimizer to the rest of the code: ``param_groups``,
``state_dict``, ``load_state_dict``, ``zero_grad`` and every other attribute
are the wrapped optimizer's, so learning-rate schedules and ``fit`` use it
unchanged.  A ``closure`` (L-BFGS) is wrapped so that the gradients it
computes are masked before the optimizer reads them.
"""

from __future__ import annotations

from typing import Any, Callable

from .masks import PruningMasks

__all__ = ["MaskedOptimizer"]


class MaskedOptimizer:
    """``MaskedOptimizer(optimizer, masks)``; usually ``masks.wrap(optimizer)``.

    The masks object is read at every step, so later pruning rounds on the
    same model take effect without wrapping again.
    """

    def __init__(self, optimizer: Any, masks: PruningMasks) -> None:
        if isinstance(optimizer, MaskedOptimizer):
            raise TypeError("MaskedOptimizer: the optimizer is already wrapped")
        if not hasattr(optimizer, "step") or not hasattr(optimizer, "param_groups"):
            raise TypeError(f"MaskedOptimizer: expected an optimizer with step() and param_groups, "
                            f"got {type(optimizer).__name__}")
        if not isinstance(masks, PruningMasks):
            raise TypeError(f"MaskedOptimizer: masks must be a PruningMasks, got {type(masks).__name__}")
        self.__dict__["optimizer"] = optimizer
        self.__dict__["masks"] = masks

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        masks = self.masks
        masks.mask_grads()
        if closure is not None:
            inner = closure

            def closure() -> Any:  # noqa: F811 - the masked version of the user's closure
                loss = inner()
                masks.mask_grads()
                return loss

        loss = self.optimizer.step(closure) if closure is not None else self.optimizer.step()
        masks.apply()
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["optimizer"], name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.optimizer, name, value)

    def __repr__(self) -> str:
        return f"MaskedOptimizer({self.optimizer!r}, {self.masks!r})"
