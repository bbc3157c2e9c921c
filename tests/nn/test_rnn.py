"""RNN and RNNCell (torch parity, gradchecks) and what all recurrent layers share:
variable lengths, PackedSequence helpers, errors, initialization, dropout, graph size."""

from __future__ import annotations

import math

import numpy as np
import pytest

import thalweg as tw
from thalweg import nn
from thalweg.autograd.engine import topological_order

from rnn_helpers import KINDS, cell_parity, flat_outputs, gradcheck_cell, gradcheck_layer, layer_parity, twin_layers

ALL_KINDS = list(KINDS)
CONFIGS = [
    (1, False, False, True, False),
    (1, False, True, True, True),
    (1, True, False, True, True),
    (2, False, True, True, True),
    (2, True, False, True, False),
    (2, True, True, False, True),
]


def make(kind, *args, **kwargs):
    cls, _, extra = KINDS[kind]
    return cls(*args, **extra, **kwargs)


# ------------------------------------------------------------------ parity
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("num_layers,bidirectional,batch_first,bias,with_states", CONFIGS)
def test_rnn_matches_torch(dtype, nonlinearity, num_layers, bidirectional, batch_first, bias, with_states):
    torch = pytest.importorskip("torch")
    layer_parity(torch, f"RNN_{nonlinearity.upper()}", dtype, num_layers=num_layers, bidirectional=bidirectional,
                 batch_first=batch_first, bias=bias, with_states=with_states)


@pytest.mark.parametrize("kind", ["RNN_TANH", "RNN_RELU"])
def test_rnn_lengths_match_torch_packed(kind):
    torch = pytest.importorskip("torch")
    layer_parity(torch, kind, np.float64, num_layers=2, bidirectional=True, lengths=[7, 3, 5])
    layer_parity(torch, kind, np.float32, bidirectional=True, batch_first=True, lengths=[2, 7, 1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["RNN_TANH", "RNN_RELU"])
@pytest.mark.parametrize("batched,with_state,bias", [(True, True, True), (True, False, True), (False, True, True),
                                                    (True, True, False)])
def test_rnn_cell_matches_torch(dtype, kind, batched, with_state, bias):
    torch = pytest.importorskip("torch")
    cell_parity(torch, kind, dtype, batched=batched, with_state=with_state, bias=bias)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_unbatched_input_matches_torch(kind):
    torch = pytest.importorskip("torch")
    ours, theirs = twin_layers(torch, kind, 3, 4, np.float64, num_layers=2, bidirectional=True)
    x = np.random.default_rng(0).standard_normal((5, 3))
    ores = flat_outputs(ours(tw.tensor(x)))
    tres = flat_outputs(theirs(torch.tensor(x)))
    for o, t in zip(ores, tres):
        assert o.shape == tuple(t.shape)
        np.testing.assert_allclose(o.array, t.detach().numpy(), rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------- gradcheck
@pytest.mark.parametrize("nonlinearity", ["TANH", "RELU"])
def test_rnn_gradcheck_two_layers_bidirectional_with_states(nonlinearity):
    gradcheck_layer(f"RNN_{nonlinearity}", num_layers=2, bidirectional=True)


def test_rnn_gradcheck_lengths_batch_first_no_bias():
    gradcheck_layer("RNN_TANH", bidirectional=True, batch_first=True, lengths=[2, 5], bias=False,
                    with_states=False)


@pytest.mark.parametrize("kind", ["RNN_TANH", "RNN_RELU"])
def test_rnn_cell_gradcheck(kind):
    gradcheck_cell(kind)


# -------------------------------------------------------- variable lengths
def _run_alone(layer, x, lengths):
    """Each sequence cut to its own length and run alone: the reference for padded batches."""
    outs, finals = [], []
    for b, n in enumerate(lengths):
        res = flat_outputs(layer(tw.tensor(x[:n, b:b + 1])))
        outs.append(res[0].array[:, 0])
        finals.append([s.array[:, 0] for s in res[1:]])
    return outs, finals


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_lengths_equal_running_each_sequence_alone(kind):
    tw.manual_seed(0)
    layer = make(kind, 3, 4, 2, bidirectional=True, dtype=np.float64)
    lengths = [6, 2, 4, 1]
    x = np.random.default_rng(1).standard_normal((6, 4, 3))
    x_padded = x.copy()
    for b, n in enumerate(lengths):
        x_padded[n:, b] = 1e3  # garbage in the padding must not leak anywhere
    res = flat_outputs(layer(tw.tensor(x_padded), lengths=lengths))
    outs, finals = _run_alone(layer, x, lengths)
    for b, n in enumerate(lengths):
        np.testing.assert_allclose(res[0].array[:n, b], outs[b], rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(res[0].array[n:, b], 0.0)  # padded outputs are zeros
        for state, alone in zip(res[1:], finals[b]):
            np.testing.assert_allclose(state.array[:, b], alone, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_lengths_gradients_equal_running_each_sequence_alone(kind):
    """The gradient of a padded batch is the sum of the gradients of its sequences run alone."""
    tw.manual_seed(0)
    layer = make(kind, 3, 4, bidirectional=True, batch_first=True, dtype=np.float64)
    lengths = [2, 5, 3]
    x = np.random.default_rng(2).standard_normal((3, 5, 3))
    xt = tw.tensor(x, requires_grad=True)
    res = flat_outputs(layer(xt, lengths=lengths))
    sum(r.sum() for r in res).backward()
    batch_grads = {n: p.grad.array.copy() for n, p in layer.named_parameters()}
    layer.zero_grad()
    alone_x_grad = np.zeros_like(x)
    for b, n in enumerate(lengths):
        xb = tw.tensor(x[b:b + 1, :n], requires_grad=True)
        sum(r.sum() for r in flat_outputs(layer(xb))).backward()
        alone_x_grad[b, :n] = xb.grad[0]
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(batch_grads[name], p.grad, rtol=1e-10, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(xt.grad, alone_x_grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_packed_sequence_round_trip_matches_torch(kind):
    """pack_padded_sequence -> layer -> pad_packed_sequence, as a torch script writes it."""
    torch = pytest.importorskip("torch")
    from torch.nn.utils import rnn as trnn

    ours, theirs = twin_layers(torch, kind, 3, 4, np.float64, batch_first=True, bidirectional=True)
    x = np.random.default_rng(3).standard_normal((3, 6, 3))
    lengths = [4, 6, 2]
    packed = nn.pack_padded_sequence(tw.tensor(x), lengths, batch_first=True, enforce_sorted=False)
    out, state = ours(packed)
    assert isinstance(out, nn.PackedSequence)
    padded, out_lengths = nn.pad_packed_sequence(out, batch_first=True, padding_value=-1.0)
    tpacked = trnn.pack_padded_sequence(torch.tensor(x), torch.tensor(lengths), batch_first=True,
                                        enforce_sorted=False)
    tout, tstate = theirs(tpacked)
    tpadded, tlengths = trnn.pad_packed_sequence(tout, batch_first=True, padding_value=-1.0)
    assert padded.shape == tuple(tpadded.shape) == (3, 6, 8)
    np.testing.assert_allclose(padded.array, tpadded.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(out_lengths.array, tlengths.numpy())
    for o, t in zip(flat_outputs((padded, state))[1:], flat_outputs((tpadded, tstate))[1:]):
        np.testing.assert_allclose(o.array, t.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_pad_packed_sequence_trims_to_longest_and_total_length():
    data = tw.tensor(np.arange(24, dtype=np.float32).reshape(4, 2, 3))  # (T=4, B=2, 3)
    packed = nn.pack_padded_sequence(data, [3, 2])
    padded, lengths = nn.pad_packed_sequence(packed)
    assert padded.shape == (3, 2, 3) and lengths.array.tolist() == [3, 2]
    expected = data.array[:3].copy()
    expected[2, 1] = 0  # sequence 1 has 2 steps
    np.testing.assert_array_equal(padded.array, expected)
    padded, _ = nn.pad_packed_sequence(packed, total_length=5, batch_first=True, padding_value=7.0)
    assert padded.shape == (2, 5, 3)
    np.testing.assert_array_equal(padded.array[0, 3:], 7.0)
    np.testing.assert_array_equal(padded.array[1, 2:], 7.0)
    np.testing.assert_array_equal(padded.array[1, :2], data.array[:2, 1])
    with pytest.raises(ValueError, match="total_length=2 is shorter than the longest sequence"):
        nn.pad_packed_sequence(packed, total_length=2)


def test_helpers_live_where_torch_scripts_import_them():
    from thalweg.nn.utils import rnn

    assert rnn.pack_padded_sequence is nn.pack_padded_sequence
    assert rnn.pad_packed_sequence is nn.pad_packed_sequence
    assert rnn.pad_sequence is nn.pad_sequence and rnn.PackedSequence is nn.PackedSequence


def test_pack_padded_sequence_enforces_sorted_lengths():
    with pytest.raises(ValueError, match=r"sorted in decreasing order.*\[2, 3\]"):
        nn.pack_padded_sequence(tw.zeros(3, 2, 1), [2, 3])
    packed = nn.pack_padded_sequence(tw.zeros(3, 2, 1), [2, 3], enforce_sorted=False)
    assert packed.lengths.tolist() == [2, 3]


def test_pad_sequence_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.nn.utils import rnn as trnn

    rng = np.random.default_rng(0)
    seqs = [rng.standard_normal((n, 2)) for n in (3, 1, 4)]
    for batch_first in (False, True):
        ours = nn.pad_sequence([tw.tensor(s, requires_grad=True) for s in seqs], batch_first=batch_first,
                               padding_value=0.5)
        theirs = trnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first=batch_first, padding_value=0.5)
        np.testing.assert_array_equal(ours.array, theirs.numpy())
    parts = [tw.tensor(s, requires_grad=True) for s in seqs]
    nn.pad_sequence(parts).sum().backward()
    for p, s in zip(parts, seqs):
        np.testing.assert_array_equal(p.grad, np.ones_like(s))


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("kind", ALL_KINDS)
def test_wrong_input_rank_and_size_name_the_layer_and_both_shapes(kind):
    layer = make(kind, 3, 4)
    name = type(layer).__name__
    with pytest.raises(ValueError, match=rf"{name}: expected a 3-D input .* got shape \(2, 5, 2, 3\)"):
        layer(tw.zeros(2, 5, 2, 3))
    with pytest.raises(ValueError, match=rf"{name}: expected input of shape \(5, 2, 3\).* got shape \(5, 2, 7\)"):
        layer(tw.zeros(5, 2, 7))
    with pytest.raises(ValueError, match=rf"{name}: expected h_0 of shape \(1, 2, 4\), got shape \(2, 4\)"):
        state = tw.zeros(2, 4)
        layer(tw.zeros(5, 2, 3), (state, state) if kind == "LSTM" else state)
    with pytest.raises(TypeError, match=rf"{name}: input dtype float64 does not match the parameters' dtype float32"):
        layer(tw.zeros(5, 2, 3, dtype=tw.float64))


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_cell_errors_name_the_cell_and_both_shapes(kind):
    cls, _, extra = {"RNN_TANH": (nn.RNNCell, 0, {}), "RNN_RELU": (nn.RNNCell, 0, {"nonlinearity": "relu"}),
                     "LSTM": (nn.LSTMCell, 0, {}), "GRU": (nn.GRUCell, 0, {})}[kind]
    cell = cls(3, 4, **extra)
    name = cls.__name__
    with pytest.raises(ValueError, match=rf"{name}: expected input of shape \(2, 3\).* got shape \(2, 5\)"):
        cell(tw.zeros(2, 5))
    with pytest.raises(ValueError, match=rf"{name}: expected a 2-D input .* got shape \(1, 2, 3\)"):
        cell(tw.zeros(1, 2, 3))
    with pytest.raises(ValueError, match=rf"{name}: expected state h of shape \(2, 4\), got shape \(3, 4\)"):
        state = tw.zeros(3, 4)
        cell(tw.zeros(2, 3), (state, state) if kind == "LSTM" else state)


@pytest.mark.parametrize("lengths,message", [
    ([5, 0], r"every length must lie in \[1, 5\].*\[5, 0\]"),
    ([6, 1], r"every length must lie in \[1, 5\].*\[6, 1\]"),
    ([5, 2, 1], r"one length per sequence, i.e. shape \(2,\), got shape \(3,\)"),
    ([2.5, 1], r"lengths must be integers"),
])
def test_bad_lengths_are_rejected(lengths, message):
    with pytest.raises((ValueError, TypeError), match="GRU: .*" + message):
        nn.GRU(3, 4)(tw.zeros(5, 2, 3), lengths=lengths)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match=r"LSTM: dropout must be a number in \[0, 1\].* got 1.5"):
        nn.LSTM(3, 4, 2, dropout=1.5)
    with pytest.raises(ValueError, match="GRU: hidden_size must be a positive integer, got 0"):
        nn.GRU(3, 0)
    with pytest.raises(ValueError, match="RNN: num_layers must be a positive integer, got 0"):
        nn.RNN(3, 4, 0)
    with pytest.raises(ValueError, match="RNN: unknown nonlinearity 'sigmoid'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="RNNCell: unknown nonlinearity 'gelu'"):
        nn.RNNCell(3, 4, nonlinearity="gelu")
    with pytest.warns(UserWarning, match="dropout=0.5 acts only between layers"):
        nn.GRU(3, 4, dropout=0.5)


# ---------------------------------------------- parameters and initialization
@pytest.mark.parametrize("kind", ALL_KINDS)
def test_parameter_names_and_shapes_match_torch(kind):
    torch = pytest.importorskip("torch")
    ours, theirs = twin_layers(torch, kind, 3, 5, num_layers=2, bidirectional=True, bias=True)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    ours_nb, theirs_nb = twin_layers(torch, kind, 3, 5, bias=False)
    assert list(ours_nb.state_dict()) == list(theirs_nb.state_dict()) == ["weight_ih_l0", "weight_hh_l0"]


def test_init_is_uniform_in_plus_minus_one_over_sqrt_hidden_and_seeded():
    tw.manual_seed(5)
    a = nn.LSTM(64, 100, 2, bidirectional=True)
    tw.manual_seed(5)
    b = nn.LSTM(64, 100, 2, bidirectional=True)
    bound = 1 / math.sqrt(100)
    values = np.concatenate([p.array.ravel() for p in a.parameters()])
    assert values.dtype == np.float32
    assert np.abs(values).max() <= bound
    assert abs(values.mean()) < 0.01 * bound
    assert abs(values.std() - bound / math.sqrt(3)) < 0.01 * bound  # the std of U(-a, a) is a / sqrt(3)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.array, q.array)
    cell = nn.GRUCell(8, 16, generator=tw.Generator(0))
    assert all(np.abs(p.array).max() <= 0.25 for p in cell.parameters())


def test_dropout_between_layers_uses_the_run_generator_and_only_in_training():
    tw.manual_seed(0)
    gru = nn.GRU(3, 4, 3, dropout=0.5)
    x = tw.randn(5, 2, 3)
    gru.eval()
    ref, _ = gru(x)
    again, _ = gru(x)
    np.testing.assert_array_equal(ref.data, again.array)
    gru.train()
    tw.manual_seed(11)
    a, _ = gru(x)
    tw.manual_seed(11)
    b, _ = gru(x)
    np.testing.assert_array_equal(a.array, b.array)  # same seed, same masks
    assert not np.allclose(a.array, ref.data)


def test_dropout_gradient_is_checked_with_a_fixed_mask():
    from thalweg.autograd import gradcheck

    tw.manual_seed(0)
    lstm = nn.LSTM(3, 4, 2, dropout=0.4, dtype=np.float64)
    x = tw.tensor(np.random.default_rng(0).standard_normal((4, 2, 3)), requires_grad=True)

    def fn(x, *params):
        lstm.generator = np.random.default_rng(123)  # the same mask at every evaluation
        return flat_outputs(lstm(x))

    assert gradcheck(fn, [x, *lstm.parameters()])


# ------------------------------------------------------------- graph shape
@pytest.mark.parametrize("kind", ALL_KINDS)
def test_one_graph_node_per_layer_and_direction(kind):
    """The graph does not grow with the sequence length: BPTT happens inside one node per layer/direction."""
    layer = make(kind, 3, 4, 2, bidirectional=True)
    sizes = []
    for steps in (5, 50):
        out, _ = layer(tw.randn(steps, 2, 3))
        order = topological_order(out.sum()._ctx)
        sizes.append(len(order))
        fused = [n for n in order if n.fn.__name__.endswith("Layer")]
        assert len(fused) == 4
    assert sizes[0] == sizes[1]


def test_flatten_parameters_is_accepted_and_changes_nothing():
    lstm = nn.LSTM(3, 4)
    before = {k: v.copy() for k, v in lstm.state_dict().items()}
    lstm.flatten_parameters()
    assert all(np.array_equal(before[k], v) for k, v in lstm.state_dict().items())


def test_repr():
    assert repr(nn.RNN(3, 4, 2, nonlinearity="relu", batch_first=True)) == \
        "RNN(3, 4, nonlinearity='relu', num_layers=2, batch_first=True)"
    assert repr(nn.LSTMCell(3, 4, bias=False)) == "LSTMCell(3, 4, bias=False)"


# ------------------------------------------------- dtype and buffer reuse
@pytest.mark.parametrize("kind", ALL_KINDS)
def test_float32_stays_float32(kind):
    layer = make(kind, 3, 4, 2, bidirectional=True)
    x = tw.randn(5, 2, 3, requires_grad=True)
    res = flat_outputs(layer(x, lengths=[5, 3]))
    assert all(r.dtype == np.float32 for r in res)
    sum(r.sum() for r in res).backward()
    assert x.grad.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in layer.parameters())


@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("lengths", [None, [5, 2]])
def test_live_graphs_and_retain_graph_do_not_share_buffers(kind, lengths, monkeypatch):
    """Scratch buffers are reused across calls (ops/workspace.py); a graph that is still alive keeps its own."""
    from thalweg.ops import workspace

    monkeypatch.setattr(workspace, "MIN_BYTES", 0)  # pool even these tiny arrays
    workspace.clear()
    tw.manual_seed(0)
    layer = make(kind, 3, 4, bidirectional=True, dtype=np.float64)
    rng = np.random.default_rng(0)
    xa, xb = (tw.tensor(rng.standard_normal((5, 2, 3)), requires_grad=True) for _ in range(2))

    def loss(x):
        return sum((r * r).sum() for r in flat_outputs(layer(x, lengths=lengths)))

    la = loss(xa)
    la.backward(retain_graph=True)
    reference = {n: p.grad.array.copy() for n, p in layer.named_parameters()}
    ref_x = xa.grad.array.copy()
    layer.zero_grad()
    xa.grad = None
    lb = loss(xb)  # a second graph with the same shapes, alive at the same time
    with tw.no_grad():
        loss(xb)  # and a forward without a graph
    la.backward()  # the retained graph, a second time
    for n, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad, reference[n], rtol=1e-12, atol=1e-12, err_msg=n)
    np.testing.assert_allclose(xa.grad, ref_x, rtol=1e-12, atol=1e-12)
    lb.backward()
    assert np.isfinite(xb.grad).all()
    assert workspace._held[0] > 0  # the buffers did go back to the pool
    workspace.clear()


@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("lengths", [None, [5, 2]])
def test_repeated_training_steps_reuse_all_scratch_buffers(kind, lengths, monkeypatch):
    """After the first step, forward + backward of the same shapes allocates no new large buffer."""
    from thalweg.ops import workspace

    monkeypatch.setattr(workspace, "MIN_BYTES", 0)
    workspace.clear()
    layer = make(kind, 3, 4, 2, bidirectional=True)
    x = tw.randn(5, 2, 3)

    def step():
        layer.zero_grad()
        sum((r * r).sum() for r in flat_outputs(layer(x, lengths=lengths))).backward()

    step()
    before = workspace.misses[0]
    step()
    assert workspace.misses[0] == before
    workspace.clear()
