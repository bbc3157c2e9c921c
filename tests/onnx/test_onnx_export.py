"""``tw.onnx.export``: every exported model runs in onnxruntime and matches thalweg's own forward."""

import numpy as np
import pytest

import thalweg as tw
from thalweg import nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _run(path, feeds):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def _reference(model, *xs):
    model.eval()
    with tw.no_grad():
        out = model(*[tw.tensor(x) for x in xs])
    return out


def _check(model, x, tmp_path, *, batch_sizes=(3,), atol=1e-5, dynamic=True, name="m.onnx"):
    """Export with a dynamic batch axis; compare on the example and on other batch sizes."""
    dyn = {"input": {0: "batch"}, "output": {0: "batch"}} if dynamic else None
    path = tw.onnx.export(model, tw.tensor(x), tmp_path / name, dynamic_axes=dyn)
    onnx.checker.check_model(onnx.load(str(path)))
    rng = np.random.default_rng(1)
    for n in (x.shape[0], *batch_sizes):
        xb = x if n == x.shape[0] else (rng.standard_normal((n, *x.shape[1:])).astype(x.dtype)
                                         if x.dtype.kind == "f" else rng.integers(0, 5, (n, *x.shape[1:])))
        ref = _reference(model, xb)
        got = _run(path, {"input": xb})[0]
        np.testing.assert_allclose(got, ref.array, atol=atol, rtol=1e-4)
    return path


def _x(*shape):
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


def test_mlp_with_every_activation(tmp_path):
    tw.manual_seed(0)
    acts = [nn.ReLU(), nn.Sigmoid(), nn.Tanh(), nn.ELU(0.7), nn.LeakyReLU(0.2), nn.GELU(), nn.GELU("tanh"),
            nn.Softplus(), nn.Softplus(beta=2.0, threshold=1.0)]
    layers = []
    for a in acts:
        layers += [nn.Linear(6, 6), a]
    model = nn.Sequential(*layers, nn.Dropout(0.5), nn.Linear(6, 4), nn.Softmax(dim=1))
    _check(model, _x(2, 6), tmp_path)
    _check(nn.Sequential(nn.Linear(6, 4), nn.LogSoftmax(dim=-1)), _x(2, 6), tmp_path, name="ls.onnx")


def test_cnn_with_batchnorm_pooling_and_flatten(tmp_path):
    tw.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(4, 6, 3, padding="same", stride=1, dilation=1), nn.AvgPool2d(2),
                          nn.Conv2d(6, 6, 1), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(6, 10),
                          nn.LayerNorm(10), nn.Linear(10, 3))
    model.train()
    model(tw.randn(16, 1, 8, 8))  # move the running statistics away from 0/1
    _check(model, _x(2, 1, 8, 8), tmp_path)


def test_lenet5_the_cli_model(tmp_path):
    from thalweg.train import lenet5

    tw.manual_seed(0)
    _check(lenet5(1, 8, 10, dropout=0.2), _x(2, 1, 8, 8), tmp_path)


def test_conv1d_pooling_1d(tmp_path):
    tw.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(3, 5, 3, stride=2, padding=1), nn.BatchNorm1d(5), nn.MaxPool1d(2),
                          nn.AvgPool1d(2, stride=1), nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(5, 2))
    _check(model, _x(2, 3, 17), tmp_path)


def test_adaptive_pool_to_a_dividing_size(tmp_path):
    model = nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten())
    _check(model, _x(2, 3, 8, 8), tmp_path)


class Custom(nn.Module):
    """A forward with tensor operations between layers: view, residual sum, permute, matmul."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.fc = nn.Linear(3 * 4 * 4, 8)
        self.fc2 = nn.Linear(8, 8)

    def forward(self, x):
        h = self.conv(x).relu()
        h = h.view(h.shape[0], -1)
        h = self.fc(h)
        h = h + self.fc2(h).tanh()
        g = h.unsqueeze(2) @ h.unsqueeze(1)  # (N, 8, 8)
        return (g.permute(0, 2, 1) * h.unsqueeze(1)).sum(axis=2) if False else g.permute(0, 2, 1) - g.sigmoid()


def test_custom_forward_with_operations_between_layers(tmp_path):
    tw.manual_seed(0)
    _check(Custom(), _x(2, 2, 4, 4), tmp_path)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("batch_first,layers,bidirectional", [(False, 1, False), (True, 2, True)])
def test_recurrent_layers(tmp_path, kind, batch_first, layers, bidirectional):
    tw.manual_seed(0)
    rnn = getattr(nn, kind)(4, 5, num_layers=layers, batch_first=batch_first, bidirectional=bidirectional)
    x = _x(2, 3, 4)  # (batch, seq, feature) or (seq, batch, feature)
    names = ["out", "h", "c"][:3 if kind == "LSTM" else 2]
    path = tw.onnx.export(rnn, tw.tensor(x), tmp_path / "rnn.onnx", output_names=names)
    with tw.no_grad():
        out, state = rnn.eval()(tw.tensor(x))
    got = _run(path, {"input": x})
    np.testing.assert_allclose(got[0], out.array, atol=1e-5)
    states = state if isinstance(state, tuple) else (state,)
    for g, s in zip(got[1:], states):
        np.testing.assert_allclose(g, s.array, atol=1e-5)


class Tagger(nn.Module):
    """Embedding -> LSTM(batch_first) -> Linear on the last step: dynamic batch on integer inputs."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(5, 4)
        self.lstm = nn.LSTM(4, 6, batch_first=True)
        self.out = nn.Linear(6, 3)

    def forward(self, idx):
        h, _ = self.lstm(self.emb(idx))
        return self.out(h)


def test_embedding_lstm_model_dynamic_batch(tmp_path):
    tw.manual_seed(0)
    x = np.random.default_rng(0).integers(0, 5, (2, 7))
    _check(Tagger(), x, tmp_path, batch_sizes=(1, 4))


def test_lstm_with_initial_state(tmp_path):
    tw.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2)
    x, h0, c0 = _x(5, 2, 3), _x(2, 2, 4), _x(2, 2, 4) * 0.5
    path = tw.onnx.export(lstm, (tw.tensor(x), (tw.tensor(h0), tw.tensor(c0))), tmp_path / "l.onnx",
                          input_names=["x", "h0", "c0"])
    with tw.no_grad():
        out, (h, c) = lstm.eval()(tw.tensor(x), (tw.tensor(h0), tw.tensor(c0)))
    got = _run(path, {"x": x, "h0": h0, "c0": c0})
    for g, r in zip(got, (out, h, c)):
        np.testing.assert_allclose(g, r.array, atol=1e-5)


def test_export_leaves_training_mode_and_weights_alone(tmp_path):
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))
    before = {k: v.copy() for k, v in model.state_dict().items()}
    model.train()
    tw.onnx.export(model, tw.randn(2, 3), tmp_path / "a.onnx")
    assert model.training
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    assert not list(tmp_path.glob(".*.tmp"))


def test_unsupported_operation_is_named(tmp_path):
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x):
            return self.fc(x)[:, :2]  # indexing has no converter

    with pytest.raises(tw.onnx.UnsupportedOperatorError, match="GetItem"):
        tw.onnx.export(Odd(), tw.randn(2, 3), tmp_path / "odd.onnx")
    assert not (tmp_path / "odd.onnx").exists()


def test_python_number_operands_become_constants(tmp_path):
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x):
            return (self.fc(x) * 2.0 + 1) / 4 - x ** 2

    tw.manual_seed(0)
    _check(Scaled(), _x(2, 3), tmp_path)


def test_bad_names_are_refused(tmp_path):
    model = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="dynamic_axes"):
        tw.onnx.export(model, tw.randn(2, 3), tmp_path / "x.onnx", dynamic_axes={"nope": [0]})
    with pytest.raises(ValueError, match="input_names"):
        tw.onnx.export(model, tw.randn(2, 3), tmp_path / "x.onnx", input_names=["a", "b"])


class Functional(nn.Module):
    """softmax / log_softmax / cat / sum / mean written in the forward, not as layers."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        h = self.conv(x)
        pooled = tw.cat([h.mean(axis=(2, 3)), h.sum(dim=(2, 3)) * tw.tensor(0.01)], dim=1)  # (N, 8)
        z = self.fc(pooled)
        return tw.log_softmax(z, dim=1) + tw.softmax(z, dim=-1).mean(axis=1, keepdims=True)


@pytest.mark.parametrize("opset", [17, 18])
def test_functional_operations_between_layers(tmp_path, opset):
    tw.manual_seed(0)
    model = Functional()
    x = _x(2, 2, 5, 5)
    path = tw.onnx.export(model, tw.tensor(x), tmp_path / "f.onnx", opset_version=opset,
                          dynamic_axes={"input": [0], "output": [0]})
    assert onnx.load(str(path)).opset_import[0].version == opset
    for xb in (x, _x(4, 2, 5, 5)):
        np.testing.assert_allclose(_run(path, {"input": xb})[0], _reference(model, xb).array, atol=1e-5)


@pytest.mark.parametrize("batch_first", [True, False])
def test_multihead_attention_with_weights_and_a_causal_mask(tmp_path, batch_first):
    tw.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, batch_first=batch_first)
    x = _x(3, 5, 8) if batch_first else _x(5, 3, 8)  # batch 3, 5 positions
    causal = np.triu(np.ones((5, 5), dtype=bool), 1)

    class Wrapped(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = mha

        def forward(self, x):
            return self.mha(x, x, x, attn_mask=tw.tensor(causal))

    path = tw.onnx.export(Wrapped(), tw.tensor(x), tmp_path / "mha.onnx", output_names=["out", "weights"],
                          dynamic_axes={"input": {1 - int(batch_first): "batch"}})
    with tw.no_grad():
        out, w = mha.eval()(tw.tensor(x), tw.tensor(x), tw.tensor(x), attn_mask=tw.tensor(causal))
    got = _run(path, {"input": x})
    np.testing.assert_allclose(got[0], out.array, atol=1e-5)
    np.testing.assert_allclose(got[1], w.array, atol=1e-5)


class EncoderBlock(nn.Module):
    """A post-norm Transformer encoder layer written out: attention, residual, LayerNorm, feed-forward."""

    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 4, batch_first=True, kdim=8, vdim=8)
        self.norm1, self.norm2 = nn.LayerNorm(8), nn.LayerNorm(8)
        self.ff = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Dropout(0.1), nn.Linear(16, 8))

    def forward(self, x):
        h = self.norm1(x + self.attn(x, x, x, need_weights=False)[0])
        return self.norm2(h + self.ff(h))


def test_transformer_encoder_block_dynamic_batch(tmp_path):
    tw.manual_seed(0)
    _check(EncoderBlock(), _x(2, 6, 8), tmp_path, batch_sizes=(1, 5))


def test_unsupported_attention_options_are_named(tmp_path):
    mha = nn.MultiheadAttention(4, 2, batch_first=True)

    class Padded(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = mha

        def forward(self, x):
            return self.mha(x, x, x, key_padding_mask=tw.tensor(np.zeros((2, 3), dtype=bool)))[0]

    with pytest.raises(tw.onnx.UnsupportedOperatorError, match="key_padding_mask"):
        tw.onnx.export(Padded(), tw.randn(2, 3, 4), tmp_path / "p.onnx")


@pytest.mark.skipif(not hasattr(nn, "TransformerEncoderLayer"), reason="nn.TransformerEncoderLayer not in this build")
@pytest.mark.parametrize("activation,batch_first,norm_first", [("relu", True, False), ("gelu", False, True)])
def test_transformer_encoder_layer(tmp_path, activation, batch_first, norm_first):
    tw.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, activation=activation, batch_first=batch_first,
                                       norm_first=norm_first)
    x = _x(2, 5, 8)
    path = tw.onnx.export(layer, tw.tensor(x), tmp_path / "t.onnx")
    np.testing.assert_allclose(_run(path, {"input": x})[0], _reference(layer, x).array, atol=1e-5)


@pytest.mark.skipif(not hasattr(nn, "TransformerEncoder"), reason="nn.TransformerEncoder not in this build")
def test_transformer_encoder_stack_dynamic_batch(tmp_path):
    tw.manual_seed(0)
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True),
                                num_layers=2, norm=nn.LayerNorm(8))
    _check(enc, _x(2, 5, 8), tmp_path, batch_sizes=(3,))


class FunctionalActivations(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        F = nn.functional
        h = self.fc(x)
        return F.gelu(h) + F.elu(h, 0.5) + F.leaky_relu(h, 0.2) + F.softplus(h, beta=2.0) + F.gelu(h, approximate="tanh")


def test_functional_activations(tmp_path):
    tw.manual_seed(0)
    _check(FunctionalActivations(), _x(3, 4), tmp_path)
