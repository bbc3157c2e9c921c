"""Recurrent layers: RNN, LSTM, GRU and their single-step cells, as in PyTorch.

Parameters are named and shaped exactly as PyTorch's, so a ``state_dict`` moves
between the two frameworks as plain arrays: for layer ``k`` and direction
suffix ``""`` or ``"_reverse"``, ``weight_ih_l{k}`` is ``(gates*hidden, input)``,
``weight_hh_l{k}`` is ``(gates*hidden, hidden)`` and ``bias_ih_l{k}``,
``bias_hh_l{k}`` are ``(gates*hidden,)``; gates = 1 (RNN), 4 (LSTM: i, f, g, o)
or 3 (GRU: r, z, n).  Every parameter starts as U(-1/sqrt(hidden), 1/sqrt(hidden)),
PyTorch's default, drawn from the run's seeded generator.

Each layer and direction runs as one fused graph node (``ops/recurrent.py``):
the input projections of all time steps are one matrix product, the
recurrence loops over time in NumPy, and the backward pass is hand-written
backpropagation through time, so 500-step sequences backpropagate without a
500-step chain of tiny nodes.

Variable-length batches
-----------------------
Pass ``lengths=`` (one int per sequence, ``1 <= length <= seq_len``) to
``forward``, or pass a :class:`PackedSequence` made by
:func:`pack_padded_sequence`.  For each sequence, the steps after its length
are padding: they do not change the state, their outputs are zeros, and the
final state ``h_n`` (and ``c_n``) is the state after the sequence's own last
real step.  The reverse direction of a bidirectional layer reads each sequence
backwards *within its own length* (it starts at step ``length - 1``), exactly
as PyTorch does with packed sequences.  Unlike PyTorch, the batch need not be
sorted by length and no repacking happens: padded batches stay padded.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple, Sequence

import numpy as np

from .. import dtypes
from .. import random as _random
from ..autograd.tensor import Tensor
from ..ops import api as _api
from ..ops.recurrent import (GRUCellFunction, GRULayer, LSTMCellFunction, LSTMLayer, RNNCellFunction,
                             RNNLayer)
from .functional_parts.basic import dropout as _dropout
from .module import Module
from .parameter import Parameter

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell",
           "PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# ---------------------------------------------------------------- checking
def _check_size(name: str, what: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name}: {what} must be a positive integer, got {value!r}")
    return int(value)


def _nonlinearity(name: str, nonlinearity: str) -> str:
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"{name}: unknown nonlinearity {nonlinearity!r} (expected 'tanh' or 'relu')")
    return nonlinearity


def _as_lengths(name: str, lengths: Any, batch: int, steps: int) -> np.ndarray:
    """Validate ``lengths`` (list, ndarray, thalweg or torch tensor) as an int64 host array."""
    if isinstance(lengths, Tensor):
        lengths = lengths.array
    elif hasattr(lengths, "detach") and hasattr(lengths, "numpy"):  # a torch tensor
        lengths = lengths.detach().cpu().numpy()
    arr = np.asarray(lengths)
    if arr.ndim != 1 or arr.shape[0] != batch:
        raise ValueError(f"{name}: lengths must hold one length per sequence, i.e. shape ({batch},), "
                         f"got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        if arr.dtype.kind != "f" or not np.all(arr == np.round(arr)):
            raise TypeError(f"{name}: lengths must be integers, got {arr.dtype} values {arr.tolist()}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 1 or arr.max() > steps):
        raise ValueError(f"{name}: every length must lie in [1, {steps}] (the padded sequence length), "
                         f"got {arr.tolist()}")
    return arr


def _check_rnn_input(name: str, x: Any, ranks: tuple[int, int], shapes: str, input_size: int, size_note: str,
                     dtype: Any) -> None:
    """Check the input of a recurrent module or cell: a Tensor, of a rank in ``ranks`` (``shapes`` names
    them in the error), with ``input_size`` features last, and the parameters' ``dtype``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor input, got {type(x).__name__}")
    if x.ndim not in ranks:
        raise ValueError(f"{name}: expected {shapes}, got shape {tuple(x.shape)}")
    if x.shape[-1] != input_size:
        expected = tuple(x.shape[:-1]) + (input_size,)
        raise ValueError(f"{name}: expected input of shape {expected} (input_size={input_size}{size_note}), "
                         f"got shape {tuple(x.shape)}")
    if x.dtype != dtype:
        raise TypeError(f"{name}: input dtype {x.dtype} does not match the parameters' dtype {dtype}")


def _init_uniform(params: Sequence[Parameter], hidden_size: int, generator: Any) -> None:
    """PyTorch's default for recurrent layers: every parameter ~ U(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1.0 / math.sqrt(hidden_size)
    rng = _random.get_generator(generator)
    for p in params:
        p.array[...] = rng.uniform(-bound, bound, p.array.shape)
        p._bump_version()


# ------------------------------------------------------------ packed batches
class PackedSequence(NamedTuple):
    """A padded batch together with the length of each sequence.

    thalweg's counterpart of ``torch.nn.utils.rnn.PackedSequence``, made by
    :func:`pack_padded_sequence` and read by the recurrent layers and
    :func:`pad_packed_sequence`.  Unlike PyTorch's, the data stay padded
    (``(T, B, *)``, or ``(B, T, *)`` when ``batch_first``) in the original batch
    order; recurrent layers mask the padded steps instead of repacking.
    """

    data: Tensor
    lengths: np.ndarray
    batch_first: bool = False


def pack_padded_sequence(input: Tensor, lengths: Any, batch_first: bool = False,  # noqa: A002 - torch's name
                         enforce_sorted: bool = True) -> PackedSequence:
    """Attach ``lengths`` to a padded batch so that recurrent layers skip the padding.

    With ``enforce_sorted=True`` (PyTorch's default) the lengths must be in
    decreasing order, as PyTorch requires; thalweg itself does not need sorting,
    so ``enforce_sorted=False`` accepts any order and keeps it.
    """
    if not isinstance(input, Tensor):
        input = Tensor(input)
    if input.ndim < 2:
        raise ValueError(f"pack_padded_sequence: expected a padded batch with at least 2 dimensions, "
                         f"got shape {tuple(input.shape)}")
    batch, steps = (input.shape[0], input.shape[1]) if batch_first else (input.shape[1], input.shape[0])
    arr = _as_lengths("pack_padded_sequence", lengths, batch, steps)
    if enforce_sorted and np.any(np.diff(arr) > 0):
        raise ValueError("pack_padded_sequence: lengths must be sorted in decreasing order when "
                         f"enforce_sorted=True, got {arr.tolist()}; pass enforce_sorted=False for any order")
    return PackedSequence(input, arr, bool(batch_first))


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """Undo :func:`pack_padded_sequence`: ``(padded batch, lengths)``.

    The batch is cut (or kept) to ``total_length`` steps, default the longest
    length, and laid out batch-first if asked; padded positions hold
    ``padding_value``.  The lengths come back as an int64 tensor.
    """
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: expected a PackedSequence, got {type(sequence).__name__}")
    data, lengths = sequence.data, sequence.lengths
    if sequence.batch_first:
        data = data.transpose(0, 1)
    steps = data.shape[0]
    longest = int(lengths.max()) if lengths.size else 0
    length = longest if total_length is None else int(total_length)
    if length < longest:
        raise ValueError(f"pad_packed_sequence: total_length={total_length} is shorter than the longest "
                         f"sequence ({longest})")
    if length <= steps:
        data = data[:length]
    else:
        data = _api.pad(data, [(0, length - steps)] + [(0, 0)] * (data.ndim - 1))
    pad = np.arange(length)[:, None] >= lengths[None, :]
    if pad.any():  # padded positions hold padding_value, whatever the data held there
        pad = pad.reshape((length, len(lengths)) + (1,) * (data.ndim - 2))
        data = _api.where(Tensor(pad), Tensor(np.asarray(padding_value, dtype=data.dtype)), data)
    if batch_first:
        data = data.transpose(0, 1)
    return data, Tensor(lengths.astype(np.int64))


def pad_sequence(sequences: Sequence[Tensor], batch_first: bool = False, padding_value: float = 0.0) -> Tensor:
    """Stack tensors of shapes ``(L_i, *)`` into one ``(max L, B, *)`` batch (``(B, max L, *)`` if batch_first)."""
    if len(sequences) == 0:
        raise ValueError("pad_sequence: expected at least one sequence")
    seqs = [s if isinstance(s, Tensor) else Tensor(s) for s in sequences]
    tail = tuple(seqs[0].shape[1:])
    for s in seqs:
        if s.ndim == 0 or tuple(s.shape[1:]) != tail:
            raise ValueError(f"pad_sequence: all sequences need shape (L, {', '.join(map(str, tail))}); "
                             f"got {[tuple(q.shape) for q in seqs]}")
    longest = max(s.shape[0] for s in seqs)
    padded = [_api.pad(s, [(0, longest - s.shape[0])] + [(0, 0)] * len(tail), value=padding_value)
              if s.shape[0] < longest else s for s in seqs]
    return _api.stack(padded, axis=0 if batch_first else 1)


# ------------------------------------------------------------------ layers
class RNNBase(Module):
    """Shared machinery of :class:`RNN`, :class:`LSTM` and :class:`GRU` (see the module docstring)."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, *, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 generator: Any = None, dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        if mode not in _GATES:
            raise ValueError(f"{name}: unknown mode {mode!r}")
        self.mode = mode
        self.input_size = _check_size(name, "input_size", input_size)
        self.hidden_size = _check_size(name, "hidden_size", hidden_size)
        self.num_layers = _check_size(name, "num_layers", num_layers)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout must be a number in [0, 1] (the probability of zeroing an "
                             f"element), got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout={dropout} acts only between layers, so it does nothing with "
                          "num_layers=1", stacklevel=2)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.generator = generator
        dtype = dtypes.get_default_dtype() if dtype is None else dtypes.resolve(dtype)
        gates = _GATES[mode] * self.hidden_size
        directions = 2 if self.bidirectional else 1
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else self.hidden_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                self.register_parameter("weight_ih" + suffix, Parameter(np.empty((gates, layer_input), dtype)))
                self.register_parameter("weight_hh" + suffix, Parameter(np.empty((gates, self.hidden_size), dtype)))
                if self.bias:
                    self.register_parameter("bias_ih" + suffix, Parameter(np.empty(gates, dtype)))
                    self.register_parameter("bias_hh" + suffix, Parameter(np.empty(gates, dtype)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Redraw every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        _init_uniform(list(self.parameters()), self.hidden_size, self.generator)

    def flatten_parameters(self) -> None:
        """Accepted for PyTorch scripts, which call it to compact cuDNN weights; nothing to do here."""

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s

    # ---------------------------------------------------------- the forward
    def _weights(self, layer: int, direction: int) -> tuple[Any, Any, Any, Any]:
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        p = self._parameters
        return (p["weight_ih" + suffix], p["weight_hh" + suffix],
                p.get("bias_ih" + suffix), p.get("bias_hh" + suffix))

    def _check_input(self, x: Tensor) -> bool:
        """Check rank, feature size and dtype; return whether the input is batched."""
        layout = "(batch, seq_len, input_size)" if self.batch_first else "(seq_len, batch, input_size)"
        _check_rnn_input(type(self).__name__, x, (2, 3),
                         f"a 3-D input {layout} or a 2-D unbatched (seq_len, input_size)", self.input_size,
                         " features in the last dimension", self._parameters["weight_ih_l0"].dtype)
        return x.ndim == 3

    def _check_state(self, h: Any, expected: tuple[int, ...], what: str) -> Tensor:
        name = type(self).__name__
        if not isinstance(h, Tensor):
            raise TypeError(f"{name}: {what} must be a Tensor, got {type(h).__name__}")
        if tuple(h.shape) != expected:
            raise ValueError(f"{name}: expected {what} of shape {expected}, got shape {tuple(h.shape)}")
        return h

    def forward(self, input: Any, hx: Any = None, *, lengths: Any = None) -> tuple[Any, Any]:  # noqa: A002
        """Run the layer over whole sequences.

        ``input`` is ``(seq_len, batch, input_size)`` (``(batch, seq_len, input_size)``
        if ``batch_first``), ``(seq_len, input_size)`` unbatched, or a
        :class:`PackedSequence`.  ``hx`` is ``h_0`` of shape
        ``(num_layers * directions, batch, hidden_size)`` (``(h_0, c_0)`` for the
        LSTM), default zeros.  ``lengths`` marks padded steps (module docstring).

        Returns ``(output, h_n)`` (``(output, (h_n, c_n))`` for the LSTM):
        ``output`` holds the last layer's hidden state at every step, both
        directions concatenated on the feature axis, laid out like the input;
        ``h_n`` the final state of every layer and direction, index
        ``layer * directions + direction``.
        """
        packed = isinstance(input, PackedSequence)
        if packed:
            if lengths is not None:
                raise ValueError(f"{type(self).__name__}: pass lengths= or a PackedSequence, not both")
            data, lengths, batch_first = input.data, input.lengths, input.batch_first
        else:
            data, batch_first = input, self.batch_first
        batched = self._check_input(data) if not packed else self._check_input_packed(data)
        x = data if batched else data.unsqueeze(1)
        if batch_first and batched:
            x = x.transpose(0, 1)
        steps, batch = x.shape[0], x.shape[1]
        if steps == 0:
            raise ValueError(f"{type(self).__name__}: the input has no time steps (shape {tuple(data.shape)})")
        if lengths is not None:
            lengths = _as_lengths(type(self).__name__, lengths, batch, steps)
        h0, c0 = self._initial_states(hx, batch, batched)
        output, h_n, c_n = self._run(x, h0, c0, lengths)
        if batch_first and batched:
            output = output.transpose(0, 1)
        if not batched:
            output, h_n = output.squeeze(1), h_n.squeeze(1)
            c_n = None if c_n is None else c_n.squeeze(1)
        if packed:
            output = PackedSequence(output, lengths, batch_first)
        return output, (h_n if c_n is None else (h_n, c_n))

    def _check_input_packed(self, data: Tensor) -> bool:
        if isinstance(data, Tensor) and data.ndim != 3:
            raise ValueError(f"{type(self).__name__}: a PackedSequence must hold a 3-D padded batch, "
                             f"got shape {tuple(data.shape)}")
        return self._check_input(data)

    def _initial_states(self, hx: Any, batch: int, batched: bool) -> tuple[Any, Any]:
        directions = 2 if self.bidirectional else 1
        expected = (self.num_layers * directions, batch, self.hidden_size)
        if not batched:
            expected = (expected[0], expected[2])
        if hx is None:
            return None, None
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"LSTM: hx must be a tuple (h_0, c_0), got {type(hx).__name__}")
            h0 = self._check_state(hx[0], expected, "h_0")
            c0 = self._check_state(hx[1], expected, "c_0")
        else:
            h0, c0 = self._check_state(hx, expected, "h_0"), None
        if not batched:
            h0 = h0.unsqueeze(1)
            c0 = None if c0 is None else c0.unsqueeze(1)
        return h0, c0

    def _run(self, x: Tensor, h0: Any, c0: Any, lengths: Any) -> tuple[Tensor, Tensor, Any]:
        """All layers and directions on time-major ``x``; returns ``(output, h_n, c_n)``."""
        steps = x.shape[0]
        directions = 2 if self.bidirectional else 1
        lstm = self.mode == "LSTM"
        finals_h, finals_c = [], []
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                k = layer * directions + direction
                args = [layer_input, *self._weights(layer, direction), None if h0 is None else h0[k]]
                options = {"reverse": direction == 1, "lengths": lengths}
                if lstm:
                    args.append(None if c0 is None else c0[k])
                    packed = LSTMLayer.apply(*args, **options)
                elif self.mode == "GRU":
                    packed = GRULayer.apply(*args, **options)
                else:
                    packed = RNNLayer.apply(*args, nonlinearity="relu" if self.mode == "RNN_RELU" else "tanh",
                                            **options)
                # The fused op packs [outputs; h_n; c_n] into one (steps + 1 or 2, batch, hidden) array.
                outputs.append(packed[:steps])
                finals_h.append(packed[steps:steps + 1])
                if lstm:
                    finals_c.append(packed[steps + 1:steps + 2])
            layer_input = outputs[0] if directions == 1 else _api.cat(outputs, axis=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = _dropout(layer_input, self.dropout, True, generator=self.generator)
        h_n = finals_h[0] if len(finals_h) == 1 else _api.cat(finals_h, axis=0)
        c_n = None
        if lstm:
            c_n = finals_c[0] if len(finals_c) == 1 else _api.cat(finals_c, axis=0)
        return layer_input, h_n, c_n


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`` (or ReLU), stacked and optionally
    bidirectional.  ``RNN(input_size, hidden_size, num_layers=1, *, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)``; see :class:`RNNBase.forward`.
    Elman (1990), "Finding Structure in Time".
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *, nonlinearity: str = "tanh",
                 **kwargs: Any) -> None:
        mode = "RNN_TANH" if _nonlinearity("RNN", nonlinearity) == "tanh" else "RNN_RELU"
        super().__init__(mode, input_size, hidden_size, num_layers, **kwargs)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory (Hochreiter & Schmidhuber 1997; forget gate: Gers et al. 2000)::

        i, f, o = sigmoid(W_i* x_t + b_i* + W_h* h_{t-1} + b_h*);  g = tanh(...)
        c_t = f * c_{t-1} + i * g;   h_t = o * tanh(c_t)

    Weight rows are stacked in PyTorch's gate order i, f, g, o.  ``forward(input, (h_0, c_0))``
    returns ``(output, (h_n, c_n))``; see :class:`RNNBase.forward`.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, **kwargs: Any) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit (Cho et al. 2014), in PyTorch's variant::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr);  z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn));  h' = (1 - z) * n + z * h

    Weight rows are stacked in the gate order r, z, n.  See :class:`RNNBase.forward`.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, **kwargs: Any) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, **kwargs)


# ------------------------------------------------------------------- cells
class RNNCellBase(Module):
    """One time step of a recurrent layer; parameters ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``.

    A cell is one fused single-step Function (``ops/recurrent.py``:
    ``LSTMCellFunction``, ``GRUCellFunction``, ``RNNCellFunction``) with a
    hand-written backward: two matrix products in torch's weight layout and the
    gate arithmetic, so a Python loop over time pays little per step.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool = True, *,
                 generator: Any = None, dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        self.mode = mode
        self.input_size = _check_size(name, "input_size", input_size)
        self.hidden_size = _check_size(name, "hidden_size", hidden_size)
        self.bias = bool(bias)
        self.generator = generator
        dtype = dtypes.get_default_dtype() if dtype is None else dtypes.resolve(dtype)
        gates = _GATES[mode] * self.hidden_size
        self.weight_ih = Parameter(np.empty((gates, self.input_size), dtype))
        self.weight_hh = Parameter(np.empty((gates, self.hidden_size), dtype))
        if self.bias:
            self.bias_ih = Parameter(np.empty(gates, dtype))
            self.bias_hh = Parameter(np.empty(gates, dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Redraw every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        _init_uniform(list(self.parameters()), self.hidden_size, self.generator)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        return s

    def _prepare(self, input: Any, states: Sequence[Any]) -> tuple[Tensor, list[Any], bool]:  # noqa: A002
        """Check shapes; return the input as a (B, F) batch, the (B, H) states, batched?"""
        name = type(self).__name__
        _check_rnn_input(name, input, (1, 2),
                         f"a 2-D input (batch, {self.input_size}) or a 1-D unbatched ({self.input_size},)",
                         self.input_size, "", self.weight_ih.dtype)
        batched = input.ndim == 2
        x = input if batched else input.reshape(1, self.input_size)
        batch = x.shape[0]
        expected = (batch, self.hidden_size) if batched else (self.hidden_size,)
        out = []
        for what, s in zip(("h", "c"), states):
            if s is None:
                out.append(None)
                continue
            if not isinstance(s, Tensor):
                raise TypeError(f"{name}: the state {what} must be a Tensor, got {type(s).__name__}")
            if tuple(s.shape) != expected:
                raise ValueError(f"{name}: expected state {what} of shape {expected}, got shape {tuple(s.shape)}")
            out.append(s if batched else s.reshape(1, self.hidden_size))
        return x, out, batched

    def _finish(self, state: Tensor, batched: bool) -> Tensor:
        return state if batched else state.reshape(self.hidden_size)

    def _params(self) -> list[Any]:
        return [self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh]


class RNNCell(RNNCellBase):
    """``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`` (or ReLU).  ``forward(input, hx=None) -> h'``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 **kwargs: Any) -> None:
        mode = "RNN_TANH" if _nonlinearity("RNNCell", nonlinearity) == "tanh" else "RNN_RELU"
        super().__init__(mode, input_size, hidden_size, bias, **kwargs)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        x, (h,), batched = self._prepare(input, [hx])
        out = RNNCellFunction.apply(x, h, *self._params(), nonlinearity=self.nonlinearity)
        return self._finish(out, batched)


class LSTMCell(RNNCellBase):
    """One LSTM step (gate order i, f, g, o).  ``forward(input, (h, c)=None) -> (h', c')``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, **kwargs: Any) -> None:
        super().__init__("LSTM", input_size, hidden_size, bias, **kwargs)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"LSTMCell: hx must be a tuple (h, c), got {type(hx).__name__}")
        x, (h, c), batched = self._prepare(input, [None, None] if hx is None else list(hx))
        packed = LSTMCellFunction.apply(x, h, c, *self._params())  # [h', c'] stacked
        return self._finish(packed[0], batched), self._finish(packed[1], batched)


class GRUCell(RNNCellBase):
    """One GRU step (gate order r, z, n).  ``forward(input, hx=None) -> h'``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, **kwargs: Any) -> None:
        super().__init__("GRU", input_size, hidden_size, bias, **kwargs)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        x, (h,), batched = self._prepare(input, [hx])
        out = GRUCellFunction.apply(x, h, *self._params())
        return self._finish(out, batched)
