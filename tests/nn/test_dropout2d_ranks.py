"""F.dropout2d / nn.Dropout2d on every rank, as torch 2.13 (mask shape (N, C, 1, ...), warnings), and Dropout3d."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import thalweg as tw
import thalweg.nn.functional as F
from thalweg import nn
from thalweg.autograd.gradcheck import gradcheck

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("shape", [(6, 40), (6, 8, 30), (4, 6, 5, 5), (2, 3, 4, 5, 6)])
def test_mask_shape_and_warnings_match_torch(shape):
    x = np.ones(shape)
    with warnings.catch_warnings(record=True) as ours_w:
        warnings.simplefilter("always")
        tw.manual_seed(0)
        y = F.dropout2d(tw.tensor(x), 0.5).array
    with warnings.catch_warnings(record=True) as torch_w:
        warnings.simplefilter("always")
        torch.nn.functional.dropout2d(torch.tensor(x), 0.5)
    assert [str(w.message) for w in ours_w] == [str(w.message) for w in torch_w]
    flat = y.reshape(shape[:2] + (-1,))
    assert ((flat == 0).all(-1) | (flat == 2).all(-1)).all()  # one draw per (dim 0, dim 1) pair
    assert 0 < (flat == 0).all(-1).mean() < 1


@pytest.mark.filterwarnings("ignore:dropout2d:UserWarning")
def test_eval_identity_errors_and_gradcheck():
    x = tw.ones(3, 4)
    with pytest.warns(UserWarning):
        assert F.dropout2d(x, 0.5, training=False) is x
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        F.dropout2d(tw.ones(5))
    with pytest.raises(RuntimeError):
        torch.nn.functional.dropout2d(torch.ones(5))
    xs = tw.tensor(np.random.default_rng(0).standard_normal((3, 4, 5)), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert gradcheck(lambda a: F.dropout2d(a, 0.4, generator=tw.Generator(3)), [xs])


def test_dropout3d():
    tw.manual_seed(2)
    y = nn.Dropout3d(0.5)(tw.ones(4, 6, 2, 3, 3)).array.reshape(4, 6, -1)
    assert ((y == 0).all(-1) | (y == 2).all(-1)).all()
    assert repr(nn.Dropout3d(0.2)) == repr(torch.nn.Dropout3d(0.2))
