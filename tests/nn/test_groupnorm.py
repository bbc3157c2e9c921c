"""nn.GroupNorm / F.group_norm: torch 2.13 parity (values, gradients, state_dict) and gradcheck."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
import thalweg.nn.functional as F
from thalweg import nn
from thalweg.autograd.gradcheck import gradcheck

torch = pytest.importorskip("torch")

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-4, atol=2e-5)}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("groups,shape,affine", [(2, (3, 4, 5, 6), True), (1, (2, 6, 7), True), (6, (2, 6, 3, 3), True),
                                                 (3, (4, 6), False), (2, (2, 4, 2, 3, 2), True)])
def test_matches_torch(groups, shape, affine, dtype):
    rng = np.random.default_rng(0)
    C = shape[1]
    tm = torch.nn.GroupNorm(groups, C, affine=affine, eps=1e-4).to(torch.float64 if dtype == np.float64 else
                                                                   torch.float32)
    om = nn.GroupNorm(groups, C, affine=affine, eps=1e-4, dtype=dtype)
    if affine:
        with torch.no_grad():
            tm.weight.copy_(torch.tensor(rng.standard_normal(C)))
            tm.bias.copy_(torch.tensor(rng.standard_normal(C)))
    assert list(om.state_dict()) == list(tm.state_dict())
    om.load_state_dict(tm.state_dict())
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    xo, xt = tw.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, out_t = om(xo), tm(xt)
    g = rng.standard_normal(shape).astype(dtype)
    out.backward(tw.tensor(g))
    out_t.backward(torch.tensor(g))
    assert out.dtype == dtype
    np.testing.assert_allclose(out.array, out_t.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(np.asarray(xo.grad), xt.grad.numpy(), **TOL[dtype])
    if affine:
        np.testing.assert_allclose(np.asarray(om.weight.grad), tm.weight.grad.numpy(), **TOL[dtype])
        np.testing.assert_allclose(np.asarray(om.bias.grad), tm.bias.grad.numpy(), **TOL[dtype])
    assert repr(om) == repr(tm)


def test_bias_false_like_torch():
    om, tm = nn.GroupNorm(2, 4, bias=False), torch.nn.GroupNorm(2, 4, bias=False)
    assert list(om.state_dict()) == list(tm.state_dict()) == ["weight"] and repr(om) == repr(tm)
    x = np.random.default_rng(3).standard_normal((2, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(om(tw.tensor(x)).array, tm(torch.tensor(x)).detach().numpy(), **TOL[np.float32])


def test_gradcheck():
    rng = np.random.default_rng(1)
    x = tw.tensor(rng.standard_normal((2, 6, 3)), requires_grad=True)
    w = tw.tensor(rng.standard_normal(6), requires_grad=True)
    b = tw.tensor(rng.standard_normal(6), requires_grad=True)
    assert gradcheck(lambda a, c, d: F.group_norm(a, 3, c, d), [x, w, b])
    assert gradcheck(lambda a: F.group_norm(a, 2), [x])


def test_errors():
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match=r"GroupNorm\(2, 6.*\(2, 4, 3\)"):
        nn.GroupNorm(2, 6)(tw.zeros(2, 4, 3))
