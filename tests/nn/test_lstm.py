"""LSTM and LSTMCell: torch parity (float32 and float64) and float64 gradchecks."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from thalweg import nn

from rnn_helpers import cell_parity, gradcheck_cell, gradcheck_layer, layer_parity

# (num_layers, bidirectional, batch_first, bias, initial states given)
CONFIGS = [
    (1, False, False, True, False),
    (1, False, True, True, True),
    (1, True, False, True, True),
    (2, False, True, True, True),
    (2, True, False, True, False),
    (2, True, True, False, True),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("num_layers,bidirectional,batch_first,bias,with_states", CONFIGS)
def test_lstm_matches_torch(dtype, num_layers, bidirectional, batch_first, bias, with_states):
    torch = pytest.importorskip("torch")
    layer_parity(torch, "LSTM", dtype, num_layers=num_layers, bidirectional=bidirectional,
                 batch_first=batch_first, bias=bias, with_states=with_states)


@pytest.mark.parametrize("batch_first", [False, True])
def test_lstm_lengths_match_torch_packed(batch_first):
    torch = pytest.importorskip("torch")
    layer_parity(torch, "LSTM", np.float64, num_layers=2, bidirectional=True, batch_first=batch_first,
                 lengths=[7, 3, 5])
    layer_parity(torch, "LSTM", np.float32, num_layers=1, bidirectional=True, batch_first=batch_first,
                 lengths=[2, 7, 1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batched,with_state,bias", [(True, True, True), (True, False, True), (False, True, True),
                                                    (True, True, False)])
def test_lstm_cell_matches_torch(dtype, batched, with_state, bias):
    torch = pytest.importorskip("torch")
    cell_parity(torch, "LSTM", dtype, batched=batched, with_state=with_state, bias=bias)


def test_lstm_gradcheck_single_layer():
    gradcheck_layer("LSTM")


def test_lstm_gradcheck_two_layers_bidirectional_with_states():
    gradcheck_layer("LSTM", num_layers=2, bidirectional=True, batch_first=True)


def test_lstm_gradcheck_lengths_bidirectional():
    gradcheck_layer("LSTM", bidirectional=True, lengths=[3, 5])


def test_lstm_gradcheck_no_bias_no_states():
    gradcheck_layer("LSTM", with_states=False, bias=False)


@pytest.mark.parametrize("bias", [True, False])
def test_lstm_cell_gradcheck(bias):
    gradcheck_cell("LSTM", bias=bias)


def test_lstm_returns_cell_state_and_checks_hx():
    lstm = nn.LSTM(3, 4, 2)
    out, (h, c) = lstm(tw.randn(5, 2, 3))
    assert out.shape == (5, 2, 4) and h.shape == (2, 2, 4) and c.shape == (2, 2, 4)
    with pytest.raises(TypeError, match="LSTM: hx must be a tuple"):
        lstm(tw.randn(5, 2, 3), tw.zeros(2, 2, 4))
    with pytest.raises(ValueError, match=r"LSTM: expected c_0 of shape \(2, 2, 4\), got shape \(1, 2, 4\)"):
        lstm(tw.randn(5, 2, 3), (tw.zeros(2, 2, 4), tw.zeros(1, 2, 4)))
    with pytest.raises(TypeError, match="LSTMCell: hx must be a tuple"):
        nn.LSTMCell(3, 4)(tw.randn(2, 3), tw.zeros(2, 4))


def test_lstm_cell_state_is_the_last_step_of_a_manual_unroll():
    """Running LSTMCell step by step reproduces LSTM's output sequence and final (h, c)."""
    tw.manual_seed(1)
    lstm = nn.LSTM(3, 4)
    cell = nn.LSTMCell(3, 4)
    cell.load_state_dict({k[:-3]: v for k, v in lstm.state_dict().items()})
    x = tw.randn(6, 2, 3)
    out, (h_n, c_n) = lstm(x)
    h, c = tw.zeros(2, 4), tw.zeros(2, 4)
    for t in range(6):
        h, c = cell(x[t], (h, c))
        np.testing.assert_allclose(h.array, out.array[t], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(h.array, h_n.array[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(c.array, c_n.array[0], rtol=1e-6, atol=1e-6)
