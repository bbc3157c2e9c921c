"""Embedding: lookup and scatter-add gradient (float64 gradcheck, torch parity), padding_idx,
max_norm, scale_grad_by_freq, from_pretrained, initialization and errors."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
import thalweg.nn.functional as F
from thalweg import nn
from thalweg.autograd import gradcheck

# float32 tolerances: the lookup is exact; the gradient sums a few float32 terms per row.
F32 = dict(rtol=1e-6, atol=1e-6)


def twins(torch, num, dim, **kwargs):
    torch.manual_seed(0)
    theirs = torch.nn.Embedding(num, dim, **kwargs)
    ours = nn.Embedding(num, dim, **kwargs)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def test_embedding_gradcheck_with_repeated_indices():
    weight = tw.tensor(np.random.default_rng(0).standard_normal((6, 3)), requires_grad=True)
    idx = tw.tensor([[0, 2, 2], [5, 0, 2]])
    assert gradcheck(lambda w: F.embedding(idx, w), [weight])


def test_embedding_module_gradcheck():
    layer = nn.Embedding(5, 4, dtype=tw.float64)
    assert gradcheck(lambda w: layer(np.array([4, 4, 1, 0, 4])), [layer.weight])


@pytest.mark.parametrize("padding_idx", [None, 0, 3, -1])
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4)])
def test_embedding_matches_torch(shape, padding_idx):
    torch = pytest.importorskip("torch")
    ours, theirs = twins(torch, 10, 4, padding_idx=padding_idx)
    idx = np.random.default_rng(1).integers(0, 10, size=shape)
    idx.reshape(-1)[:3] = 3  # repeats, and the padding row is looked up
    out, tout = ours(tw.tensor(idx)), theirs(torch.tensor(idx))
    assert out.shape == tuple(tout.shape) == shape + (4,)
    np.testing.assert_array_equal(out.array, tout.detach().numpy())
    g = np.random.default_rng(2).standard_normal(out.shape).astype(np.float32)
    out.backward(tw.tensor(g))
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), **F32)
    if padding_idx is not None:
        assert not ours.weight.grad[padding_idx].any()


def test_embedding_scale_grad_by_freq_matches_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = twins(torch, 6, 3, scale_grad_by_freq=True, padding_idx=1)
    idx = np.array([[0, 0, 0, 2], [2, 5, 1, 1]])
    g = np.random.default_rng(0).standard_normal((2, 4, 3)).astype(np.float32)
    ours(idx).backward(tw.tensor(g))
    theirs(torch.tensor(idx)).backward(torch.tensor(g))
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), **F32)


def test_embedding_max_norm_matches_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = twins(torch, 8, 5, max_norm=1.0)
    idx = np.array([[1, 3, 3], [7, 0, 1]])
    out, tout = ours(idx), theirs(torch.tensor(idx))
    np.testing.assert_allclose(out.array, tout.detach().numpy(), **F32)
    np.testing.assert_allclose(ours.weight.array, theirs.weight.detach().numpy(), **F32)  # renormed in place
    looked_up = np.linalg.norm(ours.weight.array[[0, 1, 3, 7]], axis=1)
    assert (looked_up <= 1.0 + 1e-6).all()
    untouched = np.linalg.norm(ours.weight.array[[2, 4]], axis=1)
    assert (untouched > 1.0).all()  # N(0, 1) rows of dimension 5 have norm ~2.2; these were not looked up


def test_embedding_init_is_standard_normal_with_zero_padding_row():
    tw.manual_seed(3)
    a = nn.Embedding(1000, 64, padding_idx=7)
    tw.manual_seed(3)
    b = nn.Embedding(1000, 64, padding_idx=7)
    np.testing.assert_array_equal(a.weight.array, b.weight.array)
    assert a.weight.dtype == np.float32
    assert not a.weight.array[7].any()
    rest = np.delete(a.weight.array, 7, axis=0)
    assert abs(rest.mean()) < 0.01 and abs(rest.std() - 1) < 0.01


def test_from_pretrained_freezes_by_default_and_keeps_the_table():
    table = np.arange(12, dtype=np.float32).reshape(4, 3)
    frozen = nn.Embedding.from_pretrained(table, padding_idx=0)
    assert not frozen.weight.requires_grad
    np.testing.assert_array_equal(frozen.weight.data[0], table[0])  # not zeroed, as in torch
    out = frozen(tw.tensor([3, 0]))
    np.testing.assert_array_equal(out.array, table[[3, 0]])
    assert not out.requires_grad
    trainable = nn.Embedding.from_pretrained(tw.tensor(table), freeze=False)
    trainable(tw.tensor([1, 1, 2])).sum().backward()
    np.testing.assert_array_equal(trainable.weight.grad, [[0, 0, 0], [2, 2, 2], [1, 1, 1], [0, 0, 0]])
    with pytest.raises(ValueError, match=r"Embedding.from_pretrained: embeddings must be 2-D .* got shape \(4,\)"):
        nn.Embedding.from_pretrained(np.zeros(4))


def test_from_pretrained_matches_torch():
    torch = pytest.importorskip("torch")
    table = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    ours = nn.Embedding.from_pretrained(table, freeze=False, padding_idx=2)
    theirs = torch.nn.Embedding.from_pretrained(torch.tensor(table), freeze=False, padding_idx=2)
    idx = np.array([2, 4, 4, 0])
    ours(idx).sum().backward()
    theirs(torch.tensor(idx)).sum().backward()
    np.testing.assert_array_equal(ours.weight.grad, theirs.weight.grad.numpy())


def test_embedding_errors():
    layer = nn.Embedding(10, 3)
    with pytest.raises(IndexError, match=r"Embedding: index 10 is out of range for 10 embeddings \(valid: 0 to 9\)"):
        layer(tw.tensor([1, 10]))
    with pytest.raises(IndexError, match="Embedding: index -1 is out of range"):
        layer(np.array([[-1, 2]]))
    with pytest.raises(TypeError, match="Embedding: indices must be integers .* got dtype float32"):
        layer(tw.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="Embedding: padding_idx=10 must lie within num_embeddings=10"):
        nn.Embedding(10, 3, padding_idx=10)
    with pytest.raises(ValueError, match="Embedding: embedding_dim must be a positive integer, got 0"):
        nn.Embedding(10, 0)
    with pytest.raises(ValueError, match="Embedding: sparse gradients are not supported"):
        nn.Embedding(10, 3, sparse=True)
    with pytest.raises(IndexError, match="embedding: index 6 is out of range for 6 embeddings"):
        F.embedding(np.array([6]), tw.zeros(6, 2))


def test_embedding_feeds_a_gru_end_to_end():
    """Embedding -> GRU -> last state: one backward fills both layers' gradients, padding row excepted."""
    tw.manual_seed(0)
    emb, gru = nn.Embedding(20, 5, padding_idx=0), nn.GRU(5, 6, batch_first=True)
    tokens = np.array([[3, 4, 5, 0], [7, 0, 0, 0]])
    _, h = gru(emb(tokens), lengths=[3, 1])
    h.sum().backward()
    assert not emb.weight.grad[0].any()
    assert np.abs(emb.weight.grad[[3, 4, 5, 7]]).min(axis=1).all()
    assert not emb.weight.grad[[1, 2, 6]].any()
