"""ESIM's parts: gradchecks, values by hand and against torch, masks; whole-model shapes and padding invariance."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from thalweg.autograd import gradcheck
from thalweg_lab.nli import ESIM, Enhancement, MaskedPooling, SentenceEncoder, SoftAlignment

MA = np.array([[True, True, True], [True, True, False]])
MB = np.array([[True, True], [True, False]])


def _rand(*shape: int, seed: int = 0) -> tw.Tensor:
    return tw.tensor(np.random.default_rng(seed).normal(size=shape), dtype=tw.float64, requires_grad=True)


def test_soft_alignment_gradcheck_in_both_directions() -> None:
    a, b = _rand(2, 3, 4, seed=0), _rand(2, 2, 4, seed=1)
    align = SoftAlignment()
    assert gradcheck(lambda x, y: align(x, y, MA, MB)[0], [a, b])
    assert gradcheck(lambda x, y: align(x, y, MA, MB)[1], [a, b])


def test_soft_alignment_matches_a_torch_reference_and_ignores_padding() -> None:
    torch = pytest.importorskip("torch")
    a, b = _rand(2, 3, 4, seed=2), _rand(2, 2, 4, seed=3)
    a_t, b_t = SoftAlignment()(a, b, MA, MB)
    ta, tb = torch.tensor(a.array), torch.tensor(b.array)
    e = ta @ tb.transpose(1, 2)
    w_ab = torch.softmax(e.masked_fill(~torch.tensor(MB)[:, None, :], -1e9), dim=2)
    w_ba = torch.softmax(e.masked_fill(~torch.tensor(MA)[:, :, None], -1e9), dim=1)
    np.testing.assert_allclose(a_t.array, (w_ab @ tb).numpy(), rtol=1e-10)
    np.testing.assert_allclose(b_t.array, (w_ba.transpose(1, 2) @ ta).numpy(), rtol=1e-10)
    # example 1's padded hypothesis token gets no weight: every premise word aligns with token 0 only
    np.testing.assert_allclose(a_t.array[1], np.repeat(b.array[1, :1], 3, axis=0))
    # changing padded positions changes nothing at the real ones
    b2 = tw.tensor(b.array.copy())
    b2.array[1, 1] = 100.0
    np.testing.assert_allclose(SoftAlignment()(a, b2, MA, MB)[0].array, a_t.array)


def test_uniform_alignment_is_the_masked_mean_and_bad_masks_are_named() -> None:
    a, b = _rand(2, 3, 4), _rand(2, 2, 4)
    a_t, b_t = SoftAlignment(uniform=True)(a, b, MA, MB)
    np.testing.assert_allclose(a_t.array[0, 0], b.array[0].mean(axis=0))
    np.testing.assert_allclose(b_t.array[1, 0], a.array[1, :2].mean(axis=0))
    with pytest.raises(ValueError, match="mask must have shape"):
        SoftAlignment()(a, b, MA[:, :2], MB)
    with pytest.raises(ValueError, match="at least one real token"):
        SoftAlignment()(a, b, MA, np.array([[True, True], [False, False]]))


def test_enhancement_concatenates_difference_and_product() -> None:
    x, y = _rand(2, 3, 2, seed=4), _rand(2, 3, 2, seed=5)
    out = Enhancement()(x, y)
    assert out.shape == (2, 3, 8)
    np.testing.assert_allclose(out.array[..., 4:6], x.array - y.array)
    np.testing.assert_allclose(out.array[..., 6:], x.array * y.array)
    assert Enhancement(full=False)(x, y).shape == (2, 3, 4)
    assert gradcheck(lambda p, q: Enhancement()(p, q), [x, y])
    with pytest.raises(ValueError, match="one shape"):
        Enhancement()(x, y[:, :2])


def test_masked_pooling_by_hand_and_gradcheck() -> None:
    x = tw.tensor([[[1.0, -2.0], [3.0, 0.0], [50.0, 50.0]]], dtype=tw.float64, requires_grad=True)
    mask = np.array([[True, True, False]])
    out = MaskedPooling()(x, mask)
    np.testing.assert_allclose(out.array, [[2.0, -1.0, 3.0, 0.0]])  # mean, then max, of the two real rows
    np.testing.assert_allclose(MaskedPooling("sum")(x, mask).array, [[4.0, -2.0]])
    r = _rand(2, 3, 4, seed=6)
    assert gradcheck(lambda v: MaskedPooling()(v, MA), [r])
    assert gradcheck(lambda v: MaskedPooling("sum")(v, MA), [r])
    with pytest.raises(ValueError, match="mode"):
        MaskedPooling("median")


def _batch() -> tuple[np.ndarray, ...]:
    a = np.array([[2, 3, 4, 5], [6, 7, 0, 0]])
    b = np.array([[3, 8, 0], [9, 2, 4]])
    return a, np.array([4, 2]), b, np.array([2, 3])


@pytest.mark.parametrize("kwargs", [{}, {"enhancement": False}, {"pooling": "sum"}, {"attention": "uniform"}])
def test_esim_and_its_ablations_give_logits_and_ignore_extra_padding(kwargs: dict) -> None:
    tw.manual_seed(0)
    model = ESIM(10, 6, 5, **kwargs).eval()
    a, la, b, lb = _batch()
    out = model(a, la, b, lb)
    assert out.shape == (2, 3) and out.dtype == np.float32
    padded = model(np.pad(a, ((0, 0), (0, 3))), la, np.pad(b, ((0, 0), (0, 2))), lb)
    np.testing.assert_allclose(padded.array, out.array, rtol=1e-5, atol=1e-6)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_the_sentence_encoder_baseline_and_the_paper_defaults() -> None:
    tw.manual_seed(1)
    enc = SentenceEncoder(10, 6, 5).eval()
    a, la, b, lb = _batch()
    assert enc(a, la, b, lb).shape == (2, 3)
    full = ESIM(50)
    assert full.embedding.embedding_dim == 300 and full.encoder.lstm.hidden_size == 300
    assert full.drop.p == 0.5 and ESIM.PAPER_SETTINGS["lr"] == 4e-4 and ESIM.PAPER_SETTINGS["batch_size"] == 32
    with pytest.raises(ValueError, match="attention"):
        ESIM(10, 4, 4, attention="hard")


def test_esim_learns_a_tiny_alignment_task() -> None:
    # entailment iff the hypothesis word occurs in the premise: alignment makes this easy
    rng = np.random.default_rng(0)
    n = 96
    prem = rng.integers(1, 12, size=(n, 4))
    hyp = np.where(np.arange(n)[:, None] % 2 == 0, prem[:, rng.integers(4, size=1)],
                   rng.integers(12, 20, size=(n, 1)))
    y = (np.arange(n) % 2 == 1).astype(np.int64)  # 0 = contained, 1 = not
    tw.manual_seed(0)
    model = ESIM(20, 8, 8, num_classes=2, dropout=0.0)
    opt = tw.optim.Adam(model.parameters(), lr=0.01)
    la, lb = np.full(n, 4), np.full(n, 1)
    for _ in range(40):
        loss = tw.nn.functional.cross_entropy(model(prem, la, hyp, lb), tw.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    assert np.mean(model(prem, la, hyp, lb).array.argmax(1) == y) > 0.9
