"""Layer converters: one function per ``thalweg.nn`` layer, from the layer's attributes to ONNX nodes.

A converter is ``convert(b, module, inputs, in_tensors, out_tensors) -> names``:
``inputs`` are the ONNX value names of the layer's tensor arguments (in call
order), ``out_tensors`` the tensors the layer returned (flattened), and the
result is one ONNX name per returned tensor.  Layers are converted whole from
their public attributes (``stride``, ``eps``, the weights), which is sturdier
than reading the internals of the operations they call.

Recurrent layers follow the ONNX ``LSTM``/``GRU``/``RNN`` operators, whose gate
order differs from torch's: LSTM weights are stored ``i, f, g, o`` by torch
and ``i, o, f, c`` by ONNX; GRU weights ``r, z, n`` by torch and ``z, r, h`` by
ONNX (with ``linear_before_reset=1``, which is torch's formula).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from .. import nn
from .builder import GraphBuilder, UnsupportedOperatorError

__all__ = ["MODULE_CONVERTERS", "PASS_THROUGH", "TAKES_KEYWORDS"]

Converter = Callable[[GraphBuilder, Any, list[str], list[Any], list[Any]], list[str]]

# layers whose eval-mode forward returns its input: no node at all
PASS_THROUGH: tuple[type, ...] = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Identity)


def _arr(p: Any) -> np.ndarray:
    return np.asarray(p.array if hasattr(p, "array") else p)


def _tuple(v: Any, n: int) -> tuple[int, ...]:
    return tuple(int(a) for a in v) if isinstance(v, (tuple, list)) else (int(v),) * n


def _linear(b: GraphBuilder, m: Any, x: list[str], *_: Any) -> list[str]:
    y = b.op("MatMul", [x[0], b.const(_arr(m.weight).T, "linear_weight_t")], hint="linear")
    if getattr(m, "bias", None) is not None:
        y = b.op("Add", [y, b.const(_arr(m.bias), "linear_bias")], hint="linear")
    return [y]


def _conv(b: GraphBuilder, m: Any, x: list[str], *_: Any) -> list[str]:
    n = len(m.kernel_size)
    if getattr(m, "padding_mode", "zeros") != "zeros":
        raise UnsupportedOperatorError(f"{type(m).__name__} with padding_mode={m.padding_mode!r}: "
                                       "only 'zeros' exports to ONNX")
    dil = _tuple(m.dilation, n)
    if isinstance(m.padding, str):
        if m.padding == "valid":
            begin, end = [0] * n, [0] * n
        else:  # 'same': torch puts the odd pixel at the end
            total = [d * (k - 1) for d, k in zip(dil, m.kernel_size)]
            begin = [t // 2 for t in total]
            end = [t - t // 2 for t in total]
    else:
        begin = end = list(_tuple(m.padding, n))
    inputs = [x[0], b.const(_arr(m.weight), "conv_weight")]
    if getattr(m, "bias", None) is not None:
        inputs.append(b.const(_arr(m.bias), "conv_bias"))
    return [b.op("Conv", inputs, hint="conv", kernel_shape=list(m.kernel_size), strides=list(_tuple(m.stride, n)),
                 pads=list(begin) + list(end), dilations=list(dil), group=int(m.groups))]


def _spatial_dims(m: Any) -> int:
    return 1 if type(m).__name__.endswith("1d") else 2


def _maxpool(b: GraphBuilder, m: Any, x: list[str], *_: Any) -> list[str]:
    n = _spatial_dims(m)
    if getattr(m, "return_indices", False):
        raise UnsupportedOperatorError(f"{type(m).__name__}(return_indices=True) does not export to ONNX")
    pads = list(_tuple(m.padding, n))
    return [b.op("MaxPool", [x[0]], hint="maxpool", kernel_shape=list(_tuple(m.kernel_size, n)),
                 strides=list(_tuple(m.stride, n)), pads=pads + pads, dilations=list(_tuple(m.dilation, n)),
                 ceil_mode=int(bool(m.ceil_mode)))]


def _avgpool(b: GraphBuilder, m: Any, x: list[str], *_: Any) -> list[str]:
    n = _spatial_dims(m)
    if getattr(m, "divisor_override", None) is not None:
        raise UnsupportedOperatorError(f"{type(m).__name__}(divisor_override=...) does not export to ONNX")
    pads = list(_tuple(m.padding, n))
    return [b.op("AveragePool", [x[0]], hint="avgpool", kernel_shape=list(_tuple(m.kernel_size, n)),
                 strides=list(_tuple(m.stride, n)), pads=pads + pads, ceil_mode=int(bool(m.ceil_mode)),
                 count_include_pad=int(bool(m.count_include_pad)))]


def _adaptive_avgpool(b: GraphBuilder, m: Any, x: list[str], ins: list[Any], outs: list[Any], *_: Any) -> list[str]:
    n = _spatial_dims(m)
    out_size = _tuple(m.output_size, n)
    if all(s == 1 for s in out_size):
        return [b.op("GlobalAveragePool", [x[0]], hint="gap")]
    in_size = tuple(ins[0].shape[-n:])
    if any(s is None or i % s for i, s in zip(in_size, out_size)):
        raise UnsupportedOperatorError(f"{type(m).__name__}({m.output_size}) on inputs of size {in_size}: only "
                                       "output sizes that divide the input size export to ONNX")
    k = [i // s for i, s in zip(in_size, out_size)]
    return [b.op("AveragePool", [x[0]], hint="avgpool", kernel_shape=k, strides=k)]


def _batchnorm(b: GraphBuilder, m: Any, x: list[str], *_: Any) -> list[str]:
    if getattr(m, "running_mean", None) is None:
        raise UnsupportedOperatorError(f"{type(m).__name__}(track_running_stats=False) normalizes with the batch's "
                                       "own statistics even in eval mode; only running statistics export to ONNX")
    c = int(m.num_features)
    scale = _arr(m.weight) if getattr(m, "weight", None) is not None else np.ones(c)
    bias = _arr(m.bias) if getattr(m, "bias", None) is not None else np.zeros(c)
    return [b.op("BatchNormalization", [x[0], b.const(scale, "bn_scale"), b.const(bias, "bn_bias"),
                                        b.const(_arr(m.running_mean), "bn_mean"),
                                        b.const(_arr(m.running_var), "bn_var")],
                 hint="batchnorm", epsilon=float(m.eps))]


def _layernorm(b: GraphBuilder, m: Any, x: list[str], *_: Any) -> list[str]:
    shape = tuple(m.normalized_shape)
    scale = _arr(m.weight) if getattr(m, "weight", None) is not None else np.ones(shape)
    inputs = [x[0], b.const(scale, "ln_scale")]
    if getattr(m, "bias", None) is not None:
        inputs.append(b.const(_arr(m.bias), "ln_bias"))
    return [b.op("LayerNormalization", inputs, hint="layernorm", axis=-len(shape), epsilon=float(m.eps))]


def _gelu(b: GraphBuilder, m: Any, x: list[str], *_: Any) -> list[str]:
    """0.5 x (1 + erf(x / sqrt 2)), or the tanh approximation: built from primitives (Gelu is opset 20)."""
    if getattr(m, "approximate", "none") == "tanh":
        cube = b.op("Mul", [b.op("Mul", [x[0], x[0]]), x[0]])
        inner = b.op("Mul", [b.op("Add", [x[0], b.op("Mul", [cube, b.const(0.044715)])]),
                             b.const(math.sqrt(2.0 / math.pi))])
        t = b.op("Tanh", [inner])
    else:
        t = b.op("Erf", [b.op("Div", [x[0], b.const(math.sqrt(2.0))])])
    half_x = b.op("Mul", [x[0], b.const(0.5)])
    return [b.op("Mul", [half_x, b.op("Add", [t, b.const(1.0)])], hint="gelu")]


def _softplus(b: GraphBuilder, m: Any, x: list[str], *_: Any) -> list[str]:
    """log(1 + exp(beta x)) / beta, linear above ``threshold`` as torch does."""
    beta = float(getattr(m, "beta", 1.0))
    bx = x[0] if beta == 1.0 else b.op("Mul", [x[0], b.const(beta)])
    sp = b.op("Softplus", [bx])
    if beta != 1.0:
        sp = b.op("Div", [sp, b.const(beta)])
    threshold = getattr(m, "threshold", None)
    if threshold is None:
        return [sp]
    above = b.op("Greater", [bx, b.const(float(threshold))])
    return [b.op("Where", [above, x[0], sp], hint="softplus")]


def _simple(op_type: str, **fixed: Any) -> Converter:
    def convert(b: GraphBuilder, m: Any, x: list[str], *_: Any) -> list[str]:
        return [b.op(op_type, [x[0]], hint=op_type.lower(), **fixed)]
    return convert


def _elu(b: GraphBuilder, m: Any, x: list[str], *_: Any) -> list[str]:
    return [b.op("Elu", [x[0]], alpha=float(m.alpha))]


def _leaky(b: GraphBuilder, m: Any, x: list[str], *_: Any) -> list[str]:
    return [b.op("LeakyRelu", [x[0]], alpha=float(m.negative_slope))]


def _softmax(op_type: str) -> Converter:
    def convert(b: GraphBuilder, m: Any, x: list[str], ins: list[Any], outs: list[Any], *_: Any) -> list[str]:
        dim = m.dim if m.dim is not None else (0 if ins[0].ndim in (0, 1, 3) else 1)  # torch's legacy default
        return [b.op(op_type, [x[0]], axis=int(dim))]
    return convert


def _flatten(b: GraphBuilder, m: Any, x: list[str], ins: list[Any], outs: list[Any], *_: Any) -> list[str]:
    nd = ins[0].ndim
    start, end = m.start_dim % nd, m.end_dim % nd
    shape = [0] * start + [-1] + list(ins[0].shape[end + 1:])  # 0 copies the input's dimension (the batch)
    return [b.op("Reshape", [x[0], b.ints(shape)], hint="flatten")]


def _unflatten(b: GraphBuilder, m: Any, x: list[str], ins: list[Any], outs: list[Any], *_: Any) -> list[str]:
    dim = m.dim % ins[0].ndim
    shape = [0] * dim + list(outs[0].shape[dim:])
    return [b.op("Reshape", [x[0], b.ints(shape)], hint="unflatten")]


def _embedding(b: GraphBuilder, m: Any, x: list[str], *_: Any) -> list[str]:
    if getattr(m, "max_norm", None) is not None:
        raise UnsupportedOperatorError("Embedding(max_norm=...) renormalizes rows in place; it does not export")
    idx = b.op("Cast", [x[0]], to=b.onnx.TensorProto.INT64)
    return [b.op("Gather", [b.const(_arr(m.weight), "embedding_weight"), idx], hint="embedding", axis=0)]


# --------------------------------------------------------------- recurrent
_ORDER = {"LSTM": (0, 3, 1, 2),  # torch i f g o -> ONNX i o f c
          "GRU": (1, 0, 2),      # torch r z n   -> ONNX z r h
          "RNN_TANH": (0,), "RNN_RELU": (0,)}


def _gates(w: np.ndarray, mode: str) -> np.ndarray:
    blocks = np.split(w, len(_ORDER[mode]), axis=0)
    return np.concatenate([blocks[i] for i in _ORDER[mode]], axis=0)


def _recurrent(b: GraphBuilder, m: Any, x: list[str], ins: list[Any], outs: list[Any], *_: Any) -> list[str]:
    mode = m.mode
    if ins[0].ndim != 3:
        raise UnsupportedOperatorError(f"{type(m).__name__} on unbatched or packed input: only (seq, batch, "
                                       "feature) or batch_first inputs export to ONNX")
    dirs = 2 if m.bidirectional else 1
    h = int(m.hidden_size)
    op_type = {"LSTM": "LSTM", "GRU": "GRU"}.get(mode, "RNN")
    seq = b.op("Transpose", [x[0]], perm=[1, 0, 2]) if m.batch_first else x[0]
    # initial state(s): hx (h0) or (h0, c0), each (layers * dirs, batch, hidden)
    h0 = c0 = None
    if len(x) > 1:
        h0 = x[1]
        c0 = x[2] if mode == "LSTM" and len(x) > 2 else None
        if mode == "LSTM" and c0 is None:
            raise UnsupportedOperatorError("LSTM called with h0 but no c0")
    finals_h, finals_c = [], []
    for layer in range(m.num_layers):
        ws, rs, bs = [], [], []
        for d in range(dirs):
            suffix = f"_l{layer}" + ("_reverse" if d == 1 else "")
            ws.append(_gates(_arr(getattr(m, "weight_ih" + suffix)), mode))
            rs.append(_gates(_arr(getattr(m, "weight_hh" + suffix)), mode))
            if m.bias:
                bs.append(np.concatenate([_gates(_arr(getattr(m, "bias_ih" + suffix)), mode),
                                          _gates(_arr(getattr(m, "bias_hh" + suffix)), mode)]))
            else:
                bs.append(np.zeros(2 * len(_ORDER[mode]) * h))
        inputs = [seq, b.const(np.stack(ws), "rnn_W"), b.const(np.stack(rs), "rnn_R"), b.const(np.stack(bs), "rnn_B"),
                  ""]
        sl = None
        if h0 is not None:
            sl = (b.ints([layer * dirs]), b.ints([(layer + 1) * dirs]), b.ints([0]))
            inputs.append(b.op("Slice", [h0, *sl]))
        if c0 is not None:
            assert sl is not None
            inputs.append(b.op("Slice", [c0, *sl]))
        while inputs and inputs[-1] == "":
            inputs.pop()
        attrs: dict[str, Any] = {"hidden_size": h, "direction": "bidirectional" if dirs == 2 else "forward"}
        if op_type == "GRU":
            attrs["linear_before_reset"] = 1
        if op_type == "RNN":
            attrs["activations"] = ["Relu" if mode == "RNN_RELU" else "Tanh"] * dirs
        n_out = 3 if op_type == "LSTM" else 2
        res = b.op(op_type, inputs, outputs=n_out, hint=op_type.lower(), **attrs)
        y, yh = res[0], res[1]
        finals_h.append(yh)
        if op_type == "LSTM":
            finals_c.append(res[2])
        # Y (seq, dirs, batch, hidden) -> (seq, batch, dirs * hidden)
        seq = b.op("Reshape", [b.op("Transpose", [y], perm=[0, 2, 1, 3]), b.ints([0, 0, -1])])
    out = b.op("Transpose", [seq], perm=[1, 0, 2]) if m.batch_first else seq
    hn = finals_h[0] if len(finals_h) == 1 else b.op("Concat", finals_h, axis=0)
    names = [out, hn]
    if op_type == "LSTM":
        names.append(finals_c[0] if len(finals_c) == 1 else b.op("Concat", finals_c, axis=0))
    return names


# --------------------------------------------------------------- attention
def _attention(b: GraphBuilder, m: Any, x: list[str], ins: list[Any], outs: list[Any],
               kwargs: dict[str, Any]) -> list[str]:
    """MultiheadAttention: softmax(q k^T / sqrt(d) + mask) v per head, then the output projection."""
    name = "MultiheadAttention"
    args = list(ins)
    if len(args) != 3 or args[0].ndim != 3:
        raise UnsupportedOperatorError(f"{name}: only batched (query, key, value) inputs export")
    if kwargs.get("key_padding_mask") is not None:
        raise UnsupportedOperatorError(f"{name}: key_padding_mask depends on the input; it does not export")
    if getattr(m, "bias_k", None) is not None or getattr(m, "add_zero_attn", False):
        raise UnsupportedOperatorError(f"{name}: add_bias_kv / add_zero_attn do not export")
    E, H, D = int(m.embed_dim), int(m.num_heads), int(m.head_dim)
    if m._qkv_same_embed_dim:
        w = _arr(m.in_proj_weight)
        weights = [w[:E], w[E:2 * E], w[2 * E:]]
    else:
        weights = [_arr(m.q_proj_weight), _arr(m.k_proj_weight), _arr(m.v_proj_weight)]
    bias = _arr(m.in_proj_bias) if getattr(m, "in_proj_bias", None) is not None else None
    heads = []
    for i, (name_i, w_i) in enumerate(zip(x, weights)):
        t = name_i if m.batch_first else b.op("Transpose", [name_i], perm=[1, 0, 2])  # (N, seq, E)
        t = b.op("MatMul", [t, b.const(w_i.T, "mha_w")])
        if bias is not None:
            t = b.op("Add", [t, b.const(bias[i * E:(i + 1) * E], "mha_b")])
        t = b.op("Reshape", [t, b.ints([0, 0, H, D])])
        heads.append(b.op("Transpose", [t], perm=[0, 2, 3, 1] if i == 1 else [0, 2, 1, 3]))
    q, kt, v = heads  # (N, H, L, D), (N, H, D, S), (N, H, S, D)
    scores = b.op("Mul", [b.op("MatMul", [q, kt]), b.const(1.0 / math.sqrt(D))])
    mask = kwargs.get("attn_mask")
    if mask is not None:
        arr = _arr(mask)
        if arr.ndim != 2:
            raise UnsupportedOperatorError(f"{name}: only a 2-D (L, S) attn_mask exports (a per-batch mask does not)")
        additive = np.where(arr, -np.inf, 0.0) if arr.dtype == np.bool_ else arr
        scores = b.op("Add", [scores, b.const(additive, "mha_mask")])
    probs = b.op("Softmax", [scores], axis=-1)
    ctx = b.op("Transpose", [b.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])  # (N, L, H, D)
    out = b.op("Reshape", [ctx, b.ints([0, 0, E])])
    out = _linear(b, m.out_proj, [out])[0]
    if not m.batch_first:
        out = b.op("Transpose", [out], perm=[1, 0, 2])
    names = [out]
    if len(outs) > 1:  # the attention weights, averaged over the heads unless asked otherwise
        if kwargs.get("average_attn_weights", True):
            if b.opset >= 18:
                probs = b.op("ReduceMean", [probs, b.ints([1], "axes")], keepdims=0)
            else:
                probs = b.op("ReduceMean", [probs], axes=[1], keepdims=0)
        names.append(probs)
    return names


MODULE_CONVERTERS: dict[type, Converter] = {
    nn.Linear: _linear,
    nn.Conv1d: _conv, nn.Conv2d: _conv,
    nn.MaxPool1d: _maxpool, nn.MaxPool2d: _maxpool,
    nn.AvgPool1d: _avgpool, nn.AvgPool2d: _avgpool,
    nn.AdaptiveAvgPool1d: _adaptive_avgpool, nn.AdaptiveAvgPool2d: _adaptive_avgpool,
    nn.BatchNorm1d: _batchnorm, nn.BatchNorm2d: _batchnorm,
    nn.LayerNorm: _layernorm,
    nn.ReLU: _simple("Relu"), nn.Sigmoid: _simple("Sigmoid"), nn.Tanh: _simple("Tanh"),
    nn.ELU: _elu, nn.LeakyReLU: _leaky, nn.GELU: _gelu, nn.Softplus: _softplus,
    nn.Softmax: _softmax("Softmax"), nn.LogSoftmax: _softmax("LogSoftmax"),
    nn.Flatten: _flatten, nn.Unflatten: _unflatten,
    nn.Embedding: _embedding,
    nn.LSTM: _recurrent, nn.GRU: _recurrent, nn.RNN: _recurrent,
    nn.MultiheadAttention: _attention,
}

def activation_converter(kind: str) -> Converter:
    """The converter of the activation layer named ``kind`` (the functional forms reuse it)."""
    return MODULE_CONVERTERS[getattr(nn, kind)]


# layers whose keyword arguments the converter reads (for the others, keywords are refused)
TAKES_KEYWORDS: tuple[type, ...] = (nn.MultiheadAttention,)
