"""First-derivative saliency against central finite differences; variance salience by hand; the bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from thalweg import nn
from thalweg.analysis.saliency import draw_saliency, find_embedding, saliency, variance_salience


class _Tiny(nn.Module):
    """Embedding -> bidirectional LSTM with lengths -> mean of the final states -> linear, in float64."""

    def __init__(self, vocab: int = 7, dim: int = 3, hidden: int = 4, classes: int = 3) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim, padding_idx=0, dtype=tw.float64)
        self.lstm = nn.LSTM(dim, hidden, batch_first=True, bidirectional=True, dtype=tw.float64)
        self.out = nn.Linear(2 * hidden, classes, dtype=tw.float64)

    def forward(self, ids, lengths):
        _, (h, _) = self.lstm(self.embedding(ids), lengths=lengths)
        return self.out(tw.cat([h[0], h[1]], axis=1))


IDS = np.array([[1, 2, 3, 4], [5, 6, 0, 0]])
LENGTHS = np.array([4, 2])
TARGET = np.array([2, 0])


def _finite_difference(model: nn.Module, score, eps: float = 1e-6) -> np.ndarray:
    """d score / d E by central differences, perturbing the embedding's output entry by entry."""
    base = model.embedding(IDS).array.copy()
    grad = np.zeros_like(base)
    delta = np.zeros_like(base)
    handle = model.embedding.register_forward_hook(lambda m, a, out: tw.Tensor(out.array + delta))
    try:
        for idx in np.ndindex(base.shape):
            vals = []
            for sign in (1.0, -1.0):
                delta[...] = 0.0
                delta[idx] = sign * eps
                with tw.no_grad():
                    vals.append(score(model(IDS, LENGTHS)))
            grad[idx] = (vals[0] - vals[1]) / (2 * eps)
    finally:
        handle.remove()
    return grad


def _logit_score(out: tw.Tensor) -> float:
    return float(out.array[np.arange(2), TARGET].sum())


def _loss_score(out: tw.Tensor) -> float:
    z = out.array - out.array.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(2), TARGET].sum())


@pytest.mark.parametrize("score,reference", [("logit", _logit_score), ("loss", _loss_score)])
def test_saliency_is_the_gradient_of_the_score_wrt_the_embeddings(score: str, reference) -> None:
    tw.manual_seed(0)
    model = _Tiny().eval()
    result = saliency(model, (IDS, LENGTHS), TARGET, score=score)
    fd = _finite_difference(model, reference)
    np.testing.assert_allclose(result.gradient, fd, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(result.magnitude, np.abs(fd), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(result.token_saliency, np.sqrt((fd ** 2).sum(-1)), rtol=1e-5, atol=1e-8)
    # padded positions do not influence the output: zero saliency
    np.testing.assert_allclose(result.gradient[1, 2:], 0.0, atol=1e-12)


def test_a_score_function_norms_and_the_top_token() -> None:
    tw.manual_seed(1)
    model = _Tiny()
    r = saliency(model, (IDS, LENGTHS), None, score=lambda out, t: out[:, 1].sum() - out[:, 0].sum(), norm="l1")
    fd = _finite_difference(model.eval(), lambda out: float((out.array[:, 1] - out.array[:, 0]).sum()))
    np.testing.assert_allclose(r.token_saliency, np.abs(fd).sum(-1), rtol=1e-5, atol=1e-8)
    r_max = saliency(model, (IDS, LENGTHS), 1, norm="max")
    np.testing.assert_allclose(r_max.token_saliency, r_max.magnitude.max(-1))
    top = r.top_token(LENGTHS)
    assert top[1] < 2 and top[0] == int(np.argmax(r.token_saliency[0]))
    with pytest.raises(ValueError, match="norm"):
        saliency(model, (IDS, LENGTHS), 1, norm="l3")
    with pytest.raises(ValueError, match="target classes"):
        saliency(model, (IDS, LENGTHS), [0, 5])


def test_saliency_leaves_the_model_as_it_found_it() -> None:
    tw.manual_seed(2)
    model = _Tiny()
    model.train()
    out = model(IDS, LENGTHS)
    out.sum().backward()
    before = {n: p.grad.array.copy() for n, p in model.named_parameters()}
    saliency(model, (IDS, LENGTHS), TARGET)
    assert model.training
    for n, p in model.named_parameters():
        np.testing.assert_array_equal(p.grad, before[n])
    assert not model.embedding.__dict__.get("_forward_hooks")
    # eval mode is used inside: dropout would make the gradient random
    drop = nn.Sequential(nn.Embedding(5, 3), nn.Dropout(0.9), nn.Flatten(), nn.Linear(6, 2))
    a = saliency(drop, np.array([[1, 2]]), 0).gradient
    b = saliency(drop, np.array([[1, 2]]), 0).gradient
    np.testing.assert_array_equal(a, b)


def test_finding_the_embedding() -> None:
    model = _Tiny()
    assert find_embedding(model) is model.embedding
    assert find_embedding(model, "embedding") is model.embedding
    two = nn.ModuleList([nn.Embedding(3, 2), nn.Embedding(3, 2)])
    with pytest.raises(ValueError, match="exactly one"):
        find_embedding(two)
    with pytest.raises(TypeError, match="not an Embedding"):
        find_embedding(model, "lstm")
    first = two[0]
    assert find_embedding(two, first) is first


def test_variance_salience_by_hand() -> None:
    e = np.array([[[1.0, 0.0], [3.0, 0.0], [2.0, 6.0], [9.0, 9.0]]])  # the last row is padding
    per_token = variance_salience(e, [3])
    # mean of the real rows: (2, 2); squared deviations: (1+4), (1+4), (0+16), padding 0
    np.testing.assert_allclose(per_token, [[5.0, 5.0, 16.0, 0.0]])
    per_dim = variance_salience(e, [3], per_dimension=True)
    np.testing.assert_allclose(per_dim[0, 2], [0.0, 16.0])
    with pytest.raises(ValueError, match="lengths"):
        variance_salience(e, [5])


def test_draw_saliency_makes_a_heat_map() -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot(1, 1, 1)
    image = draw_saliency(ax, ["i", "hate", "it"], np.arange(12.0).reshape(3, 4), title="t")
    assert image.get_array().shape == (3, 4)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["i", "hate", "it"]
    with pytest.raises(ValueError, match="tokens"):
        draw_saliency(ax, ["a"], np.ones((2, 3)))
