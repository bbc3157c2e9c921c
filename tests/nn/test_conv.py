"""Conv1d / Conv2d: gradchecks, PyTorch parity over a parameter grid, errors, repr, initialization."""

import itertools
import math

import numpy as np
import pytest

import thalweg as tw
import thalweg.nn.functional as F
from thalweg import nn
from thalweg.autograd import gradcheck
from thalweg.ops import workspace
from thalweg.ops.conv import Conv, ConvGeometry

from core_helpers import copy_torch_weights


def assert_close(ours, theirs, dtype, what):
    """Parity tolerances.  float64: rtol 1e-9, atol 1e-11 (orders of summation differ, nothing else).
    float32: rtol 1e-4 and atol 1e-5 times the largest magnitude in the array, because a weight
    gradient sums N*OH*OW products and its rounding error grows with the size of those terms."""
    a = ours.array if isinstance(ours, tw.Tensor) else np.asarray(ours)
    b = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    assert a.shape == b.shape and a.dtype == b.dtype, f"{what}: {a.shape} {a.dtype} vs torch {b.shape} {b.dtype}"
    if np.dtype(dtype) == np.float64:
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11, err_msg=what)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(b).max())), err_msg=what)


def compare_module(torch, ours, theirs, inputs, dtype, seed=0):
    """Same input and upstream gradient through both layers; compare output, input and parameter gradients."""
    x = np.asarray(inputs[0])
    xo, xt = tw.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, out_t = ours(xo), theirs(xt)
    assert_close(out, out_t, dtype, "output")
    g = np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype)
    out.backward(g)
    out_t.backward(torch.tensor(g))
    assert_close(xo.grad, xt.grad, dtype, "input gradient")
    named_t = dict(theirs.named_parameters())
    assert sorted(dict(ours.named_parameters())) == sorted(named_t)
    for name, p in ours.named_parameters():
        assert_close(p.grad, named_t[name].grad, dtype, f"gradient of {name}")

# --------------------------------------------------------------------------- gradcheck
# (stride, padding, dilation, groups) combinations; the small shapes exercise both
# column layouts: the flat-row one (stride 1) and the compact one (strided, or a
# kernel much wider than the output).
GRAD_CASES_2D = [
    dict(),
    dict(stride=2),
    dict(padding=1),
    dict(padding=(2, 0), stride=(1, 2)),
    dict(dilation=2, padding=1),
    dict(groups=2),
    dict(groups=2, padding="same"),
    dict(stride=2, padding=1, dilation=(2, 1), groups=2),
    dict(padding="same", dilation=2),
]


@pytest.mark.parametrize("kwargs", GRAD_CASES_2D, ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_gradcheck_input_weight_bias(kwargs, bias):
    tw.manual_seed(0)
    layer = nn.Conv2d(4, 6, 3, bias=bias, **kwargs).double()
    x = tw.randn(2, 4, 5, 6, dtype=tw.float64, requires_grad=True)
    params = [layer.weight] + ([layer.bias] if bias else [])
    gradcheck(lambda x, *ps: layer(x), [x, *params])


@pytest.mark.parametrize("kwargs", [dict(), dict(stride=2, padding=2), dict(dilation=2, groups=2),
                                    dict(padding="same", dilation=3)], ids=str)
def test_conv1d_gradcheck_input_weight_bias(kwargs):
    tw.manual_seed(1)
    layer = nn.Conv1d(2, 4, 3, **kwargs).double()
    x = tw.randn(3, 2, 9, dtype=tw.float64, requires_grad=True)
    gradcheck(lambda x, w, b: layer(x), [x, layer.weight, layer.bias])


def test_conv_function_is_one_node_with_three_gradients():
    x = tw.randn(2, 3, 6, 6, dtype=tw.float64, requires_grad=True)
    w = tw.randn(4, 3, 3, 3, dtype=tw.float64, requires_grad=True)
    b = tw.randn(4, dtype=tw.float64, requires_grad=True)
    y = F.conv2d(x, w, b, padding=1)
    assert y.grad_fn.fn is Conv
    gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), [x, w, b])


def test_compact_layout_used_when_kernel_is_wide_compared_to_output():
    flat = ConvGeometry((1, 1, 8, 8), (1, 1, 3, 3), (1, 1), (0, 0, 0, 0), (1, 1), 1)
    wide = ConvGeometry((1, 1, 8, 8), (1, 1, 6, 6), (1, 1), (0, 0, 0, 0), (1, 1), 1)
    strided = ConvGeometry((1, 1, 8, 8), (1, 1, 3, 3), (2, 2), (0, 0, 0, 0), (1, 1), 1)
    assert flat.flat and not wide.flat and not strided.flat
    x = tw.randn(2, 1, 8, 8, dtype=tw.float64, requires_grad=True)
    w = tw.randn(2, 1, 6, 6, dtype=tw.float64, requires_grad=True)
    gradcheck(lambda x, w: F.conv2d(x, w), [x, w])


# ------------------------------------------------------------- kernel-row products
# Stride-1 layers with deep enough kernel rows and large columns use gather_rows and
# product_by_rows, and their input gradient is a convolution of g (input_grad_as_conv).
# The size thresholds keep small test shapes on full columns, so these tests lower them (and keep float32 layers
# with few output channels off the direct loops of ops/direct_conv.py, tested in tests/ops/test_direct_conv.py).
@pytest.fixture
def kernel_rows(monkeypatch):
    import thalweg.ops.conv as conv_module
    from thalweg.ops import direct_conv

    monkeypatch.setattr(conv_module, "ROWS_MIN_DEPTH", 1)
    monkeypatch.setattr(conv_module, "ROWS_MIN_COLUMNS", 0)
    monkeypatch.setattr(direct_conv, "MAX_CHANNEL_PAIRS", 0)


def test_kernel_rows_chosen_for_large_stride_one_layers_only():
    resnet = ConvGeometry((32, 16, 32, 32), (16, 16, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1)
    small = ConvGeometry((2, 16, 8, 8), (16, 16, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1)
    thin = ConvGeometry((32, 3, 32, 32), (16, 3, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1)
    strided = ConvGeometry((32, 16, 32, 32), (16, 16, 3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1)
    pointwise = ConvGeometry((32, 64, 32, 32), (16, 64, 1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1)
    assert resnet.rows and not small.rows and not thin.rows and not strided.rows and not pointwise.rows


@pytest.mark.parametrize("kwargs", GRAD_CASES_2D, ids=str)
def test_conv2d_gradcheck_by_kernel_rows(kernel_rows, kwargs):
    tw.manual_seed(0)
    layer = nn.Conv2d(4, 6, 3, **kwargs).double()
    x = tw.randn(2, 4, 5, 6, dtype=tw.float64, requires_grad=True)
    gradcheck(lambda x, w, b: layer(x), [x, layer.weight, layer.bias])


def test_conv2d_gradgradcheck_by_kernel_rows(kernel_rows):
    from thalweg.autograd import gradgradcheck

    x = tw.randn(2, 4, 5, 5, dtype=tw.float64, requires_grad=True)
    w = tw.randn(4, 2, 3, 2, dtype=tw.float64, requires_grad=True)
    gradgradcheck(lambda x, w: F.conv2d(x, w, padding=1, groups=2, dilation=(1, 2)) ** 2, [x, w])


def test_input_gradient_as_a_convolution_only_where_its_border_is_no_wider(kernel_rows, monkeypatch):
    import thalweg.ops.conv as conv_module

    results = []
    real = conv_module.input_grad_as_conv
    monkeypatch.setattr(conv_module, "input_grad_as_conv", lambda *a: results.append(real(*a)) or results[-1])
    for padding in (1, 0):
        x = tw.randn(2, 4, 7, 7, requires_grad=True)
        F.conv2d(x, tw.randn(5, 4, 3, 3), padding=padding).sum().backward()
    assert results[0] is not None and results[1] is None  # "same" border: a convolution; none: by rows


def _grid():
    strides, paddings, dilations, groups = [1, 2], [0, 1, "same", (2, 1)], [1, 2], [1, 2]
    for s, p, d, g in itertools.product(strides, paddings, dilations, groups):
        if p == "same" and s != 1:
            continue
        yield dict(stride=s, padding=p, dilation=d, groups=g)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", list(_grid()), ids=str)
def test_conv2d_matches_torch(dtype, kwargs):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = torch.nn.Conv2d(4, 6, (3, 2), **kwargs).to(torch.float64 if dtype == np.float64 else torch.float32)
    ours = nn.Conv2d(4, 6, (3, 2), dtype=dtype, **kwargs)
    copy_torch_weights(ours, theirs)
    x = np.random.default_rng(0).standard_normal((3, 4, 9, 8)).astype(dtype)
    compare_module(torch, ours, theirs, [x], dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", [k for k in _grid() if k["stride"] == 1], ids=str)
def test_conv2d_matches_torch_by_kernel_rows(kernel_rows, dtype, kwargs):
    test_conv2d_matches_torch(dtype, kwargs)


@pytest.fixture
def blocks_of_one_sample(monkeypatch):
    """Columns gathered one sample at a time in the forward and again for dL/dW (gather_and_multiply)."""
    import thalweg.ops.conv as conv_module

    monkeypatch.setattr(conv_module, "COLUMNS_BLOCK_BYTES", 1)
    monkeypatch.setattr(conv_module, "BLOCKS_FROM_BYTES", 0)


@pytest.fixture
def row_blocks_of_one_sample(kernel_rows, blocks_of_one_sample):
    """Kernel rows, one sample at a time."""


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", [k for k in _grid() if k["stride"] == 1], ids=str)
def test_conv2d_matches_torch_by_blocks_of_kernel_rows(row_blocks_of_one_sample, dtype, kwargs):
    test_conv2d_matches_torch(dtype, kwargs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", list(_grid()), ids=str)
def test_conv2d_matches_torch_by_blocks_of_columns(blocks_of_one_sample, dtype, kwargs):
    test_conv2d_matches_torch(dtype, kwargs)  # strided ones too: dL/dx by col2im, block by block


@pytest.mark.parametrize("kwargs", [dict(), dict(stride=3, padding=2), dict(groups=2, dilation=3)], ids=str)
def test_conv1d_matches_torch_by_blocks_of_columns(blocks_of_one_sample, kwargs):
    test_conv1d_matches_torch(np.float64, kwargs)


def test_blocks_of_kernel_rows_keep_no_columns_and_give_float64_derivatives(row_blocks_of_one_sample):
    from thalweg.autograd import gradgradcheck

    x = tw.randn(3, 4, 5, 5, dtype=tw.float64, requires_grad=True)
    w = tw.randn(4, 2, 3, 2, dtype=tw.float64, requires_grad=True)
    y = F.conv2d(x, w, padding=1, groups=2)
    assert y.grad_fn.cols is None  # gathered again, block by block, for dL/dW
    gradcheck(lambda x, w: F.conv2d(x, w, padding=1, groups=2, dilation=(1, 2)), [x, w])
    gradgradcheck(lambda x, w: F.conv2d(x, w, padding=1, groups=2, dilation=(1, 2)) ** 2, [x, w])


def test_input_gradient_by_rows_in_blocks_matches_one_block(blocks_of_one_sample):
    from thalweg.ops import conv as conv_module

    rng = np.random.default_rng(5)
    x_shape, w = (3, 4, 9, 8), rng.standard_normal((5, 4, 3, 2))
    geo = ConvGeometry(x_shape, w.shape, (1, 1), (0, 1, 0, 1), (2, 1), 1)
    g = rng.standard_normal((3, 5, geo.oh, geo.ow))
    blocked = conv_module.input_grad_by_rows(g, w, geo)
    whole = conv_module.input_grad_by_rows_block(g, w, geo)
    np.testing.assert_allclose(blocked, whole, rtol=1e-13, atol=1e-13)
    assert blocked.shape == x_shape


def test_layers_go_in_blocks_only_where_their_columns_leave_the_cache():
    from thalweg.ops.conv import sample_blocks

    resnet_b128 = ConvGeometry((128, 16, 32, 32), (16, 16, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1)  # rows mode
    strided_b128 = ConvGeometry((128, 16, 32, 32), (32, 16, 3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1)
    strided_b32 = ConvGeometry((32, 16, 32, 32), (32, 16, 3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1)
    lenet = ConvGeometry((64, 6, 12, 12), (16, 6, 5, 5), (1, 1), (0, 0, 0, 0), (1, 1), 1)
    blocks = sample_blocks(resnet_b128, 4)
    assert len(blocks) > 1 and blocks[0].start == 0 and blocks[-1].stop == 128
    assert all(a.stop == b.start for a, b in zip(blocks, blocks[1:]))
    assert sample_blocks(strided_b128, 4) is not None  # 19 MB of columns
    assert sample_blocks(strided_b32, 4) is None and sample_blocks(lenet, 4) is None  # 5 MB and 4 MB: in cache


def test_changing_the_input_in_place_after_a_blocked_forward_raises(row_blocks_of_one_sample):
    x = tw.randn(2, 4, 5, 5, requires_grad=True)
    h = x * 1.0
    y = F.conv2d(h, tw.randn(3, 4, 3, 3, requires_grad=True), padding=1)
    with tw.no_grad():
        h.add_(1.0)  # dL/dW reads h again: torch raises here too
    with pytest.raises(RuntimeError, match="in-?place|modified"):
        y.sum().backward()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", [dict(), dict(stride=3, padding=2), dict(padding="same", dilation=2),
                                    dict(groups=2, dilation=3), dict(padding="valid", bias=False)], ids=str)
def test_conv1d_matches_torch(dtype, kwargs):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = torch.nn.Conv1d(4, 6, 4, **kwargs).to(torch.float64 if dtype == np.float64 else torch.float32)
    ours = nn.Conv1d(4, 6, 4, dtype=dtype, **kwargs)
    copy_torch_weights(ours, theirs)
    x = np.random.default_rng(1).standard_normal((2, 4, 17)).astype(dtype)
    compare_module(torch, ours, theirs, [x], dtype)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [1, "same"])
def test_conv2d_padding_modes_match_torch(mode, padding):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = torch.nn.Conv2d(2, 3, (3, 4), padding=padding, padding_mode=mode).double()
    ours = nn.Conv2d(2, 3, (3, 4), padding=padding, padding_mode=mode).double()
    copy_torch_weights(ours, theirs)
    x = np.random.default_rng(2).standard_normal((2, 2, 6, 7))
    compare_module(torch, ours, theirs, [x], np.float64)


def test_lenet_sized_float32_conv_matches_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs, ours = torch.nn.Conv2d(6, 16, 5), nn.Conv2d(6, 16, 5)
    copy_torch_weights(ours, theirs)
    x = np.random.default_rng(3).standard_normal((16, 6, 12, 12)).astype(np.float32)
    compare_module(torch, ours, theirs, [x], np.float32)


def test_unbatched_and_noncontiguous_input_match_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs, ours = torch.nn.Conv2d(3, 2, 3, padding=1).double(), nn.Conv2d(3, 2, 3, padding=1).double()
    copy_torch_weights(ours, theirs)
    x = np.random.default_rng(4).standard_normal((3, 5, 6))
    compare_module(torch, ours, theirs, [x], np.float64)
    xt = np.random.default_rng(5).standard_normal((2, 6, 5, 3)).transpose(0, 3, 2, 1)  # a strided view
    np.testing.assert_allclose(ours(tw.tensor(xt)).data, theirs(torch.tensor(xt)).detach().numpy(), rtol=1e-12)


def test_functional_conv2d_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    x, w, b = rng.standard_normal((2, 4, 7, 7)), rng.standard_normal((6, 2, 3, 3)), rng.standard_normal(6)
    ours = F.conv2d(tw.tensor(x), tw.tensor(w), tw.tensor(b), stride=(2, 1), padding=(1, 0), dilation=(1, 2),
                    groups=2)
    theirs = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=(2, 1),
                                        padding=(1, 0), dilation=(1, 2), groups=2)
    np.testing.assert_allclose(ours.array, theirs.numpy(), rtol=1e-12, atol=1e-12)


def test_layer_used_twice_before_backward_gets_both_gradients():
    """The columns kept for backward come from a reused workspace: two uses must not share them."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs, ours = torch.nn.Conv2d(2, 3, 3), nn.Conv2d(2, 3, 3)
    copy_torch_weights(ours, theirs)
    rng = np.random.default_rng(7)
    a, b = (rng.standard_normal((4, 2, 8, 8)).astype(np.float32) for _ in range(2))
    (ours(tw.tensor(a)) * ours(tw.tensor(b))).sum().backward()
    (theirs(torch.tensor(a)) * theirs(torch.tensor(b))).sum().backward()
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_retain_graph_backward_twice_and_workspace_reuse():
    tw.manual_seed(0)
    layer = nn.Conv2d(8, 3, 3)  # columns of ~1 MB: large enough to go through the scratch pool
    x = tw.randn(4, 8, 32, 32, requires_grad=True)
    y = layer(x).sum()
    y.backward(retain_graph=True)
    first_w, first_x = layer.weight.grad.array.copy(), x.grad.array.copy()
    for _ in range(3):  # other convolutions of the same size reuse the workspace meanwhile
        layer(tw.randn(4, 8, 32, 32)).sum().backward()
    layer.zero_grad()
    x.grad = None
    y.backward()
    np.testing.assert_allclose(layer.weight.grad, first_w, rtol=1e-6)
    np.testing.assert_allclose(x.grad, first_x, rtol=1e-6)
    assert workspace._held[0] <= workspace.MAX_BYTES


def test_float32_stays_float32():
    layer = nn.Conv2d(3, 4, 3, padding=1)
    x = tw.randn(2, 3, 5, 5, requires_grad=True)
    y = layer(x)
    y.sum().backward()
    assert y.dtype == np.float32
    assert x.grad.dtype == layer.weight.grad.dtype == layer.bias.grad.dtype == np.float32


def test_output_size_formula():
    layer = nn.Conv2d(1, 1, (3, 5), stride=(2, 3), padding=(1, 2), dilation=(2, 1))
    y = layer(tw.randn(1, 1, 11, 13))
    assert y.shape == (1, 1, (11 + 2 - 2 * 2 - 1) // 2 + 1, (13 + 4 - 4 - 1) // 3 + 1)


# ------------------------------------------------------------------------------ errors
def test_wrong_channel_count_names_layer_and_both_shapes():
    layer = nn.Conv2d(1, 6, kernel_size=(5, 5))
    with pytest.raises(ValueError) as e:
        layer(tw.zeros(64, 3, 28, 28))
    assert str(e.value) == "Conv2d(1, 6, kernel_size=(5, 5)): expected input with 1 channels, got shape (64, 3, 28, 28)"


def test_wrong_rank_names_layer_and_shape():
    with pytest.raises(ValueError, match=r"Conv2d\(1, 6, kernel_size=\(5, 5\)\).*4-D.*got shape \(28, 28\)"):
        nn.Conv2d(1, 6, 5)(tw.zeros(28, 28))
    with pytest.raises(ValueError, match=r"Conv1d\(2, 3, kernel_size=\(3,\)\).*got shape \(1, 1, 2, 9\)"):
        nn.Conv1d(2, 3, 3)(tw.zeros(1, 1, 2, 9))


def test_invalid_constructor_arguments():
    with pytest.raises(ValueError, match="in_channels=4 must be divisible by groups=3"):
        nn.Conv2d(4, 6, 3, groups=3)
    with pytest.raises(ValueError, match="out_channels=5 must be divisible by groups=2"):
        nn.Conv2d(4, 5, 3, groups=2)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding must be 'valid', 'same'"):
        nn.Conv2d(1, 1, 3, padding="full")
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(1, 1, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="kernel_size must be positive"):
        nn.Conv2d(1, 1, 0)
    with pytest.raises(ValueError, match="padding must be non-negative"):
        nn.Conv1d(1, 1, 3, padding=-1)


def test_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match=r"conv2d: the kernel \(5, 5\).*larger than the padded input \(4, 4\)"):
        F.conv2d(tw.zeros(1, 1, 4, 4), tw.zeros(1, 1, 5, 5))
    with pytest.raises(ValueError, match=r"Conv2d: the kernel \(3, 3\) \(dilated extent 5"):
        nn.Conv2d(1, 1, 3, dilation=2)(tw.zeros(1, 1, 4, 9))


def test_functional_argument_errors():
    x = tw.zeros(2, 4, 6, 6)
    with pytest.raises(ValueError, match=r"conv2d: groups=3 must divide the weight's out_channels 4"):
        F.conv2d(x, tw.zeros(4, 2, 3, 3), groups=3)
    with pytest.raises(ValueError, match=r"conv2d: groups=1 and weight of shape \(6, 1, 5, 5\) expect input with "
                                         r"1 channels, got shape \(2, 4, 6, 6\)"):
        F.conv2d(x, tw.zeros(6, 1, 5, 5))
    with pytest.raises(ValueError, match=r"expected bias of shape \(6,\), got shape \(5,\)"):
        F.conv2d(x, tw.zeros(6, 4, 3, 3), tw.zeros(5))
    with pytest.raises(TypeError, match="input dtype float32 and weight dtype float64 differ"):
        F.conv2d(x, tw.zeros(6, 4, 3, 3, dtype=tw.float64))
    with pytest.raises(TypeError, match="stride must be an int or a sequence of 2 ints"):
        F.conv2d(x, tw.zeros(6, 4, 3, 3), stride=(1, 2, 3))


# ------------------------------------------------------------------------ repr, init
@pytest.mark.parametrize("cls, args, kwargs", [
    ("Conv2d", (1, 6, 5), {}),
    ("Conv2d", (4, 8, (3, 2)), dict(stride=2, padding=1, dilation=2, groups=2, bias=False)),
    ("Conv2d", (3, 3, 3), dict(padding="same", padding_mode="reflect")),
    ("Conv1d", (2, 4, 3), dict(padding="same", bias=False, groups=2, padding_mode="circular")),
    ("Conv1d", (2, 4, 3), dict(stride=2)),
])
def test_repr_matches_torch(cls, args, kwargs):
    torch = pytest.importorskip("torch")
    assert repr(getattr(nn, cls)(*args, **kwargs)) == repr(getattr(torch.nn, cls)(*args, **kwargs))


def test_state_dict_layout_matches_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = nn.Conv2d(4, 8, (3, 2), groups=2), torch.nn.Conv2d(4, 8, (3, 2), groups=2)
    assert {k: v.shape for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in theirs.state_dict().items()}


def test_default_init_is_uniform_with_bound_one_over_sqrt_fan_in():
    tw.manual_seed(0)
    layer = nn.Conv2d(8, 32, 3, groups=2)
    bound = 1 / math.sqrt(4 * 3 * 3)  # fan_in = in_channels / groups * kh * kw
    w, b = layer.weight.array, layer.bias.array
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound  # U(-a, a) has std a / sqrt(3)
    assert w.dtype == np.float32


def test_init_is_reproducible_from_seed_and_generator():
    tw.manual_seed(3)
    a = nn.Conv2d(2, 3, 3).weight.array.copy()
    tw.manual_seed(3)
    b = nn.Conv2d(2, 3, 3).weight.array.copy()
    c = nn.Conv2d(2, 3, 3, generator=tw.Generator(5)).weight.array
    d = nn.Conv2d(2, 3, 3, generator=tw.Generator(5)).weight.array
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(c, d)



def test_functional_conv1d_unbatched_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    x, w, b = rng.standard_normal((4, 10)), rng.standard_normal((6, 2, 3)), rng.standard_normal(6)
    ours = F.conv1d(tw.tensor(x), tw.tensor(w), tw.tensor(b), padding="same", dilation=2, groups=2)
    theirs = torch.nn.functional.conv1d(torch.tensor(x), torch.tensor(w), torch.tensor(b), padding="same",
                                        dilation=2, groups=2)
    assert ours.shape == (6, 10)
    np.testing.assert_allclose(ours.array, theirs.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs", [dict(), dict(padding=(2, 1)), dict(dilation=2, padding=1), dict(groups=2)],
                         ids=str)
def test_flat_input_gradient_by_columns_and_compiled_col2im_matches_torch(kwargs, monkeypatch):
    """float32 stride-1 layers whose dL/dx is not a kernel-row convolution: W^T g and the flat col2im kernel."""
    torch = pytest.importorskip("torch")
    from thalweg.ops import kernels

    if not kernels.enabled():
        pytest.skip("numba is not installed (the speed extra)")
    kernels.warm_up()
    runs = []
    real = kernels._kernels["col2im_flat"]
    monkeypatch.setitem(kernels._kernels, "col2im_flat", lambda *a: runs.append(1) or real(*a))
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 6, 9, 8)).astype(np.float32)  # 6 x 12 channels: im2col, not the direct loops
    w = rng.standard_normal((12, 6 // kwargs.get("groups", 1), 5, 3)).astype(np.float32)
    xo, wo = tw.tensor(x, requires_grad=True), tw.tensor(w, requires_grad=True)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    y, y_t = F.conv2d(xo, wo, **kwargs), torch.nn.functional.conv2d(xt, wt, **kwargs)
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(tw.tensor(g))
    y_t.backward(torch.tensor(g))
    assert runs, "the flat col2im kernel did not run"
    assert_close(xo.grad, xt.grad, np.float32, "input gradient")
    assert_close(wo.grad, wt.grad, np.float32, "weight gradient")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])  # NumPy's adds; the compiled pass (float32, with numba)
@pytest.mark.parametrize("kwargs", [dict(pad=(0, 0, 0, 0), dilation=(1, 1)), dict(pad=(2, 1, 0, 1), dilation=(2, 1))],
                         ids=str)
def test_flat_col2im_is_the_adjoint_of_flat_im2col(dtype, kwargs):
    """<im2col(x), d> = <x, col2im(d)> in the flat-row layout, for d zero at the thrown-away columns (as the layer's
    gradients are: those columns of the last row read past the plane, and col2im drops what lands there)."""
    from thalweg.ops import conv

    rng = np.random.default_rng(6)
    geo = ConvGeometry((2, 3, 7, 6), (4, 3, 3, 2), (1, 1), kwargs["pad"], kwargs["dilation"], 1)
    assert geo.flat
    x = rng.standard_normal((2, 3, 7, 6)).astype(dtype)
    cols, buf = conv.im2col(x, geo)
    d = rng.standard_normal(cols.shape).astype(dtype)
    d.reshape(2, 1, -1, geo.oh, geo.wp)[..., geo.ow:] = 0
    lhs = float((np.asarray(cols, np.float64) * d).sum())
    workspace.give(buf)
    rhs = float((x.astype(np.float64) * conv.col2im(d, geo)).sum())
    assert rhs == pytest.approx(lhs, rel=1e-5 if dtype == np.float32 else 1e-12)
