"""The compiled softmax of scaled dot-product attention (numba_kernels.attention_softmax and its backward): where it
is used, and torch parity in float32 where its row limits matter (causal with more or fewer queries than keys, NaN)."""

import numpy as np
import pytest

import thalweg as tw
from thalweg.ops import kernels

F = tw.nn.functional
pytestmark = pytest.mark.skipif(not kernels.enabled(), reason="numba is not installed (the speed extra)")


@pytest.fixture
def calls(monkeypatch):
    """How often each attention kernel ran."""
    kernels.warm_up()
    counts = {"attention_softmax": 0, "attention_softmax_backward": 0}
    for name in counts:
        real = kernels._kernels[name]

        def counted(*args, real=real, name=name):
            counts[name] += 1
            return real(*args)

        monkeypatch.setitem(kernels._kernels, name, counted)
    return counts


def _both(q, k, v, **kwargs):
    torch = pytest.importorskip("torch")
    ours = [tw.tensor(a, requires_grad=True) for a in (q, k, v)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    out = F.scaled_dot_product_attention(*ours, **kwargs)
    out_t = torch.nn.functional.scaled_dot_product_attention(*theirs, **kwargs)
    g = np.random.default_rng(9).standard_normal(out.shape).astype(np.float32)
    out.backward(tw.tensor(g))
    out_t.backward(torch.tensor(g))
    return [out] + [t.grad for t in ours], [out_t] + [t.grad for t in theirs]


def test_used_for_float32_without_masks_only(calls):
    q = tw.randn(2, 3, 5, 4, requires_grad=True)
    F.scaled_dot_product_attention(q, q, q, is_causal=True).sum().backward()
    assert calls == {"attention_softmax": 1, "attention_softmax_backward": 1}
    F.scaled_dot_product_attention(q, q, q, attn_mask=tw.ones(5, 5, dtype=tw.bool))
    F.scaled_dot_product_attention(q.double(), q.double(), q.double())
    assert calls["attention_softmax"] == 1


@pytest.mark.parametrize("queries, keys", [(7, 7), (9, 4), (3, 8)], ids=str)
@pytest.mark.parametrize("causal", [True, False])
def test_matches_torch(calls, queries, keys, causal):
    rng = np.random.default_rng(0)
    q = rng.standard_normal((2, 3, queries, 8)).astype(np.float32)
    k = rng.standard_normal((2, 3, keys, 8)).astype(np.float32)
    v = rng.standard_normal((2, 3, keys, 5)).astype(np.float32)
    for a, b in zip(*_both(q, k, v, is_causal=causal, scale=0.7)):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-4, atol=2e-5)
    assert calls["attention_softmax"] == 1 and calls["attention_softmax_backward"] == 1


def test_a_nan_score_makes_its_row_nan_as_without_the_kernel(calls):
    """NaN propagates, as in the NumPy form and torch.softmax (torch's fused CPU attention returns 0 for that row)."""
    rng = np.random.default_rng(1)
    q = rng.standard_normal((1, 1, 4, 3)).astype(np.float32)
    q[0, 0, 2, 1] = np.nan  # query 2's scores are all NaN
    k, v = (tw.tensor(rng.standard_normal((1, 1, 4, 3)).astype(np.float32)) for _ in range(2))
    compiled = F.scaled_dot_product_attention(tw.tensor(q), k, v, is_causal=True).numpy()
    previous = kernels.set_enabled(False)
    try:
        plain = F.scaled_dot_product_attention(tw.tensor(q), k, v, is_causal=True).numpy()
    finally:
        kernels.set_enabled(previous)
    assert np.isnan(compiled[0, 0, 2]).all() and not np.isnan(compiled[0, 0, [0, 1, 3]]).any()
    np.testing.assert_allclose(compiled, plain, rtol=1e-5, atol=1e-6)
    assert calls["attention_softmax"] == 1
