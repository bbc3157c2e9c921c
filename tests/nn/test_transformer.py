"""The Transformer family: torch 2.13 parity (state_dict names, forward and backward) for every layout and mask."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from thalweg import nn
from thalweg.autograd.gradcheck import gradcheck

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

TOL = {np.float64: dict(rtol=1e-9, atol=1e-11), np.float32: dict(rtol=2e-4, atol=3e-5)}
E, H, FF, N, S, T = 8, 2, 16, 3, 5, 4


def _tdtype(dtype):
    return torch.float64 if dtype == np.float64 else torch.float32


def _compare(ours, theirs, inputs, dtype, kw_o=None, kw_t=None, train=True):
    """Copy torch's weights into ours, run both on the same inputs, compare output and every gradient."""
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    ours.train(train)
    theirs.train(train)
    oi = [tw.tensor(a.astype(dtype), requires_grad=True) for a in inputs]
    ti = [torch.tensor(a.astype(dtype), requires_grad=True) for a in inputs]
    out, out_t = ours(*oi, **(kw_o or {})), theirs(*ti, **(kw_t or {}))
    g = np.random.default_rng(9).standard_normal(out.shape).astype(dtype)
    out.backward(tw.tensor(g))
    out_t.backward(torch.tensor(g))
    np.testing.assert_allclose(out.array, out_t.detach().numpy(), **TOL[dtype])
    for (name, p), (name_t, p_t) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == name_t
        np.testing.assert_allclose(np.asarray(p.grad), p_t.grad.numpy(), err_msg=name, **TOL[dtype])
    for a, b in zip(oi, ti):
        np.testing.assert_allclose(np.asarray(a.grad), b.grad.numpy(), **TOL[dtype])


def _masks(dtype, n_src, n_tgt=None, bf=False):
    rng = np.random.default_rng(3)
    kpm = rng.random((N, n_src)) < 0.3
    kpm[:, 0] = False
    o = dict(kpm=tw.tensor(kpm), causal=nn.Transformer.generate_square_subsequent_mask(n_tgt or n_src, dtype=dtype))
    t = dict(kpm=torch.tensor(kpm),
             causal=torch.nn.Transformer.generate_square_subsequent_mask(n_tgt or n_src, dtype=_tdtype(dtype)))
    return o, t


LAYOUTS = [(bf, nf, act) for bf in (False, True) for nf in (False, True) for act in ("relu", "gelu")]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bf,nf,act", LAYOUTS)
def test_encoder_layer_matches_torch(bf, nf, act, dtype):
    torch.manual_seed(0)
    kw = dict(dropout=0.0, activation=act, batch_first=bf, norm_first=nf)
    tl = torch.nn.TransformerEncoderLayer(E, H, FF, **kw).to(_tdtype(dtype))
    ol = nn.TransformerEncoderLayer(E, H, FF, dtype=dtype, **kw)
    x = np.random.default_rng(1).standard_normal((N, S, E) if bf else (S, N, E))
    _compare(ol, tl, [x], dtype)
    mo, mt = _masks(dtype, S)
    _compare(ol, tl, [x], dtype, dict(src_mask=mo["causal"], src_key_padding_mask=mo["kpm"]),
             dict(src_mask=mt["causal"], src_key_padding_mask=mt["kpm"]))
    _compare(ol, tl, [x], dtype, dict(src_mask=mo["causal"], is_causal=True),
             dict(src_mask=mt["causal"], is_causal=True))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bf,nf", [(False, False), (True, True)])
def test_decoder_layer_matches_torch(bf, nf, dtype):
    torch.manual_seed(0)
    kw = dict(dropout=0.0, batch_first=bf, norm_first=nf, activation="gelu")
    tl = torch.nn.TransformerDecoderLayer(E, H, FF, **kw).to(_tdtype(dtype))
    ol = nn.TransformerDecoderLayer(E, H, FF, dtype=dtype, **kw)
    rng = np.random.default_rng(2)
    tgt = rng.standard_normal((N, T, E) if bf else (T, N, E))
    mem = rng.standard_normal((N, S, E) if bf else (S, N, E))
    mo, mt = _masks(dtype, S, T)
    tk = rng.random((N, T)) < 0.3
    tk[:, 0] = False
    _compare(ol, tl, [tgt, mem], dtype,
             dict(tgt_mask=mo["causal"], tgt_key_padding_mask=tw.tensor(tk), memory_key_padding_mask=mo["kpm"],
                  tgt_is_causal=True),
             dict(tgt_mask=mt["causal"], tgt_key_padding_mask=torch.tensor(tk), memory_key_padding_mask=mt["kpm"],
                  tgt_is_causal=True))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bf,nf", [(False, False), (True, False), (False, True), (True, True)])
def test_transformer_matches_torch(bf, nf, dtype):
    torch.manual_seed(1)
    kw = dict(dropout=0.0, batch_first=bf, norm_first=nf)
    tt = torch.nn.Transformer(E, H, 2, 2, FF, **kw).to(_tdtype(dtype))
    ot = nn.Transformer(E, H, 2, 2, FF, dtype=dtype, **kw)
    rng = np.random.default_rng(4)
    src = rng.standard_normal((N, S, E) if bf else (S, N, E))
    tgt = rng.standard_normal((N, T, E) if bf else (T, N, E))
    mo, mt = _masks(dtype, S, T)
    _compare(ot, tt, [src, tgt], dtype,
             dict(tgt_mask=mo["causal"], src_key_padding_mask=mo["kpm"], memory_key_padding_mask=mo["kpm"]),
             dict(tgt_mask=mt["causal"], src_key_padding_mask=mt["kpm"], memory_key_padding_mask=mt["kpm"]))


def test_encoder_stack_in_eval_with_padding_zeroes_padded_positions_as_torch():
    torch.manual_seed(2)
    tl = torch.nn.TransformerEncoderLayer(E, H, FF, batch_first=True)
    te = torch.nn.TransformerEncoder(tl, 2, norm=torch.nn.LayerNorm(E))
    oe = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, FF, batch_first=True), 2, norm=nn.LayerNorm(E))
    oe.load_state_dict(te.state_dict())
    te.eval()
    oe.eval()
    x = np.random.default_rng(5).standard_normal((N, S, E)).astype(np.float32)
    kpm = np.zeros((N, S), dtype=bool)
    kpm[0, 3:] = True  # left-aligned padding: torch takes its nested-tensor path
    with torch.no_grad():
        ref = te(torch.tensor(x), src_key_padding_mask=torch.tensor(kpm)).numpy()
    with tw.no_grad():
        out = oe(tw.tensor(x), src_key_padding_mask=tw.tensor(kpm)).array
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)
    # in training mode the same call keeps every position (and matches torch too)
    te.train()
    oe.train()
    for m in (te, oe):
        for sub in m.modules():
            if hasattr(sub, "p"):
                sub.p = 0.0
            if hasattr(sub, "dropout") and isinstance(sub.dropout, float):
                sub.dropout = 0.0
    np.testing.assert_allclose(oe(tw.tensor(x), src_key_padding_mask=tw.tensor(kpm)).array,
                               te(torch.tensor(x), src_key_padding_mask=torch.tensor(kpm)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


def test_square_subsequent_mask_and_causal_detection():
    ours = nn.Transformer.generate_square_subsequent_mask(4)
    ref = torch.nn.Transformer.generate_square_subsequent_mask(4)
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours.array, ref.numpy())
    from thalweg.nn.transformer import _detect_is_causal_mask

    assert _detect_is_causal_mask(ours, None, 4)
    assert _detect_is_causal_mask(tw.tensor(np.triu(np.ones((4, 4), dtype=bool), 1)), None, 4)
    assert not _detect_is_causal_mask(tw.zeros(4, 4), None, 4)
    assert not _detect_is_causal_mask(ours, False, 4)


def test_encoder_layer_gradcheck_with_dropout_and_module_activation():
    layer = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.2, activation=nn.GELU(), batch_first=True,
                                       dtype=np.float64)
    x = tw.tensor(np.random.default_rng(6).standard_normal((2, 3, 4)), requires_grad=True)
    mask = nn.Transformer.generate_square_subsequent_mask(3, dtype=np.float64)

    def fn(a):
        tw.manual_seed(1)
        return layer(a, src_mask=mask)

    assert gradcheck(fn, [x])


def test_unbatched_and_errors():
    torch.manual_seed(0)
    tl = torch.nn.TransformerEncoderLayer(E, H, FF, dropout=0.0).double()
    ol = nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, dtype=np.float64)
    _compare(ol, tl, [np.random.default_rng(0).standard_normal((S, E))], np.float64)
    with pytest.raises(RuntimeError, match="activation should be relu/gelu"):
        nn.TransformerEncoderLayer(E, H, activation="tanh")
    model = nn.Transformer(E, H, 1, 1, FF)
    with pytest.raises(RuntimeError, match="batch number of src and tgt"):
        model(tw.zeros(S, 2, E), tw.zeros(T, 3, E))
    with pytest.raises(RuntimeError, match="d_model"):
        model(tw.zeros(S, 2, E), tw.zeros(T, 2, E + 1))
