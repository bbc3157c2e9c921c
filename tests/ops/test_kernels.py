"""The optional compiled kernels (ops/kernels.py): same results as the NumPy code and as torch, and a clean fallback."""

import subprocess
import sys

import numpy as np
import pytest

import thalweg as tw
from thalweg.ops import kernels

needs_numba = pytest.mark.skipif(not kernels.enabled(), reason="numba is not installed (the speed extra)")


@pytest.fixture
def numpy_path():
    """Run the body with the kernels switched off, so the NumPy code runs."""
    previous = kernels.set_enabled(False)
    yield
    kernels.set_enabled(previous)


def _gelu_value_and_grad(x: np.ndarray, g: np.ndarray, approximate: str = "none") -> tuple[np.ndarray, np.ndarray]:
    t = tw.tensor(x, requires_grad=True)
    y = tw.nn.functional.gelu(t, approximate=approximate)
    y.backward(tw.tensor(g))
    return y.detach().numpy(), t.grad.numpy()


# empty, small, and sizes across the NumPy path's block (65,536 values)
GELU_SHAPES = [(0,), (7,), (3, 5, 11), (65536,), (2, 65536 + 3)]


@needs_numba
@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("shape", GELU_SHAPES, ids=str)
def test_gelu_kernel_matches_numpy_path_and_torch(shape, approximate):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 4).astype(np.float32)
    if x.size > 4:
        x.reshape(-1)[:4] = [np.nan, np.inf, -np.inf, 0.0]
    g = rng.standard_normal(shape).astype(np.float32)
    y, gx = _gelu_value_and_grad(x, g, approximate)
    previous = kernels.set_enabled(False)
    try:
        y_np, gx_np = _gelu_value_and_grad(x, g, approximate)
    finally:
        kernels.set_enabled(previous)
    np.testing.assert_allclose(y, y_np, rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(gx, gx_np, rtol=2e-6, atol=5e-7)  # grad ~ 1, near 0 where terms cancel
    # torch in float64 as the reference: in float32 its tanh form cancels to 0 in the left tail (1 + tanh u with
    # tanh u ~ -1), where the sigmoid form used here keeps its digits, and its vectorised exact GELU returns NaN
    # at +inf (its scalar path and float64 give inf)
    xt = torch.tensor(x.astype(np.float64), requires_grad=True)
    yt = torch.nn.functional.gelu(xt, approximate=approximate)
    yt.backward(torch.tensor(g.astype(np.float64)))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-5, atol=1e-6)


@needs_numba
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (4, 2, 33), (2, 65)], ids=str)
def test_softmax_kernel_matches_numpy_path_and_torch(shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(shape) * 5).astype(np.float32)
    rows = x.reshape(-1, shape[-1])
    if rows.shape[0] >= 4 and rows.shape[1] >= 3:  # a masked row, an all -inf row, a NaN row, a +inf row
        rows[0, 1:] = -np.inf
        rows[1] = -np.inf
        rows[2, 1] = np.nan
        rows[3, 2] = np.inf
    g = rng.standard_normal(shape).astype(np.float32)

    def run():
        t = tw.tensor(x, requires_grad=True)
        y = tw.nn.functional.softmax(t, dim=-1)
        y.backward(tw.tensor(g))
        return y.numpy(), t.grad.numpy()

    y, gx = run()
    previous = kernels.set_enabled(False)
    try:
        y_np, gx_np = run()
    finally:
        kernels.set_enabled(previous)
    np.testing.assert_allclose(y, y_np, rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(gx, gx_np, rtol=2e-5, atol=1e-6)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.softmax(xt, dim=-1)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=2e-5, atol=1e-6)


@needs_numba
def test_gelu_kernel_keeps_the_left_tail_accurate():
    # Phi(x) for x far below 0 is tiny; 1 + erf(x / sqrt 2) would cancel to 0 or one rounding step
    x = np.linspace(-12, -4, 1001).astype(np.float32)
    y, _ = _gelu_value_and_grad(x, np.ones_like(x))
    import math

    exact = np.array([v * 0.5 * math.erfc(-v / math.sqrt(2.0)) for v in x.astype(np.float64)])
    normal = np.abs(exact) > 1e-36  # above float32's subnormal range
    np.testing.assert_allclose(y[normal], exact[normal], rtol=2e-5)


@needs_numba
def test_gelu_falls_back_for_non_contiguous_and_float64_input():
    x = np.random.default_rng(1).standard_normal((6, 8)).astype(np.float32)
    strided = tw.tensor(x)[:, ::2]
    ref = tw.nn.functional.gelu(tw.tensor(np.ascontiguousarray(x[:, ::2]))).numpy()
    np.testing.assert_allclose(tw.nn.functional.gelu(strided).numpy(), ref, rtol=1e-6)
    assert not kernels.usable(x[:, ::2]) and not kernels.usable(x.astype(np.float64)) and kernels.usable(x)


def _layer_norm_all(x, shape, affine, bias, g):
    layer = tw.nn.LayerNorm(shape, elementwise_affine=affine, bias=bias)
    if affine:
        rng = np.random.default_rng(3)
        layer.weight.data = tw.tensor(rng.standard_normal(layer.weight.shape).astype(np.float32))
        if bias:
            layer.bias.data = tw.tensor(rng.standard_normal(layer.bias.shape).astype(np.float32))
    t = tw.tensor(x, requires_grad=True)
    y = layer(t)
    y.backward(tw.tensor(g))
    out = [y.detach().numpy(), t.grad.numpy()]
    out += [p.grad.numpy() for p in layer.parameters()]
    return out, layer


LN_CASES = [((4, 7, 16), 16, True, True), ((2, 3, 4, 5), (4, 5), True, True), ((9, 64), 64, False, False),
            ((5, 33), 33, True, False), ((0, 8), 8, True, True), ((300, 256), 256, True, True)]


@needs_numba
@pytest.mark.parametrize("xshape, shape, affine, bias", LN_CASES, ids=str)
def test_layer_norm_kernel_matches_numpy_path_and_torch(xshape, shape, affine, bias):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(xshape) * 3 + 1).astype(np.float32)
    g = rng.standard_normal(xshape).astype(np.float32)
    ours, layer = _layer_norm_all(x, shape, affine, bias, g)
    previous = kernels.set_enabled(False)
    try:
        reference, _ = _layer_norm_all(x, shape, affine, bias, g)
    finally:
        kernels.set_enabled(previous)
    for a, b in zip(ours, reference):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(b).max(initial=0))))
    theirs = torch.nn.LayerNorm(shape, elementwise_affine=affine, bias=bias)
    if affine:
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(layer.weight.numpy()))
            if bias:
                theirs.bias.copy_(torch.tensor(layer.bias.numpy()))
    xt = torch.tensor(x, requires_grad=True)
    yt = theirs(xt)
    yt.backward(torch.tensor(g))
    expected = [yt.detach().numpy(), xt.grad.numpy()] + [p.grad.numpy() for p in theirs.parameters()]
    assert len(expected) == len(ours)
    for a, b in zip(ours, expected):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(b).max(initial=0))))


@needs_numba
def test_layer_norm_kernel_only_input_gradient_or_only_parameter_gradients():
    x = np.random.default_rng(4).standard_normal((6, 10)).astype(np.float32)
    layer = tw.nn.LayerNorm(10)
    t = tw.tensor(x, requires_grad=True)
    layer.requires_grad_(False)
    layer(t).sum().backward()
    assert t.grad is not None and layer.weight.grad is None
    layer.requires_grad_(True)
    layer(tw.tensor(x)).pow(2).sum().backward()
    assert layer.weight.grad is not None and layer.bias.grad is not None


def test_numpy_path_gives_torch_values(numpy_path):
    torch = pytest.importorskip("torch")
    assert not kernels.usable(np.zeros(3, np.float32))
    x = np.random.default_rng(5).standard_normal((3, 70000)).astype(np.float32)
    y, gx = _gelu_value_and_grad(x, np.ones_like(x))
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.gelu(xt).sum().backward()
    np.testing.assert_allclose(y, torch.nn.functional.gelu(torch.tensor(x)).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_environment_switch_turns_kernels_off_and_import_does_not_load_numba():
    code = ("import sys, thalweg as tw; from thalweg.ops import kernels; assert 'numba' not in sys.modules; "
            "assert not kernels.enabled(); "
            "y = tw.nn.functional.gelu(tw.ones(3)); assert 'numba' not in sys.modules; print('ok')")
    env = {"THALWEG_NUMBA": "0", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr



def _batch_norm_all(x, g, affine, layer_cls):
    layer = layer_cls(x.shape[1], affine=affine)
    if affine:
        rng = np.random.default_rng(8)
        layer.weight.data = tw.tensor(rng.standard_normal(layer.weight.shape).astype(np.float32))
        layer.bias.data = tw.tensor(rng.standard_normal(layer.bias.shape).astype(np.float32))
    t = tw.tensor(x, requires_grad=True)
    y = layer(t)
    y.backward(tw.tensor(g))
    out = [y.detach().numpy(), t.grad.numpy(), layer.running_mean.numpy(), layer.running_var.numpy()]
    return out + [p.grad.numpy() for p in layer.parameters()], layer


BN_CASES = [((8, 5, 6, 7), True, "BatchNorm2d"), ((16, 3, 10), False, "BatchNorm1d"), ((32, 4), True, "BatchNorm1d"),
            ((2, 3, 4, 5, 6), True, "BatchNorm3d")]


@needs_numba
@pytest.mark.parametrize("shape, affine, cls", BN_CASES, ids=str)
def test_batch_norm_kernel_matches_numpy_path_and_torch(shape, affine, cls):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    x = (rng.standard_normal(shape) * 2 + 3).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    ours, layer = _batch_norm_all(x, g, affine, getattr(tw.nn, cls))
    previous = kernels.set_enabled(False)
    try:
        reference, _ = _batch_norm_all(x, g, affine, getattr(tw.nn, cls))
    finally:
        kernels.set_enabled(previous)
    theirs = getattr(torch.nn, cls)(shape[1], affine=affine)
    if affine:
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(layer.weight.numpy()))
            theirs.bias.copy_(torch.tensor(layer.bias.numpy()))
    xt = torch.tensor(x, requires_grad=True)
    yt = theirs(xt)
    yt.backward(torch.tensor(g))
    expected = [yt.detach().numpy(), xt.grad.numpy(), theirs.running_mean.numpy(), theirs.running_var.numpy()]
    expected += [p.grad.numpy() for p in theirs.parameters()]
    assert len(ours) == len(reference) == len(expected)
    for a, b, c in zip(ours, reference, expected):
        scale = max(1.0, float(np.abs(c).max(initial=0)))
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * scale)
        np.testing.assert_allclose(a, c, rtol=1e-4, atol=1e-5 * scale)


@needs_numba
def test_relu_kernel_matches_torch_with_nan_inf_and_zero():
    torch = pytest.importorskip("torch")
    x = np.array([[-1.0, 0.0, 2.0, np.nan], [np.inf, -np.inf, -0.0, 3.0]], dtype=np.float32)
    g = np.array([[1.0, 2.0, np.nan, 4.0], [5.0, np.inf, 7.0, -8.0]], dtype=np.float32)
    t = tw.tensor(x, requires_grad=True)
    y = tw.nn.functional.relu(t)
    y.backward(tw.tensor(g))
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.relu(xt)
    yt.backward(torch.tensor(g))
    np.testing.assert_array_equal(y.detach().numpy(), yt.detach().numpy())
    np.testing.assert_array_equal(t.grad.numpy(), xt.grad.numpy())


@needs_numba
def test_relu_output_changed_in_place_before_backward_raises_as_in_torch():
    t = tw.tensor(np.array([1.0, -2.0, 3.0], dtype=np.float32), requires_grad=True)
    y = tw.nn.functional.relu(t)
    with tw.no_grad():
        y.add_(1.0)
    with pytest.raises(RuntimeError, match="in-?place"):
        y.sum().backward()


@needs_numba
def test_warm_up_loads_every_kernel():
    from thalweg.ops import numba_kernels
    assert kernels.warm_up()
    for name in numba_kernels.KERNELS:
        assert kernels.get(name).signatures, name  # compiled (or loaded from the cache) for float32


def test_warm_up_reports_off_when_kernels_are_off(numpy_path):
    assert kernels.warm_up() is False


def test_a_kernel_that_fails_to_load_leaves_the_kernels_off_with_a_warning(monkeypatch):
    pytest.importorskip("numba")

    def broken():
        raise RuntimeError("cannot cache function: no locator available")

    monkeypatch.setattr(kernels, "_run_each_once", broken)
    monkeypatch.setattr(kernels, "_kernels", None)
    monkeypatch.setattr(kernels, "_tried", [False])
    with pytest.warns(RuntimeWarning, match="compiled kernels are unavailable"):
        assert kernels.get("gelu_forward") is None
    y = tw.nn.functional.gelu(tw.tensor(np.array([0.5, -1.0], dtype=np.float32)))
    np.testing.assert_allclose(y.numpy(), [0.3457312, -0.1586553], rtol=1e-6)


def test_a_slow_load_says_it_is_compiling_and_a_fast_one_says_nothing(monkeypatch, caplog):
    pytest.importorskip("numba")
    import time

    for seconds, expected in ((0.3, True), (0.0, False)):
        monkeypatch.setattr(kernels, "_run_each_once", lambda s=seconds: time.sleep(s))
        monkeypatch.setattr(kernels, "_kernels", None)
        monkeypatch.setattr(kernels, "_tried", [False])
        monkeypatch.setattr(kernels, "SLOW_LOAD_NOTICE_SECONDS", 0.1)
        caplog.clear()
        with caplog.at_level("WARNING", logger="thalweg"):
            assert kernels.get("gelu_forward") is not None
            time.sleep(0.2)  # past the notice's time: a cancelled notice stays silent
        said = [r.getMessage() for r in caplog.records if r.name == "thalweg"]
        assert bool(said) == expected and all("compiling numba's kernels once" in m for m in said), (seconds, said)


# ------------------------------------------------------------------ max pooling
def _max_pool_everything(x: np.ndarray, g: np.ndarray, **opts):
    t = tw.tensor(x, requires_grad=True)
    y, idx = tw.nn.functional.max_pool2d(t, return_indices=True, **opts)
    y.backward(tw.tensor(g))
    return y.detach().numpy(), idx.numpy(), t.grad.numpy()


def _torch_max_pool(x: np.ndarray, g: np.ndarray, **opts):
    torch = pytest.importorskip("torch")
    t = torch.tensor(x, requires_grad=True)
    y, idx = torch.nn.functional.max_pool2d(t, return_indices=True, **opts)
    y.backward(torch.tensor(g))
    return y.detach().numpy(), idx.numpy(), t.grad.numpy()


def _pool_input(shape, kind: str) -> np.ndarray:
    rng = np.random.default_rng(1)
    if kind == "ties":  # few distinct values: many windows with several equal maxima
        return rng.integers(0, 3, shape).astype(np.float32)
    x = rng.standard_normal(shape).astype(np.float32)
    if kind == "nan_inf":  # NaN (one or several in a window), +-inf, and whole windows of -inf
        flat = x.reshape(-1)
        flat[rng.choice(flat.size, flat.size // 6, replace=False)] = np.nan
        flat[rng.choice(flat.size, flat.size // 10, replace=False)] = -np.inf
        flat[rng.choice(flat.size, flat.size // 20, replace=False)] = np.inf
        x.reshape(x.shape[0], x.shape[1], -1)[:, :, :2] = -np.inf
        x[0, 0, :2, :2] = -np.inf
    return x


POOL_CASES = [  # (input shape, options); the first three take the compiled 2x2 path
    ((2, 3, 8, 6), dict(kernel_size=2)),
    ((1, 2, 7, 9), dict(kernel_size=2, stride=2)),  # odd sizes: the last row and column are dropped
    ((3, 1, 4, 4), dict(kernel_size=(2, 2))),
    ((2, 2, 7, 7), dict(kernel_size=2, ceil_mode=True)),  # a window hangs over: NumPy path
    ((2, 2, 6, 6), dict(kernel_size=3, stride=2, padding=1)),  # -inf padding
    ((1, 2, 9, 8), dict(kernel_size=3, stride=1, padding=1, dilation=2)),
    ((2, 1, 5, 5), dict(kernel_size=2, stride=1)),  # overlapping windows
]


@pytest.mark.parametrize("kind", ["normal", "ties", "nan_inf"])
@pytest.mark.parametrize("shape, opts", POOL_CASES, ids=str)
def test_max_pool_both_paths_match_torch_values_indices_and_gradients(shape, opts, kind):
    x = _pool_input(shape, kind)
    torch = pytest.importorskip("torch")
    y_shape = torch.nn.functional.max_pool2d(torch.tensor(x), **opts).shape
    g = np.random.default_rng(2).standard_normal(tuple(y_shape)).astype(np.float32)
    ty, tidx, tgx = _torch_max_pool(x, g, **opts)
    results = [_max_pool_everything(x, g, **opts)]
    previous = kernels.set_enabled(False)
    try:
        results.append(_max_pool_everything(x, g, **opts))
    finally:
        kernels.set_enabled(previous)
    for y, idx, gx in results:
        np.testing.assert_array_equal(y, ty)  # NaN in the same places
        np.testing.assert_array_equal(idx, tidx)
        np.testing.assert_allclose(gx, tgx, rtol=1e-6, atol=1e-6)


@needs_numba
def test_max_pool_kernel_is_taken_for_2x2_stride_2_only():
    x = tw.tensor(np.ones((1, 1, 4, 4), np.float32), requires_grad=True)
    assert hasattr(tw.nn.functional.max_pool2d(x, 2).grad_fn, "which")
    assert not hasattr(tw.nn.functional.max_pool2d(x, 2, stride=1).grad_fn, "which")
    assert not hasattr(tw.nn.functional.max_pool2d(x.double(), 2).grad_fn, "which")


def test_max_pool_double_backward_through_either_path_matches_gradgradcheck():
    rng = np.random.default_rng(3)
    x = tw.tensor(rng.standard_normal((1, 2, 4, 6)), requires_grad=True)  # float64: NumPy path
    assert tw.autograd.gradgradcheck(lambda t: tw.nn.functional.max_pool2d(t, 2), (x,))
    x32 = tw.tensor(rng.standard_normal((1, 2, 4, 6)).astype(np.float32), requires_grad=True)
    y = tw.nn.functional.max_pool2d(x32, 2)  # float32: the compiled path when numba is there
    u = tw.tensor(rng.standard_normal((1, 2, 4, 6)).astype(np.float32))
    gg = tw.ones_like(y).requires_grad_()
    (gx2,) = tw.autograd.grad(y, x32, gg, create_graph=True)
    (d_gg,) = tw.autograd.grad((gx2 * u).sum(), gg)
    # d/dgg of <u, scatter(gg)> is u picked at each window's maximum
    torch = pytest.importorskip("torch")
    _, idx = torch.nn.functional.max_pool2d(torch.tensor(x32.detach().numpy()), 2, return_indices=True)
    expected = np.take_along_axis(u.numpy().reshape(1, 2, -1), idx.numpy().reshape(1, 2, -1), axis=2)
    np.testing.assert_allclose(d_gg.numpy().reshape(1, 2, -1), expected, rtol=1e-6)


# ------------------------------------------------------------------------ LSTM
@needs_numba
def test_fast_exp_is_within_one_ulp_over_the_float32_range():
    from thalweg.ops import numba_kernels
    xs = np.concatenate([np.linspace(-110, 95, 400_001, dtype=np.float32),
                         np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 88.72, 88.73, -87.34, -103.9, -104.5],
                                  np.float32)])
    out = np.empty_like(xs)
    numba_kernels.exp(xs, out)
    with np.errstate(over="ignore", under="ignore"):
        exact = np.exp(xs.astype(np.float64))
    normal = (exact > np.finfo(np.float32).tiny) & (exact < np.finfo(np.float32).max)
    ulps = np.abs(out[normal] - exact[normal]) / np.spacing(exact[normal].astype(np.float32))
    assert ulps.max() <= 1.0
    subnormal = (exact > 0) & ~normal & (exact < 1)
    np.testing.assert_allclose(out[subnormal], exact[subnormal], rtol=0, atol=1.5e-45)  # to the last subnormal
    assert np.isinf(out[(exact >= np.finfo(np.float32).max) & np.isfinite(xs)]).all()
    np.testing.assert_array_equal(out[-10:][[0, 1, 2, 3, 4, 9]], [np.nan, np.inf, 0, 1, 1, 0])


@needs_numba
def test_flushed_exp_is_within_one_ulp_down_to_the_normal_range_and_zero_below():
    from thalweg.ops import numba_kernels
    xs = np.concatenate([np.linspace(-110, 88, 400_001, dtype=np.float32),
                         np.array([np.nan, -np.inf, 0.0, -0.0, -87.32, -87.34], np.float32)])
    out = np.empty_like(xs)
    numba_kernels.exp_flushed(xs, out)
    exact = np.exp(xs.astype(np.float64))
    kept = xs >= numba_kernels.FLUSH_BELOW
    ulps = np.abs(out[kept] - exact[kept]) / np.spacing(exact[kept].astype(np.float32))
    assert ulps.max() <= 1.0
    assert (out[~kept & ~np.isnan(xs)] == 0).all() and np.all(exact[~kept & ~np.isnan(xs)] < 1.2e-38)
    np.testing.assert_array_equal(out[-6:-2], [np.nan, 0, 1, 1])
    assert out[-2] > 1.1e-38 and out[-1] == 0  # either side of the cut


@needs_numba
def test_fast_tanh_is_within_six_ulps_and_keeps_nan_inf_and_signed_zero():
    from thalweg.ops import numba_kernels
    xs = np.concatenate([np.linspace(-12, 12, 400_001, dtype=np.float32),
                         np.geomspace(1e-30, 1, 20_000).astype(np.float32),
                         -np.geomspace(1e-30, 1, 20_000).astype(np.float32)])
    out = np.empty_like(xs)
    numba_kernels.tanh(xs, out)
    exact = np.tanh(xs.astype(np.float64))
    ulps = np.abs(out - exact) / np.spacing(np.abs(exact).astype(np.float32))
    assert ulps.max() <= 6.0
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 30.0, -30.0], np.float32)
    got = np.empty_like(special)
    numba_kernels.tanh(special, got)
    np.testing.assert_array_equal(got, [np.nan, 1, -1, 0, 0, 1, -1])
    assert np.signbit(got[4]) and not np.signbit(got[3])


def _lstm_run(x, h0c0, g_out, g_h, g_c, reverse_layer: bool):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ref = torch.nn.LSTM(x.shape[-1], 16, bidirectional=reverse_layer)
    ours = tw.nn.LSTM(x.shape[-1], 16, bidirectional=reverse_layer)
    ours.load_state_dict({k: tw.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    xt = tw.tensor(x, requires_grad=True)
    states = None if h0c0 is None else tuple(tw.tensor(s, requires_grad=True) for s in h0c0)
    out, (h, c) = ours(xt, states)
    ((out * tw.tensor(g_out)).sum() + (h * tw.tensor(g_h)).sum() + (c * tw.tensor(g_c)).sum()).backward()
    grads = [xt.grad.numpy()] + [p.grad.numpy() for p in ours.parameters()]
    grads += [] if states is None else [s.grad.numpy() for s in states]
    return [out.detach().numpy(), h.detach().numpy(), c.detach().numpy()] + grads


@needs_numba
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("with_states", [False, True])
def test_lstm_step_kernels_match_the_numpy_loop(bidirectional, with_states, monkeypatch):
    from unittest import mock

    from thalweg.ops import recurrent
    rng = np.random.default_rng(4)
    T, B, F, H = 9, 3, 5, 16
    d = 2 if bidirectional else 1
    x = (rng.standard_normal((T, B, F)) * 2).astype(np.float32)
    h0c0 = tuple(rng.standard_normal((d, B, H)).astype(np.float32) for _ in range(2)) if with_states else None
    g_out = rng.standard_normal((T, B, d * H)).astype(np.float32)
    g_h, g_c = (rng.standard_normal((d, B, H)).astype(np.float32) for _ in range(2))
    spy = mock.Mock(wraps=recurrent._lstm_backward_compiled)
    monkeypatch.setattr(recurrent, "_lstm_backward_compiled", spy)
    compiled = _lstm_run(x, h0c0, g_out, g_h, g_c, bidirectional)
    assert spy.call_count == d  # the compiled path ran, once per direction
    previous = kernels.set_enabled(False)
    try:
        reference = _lstm_run(x, h0c0, g_out, g_h, g_c, bidirectional)
    finally:
        kernels.set_enabled(previous)
    for a, b in zip(compiled, reference):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


@needs_numba
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation", [
    ((2, 3, 9, 8), (4, 3, 3, 2), (2, 2), (1, 1, 1, 1), (1, 1)),
    ((2, 3, 9, 8), (4, 3, 3, 2), (2, 3), (2, 0, 1, 3), (2, 1)),
    ((2, 3, 9, 8), (4, 3, 3, 2), (3, 3), (4, 4, 4, 4), (1, 1)),
    ((2, 3, 9, 8), (4, 3, 3, 2), (1, 2), (0, 0, 0, 0), (1, 2)),
    # three kernel columns at stride 2, the kernel's one-pass rows: the downsampling layer at odd and even sizes,
    # one kernel row with uneven padding, another row stride with dilation, one window across
    ((2, 3, 9, 8), (4, 3, 3, 3), (2, 2), (1, 1, 1, 1), (1, 1)),
    ((3, 2, 8, 9), (2, 2, 1, 3), (1, 2), (0, 0, 1, 0), (1, 1)),
    ((2, 2, 11, 7), (3, 2, 3, 3), (3, 2), (2, 1, 0, 2), (2, 1)),
    ((1, 1, 5, 3), (1, 1, 3, 3), (2, 2), (0, 0, 0, 0), (1, 1)),
])
def test_col2im_kernel_matches_numpy_path(x_shape, w_shape, stride, padding, dilation):
    """The compiled col2im against NumPy's strided additions."""
    from thalweg.ops import conv

    geo = conv.ConvGeometry(x_shape, w_shape, stride, padding, dilation, 1)
    assert not geo.flat
    d = np.random.default_rng(0).standard_normal((x_shape[0], 1, geo.depth, geo.length)).astype(np.float32)
    compiled = conv.col2im(d, geo)
    previous = kernels.set_enabled(False)
    try:
        reference = conv.col2im(d, geo)
    finally:
        kernels.set_enabled(previous)
    assert compiled.shape == reference.shape == x_shape
    np.testing.assert_allclose(compiled, reference, rtol=1e-6, atol=1e-6)


@needs_numba
def test_batch_norm_kernel_keeps_its_input_and_sees_it_changed_in_place():
    """The compiled forward saves x (not xhat) and recomputes xhat in the backward: changing x in place raises."""
    x = tw.randn(4, 3, 5, 5, requires_grad=True)
    h = x * 1.0
    y = tw.nn.functional.batch_norm(h, None, None, training=True)
    with tw.no_grad():
        h.mul_(2.0)
    with pytest.raises(RuntimeError, match="in-?place|modified"):
        y.sum().backward()


@needs_numba
def test_batch_norm_second_derivatives_match_with_and_without_the_kernels():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 3, 4, 4)).astype(np.float32)
    w = (rng.standard_normal(3) + 1.5).astype(np.float32)

    def hessian_vector_product():
        xo, wo = tw.tensor(x, requires_grad=True), tw.tensor(w, requires_grad=True)
        y = tw.nn.functional.batch_norm(xo, None, None, wo, None, training=True)
        (gx,) = tw.autograd.grad((y * y * y).sum(), [xo], create_graph=True)
        return [a.numpy() for a in tw.autograd.grad((gx * gx).sum(), [xo, wo])]

    compiled = hessian_vector_product()
    previous = kernels.set_enabled(False)
    try:
        reference = hessian_vector_product()
    finally:
        kernels.set_enabled(previous)
    for a, b in zip(compiled, reference):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3 * np.abs(b).max())
