"""Direct convolutions for few channels per group (ops/direct_conv.py): where they are used, torch parity of
the value and the three gradients over borders, dilation, groups and 1-D input, a float64 gradcheck of the same code,
second derivatives, and the saved-input rule."""

from unittest import mock

import numpy as np
import pytest

import thalweg as tw
from thalweg.autograd import gradcheck
from thalweg.ops import direct_conv, kernels

from conv_checks import (assert_conv2d_matches_torch, assert_in_place_change_of_the_input_raises,
                         assert_second_derivatives_match_torch)

F = tw.nn.functional
pytestmark = pytest.mark.skipif(not kernels.enabled(), reason="numba is not installed (the speed extra)")


def _any_dtype(geo, x, w):
    """direct_conv.applies without its float32 condition, so float64 runs the same loops (for the gradcheck)."""
    return (geo.flat and (geo.c // geo.groups) * (geo.o // geo.groups) <= direct_conv.MAX_CHANNEL_PAIRS
            and geo.oh > 0 and geo.ow > 0 and x.flags.c_contiguous and w.flags.c_contiguous)


@pytest.fixture
def spy():
    with mock.patch.object(direct_conv, "forward", wraps=direct_conv.forward) as f:
        yield f


def test_used_for_stride_1_layers_with_few_channels_per_group_only(spy):
    pairs = direct_conv.MAX_CHANNEL_PAIRS
    F.conv2d(tw.randn(2, 1, 10, 10), tw.randn(pairs, 1, 5, 5))  # a first layer: one input channel
    x = tw.randn(2, 4, 10, 10)
    F.conv2d(x, tw.randn(4, 1, 3, 3), padding=1, groups=4)  # depthwise
    assert spy.call_count == 2
    for w, kwargs in [(tw.randn(pairs // 4 + 1, 4, 3, 3), {}),  # 4 x 5 channel pairs
                      (tw.randn(2, 4, 3, 3), dict(stride=2)),
                      (tw.randn(2, 4, 1, 7), {})]:  # rows (10) over twice the output width (4)
        F.conv2d(x, w, **kwargs)
    F.conv2d(x.double(), tw.randn(2, 4, 3, 3).double())  # float64 keeps im2col
    assert spy.call_count == 2


def test_falls_back_to_im2col_without_the_kernels(spy):
    previous = kernels.set_enabled(False)
    try:
        F.conv2d(tw.randn(1, 1, 6, 6), tw.randn(2, 1, 3, 3))
    finally:
        kernels.set_enabled(previous)
    assert spy.call_count == 0


# (batch, in, out, height, width, kernel, padding, dilation, groups)
CASES = [(3, 1, 6, 12, 12, 5, 0, 1, 1),  # LeNet's first layer, smaller
         (2, 2, 8, 9, 7, 3, 1, 1, 1),  # odd sizes, "same" border
         (2, 4, 4, 8, 8, 3, 1, 1, 4),  # depthwise
         (2, 6, 12, 7, 7, 3, (2, 0), 1, 3),  # grouped (2 x 4 channels per group), a border above and below only
         (2, 2, 3, 9, 9, 3, 2, 2, 1),  # dilated
         (1, 2, 2, 5, 6, (2, 3), 0, 1, 1),  # rectangular kernel
         (2, 3, 5, 1, 1, 1, 0, 1, 1)]  # 1x1 image and kernel


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch_value_and_gradients(spy, case, bias):
    n, c, o, h, w, k, padding, dilation, groups = case
    kh, kw = (k, k) if isinstance(k, int) else k
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    kernel = rng.standard_normal((o, c // groups, kh, kw)).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32) if bias else None
    assert_conv2d_matches_torch(x, kernel, b, padding=padding, dilation=dilation, groups=groups)
    assert spy.call_count == 1


def test_1d_convolution_matches_torch(spy):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 6, 11)).astype(np.float32)
    k = rng.standard_normal((6, 1, 3)).astype(np.float32)  # depthwise, as in a ConvNeXt or Mamba block
    xo, ko = tw.tensor(x, requires_grad=True), tw.tensor(k, requires_grad=True)
    xt, kt = torch.tensor(x, requires_grad=True), torch.tensor(k, requires_grad=True)
    y = F.conv1d(xo, ko, padding=2, groups=6)
    y_t = torch.nn.functional.conv1d(xt, kt, padding=2, groups=6)
    (y * y).sum().backward()
    (y_t * y_t).sum().backward()
    assert spy.call_count == 1
    for a, b in [(y, y_t), (xo.grad, xt.grad), (ko.grad, kt.grad)]:
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-4, atol=1e-4)


def test_input_without_gradient_gets_only_the_weight_gradient(spy):
    x = tw.randn(2, 1, 8, 8)  # an image batch: no dL/dx is computed
    w = tw.randn(3, 1, 3, 3, requires_grad=True)
    F.conv2d(x, w).sum().backward()
    assert x.grad is None and w.grad is not None and spy.call_count == 1


@pytest.mark.parametrize("case", [dict(padding=1), dict(padding=(2, 1), dilation=2), dict(groups=3)], ids=str)
def test_float64_gradcheck_of_the_direct_path(spy, monkeypatch, case):
    monkeypatch.setattr(direct_conv, "applies", _any_dtype)
    rng = np.random.default_rng(2)
    x = tw.tensor(rng.standard_normal((2, 3, 6, 5)), requires_grad=True)
    w = tw.tensor(rng.standard_normal((3, 3 // case.get("groups", 1), 3, 2)), requires_grad=True)
    b = tw.tensor(rng.standard_normal(3), requires_grad=True)
    gradcheck(lambda x, w, b: F.conv2d(x, w, b, **case), [x, w, b])
    assert spy.call_count > 0


def test_second_derivatives_match_torch():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 2, 7, 7)).astype(np.float32)
    assert_second_derivatives_match_torch(x, rng.standard_normal((4, 2, 3, 3)).astype(np.float32) * 0.1, padding=1)


def test_changing_the_input_in_place_after_the_forward_raises():
    assert_in_place_change_of_the_input_raises((2, 1, 6, 6), (4, 1, 3, 3), padding=0)  # dL/dw reads x again
