"""clip_grad_norm_ / clip_grad_value_ against torch.nn.utils."""

from __future__ import annotations

import numpy as np
import pytest

from thalweg import optim
from thalweg.nn import Parameter

torch = pytest.importorskip("torch")


def _pair(seed: int = 0, scale: float = 3.0):
    rng = np.random.default_rng(seed)
    vals = [rng.standard_normal(s) * scale for s in [(3, 4), (5,), (2, 2)]]
    ours = [Parameter(np.zeros(v.shape)) for v in vals]
    theirs = [torch.zeros(v.shape, dtype=torch.float64, requires_grad=True) for v in vals]
    for p, q, v in zip(ours, theirs, vals):
        p.grad, q.grad = v.copy(), torch.from_numpy(v.copy())
    ours[2].grad = theirs[2].grad = None  # a parameter without a gradient is ignored
    return ours, theirs


@pytest.mark.parametrize("max_norm,norm_type", [(1.0, 2.0), (100.0, 2.0), (0.5, float("inf")), (2.0, 1.0),
                                                (1.5, 3.0)])
def test_clip_grad_norm_matches_torch(max_norm, norm_type):
    ours, theirs = _pair()
    total = optim.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert total.item() == pytest.approx(expected.item(), rel=1e-12)
    for p, q in zip(ours[:2], theirs[:2]):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-12)


def test_clip_grad_value_matches_torch():
    ours, theirs = _pair()
    optim.clip_grad_value_(ours, 0.7)
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for p, q in zip(ours[:2], theirs[:2]):
        np.testing.assert_array_equal(p.grad, q.grad.numpy())


def test_clip_errors_and_single_tensor():
    ours, _ = _pair()
    ours[0].grad[0, 0] = np.nan
    with pytest.raises(RuntimeError, match="total norm of order 2.0 of the gradients is nan"):
        optim.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="max_norm must be non-negative"):
        optim.clip_grad_norm_(ours, -1.0)
    with pytest.raises(ValueError, match="clip_value must be non-negative"):
        optim.clip_grad_value_(ours, -1.0)
    p = Parameter(np.zeros(2, dtype=np.float32))
    p.grad = np.array([3.0, 4.0], dtype=np.float32)
    total = optim.clip_grad_norm_(p, 1.0)
    assert total.item() == pytest.approx(5.0) and p.grad.dtype == np.float32
    np.testing.assert_allclose(p.grad, [0.6, 0.8], rtol=1e-5)
