"""torch parity (values and gradients, float32/64, kinks included), gradcheck and gradgradcheck of the
activation functions and modules of ``nn/functional_parts/activation.py`` and ``nn/activation_extra.py``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import thalweg as tw
import thalweg.nn as nn
import thalweg.nn.functional as F
from thalweg.autograd import gradcheck, gradgradcheck

# kinks and edges on purpose: the bounds of hardtanh/relu6/hardsigmoid/hardswish, the shrink lambdas, 0
EDGES = np.array([-7.0, -6.0, -3.0, -2.5, -1.0, -0.5, -0.2, 0.0, 0.2, 0.5, 1.0, 2.5, 3.0, 6.0, 7.0, 25.0, -25.0])

UNARY = {
    "hardtanh": ({}, {}),
    "hardtanh_args": ({"min_val": -0.5, "max_val": 2.5}, {"min_val": -0.5, "max_val": 2.5}),
    "relu6": ({}, {}),
    "selu": ({}, {}),
    "celu": ({"alpha": 0.7}, {"alpha": 0.7}),
    "hardsigmoid": ({}, {}),
    "hardswish": ({}, {}),
    "silu": ({}, {}),
    "mish": ({}, {}),
    "softsign": ({}, {}),
    "tanhshrink": ({}, {}),
    "hardshrink": ({"lambd": 0.5}, {"lambd": 0.5}),
    "softshrink": ({"lambd": 0.5}, {"lambd": 0.5}),
    "logsigmoid": ({}, {}),
    "rrelu": ({"training": False}, {"training": False}),
    "threshold": ({"threshold": 0.2, "value": -3.0}, {"threshold": 0.2, "value": -3.0}),
}


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_torch_parity(name: str, dt: Any) -> None:
    kw, tkw = UNARY[name]
    a = np.concatenate([EDGES, np.array([np.nan])]).astype(dt)
    g = np.linspace(-1, 2, a.size).astype(dt)
    x = tw.tensor(a, requires_grad=True)
    y = getattr(F, name.removesuffix("_args"))(x, **kw)
    y.backward(tw.tensor(g))
    xt = torch.tensor(a, requires_grad=True)
    yt = getattr(TF, name.removesuffix("_args"))(xt, **tkw)
    yt.backward(torch.tensor(g))
    assert y.dtype == dt and x.grad.dtype == dt
    tol = 1e-6 if dt == np.float32 else 1e-12
    np.testing.assert_allclose(y.array, yt.detach().numpy(), rtol=tol, atol=tol, equal_nan=True)
    # torch's celu gradient is float32-accurate in float64 (exp(-10) off by 1.5e-7 relative): ours is exact
    # (and hardsigmoid's 1/6 likewise)
    gtol = 1e-6 if dt == np.float32 or name in ("celu", "hardsigmoid") else tol
    np.testing.assert_allclose(x.grad.array[:-1], xt.grad.numpy()[:-1], rtol=gtol, atol=gtol)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradcheck_and_gradgradcheck(name: str) -> None:
    kw = UNARY[name][0]
    # away from the kinks, where the finite differences are meaningful
    a = np.array([-6.5, -2.7, -1.3, -0.8, -0.3, 0.31, 0.9, 1.7, 2.2, 4.1])
    x = tw.tensor(a, requires_grad=True)
    fn = getattr(F, name.removesuffix("_args"))
    assert gradcheck(lambda t: fn(t, **kw), [x])
    assert gradgradcheck(lambda t: fn(t, **kw) * t, [x], atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("dim", [-1, 0, 1])
def test_glu_parity(dt: Any, dim: int) -> None:
    a = np.random.default_rng(0).normal(size=(4, 6)).astype(dt)
    x, xt = tw.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, yt = F.glu(x, dim), TF.glu(xt, dim)
    (y * y).sum().backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(y.array, yt.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.array, xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert gradgradcheck(lambda t: F.glu(t, dim), [tw.tensor(a.astype(np.float64), requires_grad=True)])
    with pytest.raises(RuntimeError, match="even"):
        F.glu(tw.tensor(np.ones((3, 5))), -1)


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("shape, k", [((2, 3, 4), 3), ((2, 3), 1), ((5,), 1), ((2, 3, 2, 2), 3)])
def test_prelu_parity(dt: Any, shape: tuple[int, ...], k: int) -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=shape).astype(dt)
    a.flat[0] = 0.0
    w = rng.uniform(0.1, 0.5, k).astype(dt)
    x, wt = tw.tensor(a, requires_grad=True), tw.tensor(w, requires_grad=True)
    xt, wtt = torch.tensor(a, requires_grad=True), torch.tensor(w, requires_grad=True)
    y, yt = F.prelu(x, wt), TF.prelu(xt, wtt)
    (y * y).sum().backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(y.array, yt.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.array, xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(wt.grad.array, wtt.grad.numpy(), rtol=1e-5, atol=1e-6)
    a64 = a.astype(np.float64)
    a64.flat[0] = 0.3
    assert gradgradcheck(lambda s, v: F.prelu(s, v) * s,
                         [tw.tensor(a64, requires_grad=True), tw.tensor(w.astype(np.float64), requires_grad=True)])


def test_prelu_module_and_channel_mismatch() -> None:
    m = nn.PReLU(3)
    assert m.weight.shape == (3,) and float(m.weight.array[0]) == pytest.approx(0.25)
    assert m(tw.tensor(np.ones((2, 3)))).shape == (2, 3)
    with pytest.raises(RuntimeError, match="channel size"):
        F.prelu(tw.tensor(np.ones((2, 4))), tw.tensor(np.ones(3)))
    with pytest.raises(RuntimeError, match="channel size"):  # torch: a 1-D input has one channel
        F.prelu(tw.tensor(np.ones(3)), tw.tensor(np.ones(3)))


def test_rrelu_training_slopes_in_range() -> None:
    tw.manual_seed(0)
    x = tw.tensor(-np.ones(1000), requires_grad=True)
    y = F.rrelu(x, 0.1, 0.3, training=True)
    y.sum().backward()
    s = -y.array
    assert (s >= 0.1).all() and (s <= 0.3).all() and s.std() > 0.01
    np.testing.assert_allclose(x.grad.array, s)


@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_softmin_pairwise_bilinear_parity(dt: Any) -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(3, 4)).astype(dt), rng.normal(size=(3, 4)).astype(dt)
    b[0] = a[0]  # a zero difference: eps keeps the norm smooth
    w = rng.normal(size=(2, 4, 4)).astype(dt)
    bias = rng.normal(size=2).astype(dt)
    xs = [tw.tensor(v, requires_grad=True) for v in (a, b, w, bias)]
    ts = [torch.tensor(v, requires_grad=True) for v in (a, b, w, bias)]
    for p in (1.0, 2.0, 3.0):
        outs = [F.softmin(xs[0], 1), F.pairwise_distance(xs[0], xs[1], p=p), F.bilinear(xs[0], xs[1], xs[2], xs[3])]
        touts = [TF.softmin(ts[0], 1), TF.pairwise_distance(ts[0], ts[1], p=p),
                 TF.bilinear(ts[0], ts[1], ts[2], ts[3])]
        for o, to in zip(outs, touts):
            np.testing.assert_allclose(o.array, to.detach().numpy(), rtol=1e-5, atol=1e-6)
        gs = tw.autograd.grad(sum((o * o).sum() for o in outs), xs)
        tgs = torch.autograd.grad(sum((o * o).sum() for o in touts), ts)
        for g, tg in zip(gs, tgs):
            np.testing.assert_allclose(np.asarray(getattr(g, "array", g)), tg.numpy(), rtol=1e-4, atol=1e-5)
    x64 = [tw.tensor(v.astype(np.float64), requires_grad=True) for v in (a, b, w, bias)]
    x64[1] = tw.tensor(b.astype(np.float64) + 0.1, requires_grad=True)
    assert gradgradcheck(lambda s, t: F.pairwise_distance(s, t), x64[:2])
    assert gradgradcheck(lambda s, t, u, v: F.bilinear(s, t, u, v), x64)


def test_modules_share_the_functional_form() -> None:
    x = tw.tensor(EDGES)
    pairs = [(nn.Hardtanh(-2, 2), lambda t: F.hardtanh(t, -2, 2)), (nn.ReLU6(inplace=True), F.relu6),
             (nn.SELU(), F.selu), (nn.CELU(0.5), lambda t: F.celu(t, 0.5)), (nn.Hardsigmoid(), F.hardsigmoid),
             (nn.Hardswish(), F.hardswish), (nn.SiLU(), F.silu), (nn.Mish(), F.mish), (nn.Softsign(), F.softsign),
             (nn.Tanhshrink(), F.tanhshrink), (nn.Hardshrink(0.3), lambda t: F.hardshrink(t, 0.3)),
             (nn.Softshrink(0.3), lambda t: F.softshrink(t, 0.3)), (nn.LogSigmoid(), F.logsigmoid),
             (nn.Threshold(0.1, 5.0), lambda t: F.threshold(t, 0.1, 5.0)), (nn.RReLU().eval(), F.rrelu),
             (nn.Softmin(0), lambda t: F.softmin(t, 0))]
    for m, f in pairs:
        np.testing.assert_array_equal(m(x).array, f(x).array)
    assert repr(nn.ReLU6(inplace=True)) == "ReLU6(inplace=True)"
    y = nn.GLU()(tw.tensor(np.ones((2, 4))))
    assert y.shape == (2, 2)
    assert nn.Bilinear(3, 4, 5)(tw.tensor(np.ones((2, 3), np.float32)), tw.tensor(np.ones((2, 4), np.float32))).shape \
        == (2, 5)
    assert nn.PairwiseDistance()(tw.tensor(np.ones((2, 3))), tw.tensor(np.zeros((2, 3)))).shape == (2,)


def test_neg_method_and_inplace() -> None:
    x = tw.tensor([1.0, -2.0], requires_grad=True)
    y = x.neg()
    y.sum().backward()
    np.testing.assert_array_equal(y.array, [-1.0, 2.0])
    np.testing.assert_array_equal(x.grad.array, [-1.0, -1.0])
    z = tw.tensor([1.0, 2.0])
    assert z.neg_() is z
    np.testing.assert_array_equal(z.array, [-1.0, -2.0])


def test_pad_non_constant_size_must_fit_the_input_rank_as_torch() -> None:
    x = tw.tensor(np.ones((2, 3, 4, 5)))
    with pytest.raises(NotImplementedError, match="padding size 2"):
        F.pad(x, (1, 1), mode="reflect")
    assert F.pad(x, (1, 1), mode="constant").shape == (2, 3, 4, 7)
    assert F.pad(x, (1, 1, 1, 1), mode="circular").shape == (2, 3, 6, 7)


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("geom", [(5, 6, 2, 1, 0, 1), (7, 6, (3, 2), (2, 1), (1, 2), (2, 3)), (4, 4, 3, 1, 1, 2)])
def test_unfold_fold_parity_and_gradgradcheck(dt: Any, geom: tuple[Any, ...]) -> None:
    h, w, k, d, p, s = geom
    rng = np.random.default_rng(3)
    a = rng.normal(size=(2, 3, h, w)).astype(dt)
    x, xt = tw.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, yt = nn.Unfold(k, d, p, s)(x), TF.unfold(xt, k, d, p, s)
    c = rng.normal(size=tuple(yt.shape)).astype(dt)
    ct, cw = torch.tensor(c, requires_grad=True), tw.tensor(c, requires_grad=True)
    z, zt = nn.Fold((h, w), k, d, p, s)(cw), TF.fold(ct, (h, w), k, d, p, s)
    (y * y).sum().backward()
    (yt * yt).sum().backward()
    (z * z).sum().backward()
    (zt * zt).sum().backward()
    for mine, theirs in ((y, yt), (x.grad, xt.grad), (z, zt), (cw.grad, ct.grad)):
        assert mine.dtype == dt
        np.testing.assert_allclose(mine.array, theirs.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(F.unfold(x[0], k, d, p, s).array, yt[0].detach().numpy(), rtol=1e-5, atol=1e-6)
    a64, c64 = a[:1, :1].astype(np.float64), c[:1, : c.shape[1] // 3].astype(np.float64)
    assert gradgradcheck(lambda t: F.unfold(t, k, d, p, s) ** 2, [tw.tensor(a64, requires_grad=True)])
    assert gradgradcheck(lambda t: F.fold(t, (h, w), k, d, p, s) ** 2, [tw.tensor(c64, requires_grad=True)])
