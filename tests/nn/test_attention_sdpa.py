"""F.scaled_dot_product_attention: torch 2.13 parity (values and gradients), masks, dropout, gradcheck."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
import thalweg.nn.functional as F
from thalweg.autograd.gradcheck import gradcheck

torch = pytest.importorskip("torch")

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-4, atol=2e-5)}


def _run(q, k, v, dtype, mask=None, mask_grad=False, **kw):
    """Forward+backward in both libraries; returns (ours, theirs) lists [out, dq, dk, dv, (dmask)]."""
    rng = np.random.default_rng(7)
    arrays = [a.astype(dtype) for a in (q, k, v)]
    ours = [tw.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    mo = mt = None
    if mask is not None:
        m = mask if mask.dtype == np.bool_ else mask.astype(dtype)
        mo = tw.tensor(m, requires_grad=mask_grad)
        mt = torch.tensor(m, requires_grad=mask_grad)
    out = F.scaled_dot_product_attention(*ours, attn_mask=mo, **kw)
    out_t = torch.nn.functional.scaled_dot_product_attention(*theirs, attn_mask=mt, **kw)
    g = rng.standard_normal(out.shape).astype(dtype)
    out.backward(tw.tensor(g))
    out_t.backward(torch.tensor(g))
    a = [out.array] + [np.asarray(t.grad) for t in ours]
    b = [out_t.detach().numpy()] + [t.grad.numpy() for t in theirs]
    if mask_grad:
        a.append(np.asarray(mo.grad))
        b.append(mt.grad.numpy())
    return a, b


def _data(shape_q, shape_k, ev=None, seed=0):
    rng = np.random.default_rng(seed)
    ev = ev or shape_q[-1]
    return (rng.standard_normal(shape_q), rng.standard_normal(shape_k),
            rng.standard_normal(shape_k[:-1] + (ev,)))


CASES = {
    "plain": dict(),
    "causal": dict(is_causal=True),
    "scale": dict(scale=0.3),
    "bool_mask": dict(mask="bool"),
    "float_mask": dict(mask="float"),
    "float_mask_grad": dict(mask="float", mask_grad=True),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", list(CASES))
def test_matches_torch(case, dtype):
    q, k, v = _data((2, 3, 5, 4), (2, 3, 6, 4), ev=7)
    kw = dict(CASES[case])
    rng = np.random.default_rng(1)
    mask = kw.pop("mask", None)
    if mask == "bool":
        mask = rng.random((3, 5, 6)) > 0.3  # broadcasts over the batch
    elif mask == "float":
        mask = rng.standard_normal((5, 6))
    ours, theirs = _run(q, k, v, dtype, mask=mask, **kw)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape and a.dtype == dtype
        np.testing.assert_allclose(a, b, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fully_masked_rows_give_zero_as_torch(dtype):
    q, k, v = _data((2, 4, 3), (2, 5, 3))
    mask = np.ones((4, 5), dtype=bool)
    mask[1] = False
    ours, theirs = _run(q, k, v, dtype, mask=mask)
    assert np.all(ours[0][:, 1] == 0) and np.all(theirs[0][:, 1] == 0)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, **TOL[dtype])
    fm = np.zeros((4, 5))
    fm[2] = -np.inf
    ours, theirs = _run(q, k, v, dtype, mask=fm, mask_grad=True)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, **TOL[dtype])


def test_causal_with_more_queries_than_keys_and_unbatched():
    q, k, v = _data((6, 4), (3, 4), ev=2)
    for a, b in zip(*_run(q, k, v, np.float64, is_causal=True)):
        np.testing.assert_allclose(a, b, **TOL[np.float64])


def test_grouped_query_attention():
    q, k, v = _data((2, 4, 5, 3), (2, 2, 6, 3))
    for a, b in zip(*_run(q, k, v, np.float64, enable_gqa=True, is_causal=True)):
        np.testing.assert_allclose(a, b, **TOL[np.float64])
    with pytest.raises(ValueError, match="enable_gqa"):
        F.scaled_dot_product_attention(*(tw.tensor(a) for a in (q, k, v)))


def test_gradcheck_float64():
    q, k, v = _data((2, 3, 4), (2, 5, 4), ev=3, seed=3)
    m = np.random.default_rng(4).standard_normal((3, 5))
    ins = [tw.tensor(a, requires_grad=True) for a in (q, k, v, m)]
    assert gradcheck(lambda a, b, c, d: F.scaled_dot_product_attention(a, b, c, attn_mask=d), ins)
    blocked = np.random.default_rng(5).random((3, 5)) > 0.4
    blocked[:, 0] = True
    assert gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=tw.tensor(blocked)), ins[:3])
    assert gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True), ins[:3])


def test_dropout_is_seeded_scaled_and_differentiable():
    q, k, v = _data((2, 5, 4), (2, 5, 4))
    ins = [tw.tensor(a, requires_grad=True) for a in (q, k, v)]
    tw.manual_seed(3)
    a = F.scaled_dot_product_attention(*ins, dropout_p=0.4)
    tw.manual_seed(3)
    b = F.scaled_dot_product_attention(*ins, dropout_p=0.4)
    np.testing.assert_array_equal(a.array, b.array)
    assert not np.allclose(a.array, F.scaled_dot_product_attention(*ins).array)
    ones = tw.tensor(np.ones((1, 2000, 1)))
    tw.manual_seed(0)
    mean = F.scaled_dot_product_attention(ones, ones, ones, dropout_p=0.5).array.mean()
    assert abs(mean - 1.0) < 0.05  # E[(P * D) V] = P V: inverted dropout keeps the expectation

    def fn(x, y, z):
        tw.manual_seed(11)
        return F.scaled_dot_product_attention(x, y, z, dropout_p=0.3)

    assert gradcheck(fn, ins)
    assert np.all(F.scaled_dot_product_attention(*ins, dropout_p=1.0).array == 0)


def test_errors_name_the_op_and_shapes():
    q = tw.tensor(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"scaled_dot_product_attention.*\(2, 3, 5\)"):
        F.scaled_dot_product_attention(q, tw.tensor(np.zeros((2, 3, 5))), q)
    with pytest.raises(ValueError, match="attn_mask of shape"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=tw.tensor(np.zeros((4, 4), dtype=bool)))
    with pytest.raises(RuntimeError, match="is_causal"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=tw.tensor(np.ones((3, 3), dtype=bool)), is_causal=True)
    with pytest.raises(TypeError, match="dtype"):
        F.scaled_dot_product_attention(q, q, q.float())


# ------------------------------------------------ large score tensors, one block of the batch at a time
@pytest.mark.parametrize("causal", [False, True])
def test_blocked_attention_matches_torch_and_the_whole_computation(monkeypatch, causal):
    import thalweg.ops.attention as attention

    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    q, k, v = (rng.standard_normal((5, 3, 7, 4)) for _ in range(3))
    g = rng.standard_normal((5, 3, 7, 4))

    def ours():
        leaves = [tw.tensor(a, requires_grad=True) for a in (q, k, v)]
        out = tw.nn.functional.scaled_dot_product_attention(*leaves, is_causal=causal)
        out.backward(tw.tensor(g))
        return [out.detach().numpy()] + [t.grad.numpy() for t in leaves]

    whole = ours()
    monkeypatch.setattr(attention, "BLOCK_SCORES", 60)  # blocks of one batch item (3 * 7 * 7 = 147 scores)
    assert len(attention._batch_blocks(q, k, v, None, None, np)) == 5
    blocked = ours()
    leaves = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    out = torch.nn.functional.scaled_dot_product_attention(*leaves, is_causal=causal)
    out.backward(torch.tensor(g))
    expected = [out.detach().numpy()] + [t.grad.numpy() for t in leaves]
    for a, b, c in zip(blocked, whole, expected):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(a, c, rtol=1e-9, atol=1e-10)


def test_blocked_attention_with_dropout_equals_the_whole_computation(monkeypatch):
    import thalweg.ops.attention as attention

    rng = np.random.default_rng(12)
    q, k, v = (rng.standard_normal((4, 2, 6, 3)).astype(np.float32) for _ in range(3))

    def run():
        tw.manual_seed(3)
        leaves = [tw.tensor(a, requires_grad=True) for a in (q, k, v)]
        out = tw.nn.functional.scaled_dot_product_attention(*leaves, dropout_p=0.3)
        (out * out).sum().backward()
        return [out.detach().numpy()] + [t.grad.numpy() for t in leaves]

    whole = run()
    monkeypatch.setattr(attention, "BLOCK_SCORES", 50)
    for a, b in zip(run(), whole):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
