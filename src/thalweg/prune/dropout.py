"""The dropout rate for retraining a pruned network (Han et al. 2015, section 3.2).

Dropout switches off neurons; pruning has already switched off connections,
so a pruned layer needs less of it.  With ``C_i = N_i N_{i-1}`` connections in
layer ``i``, a dropout rate ``D_o`` on the original network becomes

    D_r = D_o * sqrt(C_ir / C_io)

for retraining, where ``C_io`` and ``C_ir`` are the connection counts before
and after pruning: the paper's argument is that dropout acts on neurons,
connections scale with the product of two neuron counts, so the rate scales
with the square root of the kept fraction.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from .masks import PruningMasks, masks_of

__all__ = ["retrain_dropout_rate", "adjust_dropout"]


def retrain_dropout_rate(original_rate: float, original_connections: int, remaining_connections: int) -> float:
    """``D_r = D_o * sqrt(C_r / C_o)``."""
    if not 0.0 <= float(original_rate) <= 1.0:
        raise ValueError(f"retrain_dropout_rate: the dropout rate must be in [0, 1], got {original_rate!r}")
    if original_connections <= 0 or not 0 <= remaining_connections <= original_connections:
        raise ValueError(f"retrain_dropout_rate: need 0 <= remaining ({remaining_connections}) <= original "
                         f"({original_connections}) and original > 0")
    return float(original_rate) * math.sqrt(remaining_connections / original_connections)


def _pairs_from_order(model: Any, masks: PruningMasks) -> dict[str, str]:
    """Pair each dropout module with the last masked weight before it in registration order."""
    pairs: dict[str, str] = {}
    last: str | None = None
    for name, m in model.named_modules():
        w = f"{name}.weight" if name else "weight"
        if w in masks:
            last = w
        if type(m).__name__.startswith("Dropout") and hasattr(m, "p") and last is not None:
            pairs[name] = last
    return pairs


def adjust_dropout(model: Any, *, pairs: Mapping[str, str] | None = None) -> dict[str, float]:
    """Set each dropout module's ``p`` from the sparsity of the layer it follows; return ``{module: p}``.

    ``pairs`` maps dropout module names to the masked weight whose connection
    count sets their rate (default: each dropout follows the nearest masked
    weight before it in the model's order, which is right for ``Sequential``
    MLPs and CNN heads).  The original rate is remembered on the first call,
    so calling again after more pruning uses ``D_o``, not the already-reduced rate.
    """
    masks = masks_of(model)
    if masks is None or not len(masks):
        raise ValueError("adjust_dropout: the model has not been pruned")
    modules = dict(model.named_modules())
    if pairs is None:
        pairs = _pairs_from_order(model, masks)
    out: dict[str, float] = {}
    for mod_name, w in pairs.items():
        if mod_name not in modules or not hasattr(modules[mod_name], "p"):
            raise ValueError(f"adjust_dropout: no dropout module named {mod_name!r}")
        if w not in masks:
            raise ValueError(f"adjust_dropout: {w!r} has no pruning mask; masked: {', '.join(masks)}")
        mod = modules[mod_name]
        p0 = masks.dropout_original.setdefault(mod_name, float(mod.p))
        mod.p = retrain_dropout_rate(p0, masks.total(w), masks.kept(w))
        out[mod_name] = mod.p
    return out
