"""``PruningMasks``: the fixed connectivity of a pruned network.

Han, Pool, Tran and Dally, "Learning both Weights and Connections for
Efficient Neural Networks" (NIPS 2015, arXiv 1506.02626) train a network,
remove the connections whose weights are small, then *retrain the remaining
connections*.  A removed connection stays removed: its weight is 0 and no
gradient step may bring it back.  Here that is a boolean mask per weight
tensor (``True`` = connection kept), held by one ``PruningMasks`` object per
model (``tw.prune.masks_of(model)``).  Three mechanisms keep pruned weights
exactly zero during retraining, whatever the optimizer:

1. a gradient hook on each masked parameter multiplies its gradient by the
   mask as ``backward()`` produces it, so gradient clipping, logging and every
   optimizer see zero gradient on pruned weights;
2. :class:`~thalweg.prune.optimizer.MaskedOptimizer` (``masks.wrap(opt)``)
   masks the gradients again before each step (for gradients set by hand)
   and writes the mask into ``p.data`` after it: momentum buffers filled
   before pruning, gradient noise or any other link of an optimizer chain
   cannot move a pruned weight;
3. ``masks.apply()`` re-zeroes the pruned weights at any time.

Masks only shrink: pruning again (a higher threshold, the next round of an
iterative schedule) may remove more connections but never revives one; a mask
that would is an error, and ``tw.prune.remove(model)`` starts over.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterable, Iterator, Mapping

import numpy as np

from ..autograd.tensor import Tensor
from ..backend import get_array_module, to_numpy

__all__ = ["PruningMasks", "masks_of", "prunable_parameters", "remove", "resolve_layers"]

_ATTR = "_pruning_masks"  # where a model keeps its PruningMasks (a plain attribute, not a buffer)


class _MaskGrad:
    """The gradient hook: ``grad -> grad * mask`` (a new array; hooks must not write in place)."""

    def __init__(self, mask: Any) -> None:
        self.mask = mask

    def __call__(self, grad: Any) -> Any:
        return grad * self.mask


class _Entry:
    __slots__ = ("param", "mask", "handle", "hook")

    def __init__(self, param: Tensor, mask: Any) -> None:
        self.param, self.mask = param, mask
        self.hook = _MaskGrad(mask)
        self.handle = param.register_hook(self.hook) if param.requires_grad else None

    # A copied or unpickled model gets new Parameters (without hooks): register the hook again.
    def __getstate__(self) -> tuple[Tensor, Any]:
        return self.param, self.mask

    def __setstate__(self, state: tuple[Tensor, Any]) -> None:
        self.__init__(*state)  # type: ignore[misc]


class PruningMasks:
    """The masks of one model, keyed by parameter name (``"0.weight"``, ``"features.3.weight"``).

    Made by the pruning functions (``prune_by_std``, ``prune_layers``,
    ``prune_global``, ``prune_with_masks``); each call on the same model
    updates and returns the same object, so an optimizer wrapped once with
    :meth:`wrap` follows every later round of pruning.

    ``masks["0.weight"]`` is a read-only boolean array (``True`` = kept).
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self.dropout_original: dict[str, float] = {}  # rates before adjust_dropout, keyed by module name

    # ---------------------------------------------------------------- access
    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._entries:
            raise KeyError(f"no pruning mask for {name!r}; masked parameters: {', '.join(self._entries) or 'none'}")
        view = self._entries[name].mask.view()
        view.flags.writeable = False
        return view

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        return list(self._entries)

    def items(self) -> Iterator[tuple[str, np.ndarray]]:
        for name in self._entries:
            yield name, self[name]

    def parameter(self, name: str) -> Tensor:
        return self._entries[name].param

    def __repr__(self) -> str:
        rows = ", ".join(f"{n}: {100 * (1 - self.density(n)):.1f}% pruned" for n in self._entries)
        return f"PruningMasks({rows})"

    # ---------------------------------------------------------------- counts
    def kept(self, name: str | None = None) -> int:
        """Connections kept, in one parameter or in all masked parameters."""
        names = [name] if name is not None else list(self._entries)
        return int(sum(int(self._entries[n].mask.sum()) for n in names))

    def total(self, name: str | None = None) -> int:
        names = [name] if name is not None else list(self._entries)
        return int(sum(int(self._entries[n].mask.size) for n in names))

    def density(self, name: str | None = None) -> float:
        """Fraction of connections kept (1 - sparsity)."""
        t = self.total(name)
        return self.kept(name) / t if t else 1.0

    def sparsity(self, name: str | None = None) -> float:
        """Fraction of connections pruned."""
        return 1.0 - self.density(name)

    # -------------------------------------------------------------- changing
    def set(self, name: str, mask: Any, *, op: str = "prune") -> None:
        """Install ``mask`` for parameter ``name`` and zero the pruned weights.

        A mask that keeps a weight the current mask prunes is an error (masks
        only shrink).
        """
        params = dict(self.model.named_parameters())
        if name not in params:
            raise ValueError(f"{op}: the model has no parameter {name!r}; parameters: {', '.join(params)}")
        p = params[name]
        m = as_mask(mask, p, name, op)
        entry = self._entries.get(name)
        if entry is not None:
            revived = int((m & ~entry.mask).sum())
            if revived:
                raise ValueError(f"{op}: the new mask for {name!r} keeps {revived} connection(s) that are already "
                                 "pruned; masks only shrink while the network retrains (call "
                                 "tw.prune.remove(model) to start over)")
            entry.mask[...] = m  # in place: the hook and any wrapper see the new mask
        else:
            self._entries[name] = _Entry(p, m.copy())
        get_array_module(p.array).multiply(p.array, self._entries[name].mask, out=p.array)
        p._bump_version()

    def apply(self) -> None:
        """Zero every pruned weight in place (``p.data *= mask``)."""
        for e in self._entries.values():
            get_array_module(e.param.array).multiply(e.param.array, e.mask, out=e.param.array)
            e.param._bump_version()

    def mask_grads(self) -> None:
        """Zero the gradient of every pruned weight (``p.grad *= mask``, out of place)."""
        for e in self._entries.values():
            g = e.param.grad
            if g is not None:
                e.param.grad = g.array * e.mask

    def wrap(self, optimizer: Any) -> Any:
        """An optimizer that keeps these masks through every step: see ``MaskedOptimizer``."""
        from .optimizer import MaskedOptimizer

        return MaskedOptimizer(optimizer, self)

    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """The masks as ``{name: bool ndarray}`` (copies): save with ``np.savez``, restore with ``prune_with_masks``."""
        return OrderedDict((n, to_numpy(e.mask).copy()) for n, e in self._entries.items())

    def detach(self) -> None:
        """Remove the gradient hooks and forget the masks (the weights keep their zeros)."""
        for e in self._entries.values():
            if e.handle is not None:
                e.handle.remove()
        self._entries.clear()
        if getattr(self.model, _ATTR, None) is self:
            object.__delattr__(self.model, _ATTR)


# ------------------------------------------------------------------ functions
def as_mask(mask: Any, p: Tensor, name: str, op: str) -> Any:
    """``mask`` as a boolean array of ``p``'s shape (0/1 values accepted); errors name the op and the layer."""
    xp = get_array_module(p.array)
    m = xp.asarray(mask.array if isinstance(mask, Tensor) else mask)
    if m.shape != p.array.shape:
        raise ValueError(f"{op}: the mask for {name!r} has shape {m.shape} but the parameter has shape "
                         f"{p.array.shape}")
    if m.dtype != bool:
        if not bool(xp.isin(m, (0, 1)).all()):
            raise ValueError(f"{op}: the mask for {name!r} must be boolean (or 0/1), got values outside {{0, 1}}")
        m = m.astype(bool)
    return m


def masks_of(model: Any, *, create: bool = False) -> PruningMasks | None:
    """The model's ``PruningMasks`` (``None`` if it was never pruned, unless ``create``)."""
    masks = model.__dict__.get(_ATTR)
    if masks is None and create:
        masks = PruningMasks(model)
        object.__setattr__(model, _ATTR, masks)
    return masks


def remove(model: Any) -> None:
    """Make the pruning permanent and drop the masks: pruned weights stay 0 but may train again."""
    masks = masks_of(model)
    if masks is not None:
        masks.detach()


def prunable_parameters(model: Any) -> "OrderedDict[str, Tensor]":
    """The default targets: every parameter with ``ndim > 1`` (Linear and Conv weights, not biases or norms)."""
    return OrderedDict((n, p) for n, p in model.named_parameters() if p.array.ndim > 1)


def resolve_layers(model: Any, layers: Iterable[str] | Mapping[str, Any] | None, op: str) -> "OrderedDict[str, Tensor]":
    """Parameter names for ``layers``: parameter names (``"0.weight"``) or module names (``"0"`` -> its weight).

    ``None`` means every prunable parameter.  An unknown name is an error that lists the valid ones.
    """
    if layers is None:
        out = prunable_parameters(model)
        if not out:
            raise ValueError(f"{op}: the model has no parameter with more than one dimension to prune")
        return out
    if isinstance(layers, str):
        layers = [layers]
    params = dict(model.named_parameters())
    modules = dict(model.named_modules())
    out: OrderedDict[str, Tensor] = OrderedDict()
    for name in layers:
        if not isinstance(name, str):
            raise TypeError(f"{op}: layer names must be strings, got {type(name).__name__}")
        if name in params:
            out[name] = params[name]
        elif name in modules and isinstance(getattr(modules[name], "weight", None), Tensor) \
                and f"{name}.weight" in params:
            out[f"{name}.weight"] = params[f"{name}.weight"]
        else:
            valid = ", ".join(prunable_parameters(model)) or "none"
            raise ValueError(f"{op}: no layer or parameter named {name!r}; prunable parameters: {valid}")
    if not out:
        raise ValueError(f"{op}: no layers given")
    return out
