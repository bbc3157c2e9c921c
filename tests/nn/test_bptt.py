"""Backpropagation through time over 500 steps: finite gradients, equal to PyTorch's."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from thalweg import nn

from rnn_helpers import layer_parity

STEPS = 500


@pytest.mark.parametrize("kind", ["GRU", "LSTM", "RNN_TANH"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_500_step_backward_matches_torch(kind, dtype):
    """Outputs, final states and every gradient (parameters, input, initial states) agree with torch."""
    torch = pytest.importorskip("torch")
    layer_parity(torch, kind, dtype, steps=STEPS, batch=2, input_size=3, hidden_size=8)


@pytest.mark.parametrize("kind", ["GRU", "LSTM"])
def test_500_step_bidirectional_with_lengths_matches_torch(kind):
    torch = pytest.importorskip("torch")
    layer_parity(torch, kind, np.float64, steps=STEPS, batch=3, input_size=3, hidden_size=5, bidirectional=True,
                 batch_first=True, lengths=[STEPS, 137, 420])


@pytest.mark.parametrize("cls", [nn.GRU, nn.LSTM])
def test_500_step_gradient_is_finite_and_reaches_the_first_step(cls):
    """Only the last output is in the loss, so the gradient of x[0] has travelled 500 steps back.

    It shrinks by ~1e-98 on the way (vanishing gradients, the reason for gating), so it is
    checked in float64, where it is still representable, and in float32 only for finiteness.
    """
    for dtype in (tw.float64, tw.float32):
        tw.manual_seed(0)
        layer = cls(4, 16, 2, dtype=dtype)
        x = tw.randn(STEPS, 3, 4, requires_grad=True, dtype=dtype)
        out, _ = layer(x)
        out[-1].sum().backward()
        assert all(np.isfinite(p.grad).all() and np.abs(p.grad).max() > 0 for p in layer.parameters())
        assert np.isfinite(x.grad).all()
        if dtype == tw.float64:
            assert np.abs(x.grad[0]).max() > 0
