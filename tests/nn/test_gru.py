"""GRU and GRUCell: torch parity (float32 and float64), float64 gradchecks, and the gate formula by hand."""

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
def test_gru_matches_torch(dtype, num_layers, bidirectional, batch_first, bias, with_states):
    torch = pytest.importorskip("torch")
    layer_parity(torch, "GRU", dtype, num_layers=num_layers, bidirectional=bidirectional,
                 batch_first=batch_first, bias=bias, with_states=with_states)


@pytest.mark.parametrize("batch_first", [False, True])
def test_gru_lengths_match_torch_packed(batch_first):
    torch = pytest.importorskip("torch")
    layer_parity(torch, "GRU", np.float64, num_layers=2, bidirectional=True, batch_first=batch_first,
                 lengths=[7, 3, 5])
    layer_parity(torch, "GRU", np.float32, num_layers=1, bidirectional=True, batch_first=batch_first,
                 lengths=[2, 7, 1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batched,with_state,bias", [(True, True, True), (True, False, True), (False, True, True),
                                                    (True, True, False)])
def test_gru_cell_matches_torch(dtype, batched, with_state, bias):
    torch = pytest.importorskip("torch")
    cell_parity(torch, "GRU", dtype, batched=batched, with_state=with_state, bias=bias)


def test_gru_gradcheck_single_layer():
    gradcheck_layer("GRU")


def test_gru_gradcheck_two_layers_bidirectional_with_states():
    gradcheck_layer("GRU", num_layers=2, bidirectional=True, batch_first=True)


def test_gru_gradcheck_lengths_bidirectional():
    gradcheck_layer("GRU", bidirectional=True, lengths=[5, 2])


def test_gru_gradcheck_no_bias_no_states():
    gradcheck_layer("GRU", with_states=False, bias=False)


@pytest.mark.parametrize("bias", [True, False])
def test_gru_cell_gradcheck(bias):
    gradcheck_cell("GRU", bias=bias)


def test_gru_cell_follows_the_documented_equations():
    """r, z, n in the order r, z, n, with r applied to (W_hn h + b_hn): written out in NumPy."""
    tw.manual_seed(2)
    cell = nn.GRUCell(3, 4, dtype=np.float64)
    rng = np.random.default_rng(0)
    x, h = rng.standard_normal((2, 3)), rng.standard_normal((2, 4))
    w_ih, w_hh = cell.weight_ih.array, cell.weight_hh.array
    b_ih, b_hh = cell.bias_ih.array, cell.bias_hh.array
    gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh

    def sigmoid(a):
        return 1 / (1 + np.exp(-a))

    r = sigmoid(gi[:, :4] + gh[:, :4])
    z = sigmoid(gi[:, 4:8] + gh[:, 4:8])
    n = np.tanh(gi[:, 8:] + r * gh[:, 8:])
    expected = (1 - z) * n + z * h
    np.testing.assert_allclose(cell(tw.tensor(x), tw.tensor(h)).array, expected, rtol=1e-12, atol=1e-12)
