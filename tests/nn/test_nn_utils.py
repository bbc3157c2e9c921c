"""nn.utils: clipping re-exports and the parameter-vector round trip."""

import numpy as np
import pytest

import thalweg as tw
from thalweg import nn


def test_parameters_to_vector_round_trip():
    m = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    v = nn.utils.parameters_to_vector(m.parameters())
    assert v.shape == (3 * 4 + 4 + 4 * 2 + 2,)
    nn.utils.vector_to_parameters(v * 2.0, m.parameters())
    np.testing.assert_allclose(nn.utils.parameters_to_vector(m.parameters()).numpy(), 2 * v.numpy())
    with pytest.raises(ValueError, match="expected a 1-D vector of 26"):
        nn.utils.vector_to_parameters(tw.zeros(29), m.parameters())


def test_clip_grad_norm_is_reexported():
    p = nn.Parameter(tw.ones(4))
    p.grad = np.full(4, 3.0, dtype=np.float32)  # norm 6
    total = nn.utils.clip_grad_norm_([p], max_norm=1.0)
    assert float(total) == pytest.approx(6.0)
    assert np.linalg.norm(p.grad) == pytest.approx(1.0, rel=1e-5)
