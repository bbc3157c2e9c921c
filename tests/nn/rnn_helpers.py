"""Helpers shared by the recurrent-layer tests: build a thalweg layer and its torch twin, run both, compare.

Every comparison loads torch's ``state_dict`` into ours, feeds both the same
input and initial states, backpropagates the same randomly weighted sum of
*all* outputs (the output sequence and the final states), and compares the
outputs, the final states, and the gradients of every parameter, the input
and the initial states.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import thalweg as tw
from thalweg import nn

# float32: the two frameworks sum in different orders (BLAS blocking, gate
# layout), and BPTT accumulates those rounding differences over the steps, so
# values agree to a few float32 ulps of the largest terms.  float64: ~1e-12.
F32 = dict(rtol=2e-4, atol=2e-5)
F64 = dict(rtol=1e-9, atol=1e-10)

# kind -> (thalweg class, torch class name, extra constructor keywords)
KINDS = {
    "RNN_TANH": (nn.RNN, "RNN", {"nonlinearity": "tanh"}),
    "RNN_RELU": (nn.RNN, "RNN", {"nonlinearity": "relu"}),
    "LSTM": (nn.LSTM, "LSTM", {}),
    "GRU": (nn.GRU, "GRU", {}),
}
CELLS = {
    "RNN_TANH": (nn.RNNCell, "RNNCell", {"nonlinearity": "tanh"}),
    "RNN_RELU": (nn.RNNCell, "RNNCell", {"nonlinearity": "relu"}),
    "LSTM": (nn.LSTMCell, "LSTMCell", {}),
    "GRU": (nn.GRUCell, "GRUCell", {}),
}


def tol(dtype: Any) -> dict[str, float]:
    return F64 if np.dtype(dtype) == np.float64 else F32


def twin_layers(torch: Any, kind: str, input_size: int, hidden_size: int, dtype: Any = np.float32,
                table: dict = KINDS, **kwargs: Any) -> tuple[Any, Any]:
    """A torch layer (seeded init) and a thalweg layer holding the same weights."""
    ours_cls, torch_name, extra = table[kind]
    torch.manual_seed(0)
    tdtype = torch.float64 if np.dtype(dtype) == np.float64 else torch.float32
    theirs = getattr(torch.nn, torch_name)(input_size, hidden_size, **extra, **kwargs).to(tdtype)
    ours = ours_cls(input_size, hidden_size, **extra, **kwargs, dtype=dtype)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def state_shape(layer: Any, batch: int | None) -> tuple[int, ...]:
    n = layer.num_layers * (2 if layer.bidirectional else 1)
    return (n, layer.hidden_size) if batch is None else (n, batch, layer.hidden_size)


def flat_outputs(result: Any) -> list[Any]:
    """``(out, h)`` or ``(out, (h, c))`` -> ``[out, h]`` or ``[out, h, c]``."""
    out, state = result
    if isinstance(out, nn.PackedSequence):
        out = out.array
    return [out, *state] if isinstance(state, tuple) else [out, state]


def compare_layers(torch: Any, ours: Any, theirs: Any, x: np.ndarray, states: list[np.ndarray] | None,
                   lengths: Any = None, seed: int = 1) -> None:
    """Run both layers, backpropagate the same weighted sum of all outputs, compare everything."""
    tol_ = tol(x.dtype)
    ox = tw.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    ostates = [tw.tensor(s, requires_grad=True) for s in states] if states else []
    tstates = [torch.tensor(s, requires_grad=True) for s in states] if states else []
    lstm = isinstance(ours, nn.LSTM)
    ohx = None if not states else (tuple(ostates) if lstm else ostates[0])
    thx = None if not states else (tuple(tstates) if lstm else tstates[0])
    if lengths is None:
        ores = flat_outputs(ours(ox, ohx))
        tres = flat_outputs(theirs(tx, thx))
    else:
        ores = flat_outputs(ours(ox, ohx, lengths=lengths))
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

        steps = x.shape[1] if ours.batch_first else x.shape[0]
        packed = pack_padded_sequence(tx, torch.tensor(lengths), batch_first=ours.batch_first,
                                      enforce_sorted=False)
        tout, tstate = theirs(packed, thx)
        tout, _ = pad_packed_sequence(tout, batch_first=ours.batch_first, total_length=steps)
        tres = flat_outputs((tout, tstate))
    rng = np.random.default_rng(seed)
    oloss, tloss = 0.0, 0.0
    for o, t in zip(ores, tres):
        np.testing.assert_allclose(o.array, t.detach().numpy(), **tol_)
        w = rng.standard_normal(o.shape).astype(x.dtype)
        oloss = oloss + (o * tw.tensor(w)).sum()
        tloss = tloss + (t * torch.tensor(w)).sum()
    oloss.backward()
    tloss.backward()
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, tparams[name].grad.numpy(), err_msg=name, **tol_)
    np.testing.assert_allclose(ox.grad, tx.grad.numpy(), err_msg="input", **tol_)
    for i, (o, t) in enumerate(zip(ostates, tstates)):
        np.testing.assert_allclose(o.grad, t.grad.numpy(), err_msg=f"initial state {i}", **tol_)


def random_states(rng: np.random.Generator, layer: Any, batch: int | None, dtype: Any) -> list[np.ndarray]:
    shape = state_shape(layer, batch)
    count = 2 if isinstance(layer, nn.LSTM) else 1
    return [rng.standard_normal(shape).astype(dtype) for _ in range(count)]


def layer_parity(torch: Any, kind: str, dtype: Any, *, num_layers: int = 1, bidirectional: bool = False,
                 batch_first: bool = False, bias: bool = True, with_states: bool = True, lengths: Any = None,
                 steps: int = 7, batch: int = 3, input_size: int = 5, hidden_size: int = 6) -> None:
    """One torch-parity case of a whole-sequence layer (see ``compare_layers``)."""
    ours, theirs = twin_layers(torch, kind, input_size, hidden_size, dtype, num_layers=num_layers,
                               bidirectional=bidirectional, batch_first=batch_first, bias=bias)
    rng = np.random.default_rng(42)
    shape = (batch, steps, input_size) if batch_first else (steps, batch, input_size)
    x = rng.standard_normal(shape).astype(dtype)
    states = random_states(rng, ours, batch, dtype) if with_states else None
    compare_layers(torch, ours, theirs, x, states, lengths=lengths)


def cell_parity(torch: Any, kind: str, dtype: Any, *, batched: bool = True, with_state: bool = True,
                bias: bool = True) -> None:
    """One torch-parity case of a single-step cell: outputs and every gradient."""
    tol_ = tol(dtype)
    ours, theirs = twin_layers(torch, kind, 5, 6, dtype, table=CELLS, bias=bias)
    rng = np.random.default_rng(3)
    lead = (4,) if batched else ()
    x = rng.standard_normal(lead + (5,)).astype(dtype)
    ox, tx = tw.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    lstm = kind == "LSTM"
    ostates, tstates = [], []
    if with_state:
        for _ in range(2 if lstm else 1):
            s = rng.standard_normal(lead + (6,)).astype(dtype)
            ostates.append(tw.tensor(s, requires_grad=True))
            tstates.append(torch.tensor(s, requires_grad=True))
    ohx = (tuple(ostates) if lstm else ostates[0]) if with_state else None
    thx = (tuple(tstates) if lstm else tstates[0]) if with_state else None
    ores, tres = ours(ox, ohx), theirs(tx, thx)
    ores, tres = (list(ores), list(tres)) if lstm else ([ores], [tres])
    oloss, tloss = 0.0, 0.0
    for o, t in zip(ores, tres):
        assert o.shape == tuple(t.shape)
        np.testing.assert_allclose(o.array, t.detach().numpy(), **tol_)
        w = rng.standard_normal(o.shape).astype(dtype)
        oloss = oloss + (o * tw.tensor(w)).sum()
        tloss = tloss + (t * torch.tensor(w)).sum()
    oloss.backward()
    tloss.backward()
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, tparams[name].grad.numpy(), err_msg=name, **tol_)
    np.testing.assert_allclose(ox.grad, tx.grad.numpy(), err_msg="input", **tol_)
    for o, t in zip(ostates, tstates):
        np.testing.assert_allclose(o.grad, t.grad.numpy(), err_msg="state", **tol_)


def gradcheck_layer(kind: str, *, num_layers: int = 1, bidirectional: bool = False, batch_first: bool = False,
                    with_states: bool = True, lengths: Any = None, bias: bool = True) -> None:
    """float64 central differences for the input, the initial states and every parameter
    (input 3, hidden 4, 5 steps, batch 2)."""
    from thalweg.autograd import gradcheck

    cls, _, extra = KINDS[kind]
    tw.manual_seed(0)
    layer = cls(3, 4, num_layers, bidirectional=bidirectional, batch_first=batch_first, bias=bias,
                dtype=np.float64, **extra)
    rng = np.random.default_rng(7)
    x = tw.tensor(rng.standard_normal((2, 5, 3) if batch_first else (5, 2, 3)), requires_grad=True)
    states = [tw.tensor(s, requires_grad=True) for s in random_states(rng, layer, 2, np.float64)] \
        if with_states else []
    lstm = kind == "LSTM"

    def fn(x: Any, *rest: Any) -> list[Any]:
        hx = None if not states else (tuple(rest[:2]) if lstm else rest[0])
        return flat_outputs(layer(x, hx, lengths=lengths))

    assert gradcheck(fn, [x, *states, *layer.parameters()])


def gradcheck_cell(kind: str, *, bias: bool = True) -> None:
    """float64 central differences for a cell's input, state(s) and parameters."""
    from thalweg.autograd import gradcheck

    cls, _, extra = CELLS[kind]
    tw.manual_seed(0)
    cell = cls(3, 4, bias=bias, dtype=np.float64, **extra)
    rng = np.random.default_rng(8)
    x = tw.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    states = [tw.tensor(rng.standard_normal((2, 4)), requires_grad=True) for _ in range(2 if kind == "LSTM" else 1)]

    def fn(x: Any, *rest: Any) -> Any:
        out = cell(x, tuple(rest[:2]) if kind == "LSTM" else rest[0])
        return list(out) if kind == "LSTM" else out

    assert gradcheck(fn, [x, *states, *cell.parameters()])
