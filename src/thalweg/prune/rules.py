"""Which connections to remove: the paper's threshold rule, a fixed sparsity per layer, a global one.

All rules are *magnitude* pruning: a small weight contributes little to the
layer's output, so its connection is the cheapest to remove.

* ``prune_by_std(model, quality)`` -- the rule of Han et al. (2015), section 4
  of the published paper: each layer's threshold is a quality parameter times
  the standard deviation of the layer's weights,

      t_l = q_l * std(W_l),        keep w  iff  |w| >= t_l,

  so one number ``q`` prunes every layer in proportion to its own weight scale
  (the seed text we hold starts after that section, so the rule is taken
  from the paper as published).  ``std`` is NumPy's (``ddof=0``) over the whole
  weight tensor, pruned zeros included (``std_of="all"``), or over the
  connections still kept (``std_of="kept"``).
* ``prune_layers(model, sparsity)`` -- remove exactly ``round(s * n)`` of each
  layer's ``n`` weights, the smallest in magnitude (the paper's Tables 2-5
  give such per-layer figures).
* ``prune_global(model, sparsity)`` -- one threshold for all layers: the
  smallest ``round(s * N)`` of all ``N`` weights go, wherever they are.
* ``prune_with_masks(model, {name: mask})`` -- masks computed elsewhere.

Each returns the model's :class:`~thalweg.prune.masks.PruningMasks` (the same
object every time).  Pruned weights count as the smallest: a second call never
revives a connection, and asking for less sparsity than a layer already has is
an error.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any, Mapping

import numpy as np

from ..autograd.tensor import Tensor
from ..backend import get_array_module
from .masks import PruningMasks, as_mask, masks_of, resolve_layers

__all__ = ["prune_by_std", "prune_layers", "prune_global", "prune_with_masks", "magnitude_mask", "check_sparsity"]


def check_sparsity(s: Any, op: str, name: str | None = None) -> float:
    """A sparsity must be a number in [0, 1): pruning every weight of a layer cuts the network."""
    where = f" for {name!r}" if name else ""
    if isinstance(s, bool) or not isinstance(s, (int, float, np.integer, np.floating)) or not 0 <= float(s) < 1:
        raise ValueError(f"{op}: sparsity must be a number in [0, 1), got {s!r}{where}")
    return float(s)


def _per_layer(model: Any, value: Any, layers: Any, op: str) -> "OrderedDict[str, tuple[Tensor, Any]]":
    """``{param name: (param, value)}`` from one value for all layers or a mapping by layer name."""
    if isinstance(value, Mapping):
        if layers is not None:
            raise ValueError(f"{op}: give the layers either as the keys of a mapping or as layers=, not both")
        out: OrderedDict[str, tuple[Tensor, Any]] = OrderedDict()
        for key, v in value.items():
            ((name, p),) = resolve_layers(model, [key], op).items()
            out[name] = (p, v)
        if not out:
            raise ValueError(f"{op}: the mapping of layers is empty")
        return out
    return OrderedDict((n, (p, value)) for n, p in resolve_layers(model, layers, op).items())


def _current(masks: PruningMasks | None, name: str, p: Tensor) -> Any:
    if masks is not None and name in masks:
        return masks[name]
    return get_array_module(p.array).ones(p.array.shape, dtype=bool)


def magnitude_mask(weight: Any, n_prune: int, current: Any = None) -> Any:
    """Keep all but the ``n_prune`` smallest-magnitude entries (already-pruned entries go first).

    Exact count: ties at the threshold are broken by position, never by
    keeping more or fewer weights than asked.
    """
    xp = get_array_module(weight)
    mag = xp.abs(weight).ravel().astype(np.float64)
    if current is not None:
        mag[~current.ravel()] = -1.0  # pruned connections rank below every kept one
    mask = xp.ones(mag.shape, dtype=bool)
    if n_prune > 0:
        idx = xp.argpartition(mag, n_prune - 1)[:n_prune] if n_prune < mag.size else xp.arange(mag.size)
        mask[idx] = False
    return mask.reshape(weight.shape)


def prune_by_std(model: Any, quality: float | Mapping[str, float] = 1.0, *, layers: Any = None,
                 std_of: str = "all") -> PruningMasks:
    """The paper's rule: prune ``|w| < q * std(W)`` in each layer.

    Args:
        quality: ``q >= 0``, one for all layers or ``{layer: q}``.  For Gaussian
            weights ``q = 1`` prunes about 68% of a layer, ``q = 2`` about 95%.
        layers: parameter or module names (default: every weight with ``ndim > 1``).
        std_of: ``"all"`` (the whole tensor, pruned zeros included) or ``"kept"``
            (only the connections still kept).
    """
    op = "prune_by_std"
    if std_of not in ("all", "kept"):
        raise ValueError(f"{op}: std_of must be 'all' or 'kept', got {std_of!r}")
    targets = _per_layer(model, quality, layers, op)
    existing = masks_of(model)
    new = {}
    for name, (p, q) in targets.items():
        if isinstance(q, bool) or not isinstance(q, (int, float, np.integer, np.floating)) \
                or not math.isfinite(q) or q < 0:
            raise ValueError(f"{op}: the quality parameter must be a finite number >= 0, got {q!r} for {name!r}")
        cur = _current(existing, name, p)
        xp = get_array_module(p.array)
        w = p.array
        sd = float(xp.std(w[cur])) if std_of == "kept" and bool(cur.any()) else float(xp.std(w))
        new[name] = cur & (xp.abs(w) >= float(q) * sd)
    return prune_with_masks(model, new, op=op)


def prune_layers(model: Any, sparsity: float | Mapping[str, float], *, layers: Any = None) -> PruningMasks:
    """Prune each layer to a fixed sparsity: the ``round(s * n)`` smallest-magnitude weights of its ``n``.

    ``sparsity`` is one fraction for every layer or ``{layer: fraction}``, each in [0, 1).
    A fraction below what the layer already has pruned is an error (masks only shrink).
    """
    op = "prune_layers"
    targets = _per_layer(model, sparsity, layers, op)
    existing = masks_of(model)
    new = {}
    for name, (p, s) in targets.items():
        s = check_sparsity(s, op, name)
        cur = _current(existing, name, p)
        n_prune = int(round(s * p.array.size))
        already = int(cur.size - cur.sum())
        if n_prune < already:
            raise ValueError(f"{op}: asked for sparsity {s:g} of {name!r} ({n_prune} weights) but {already} of its "
                             f"{cur.size} weights are already pruned; masks only shrink")
        new[name] = magnitude_mask(p.array, n_prune, cur)
    return prune_with_masks(model, new, op=op)


def prune_global(model: Any, sparsity: float, *, layers: Any = None) -> PruningMasks:
    """One magnitude threshold over all the chosen layers together: ``round(s * N)`` weights go.

    Layers with larger weights keep more of their connections; a layer whose
    weights are all small can lose nearly all of them (which is why the paper
    sets its thresholds per layer).
    """
    op = "prune_global"
    s = check_sparsity(sparsity, op)
    targets = resolve_layers(model, layers, op)
    existing = masks_of(model)
    currents = {n: _current(existing, n, p) for n, p in targets.items()}
    xp = get_array_module(next(iter(targets.values())).array)
    flat_w = xp.concatenate([p.array.ravel() for p in targets.values()])
    flat_m = xp.concatenate([currents[n].ravel() for n in targets])
    n_prune = int(round(s * flat_w.size))
    already = int(flat_m.size - flat_m.sum())
    if n_prune < already:
        raise ValueError(f"{op}: asked for sparsity {s:g} ({n_prune} weights) but {already} of the {flat_m.size} "
                         "weights are already pruned; masks only shrink")
    flat = magnitude_mask(flat_w, n_prune, flat_m)
    new, start = {}, 0
    for n, p in targets.items():
        new[n] = flat[start:start + p.array.size].reshape(p.array.shape)
        start += p.array.size
    return prune_with_masks(model, new, op=op)


def prune_with_masks(model: Any, masks: Mapping[str, Any], *, op: str = "prune_with_masks") -> PruningMasks:
    """Install given masks (``{parameter or layer name: bool array}``, ``True`` = keep).

    Every mask is checked (name, shape, no revived connection) before any is installed.
    """
    if not isinstance(masks, Mapping) or not masks:
        raise ValueError(f"{op}: expected a non-empty mapping of layer names to masks")
    resolved = OrderedDict()
    existing = masks_of(model)
    for key, m in masks.items():
        ((name, p),) = resolve_layers(model, [key], op).items()
        m = as_mask(m, p, name, op)
        if existing is not None and name in existing:
            revived = int((m & ~existing[name]).sum())
            if revived:
                raise ValueError(f"{op}: the new mask for {name!r} keeps {revived} connection(s) that are already "
                                 "pruned; masks only shrink while the network retrains (call "
                                 "tw.prune.remove(model) to start over)")
        resolved[name] = m
    target = masks_of(model, create=True)
    assert target is not None
    for name, m in resolved.items():
        target.set(name, m, op=op)
    return target
