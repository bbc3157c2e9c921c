"""Library code that writes into a parameter in place bumps its version, so a stale saved copy raises."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from thalweg import nn


def test_load_state_dict_between_forward_and_backward_raises() -> None:
    model = nn.Linear(4, 2)
    inp = tw.randn(3, 4, requires_grad=True)
    loss = (model(inp) ** 2).sum()
    model.load_state_dict({k: np.zeros_like(v) for k, v in model.state_dict().items()})
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_init_between_forward_and_backward_raises() -> None:
    model = nn.Linear(4, 2)
    inp = tw.randn(3, 4, requires_grad=True)
    loss = (model(inp) ** 2).sum()
    nn.init.constant_(model.weight, 0.5)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_pruning_masks_between_forward_and_backward_raise() -> None:
    model = nn.Linear(4, 2)
    inp = tw.randn(3, 4, requires_grad=True)
    loss = (model(inp) ** 2).sum()
    tw.prune.prune_with_masks(model, {"weight": np.zeros((2, 4), dtype=bool)})
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
