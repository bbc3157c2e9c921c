"""The per-layer table of a pruned network: weights, FLOPs, activations, what is kept (the paper's Tables 2-5).

For each pruned layer, measured with one forward pass over a batch:

* ``weights``: connections in the dense layer; ``FLOP``: 2 x multiply-adds
  per example in the dense layer (a fully connected layer does one per
  weight, a convolution one per weight per output position);
* ``act %``: the fraction of the layer's output that is non-zero as the next
  layer sees it (after its ReLU and pooling), for the last layer its own output;
* ``weights %``: connections kept;
* ``FLOP %``: the multiply-adds still needed when both zero weights and zero
  input activations are skipped, estimated as the paper does:
  ``weights % x (input act %)``, the network's input counted as dense
  (``dense_input=True``, the paper's convention; ``False`` measures it too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..backend import to_numpy
from .masks import masks_of, prunable_parameters

__all__ = ["LayerRow", "LayerTable", "layer_table"]


@dataclass
class LayerRow:
    name: str
    weights: int
    kept: int
    flop: int
    input_density: float
    output_density: float

    @property
    def weights_kept(self) -> float:
        return self.kept / self.weights if self.weights else 1.0

    @property
    def flop_kept(self) -> float:
        return self.weights_kept * self.input_density


@dataclass
class LayerTable:
    rows: list[LayerRow] = field(default_factory=list)

    @property
    def weights(self) -> int:
        return sum(r.weights for r in self.rows)

    @property
    def kept(self) -> int:
        return sum(r.kept for r in self.rows)

    @property
    def flop(self) -> int:
        return sum(r.flop for r in self.rows)

    @property
    def weights_kept(self) -> float:
        return self.kept / self.weights if self.weights else 1.0

    @property
    def flop_kept(self) -> float:
        return sum(r.flop * r.flop_kept for r in self.rows) / self.flop if self.flop else 1.0

    @property
    def compression(self) -> float:
        """Dense connections / kept connections (the paper's "12x")."""
        return self.weights / self.kept if self.kept else float("inf")

    def to_markdown(self) -> str:
        lines = ["| layer | weights | FLOP | act % | weights % | FLOP % |", "|---|---:|---:|---:|---:|---:|"]
        for r in self.rows:
            lines.append(f"| {r.name} | {_k(r.weights)} | {_k(r.flop)} | {100 * r.output_density:.0f}% | "
                         f"{100 * r.weights_kept:.1f}% | {100 * r.flop_kept:.1f}% |")
        act = sum(r.output_density * r.weights for r in self.rows) / self.weights if self.weights else 1.0
        lines.append(f"| **total** | {_k(self.weights)} | {_k(self.flop)} | {100 * act:.0f}% | "
                     f"{100 * self.weights_kept:.1f}% | {100 * self.flop_kept:.1f}% |")
        return "\n".join(lines)


def _k(n: int) -> str:
    if n >= 10_000_000:
        return f"{n / 1e6:.0f}M"
    if n >= 10_000:
        return f"{n / 1e3:.0f}K"
    if n >= 1_000:
        return f"{n / 1e3:.1f}K"
    return str(n)


def layer_table(model: Any, x: Any, *, layers: Any = None, dense_input: bool = True) -> LayerTable:
    """Measure the table on input batch ``x`` (eval mode, no graph).

    ``layers``: parameter names (default: the masked ones, else every weight
    with ``ndim > 1``); each must be the ``weight`` of a module.
    """
    masks = masks_of(model)
    if layers is None:
        names = masks.names() if masks is not None and len(masks) else list(prunable_parameters(model))
    else:
        names = list(layers)
    owners = {}
    for mod_name, m in model.named_modules():
        key = f"{mod_name}.weight" if mod_name else "weight"
        if key in names:
            owners[key] = m
    missing = [n for n in names if n not in owners]
    if missing:
        raise ValueError(f"layer_table: {', '.join(map(repr, missing))} is not the weight of a module")
    seen: list[tuple[str, float, float, int]] = []  # forward order: name, input density, output density, MACs
    handles = []

    def hook_for(name: str, module: Any) -> Any:
        def hook(mod: Any, args: tuple[Any, ...], out: Any) -> None:
            xin = to_numpy(args[0].array if isinstance(args[0], Tensor) else args[0])
            o = to_numpy(out.array if isinstance(out, Tensor) else out)
            w = mod.weight.array
            positions = int(np.prod(o.shape[2:])) if w.ndim > 2 else int(np.prod(o.shape[1:-1]))
            seen.append((name, float(np.count_nonzero(xin)) / xin.size, float(np.count_nonzero(o)) / o.size,
                         int(w.size) * positions))
        return hook

    for name, m in owners.items():
        handles.append(m.register_forward_hook(hook_for(name, m)))
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        with no_grad():
            model(x if isinstance(x, Tensor) else Tensor(np.asarray(x)))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    if {s[0] for s in seen} != set(names):
        raise ValueError("layer_table: some layers did not run in the forward pass "
                         f"({', '.join(sorted(set(names) - {s[0] for s in seen}))})")
    params = dict(model.named_parameters())
    table = LayerTable()
    for i, (name, din, dout, macs) in enumerate(seen):
        w = params[name].array
        kept = masks.kept(name) if masks is not None and name in masks else int(np.count_nonzero(to_numpy(w)))
        if i == 0 and dense_input:
            din = 1.0
        out_density = seen[i + 1][1] if i + 1 < len(seen) else dout
        table.rows.append(LayerRow(name, int(w.size), kept, 2 * macs, din, out_density))
    return table
