"""Iterative pruning: prune a little, retrain, prune more (Han et al. 2015, section 3.3).

Pruning everything at once to a high sparsity removes connections that the
network could have taken over by retraining; the paper's best trade-off
(Figure 5, "iterative prune and retrain") comes from several rounds, each
removing part of what remains and retraining the survivors.  Round ``k`` of
``n`` targets

    geometric:  s_k = 1 - (1 - s)^(k / n)     (each round removes the same fraction of what is left)
    linear:     s_k = s * k / n

for a final sparsity ``s`` (per layer, or global), and calls your
``retrain(model, masks, round)`` with the masks fixed.  With ``quality=``
instead, round ``k`` applies the paper's rule ``|w| < q_k * std(W)`` with the
``k``-th quality parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from .masks import PruningMasks
from .rules import check_sparsity, prune_by_std, prune_global, prune_layers

__all__ = ["PruneRound", "sparsity_schedule", "iterative_prune"]


@dataclass
class PruneRound:
    """One round: the sparsity reached per parameter and overall, and what ``retrain`` returned."""

    round: int
    sparsity: dict[str, float]
    total_sparsity: float
    kept: int
    total: int
    retrain: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def sparsity_schedule(final: float, steps: int, *, schedule: str = "geometric") -> list[float]:
    """The ``steps`` sparsity targets ending at ``final`` (see the module docstring)."""
    final = check_sparsity(final, "sparsity_schedule")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"sparsity_schedule: steps must be a positive integer, got {steps!r}")
    if schedule == "geometric":
        return [1.0 - (1.0 - final) ** (k / steps) for k in range(1, steps + 1)]
    if schedule == "linear":
        return [final * k / steps for k in range(1, steps + 1)]
    raise ValueError(f"sparsity_schedule: schedule must be 'geometric' or 'linear', got {schedule!r}")


def iterative_prune(model: Any, retrain: Callable[[Any, PruningMasks, int], Any] | None, *,
                    sparsity: float | Mapping[str, float] | None = None,
                    quality: float | Sequence[float] | None = None, steps: int = 3, scope: str = "layer",
                    schedule: str = "geometric", layers: Any = None, std_of: str = "all") -> list[PruneRound]:
    """Prune and retrain ``steps`` times; return one :class:`PruneRound` per round.

    Args:
        retrain: ``retrain(model, masks, round)``, called after each round's
            pruning (wrap your optimizer with ``masks.wrap``); its result is
            kept in the round's record.  ``None``: prune only.
        sparsity: the final sparsity, one for all layers or ``{layer: s}``.
        quality: instead of ``sparsity``, the paper's rule with these quality
            parameters (one per round, or one value for every round).
        scope: ``"layer"`` (each layer to its own sparsity) or ``"global"``
            (one threshold across layers; ``sparsity`` must be one number).
    """
    op = "iterative_prune"
    if (sparsity is None) == (quality is None):
        raise ValueError(f"{op}: give exactly one of sparsity= and quality=")
    if scope not in ("layer", "global"):
        raise ValueError(f"{op}: scope must be 'layer' or 'global', got {scope!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"{op}: steps must be a positive integer, got {steps!r}")
    plan: list[Callable[[], PruningMasks]] = []
    if quality is not None:
        qs = list(quality) if isinstance(quality, (list, tuple)) else [quality] * steps
        if len(qs) != steps:
            raise ValueError(f"{op}: {len(qs)} quality parameters for {steps} steps")
        plan = [lambda q=q: prune_by_std(model, q, layers=layers, std_of=std_of) for q in qs]
    elif scope == "global":
        if isinstance(sparsity, Mapping):
            raise ValueError(f"{op}: scope='global' takes one sparsity for all layers, not a mapping")
        plan = [lambda s=s: prune_global(model, s, layers=layers) for s in sparsity_schedule(sparsity, steps,
                                                                                             schedule=schedule)]
    elif isinstance(sparsity, Mapping):
        per = {k: sparsity_schedule(v, steps, schedule=schedule) for k, v in sparsity.items()}
        plan = [lambda i=i: prune_layers(model, {k: v[i] for k, v in per.items()}) for i in range(steps)]
    else:
        plan = [lambda s=s: prune_layers(model, s, layers=layers) for s in sparsity_schedule(sparsity, steps,
                                                                                             schedule=schedule)]
    rounds: list[PruneRound] = []
    for k, prune in enumerate(plan, start=1):
        masks = prune()
        sp = {n: masks.sparsity(n) for n in masks}
        result = retrain(model, masks, k) if retrain is not None else None
        rounds.append(PruneRound(k, sp, masks.sparsity(), masks.kept(), masks.total(), result))
    return rounds
