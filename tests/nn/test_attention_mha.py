"""nn.MultiheadAttention: torch 2.13 parity of names, values and gradients across its options."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from thalweg import nn
from thalweg.autograd.gradcheck import gradcheck

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.filterwarnings("ignore:Support for mismatched:UserWarning"),
              pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")]

TOL = {np.float64: dict(rtol=1e-9, atol=1e-11), np.float32: dict(rtol=1e-4, atol=2e-5)}
E, H, N, L, S = 8, 2, 3, 4, 5


def _pair(dtype, **kw):
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(E, H, **kw).to(torch.float64 if dtype == np.float64 else torch.float32)
    om = nn.MultiheadAttention(E, H, dtype=dtype, **kw)
    assert list(om.state_dict()) == list(tm.state_dict())
    assert all(tuple(om.state_dict()[k].shape) == tuple(v.shape) for k, v in tm.state_dict().items())
    om.load_state_dict(tm.state_dict())
    return om, tm


def _compare(dtype, self_attn=True, masks=(), need_weights=True, average=True, unbatched=False, **kw):
    rng = np.random.default_rng(0)
    om, tm = _pair(dtype, **kw)
    bf = kw.get("batch_first", False)
    s = L if self_attn else S
    lead_q, lead_k = ((N, L) if bf else (L, N)), ((N, s) if bf else (s, N))
    if unbatched:
        lead_q, lead_k = (L,), (s,)
    q = rng.standard_normal(lead_q + (E,)).astype(dtype)
    kv = [rng.standard_normal(lead_k + (kw.get(d) or E,)).astype(dtype) for d in ("kdim", "vdim")]
    oq, tq = tw.tensor(q, requires_grad=True), torch.tensor(q, requires_grad=True)
    if self_attn:
        ok = ov = oq
        tk = tv = tq
    else:
        ok, ov = (tw.tensor(a, requires_grad=True) for a in kv)
        tk, tv = (torch.tensor(a, requires_grad=True) for a in kv)
    args_o, args_t = {}, {}
    for m in masks:
        if m == "kpm":
            a = rng.random((s,) if unbatched else (N, s)) < 0.3
            a[..., 0] = False
            name = "key_padding_mask"
        elif m == "bool":
            a = rng.random((L, s)) < 0.3
            a[:, 0] = False
            name = "attn_mask"
        elif m == "float":
            a, name = rng.standard_normal((L, s)).astype(dtype), "attn_mask"
        else:  # per-head float mask
            a, name = rng.standard_normal(((1 if unbatched else N) * H, L, s)).astype(dtype), "attn_mask"
        args_o[name], args_t[name] = tw.tensor(a), torch.tensor(a)
    out, w = om(oq, ok, ov, need_weights=need_weights, average_attn_weights=average, **args_o)
    out_t, w_t = tm(tq, tk, tv, need_weights=need_weights, average_attn_weights=average, **args_t)
    g = rng.standard_normal(out.shape).astype(dtype)
    loss, loss_t = (out * tw.tensor(g)).sum(), (out_t * torch.tensor(g)).sum()
    if need_weights:
        np.testing.assert_allclose(w.array, w_t.detach().numpy(), **TOL[dtype])
        loss, loss_t = loss + (w * w).sum(), loss_t + (w_t * w_t).sum()
    else:
        assert w is None and w_t is None
    loss.backward()
    loss_t.backward()
    np.testing.assert_allclose(out.array, out_t.detach().numpy(), **TOL[dtype])
    for (name, p), (name_t, p_t) in zip(om.named_parameters(), tm.named_parameters()):
        assert name == name_t
        np.testing.assert_allclose(np.asarray(p.grad), p_t.grad.numpy(), err_msg=name, **TOL[dtype])
    for a, b in ((oq, tq),) if self_attn else ((oq, tq), (ok, tk), (ov, tv)):
        np.testing.assert_allclose(np.asarray(a.grad), b.grad.numpy(), **TOL[dtype])


CASES = {
    "self": dict(),
    "self_batch_first": dict(batch_first=True),
    "fused_path": dict(need_weights=False),
    "fused_batch_first": dict(need_weights=False, batch_first=True),
    "cross": dict(self_attn=False),
    "kdim_vdim": dict(self_attn=False, kdim=6, vdim=7),
    "bias_kv": dict(add_bias_kv=True),
    "zero_attn": dict(add_zero_attn=True, self_attn=False),
    "all_masks_fused": dict(add_bias_kv=True, add_zero_attn=True, need_weights=False, masks=("kpm", "bool")),
    "kpm": dict(masks=("kpm",)),
    "kpm_fused": dict(masks=("kpm",), need_weights=False),
    "bool_mask": dict(masks=("bool",)),
    "float_mask_fused": dict(masks=("float",), need_weights=False),
    "per_head_mask": dict(masks=("3d",)),
    "per_head_and_kpm_fused": dict(masks=("3d", "kpm"), need_weights=False, batch_first=True),
    "weights_per_head": dict(average=False),
    "no_bias": dict(bias=False),
    "unbatched": dict(unbatched=True, masks=("kpm",)),
    "unbatched_fused": dict(unbatched=True, need_weights=False, masks=("3d",)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_matches_torch_float64(case):
    _compare(np.float64, **CASES[case])


@pytest.mark.parametrize("case", ["self_batch_first", "kpm_fused", "kdim_vdim", "bias_kv"])
def test_matches_torch_float32(case):
    _compare(np.float32, **CASES[case])


def test_causal_hint_and_fully_masked_queries():
    om, tm = _pair(np.float64, batch_first=True)
    x = np.random.default_rng(1).standard_normal((N, L, E))
    causal = nn.Transformer.generate_square_subsequent_mask(L, dtype=np.float64)
    out, _ = om(tw.tensor(x), tw.tensor(x), tw.tensor(x), attn_mask=causal, is_causal=True, need_weights=False)
    xt = torch.tensor(x)
    ref, _ = tm(xt, xt, xt, attn_mask=torch.tensor(causal.array), is_causal=True, need_weights=False)
    np.testing.assert_allclose(out.array, ref.detach().numpy(), **TOL[np.float64])
    with pytest.raises(RuntimeError, match="need attn_mask"):
        om(tw.tensor(x), tw.tensor(x), tw.tensor(x), is_causal=True)
    kpm = np.zeros((N, L), dtype=bool)
    kpm[0] = True  # sample 0 sees no key: weights path NaN, fused path 0, as torch
    xo = tw.tensor(x)
    assert np.isnan(om(xo, xo, xo, key_padding_mask=tw.tensor(kpm))[0].array[0]).all()
    np.testing.assert_allclose(om(xo, xo, xo, key_padding_mask=tw.tensor(kpm), need_weights=False)[0].array,
                               tm(xt, xt, xt, key_padding_mask=torch.tensor(kpm), need_weights=False)[0]
                               .detach().numpy(), **TOL[np.float64])


def test_gradcheck_and_dropout():
    om = nn.MultiheadAttention(4, 2, batch_first=True, dtype=np.float64, dropout=0.3)
    x = tw.tensor(np.random.default_rng(2).standard_normal((2, 3, 4)), requires_grad=True)

    def fn(a):
        tw.manual_seed(5)
        return om(a, a, a, need_weights=False)[0]

    assert gradcheck(fn, [x])
    om.eval()
    assert gradcheck(lambda a: om(a, a, a)[0], [x])


def test_errors_name_the_layer_and_shapes():
    with pytest.raises(ValueError, match="divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    om = nn.MultiheadAttention(8, 2)
    with pytest.raises(ValueError, match=r"MultiheadAttention\(embed_dim=8, num_heads=2\).*\(4, 3, 6\)"):
        x = tw.zeros(4, 3, 6)
        om(x, x, x)
    x = tw.zeros(4, 3, 8)
    with pytest.raises(ValueError, match="key_padding_mask"):
        om(x, x, x, key_padding_mask=tw.tensor(np.zeros((3, 5), dtype=bool)))
    with pytest.raises(ValueError, match="attn_mask"):
        om(x, x, x, attn_mask=tw.tensor(np.zeros((4, 5), dtype=bool)))
