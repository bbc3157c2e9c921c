"""ConvTranspose1d/2d and F.conv_transpose1d/2d: torch 2.13 parity (values, gradients) and gradchecks."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
import thalweg.nn.functional as F
from thalweg import nn
from thalweg.autograd.gradcheck import gradcheck

torch = pytest.importorskip("torch")

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-4, atol=2e-5)}

CASES_2D = {
    "plain": dict(cin=3, cout=4, k=3),
    "stride": dict(cin=2, cout=3, k=3, stride=2),
    "stride_pad_outpad": dict(cin=2, cout=3, k=(3, 2), stride=(2, 3), padding=(1, 0), output_padding=(1, 2)),
    "dilation": dict(cin=2, cout=2, k=2, dilation=2, padding=1),
    "groups": dict(cin=4, cout=6, k=3, groups=2, stride=2, output_padding=1),
    "no_bias": dict(cin=2, cout=3, k=1, bias=False),
}


def _module_pair(spatial, dtype, cin, cout, k, **kw):
    torch.manual_seed(0)
    tcls = torch.nn.ConvTranspose1d if spatial == 1 else torch.nn.ConvTranspose2d
    ocls = nn.ConvTranspose1d if spatial == 1 else nn.ConvTranspose2d
    tm = tcls(cin, cout, k, **kw).to(torch.float64 if dtype == np.float64 else torch.float32)
    om = ocls(cin, cout, k, dtype=dtype, **kw)
    assert list(om.state_dict()) == list(tm.state_dict())
    assert tuple(om.weight.shape) == tuple(tm.weight.shape)
    om.load_state_dict(tm.state_dict())
    return om, tm


def _compare(om, tm, x, dtype, **fw):
    xo, xt = tw.tensor(x.astype(dtype), requires_grad=True), torch.tensor(x.astype(dtype), requires_grad=True)
    out, out_t = om(xo, **fw), tm(xt, **fw)
    assert tuple(out.shape) == tuple(out_t.shape)
    g = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    out.backward(tw.tensor(g))
    out_t.backward(torch.tensor(g))
    np.testing.assert_allclose(out.array, out_t.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(np.asarray(xo.grad), xt.grad.numpy(), **TOL[dtype])
    for (name, p), (_, p_t) in zip(om.named_parameters(), tm.named_parameters()):
        np.testing.assert_allclose(np.asarray(p.grad), p_t.grad.numpy(), err_msg=name, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", list(CASES_2D))
def test_conv_transpose2d_matches_torch(case, dtype):
    cfg = dict(CASES_2D[case])
    om, tm = _module_pair(2, dtype, **cfg)
    _compare(om, tm, np.random.default_rng(0).standard_normal((2, cfg["cin"], 4, 5)), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv_transpose1d_matches_torch_and_unbatched(dtype):
    om, tm = _module_pair(1, dtype, 4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=1)
    _compare(om, tm, np.random.default_rng(0).standard_normal((2, 4, 7)), dtype)
    _compare(om, tm, np.random.default_rng(0).standard_normal((4, 7)), dtype)


def test_output_size_argument():
    om, tm = _module_pair(2, np.float64, 2, 3, 3, stride=2, padding=1)
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4))
    for size in [(7, 7), (8, 8), (1, 3, 8, 7)]:
        _compare(om, tm, x, np.float64, output_size=size)
    with pytest.raises(ValueError, match="valid sizes range from 7 to 8"):
        om(tw.tensor(x), output_size=(9, 9))


def test_gradcheck_2d_and_1d():
    rng = np.random.default_rng(2)
    x = tw.tensor(rng.standard_normal((2, 4, 3, 3)), requires_grad=True)
    w = tw.tensor(rng.standard_normal((4, 2, 2, 3)), requires_grad=True)
    b = tw.tensor(rng.standard_normal(4), requires_grad=True)
    assert gradcheck(lambda a, c, d: F.conv_transpose2d(a, c, d, stride=(2, 1), padding=(1, 1), output_padding=(1, 0),
                                                        groups=2, dilation=(1, 2)), [x, w, b])
    x1 = tw.tensor(rng.standard_normal((2, 3, 5)), requires_grad=True)
    w1 = tw.tensor(rng.standard_normal((3, 2, 3)), requires_grad=True)
    assert gradcheck(lambda a, c: F.conv_transpose1d(a, c, stride=3, padding=2), [x1, w1])


def test_functional_matches_torch():
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 4, 3, 5)), rng.standard_normal((4, 3, 2, 2)), rng.standard_normal(6)
    ours = F.conv_transpose2d(tw.tensor(x), tw.tensor(w), tw.tensor(b), 2, 0, 1, 2)
    ref = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), 2, 0, 1, 2)
    np.testing.assert_allclose(ours.array, ref.numpy(), **TOL[np.float64])


def test_errors():
    with pytest.raises(ValueError, match="zeros"):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")
    m = nn.ConvTranspose2d(2, 3, 3)
    with pytest.raises(ValueError, match=r"ConvTranspose2d\(2, 3\).*\(1, 5, 4, 4\)"):
        m(tw.zeros(1, 5, 4, 4))
    with pytest.raises(ValueError, match="output padding must be smaller"):
        F.conv_transpose2d(tw.zeros(1, 2, 3, 3), tw.zeros(2, 2, 3, 3), output_padding=1)
