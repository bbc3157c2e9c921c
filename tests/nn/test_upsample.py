"""F.interpolate / nn.Upsample and PixelShuffle: torch 2.13 parity (values, gradients) and gradchecks."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
import thalweg.nn.functional as F
from thalweg import nn
from thalweg.autograd.gradcheck import gradcheck

torch = pytest.importorskip("torch")

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}

CASES = [
    ((2, 3, 5, 7), dict(scale_factor=2, mode="nearest")),
    ((2, 3, 5, 7), dict(size=(4, 11), mode="nearest")),
    ((1, 2, 6, 9), dict(scale_factor=(0.5, 1.7), mode="nearest")),
    ((1, 2, 5, 7), dict(size=(8, 3), mode="nearest-exact")),
    ((2, 3, 5, 7), dict(scale_factor=2, mode="bilinear", align_corners=False)),
    ((2, 3, 5, 7), dict(scale_factor=2, mode="bilinear", align_corners=True)),
    ((1, 2, 5, 7), dict(size=(9, 4), mode="bilinear")),
    ((1, 2, 6, 7), dict(scale_factor=(1.5, 0.6), mode="bilinear")),
    ((1, 2, 6, 7), dict(scale_factor=(1.5, 0.6), mode="bilinear", recompute_scale_factor=True)),
    ((1, 2, 1, 3), dict(size=(1, 5), mode="bilinear", align_corners=True)),
    ((2, 3, 7), dict(scale_factor=3, mode="nearest")),
    ((2, 3, 7), dict(size=12, mode="linear")),
    ((2, 3, 7), dict(size=12, mode="linear", align_corners=True)),
    ((2, 3, 7), dict(scale_factor=0.4, mode="linear")),
    ((2, 3, 6, 6), dict(size=(4, 3), mode="area")),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape,kw", CASES, ids=[f"{c[1]['mode']}-{i}" for i, c in enumerate(CASES)])
def test_interpolate_matches_torch(shape, kw, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    xo, xt = tw.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, out_t = F.interpolate(xo, **kw), torch.nn.functional.interpolate(xt, **kw)
    assert tuple(out.shape) == tuple(out_t.shape) and out.dtype == dtype
    np.testing.assert_allclose(out.array, out_t.detach().numpy(), **TOL[dtype])
    g = rng.standard_normal(out.shape).astype(dtype)
    out.backward(tw.tensor(g))
    out_t.backward(torch.tensor(g))
    np.testing.assert_allclose(np.asarray(xo.grad), xt.grad.numpy(), **TOL[dtype])


def test_modules_and_repr():
    x = np.random.default_rng(1).standard_normal((1, 2, 3, 4)).astype(np.float32)
    pairs = [(nn.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2)),
             (nn.Upsample(size=(5, 5), mode="bilinear"), torch.nn.Upsample(size=(5, 5), mode="bilinear")),
             (nn.UpsamplingNearest2d(scale_factor=2), torch.nn.UpsamplingNearest2d(scale_factor=2)),
             (nn.UpsamplingBilinear2d(size=(6, 7)), torch.nn.UpsamplingBilinear2d(size=(6, 7)))]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        np.testing.assert_allclose(ours(tw.tensor(x)).array, theirs(torch.tensor(x)).numpy(), **TOL[np.float32])


def test_gradcheck():
    rng = np.random.default_rng(2)
    x = tw.tensor(rng.standard_normal((1, 2, 3, 4)), requires_grad=True)
    assert gradcheck(lambda a: F.interpolate(a, size=(5, 7), mode="bilinear"), [x])
    assert gradcheck(lambda a: F.interpolate(a, scale_factor=(1.5, 0.5), mode="bilinear", align_corners=True), [x])
    assert gradcheck(lambda a: F.interpolate(a, size=(7, 3), mode="nearest"), [x])
    x1 = tw.tensor(rng.standard_normal((2, 2, 5)), requires_grad=True)
    assert gradcheck(lambda a: F.interpolate(a, size=8, mode="linear"), [x1])


def test_interpolate_errors():
    x = tw.zeros(1, 2, 3, 4)
    with pytest.raises(ValueError, match="exactly one of size or scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match="needs 3D input"):
        F.interpolate(x, scale_factor=2, mode="linear")
    with pytest.raises(NotImplementedError, match="bicubic"):
        F.interpolate(x, scale_factor=2, mode="bicubic")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pixel_shuffle_matches_torch(dtype):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 8, 4, 5)).astype(dtype)
    xo, xt = tw.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, out_t = nn.PixelShuffle(2)(xo), torch.nn.PixelShuffle(2)(xt)
    np.testing.assert_array_equal(out.array, out_t.detach().numpy())
    back, back_t = nn.PixelUnshuffle(2)(out * 2.0), torch.nn.PixelUnshuffle(2)(out_t * 2.0)
    np.testing.assert_array_equal(back.array, back_t.detach().numpy())
    g = rng.standard_normal(back.shape).astype(dtype)
    back.backward(tw.tensor(g))
    back_t.backward(torch.tensor(g))
    np.testing.assert_allclose(np.asarray(xo.grad), xt.grad.numpy(), **TOL[dtype])
    assert repr(nn.PixelShuffle(3)) == repr(torch.nn.PixelShuffle(3))
    assert gradcheck(lambda a: F.pixel_shuffle(a, 2), [tw.tensor(rng.standard_normal((1, 4, 2, 3)),
                                                                 requires_grad=True)])
    with pytest.raises(ValueError, match="pixel_shuffle"):
        F.pixel_shuffle(tw.zeros(1, 3, 2, 2), 2)
