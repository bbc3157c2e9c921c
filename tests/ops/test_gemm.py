"""thalweg.ops.gemm: MKL's GEMM behind ``matmul``.

With MKL forced on (whatever the CPU, for every size, NumPy's BLAS counted as one
thread) the products must equal ``np.matmul``'s over every layout MKL takes, hand
everything else back to NumPy, and the layers that use them must still match
torch in value and gradient, and pass the float64 gradcheck.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import thalweg as tw
from thalweg.autograd import gradcheck
from thalweg.ops import gemm

F = tw.nn.functional
MKL_PATH = gemm._find_library("libmkl_rt.so*")
pytestmark = pytest.mark.skipif(MKL_PATH is None, reason="the mkl wheel is not installed (thalweg[mkl])")


class _Counting:
    """Stands in for the loaded library: the same entry points, each call recorded as 'gemm' or 'batch'."""

    def __init__(self, mkl: gemm._Mkl, calls: list[str]) -> None:
        def counted(kind, fn):
            def call(*args):
                calls.append(kind)
                return fn(*args)
            return call

        mkl.compile()
        self.gemm = {d: counted("gemm", f) for d, f in mkl.gemm.items()}
        self.batch = {d: counted("batch", f) for d, f in mkl.batch.items()}
        self.nested = {d: counted("nested", f) for d, f in mkl.nested.items()}

        self.entry_points = mkl.entry_points  # for compiled loops (ops/lstm_loops.py): not counted

    def compile(self) -> None:
        pass


@pytest.fixture(scope="module")
def loaded() -> gemm._Mkl:
    return gemm._mkl if gemm._mkl is not None else gemm._Mkl(MKL_PATH)


@pytest.fixture
def mkl_calls(monkeypatch, loaded) -> list[str]:
    """MKL on for every product of every size; returns the list of MKL calls made."""
    calls: list[str] = []
    monkeypatch.setattr(gemm, "_mkl", _Counting(loaded, calls))
    monkeypatch.setattr(gemm, "_openblas_threads", lambda: 1)
    monkeypatch.setattr(gemm, "MIN_MULTIPLY_ADDS", 0)
    return calls


def _rand(rng, shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def _layouts(rng, dtype):
    """(name, a, b, out-or-None, MKL call expected): operands in the layouts ``matmul`` hands to MKL."""
    a, b = _rand(rng, (7, 5), dtype), _rand(rng, (5, 6), dtype)
    wide = _rand(rng, (7, 9), dtype)
    stack_a, stack_b = _rand(rng, (3, 7, 5), dtype), _rand(rng, (3, 5, 6), dtype)
    four_a, four_b = _rand(rng, (2, 3, 7, 5), dtype), _rand(rng, (2, 3, 5, 6), dtype)
    wider_out = np.empty((7, 10), dtype)
    qkv = _rand(rng, (2, 7, 3 * 3 * 5), dtype)  # (sample, time, 3 x heads x features), as from one projection
    q = qkv[..., :15].reshape(2, 7, 3, 5).transpose(0, 2, 1, 3)  # (sample, head, time, feature): no single stride
    k = qkv[..., 15:30].reshape(2, 7, 3, 5).transpose(0, 2, 1, 3)
    return [
        ("plain", a, b, None, "gemm"),
        ("a transposed", np.ascontiguousarray(a.T).T, b, None, "gemm"),
        ("b transposed", a, np.ascontiguousarray(b.T).T, None, "gemm"),
        ("both transposed", np.ascontiguousarray(a.T).T, np.ascontiguousarray(b.T).T, None, "gemm"),
        ("a's rows longer than used", wide[:, 2:7], b, None, "gemm"),
        ("out given", a, b, np.empty((7, 6), dtype), "gemm"),
        ("out's rows longer than written", a, b, wider_out[:, 1:7], "gemm"),
        ("stack @ stack", stack_a, stack_b, None, "batch"),
        ("stack @ transposed stack", stack_a, np.ascontiguousarray(stack_b.swapaxes(1, 2)).swapaxes(1, 2), None,
         "batch"),
        ("4-d stacks, out given", four_a, four_b, np.empty((2, 3, 7, 6), dtype), "batch"),
        ("matrix @ stack (broadcast)", a, stack_b, None, "batch"),
        ("stack @ matrix (rows at equal steps)", stack_a, b, None, "gemm"),
        ("stack @ matrix, out given", stack_a, b, np.empty((3, 7, 6), dtype), "gemm"),
        ("transposed stack @ matrix", np.ascontiguousarray(stack_a.transpose(1, 0, 2)).transpose(1, 0, 2), b, None,
         "batch"),
        ("one-matrix stack", stack_a[:1], stack_b[:1], None, "gemm"),
        ("q k^T with q, k split from one projection", q, k.swapaxes(-1, -2), None, "nested"),
        ("the same into a given out", q, k.swapaxes(-1, -2), np.empty((2, 3, 7, 7), dtype), "nested"),
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(17))
def test_mkl_products_equal_numpy_matmul(mkl_calls, dtype, case):
    name, a, b, out, kind = _layouts(np.random.default_rng(case), dtype)[case]
    expected = np.matmul(a, b)
    if out is not None:
        out[...] = np.nan  # beta = 0: what the output held must not leak in
    got = gemm.matmul(a, b, out=out)
    assert mkl_calls == [kind], name
    if out is not None:
        assert got is out, name
    assert got.shape == expected.shape and got.dtype == expected.dtype, name
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * np.abs(expected).max(), err_msg=name)


def _handed_back(rng):
    a, b = _rand(rng, (6, 6)), _rand(rng, (6, 6))
    return [
        ("every second column (no unit stride)", _rand(rng, (6, 12))[:, ::2], b, None),
        ("reversed rows", a[::-1], b, None),
        ("integers", np.arange(36).reshape(6, 6), np.arange(36).reshape(6, 6), None),
        ("float32 @ float64", a, b.astype(np.float64), None),
        ("a vector", a, b[:, 0], None),
        ("out is a", a.copy(), b, "a"),
        ("out is b", a, b.copy(), "b"),
        ("leading shapes (2, 1) and (1, 3)", _rand(rng, (2, 1, 6, 6)), _rand(rng, (1, 3, 6, 6)), None),
        ("a broadcast row", np.broadcast_to(_rand(rng, (1, 6)), (6, 6)), b, None),
        ("out in float64", a, b, np.empty((6, 6), np.float64)),
        ("out transposed", a, b, np.empty((6, 6), np.float32).T),
        ("empty", _rand(rng, (0, 6)), b, None),
    ]


@pytest.mark.parametrize("case", range(12))
def test_other_layouts_go_to_numpy_with_the_same_result(mkl_calls, case):
    name, a, b, out = _handed_back(np.random.default_rng(case))[case]
    if isinstance(out, str):
        out = a if out == "a" else b
    expected = np.matmul(a.copy(), b.copy())
    got = gemm.matmul(a, b, out=out)
    assert mkl_calls == [], name
    np.testing.assert_allclose(got, expected, rtol=1e-6, err_msg=name)


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 9), n=st.integers(1, 9), k=st.integers(1, 9), lead=st.sampled_from([(), (2,), (2, 3)]),
       a_t=st.booleans(), b_t=st.booleans(), b_lead=st.booleans(), seed=st.integers(0, 2**16))
def test_random_products_equal_numpy_matmul(m, n, k, lead, a_t, b_t, b_lead, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(lead + ((k, m) if a_t else (m, k)))
    b = rng.standard_normal((lead if b_lead else ()) + ((n, k) if b_t else (k, n)))
    a, b = (a.swapaxes(-1, -2) if a_t else a), (b.swapaxes(-1, -2) if b_t else b)
    with pytest.MonkeyPatch.context() as mp:
        calls: list[str] = []
        mp.setattr(gemm, "_mkl", _Counting(gemm._mkl or gemm._Mkl(MKL_PATH), calls))
        mp.setattr(gemm, "_openblas_threads", lambda: 1)
        mp.setattr(gemm, "MIN_MULTIPLY_ADDS", 0)
        got = gemm.matmul(a, b)
    np.testing.assert_allclose(got, np.matmul(a, b), rtol=1e-12, atol=1e-12)
    if lead == () and not (m == 1 or k == 1 or n == 1):
        assert calls == ["gemm"]


def test_at_two_threads_only_products_that_openblas_threads_do_not_speed_up(mkl_calls, monkeypatch):
    monkeypatch.setattr(gemm, "_openblas_threads", lambda: 2)
    rng = np.random.default_rng(0)
    big = _rand(rng, (128, 256)), _rand(rng, (256, 256))  # 8.4 million multiply-adds, no thin side
    np.testing.assert_allclose(gemm.matmul(*big), big[0] @ big[1], rtol=1e-5, atol=1e-4)
    assert mkl_calls == []
    for a, b in [(_rand(rng, (64, 128)), _rand(rng, (128, 128))),  # 1 million
                 (_rand(rng, (32, 784)), _rand(rng, (784, 256)).T.copy().T)]:  # 6.4 million, 32 rows
        np.testing.assert_allclose(gemm.matmul(a, b), a @ b, rtol=1e-5, atol=1e-4)
    assert mkl_calls == ["gemm", "gemm"]
    assert gemm.sequential_pays(32, 256, 784) and not gemm.sequential_pays(128, 256, 256)


def test_small_products_stay_with_numpy(monkeypatch, loaded):
    calls: list[str] = []
    monkeypatch.setattr(gemm, "_mkl", _Counting(loaded, calls))
    monkeypatch.setattr(gemm, "_openblas_threads", lambda: 1)
    rng = np.random.default_rng(0)
    gemm.matmul(_rand(rng, (64, 64)), _rand(rng, (64, 64)))  # 262,144 multiply-adds
    gemm.matmul(_rand(rng, (36, 128, 16)), _rand(rng, (36, 16, 16)))  # a Winograd-sized stack: 32,768 per matrix
    assert calls == []
    gemm.matmul(_rand(rng, (64, 128)), _rand(rng, (128, 128)))  # 1,048,576
    gemm.matmul(_rand(rng, (4, 128, 64)), _rand(rng, (4, 64, 128)))  # 1,048,576 per matrix
    assert calls == ["gemm", "batch"]


def test_the_choice_follows_thalweg_blas(monkeypatch):
    monkeypatch.setenv("THALWEG_BLAS", "openblas")
    with pytest.raises(ValueError, match="THALWEG_BLAS must be 'mkl' or 'numpy', got 'openblas'"):
        gemm._load()
    monkeypatch.setenv("THALWEG_BLAS", "numpy")
    assert gemm._load()[0] is None and gemm._load()[2] == "THALWEG_BLAS=numpy"
    monkeypatch.setattr(gemm, "_intel_cpu", lambda: False)
    monkeypatch.delenv("THALWEG_BLAS")
    mkl, _, why = gemm._load()
    assert mkl is None and "not an Intel CPU" in why
    monkeypatch.setenv("THALWEG_BLAS", "mkl")
    mkl, threads, why = gemm._load()
    assert isinstance(mkl, gemm._Mkl) and why == "" and threads() >= 1
    monkeypatch.setenv("THALWEG_NUMBA", "0")
    mkl, _, why = gemm._load()
    assert mkl is None and why == "THALWEG_NUMBA is off (MKL is called through numba)"


def test_status_line_names_the_reason(monkeypatch):
    monkeypatch.setattr(gemm, "_mkl", None)
    monkeypatch.setattr(gemm, "_why_not", "THALWEG_BLAS=numpy")
    assert gemm.mkl_status() == "MKL not used: THALWEG_BLAS=numpy" and not gemm.mkl_in_use()
    monkeypatch.setattr(gemm, "_mkl", object())
    assert gemm.mkl_status() == "MKL loaded"


# ------------------------------------------------------------------ the layers that use it, against torch
def _torch():
    return pytest.importorskip("torch")


def _compare(ours, theirs, rtol=2e-4):
    expected = theirs.detach().numpy()
    np.testing.assert_allclose(ours.numpy(), expected, rtol=rtol, atol=rtol * max(1.0, np.abs(expected).max()))


def _assert_matches_torch(ours_fn, torch_fn, arrays, rng) -> None:
    """ours_fn(*tensors) against torch_fn(*tensors) from the same arrays: the value and every input's gradient for
    one random upstream gradient."""
    torch = _torch()
    ours = [tw.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, y_t = ours_fn(*ours), torch_fn(*theirs)
    g = _rand(rng, tuple(y.shape))
    y.backward(tw.tensor(g))
    y_t.backward(torch.tensor(g))
    _compare(y, y_t)
    for a, a_t in zip(ours, theirs):
        _compare(a.grad, a_t.grad)


def test_linear_and_matmul_match_torch_through_mkl(mkl_calls):
    torch = _torch()
    rng = np.random.default_rng(1)
    arrays = _rand(rng, (4, 10, 24)), _rand(rng, (16, 24)), _rand(rng, (16,)), _rand(rng, (16, 12))
    _assert_matches_torch(lambda x, w, b, m: F.linear(x, w, b) @ m,
                          lambda x, w, b, m: torch.nn.functional.linear(x, w, b) @ m, arrays, rng)
    assert "gemm" in mkl_calls


def test_batched_matmul_and_attention_match_torch_through_mkl(mkl_calls):
    torch = _torch()
    rng = np.random.default_rng(2)
    arrays = [_rand(rng, (2, 3, 8, 4)) for _ in range(3)]
    _assert_matches_torch(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True) + q @ k.transpose(-1, -2) @ v,
        lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        + q @ k.transpose(-1, -2) @ v, arrays, rng)
    assert "batch" in mkl_calls


@pytest.mark.parametrize("opts", [dict(stride=2, padding=1), dict(padding=2), dict(groups=2, stride=2, padding=1)])
def test_convolution_matches_torch_through_mkl(mkl_calls, opts):
    torch = _torch()
    rng = np.random.default_rng(3)
    size = 5 if opts.get("padding") == 2 else 3
    arrays = _rand(rng, (3, 4, 9, 9)), _rand(rng, (6, 4 // opts.get("groups", 1), size, size))
    _assert_matches_torch(lambda x, w: F.conv2d(x, w, **opts), lambda x, w: torch.nn.functional.conv2d(x, w, **opts),
                          arrays, rng)
    assert mkl_calls


def test_lstm_matches_torch_through_mkl(mkl_calls):
    torch = _torch()
    torch.manual_seed(0)
    lstm_t = torch.nn.LSTM(6, 8, batch_first=True)
    lstm = tw.nn.LSTM(6, 8, batch_first=True)
    lstm.load_state_dict({k: v.detach().numpy() for k, v in lstm_t.state_dict().items()})
    x = _rand(np.random.default_rng(4), (3, 5, 6))
    xo, xt = tw.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, _ = lstm(xo)
    out_t, _ = lstm_t(xt)
    out.sum().backward()
    out_t.sum().backward()
    assert mkl_calls
    _compare(out, out_t)
    _compare(xo.grad, xt.grad)
    for (name, p), p_t in zip(lstm.named_parameters(), lstm_t.parameters()):
        _compare(p.grad, p_t.grad)


def test_float64_gradcheck_through_mkl(mkl_calls):
    rng = np.random.default_rng(5)
    x, w, b, m = (tw.tensor(rng.standard_normal(s), requires_grad=True)
                  for s in ((2, 3, 5), (4, 5), (4,), (2, 4, 3)))
    assert gradcheck(lambda x, w, b, m: F.linear(x, w, b) @ m, [x, w, b, m])
    assert "gemm" in mkl_calls and "batch" in mkl_calls


def test_warm_up_calls_mkl_once_or_says_it_is_absent(monkeypatch, loaded):
    calls: list[str] = []
    monkeypatch.setattr(gemm, "_mkl", _Counting(loaded, calls))
    assert gemm.warm_up() and calls == ["gemm"]
    monkeypatch.setattr(gemm, "_mkl", None)
    assert not gemm.warm_up()
