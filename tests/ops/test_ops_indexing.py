"""Indexing: repeated indices accumulate in backward (embeddings, picking the gold class)."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from thalweg.autograd import gradcheck


def test_repeated_rows_accumulate_like_an_embedding() -> None:
    table = tw.tensor(np.arange(8.0).reshape(4, 2), requires_grad=True)
    tokens = tw.tensor([[1, 3, 1], [1, 0, 3]])
    table[tokens].sum().backward()
    counts = np.bincount(tokens.numpy().ravel(), minlength=4)  # row 1 three times, row 2 never
    np.testing.assert_array_equal(table.grad, np.repeat(counts[:, None], 2, axis=1).astype(np.float32))


def test_picking_the_gold_class() -> None:
    logits = tw.tensor(np.zeros((3, 4)), requires_grad=True)
    gold = tw.tensor([2, 2, 0])
    (-logits.log_softmax(dim=1)[tw.arange(3), gold]).sum().backward()
    expected = np.full((3, 4), 0.25)
    expected[[0, 1, 2], [2, 2, 0]] -= 1.0
    np.testing.assert_allclose(logits.grad, expected, rtol=1e-12)


@pytest.mark.parametrize("index", [
    (np.array([0, 0, 0]), slice(None)),
    (Ellipsis, np.array([1, 1])),
    (np.array([[0], [2]]), np.array([1, 1, 3])),  # broadcast index arrays, repeats across rows
    np.array([True, False, True]),
    (np.array([True, False, True]), np.array([0, 0])),
    (slice(None, None, -1), 2),
    (None, 1, slice(1, 3)),
], ids=lambda i: str(i).replace("\n", ""))
def test_index_forms_pass_gradcheck(index: object) -> None:
    x = tw.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda t: t[index], [x])


def test_gather_repeated_indices_and_errors() -> None:
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((3, 5))
    idx = np.array([[0, 0], [4, 4], [1, 0]])
    ours = tw.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    ours.gather(1, tw.tensor(idx)).sum().backward()
    theirs.gather(1, torch.tensor(idx)).sum().backward()
    np.testing.assert_array_equal(ours.grad, theirs.grad.numpy())
    with pytest.raises(TypeError, match="integer"):
        ours.gather(1, tw.tensor([[0.5]]))
    with pytest.raises(ValueError, match="dimensions"):
        ours.gather(1, tw.tensor([0, 1]))
