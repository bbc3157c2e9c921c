"""Winograd F(4x4, 3x3) convolutions (ops/winograd.py): where they are used, torch parity of the value and the three
gradients over borders, odd sizes and blocks, a float64 gradcheck of the same code, and the saved-input rules."""

from unittest import mock

import numpy as np
import pytest

import thalweg as tw
from thalweg.autograd import gradcheck
from thalweg.ops import kernels, winograd, workspace
from thalweg.ops.conv import ConvGeometry

from conv_checks import (assert_conv2d_matches_torch, assert_in_place_change_of_the_input_raises,
                         assert_second_derivatives_match_torch)

F = tw.nn.functional
needs_numba = pytest.mark.skipif(not kernels.enabled(), reason="numba is not installed (the speed extra)")
pytestmark = needs_numba


def _any_dtype(geo, x, w):
    """winograd.applies without its float32 condition, so float64 runs the same path (for the gradcheck)."""
    return (geo.kh == geo.kw == 3 and geo.sh == geo.sw == 1 and geo.dh == geo.dw == 1 and geo.groups == 1
            and geo.oh > 0 and geo.ow > 0 and x.flags.c_contiguous and w.flags.c_contiguous)


@pytest.fixture(params=["V kept", "V recomputed"])
def v_policy(request, monkeypatch):
    """Both ways the backward gets the transformed input: kept by the forward, or transformed again from x."""
    if request.param == "V recomputed":
        monkeypatch.setattr(winograd, "KEEP_V_MAX_BYTES", 0)
    return request.param


@pytest.fixture
def spy():
    with mock.patch.object(winograd, "forward", wraps=winograd.forward) as f:
        yield f


def test_used_for_3x3_stride_1_layers_with_enough_channels_only(spy):
    c = winograd.MIN_CHANNELS
    x = tw.randn(2, c, 6, 6)
    F.conv2d(x, tw.randn(c, c, 3, 3), padding=1)
    assert spy.call_count == 1
    for w, kwargs in [(tw.randn(c, c, 3, 3), dict(stride=2)), (tw.randn(c, c, 3, 3), dict(dilation=2)),
                      (tw.randn(c, c // 2, 3, 3), dict(groups=2)), (tw.randn(c, c, 5, 5), {}),
                      (tw.randn(c - 1, c, 3, 3), {})]:
        F.conv2d(x, w, **kwargs)
    F.conv2d(x.double(), tw.randn(c, c, 3, 3).double())  # float64 keeps the direct method
    assert spy.call_count == 1


def test_falls_back_to_the_direct_method_without_the_kernels(spy):
    c = winograd.MIN_CHANNELS
    previous = kernels.set_enabled(False)
    try:
        F.conv2d(tw.randn(1, c, 4, 4), tw.randn(c, c, 3, 3), padding=1)
    finally:
        kernels.set_enabled(previous)
    assert spy.call_count == 0


# (batch, in, out, height, width, padding): even and odd outputs, no border, wide and one-sided borders, 1x1 images
CASES = [(2, 32, 32, 8, 8, 1), (3, 32, 40, 7, 9, 1), (2, 33, 32, 6, 5, 0), (2, 32, 35, 5, 5, 2),
         (1, 32, 32, 1, 1, 1), (2, 32, 32, 4, 3, (0, 2)), (2, 32, 32, 3, 3, 0)]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch_value_and_gradients(spy, case, bias, v_policy):
    n, c, o, h, w, padding = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    k = rng.standard_normal((o, c, 3, 3)).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32) if bias else None
    assert_conv2d_matches_torch(x, k, b, padding=padding)
    assert spy.call_count == 1


def test_blocks_of_samples_give_the_one_block_result(monkeypatch):
    rng = np.random.default_rng(1)
    x = tw.tensor(rng.standard_normal((5, 32, 7, 6)).astype(np.float32), requires_grad=True)
    w = tw.tensor(rng.standard_normal((32, 32, 3, 3)).astype(np.float32), requires_grad=True)

    def run():
        y = F.conv2d(x, w, padding=1)
        gx, gw = tw.autograd.grad((y * y).sum(), [x, w])
        return y.numpy(), gx.numpy(), gw.numpy()

    whole = run()
    geo = ConvGeometry(x.shape, w.shape, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    monkeypatch.setattr(winograd, "BLOCK_BYTES", 1)  # one sample a block
    assert len(winograd.Tiling(geo, 4).blocks) == 5
    for a, b in zip(run(), whole):  # the same products; dL/dW's sum over the tiles goes block by block
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * np.abs(b).max())


@pytest.mark.parametrize("padding", [1, 0, (2, 1)])
def test_float64_gradcheck_of_the_winograd_path(spy, monkeypatch, padding, v_policy):
    monkeypatch.setattr(winograd, "applies", _any_dtype)
    monkeypatch.setattr(winograd, "BLOCK_BYTES", 1)  # two blocks
    rng = np.random.default_rng(2)
    x = tw.tensor(rng.standard_normal((2, 3, 5, 4)), requires_grad=True)
    w = tw.tensor(rng.standard_normal((2, 3, 3, 3)), requires_grad=True)
    b = tw.tensor(rng.standard_normal(2), requires_grad=True)
    gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=padding), [x, w, b])
    assert spy.call_count > 0


def test_second_derivatives_match_torch():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 32, 5, 5)).astype(np.float32)
    assert_second_derivatives_match_torch(x, rng.standard_normal((32, 32, 3, 3)).astype(np.float32) * 0.1, padding=1)


def test_changing_the_input_in_place_after_the_forward_raises(v_policy):
    assert_in_place_change_of_the_input_raises((2, 32, 4, 4), (32, 32, 3, 3), padding=1)  # x is transformed again


def test_no_pooled_buffer_is_read_after_it_is_given_back(v_policy):
    """With the pool poisoned (given-back and taken buffers filled with NaN), results stay finite and equal."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 32, 6, 7)).astype(np.float32)
    w = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)

    def run():
        xo, wo = tw.tensor(x, requires_grad=True), tw.tensor(w, requires_grad=True)
        y = F.conv2d(xo, wo, padding=1)
        z = F.conv2d(tw.tensor(x), wo, padding=1)  # a second convolution between the forward and the backward
        (y * z.detach()).sum().backward()
        return y.numpy(), xo.grad.numpy(), wo.grad.numpy()

    plain = run()
    previous = workspace.set_poison(True)
    try:
        poisoned = run()
    finally:
        workspace.set_poison(previous)
    for a, b in zip(poisoned, plain):
        assert np.isfinite(a).all()
        np.testing.assert_array_equal(a, b)


def test_the_transformed_input_is_kept_for_the_backward_up_to_its_cap(monkeypatch):
    """The backward transforms x again only when V is over ``KEEP_V_MAX_BYTES`` (that kept V is new memory, never
    pooled, is what the poisoned-pool test checks)."""
    calls = []
    real_get = kernels.get

    def counting_get(name):
        kernel = real_get(name)
        if name != "winograd_input_transform":
            return kernel
        return lambda *args: calls.append(1) or kernel(*args)

    monkeypatch.setattr(kernels, "get", counting_get)
    monkeypatch.setattr(winograd, "BLOCK_BYTES", 1)  # one sample a block: three blocks
    rng = np.random.default_rng(5)
    x = tw.tensor(rng.standard_normal((3, 32, 6, 6)).astype(np.float32), requires_grad=True)
    w = tw.tensor(rng.standard_normal((32, 32, 3, 3)).astype(np.float32), requires_grad=True)
    geo = ConvGeometry(x.shape, w.shape, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    tiling = winograd.Tiling(geo, 4)
    v_bytes = sum(winograd.PLANES * tiling._plane(s, 32) for s in tiling.blocks) * 4
    for cap, transforms in [(v_bytes, 3), (v_bytes - 1, 6)]:
        monkeypatch.setattr(winograd, "KEEP_V_MAX_BYTES", cap)
        calls.clear()
        F.conv2d(x, w, padding=1).sum().backward()
        assert len(calls) == transforms  # three in the forward, three more in the backward when not kept


def test_weight_gradient_alone_matches_torch(v_policy):
    """x without a gradient (a first layer's input): the backward computes dL/dw only, with V kept or recomputed."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 32, 7, 6)).astype(np.float32)
    w = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
    wt = torch.tensor(w, requires_grad=True)
    (torch.nn.functional.conv2d(torch.tensor(x), wt, padding=1) ** 2).sum().backward()
    wo = tw.tensor(w, requires_grad=True)
    (F.conv2d(tw.tensor(x), wo, padding=1) ** 2).sum().backward()
    expected = wt.grad.numpy()
    np.testing.assert_allclose(wo.grad.numpy(), expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
