"""Edge conventions, bad arguments and empty tensors, each against torch 2.13 (issue 16, items 5, 6 and 8).

Item 5: values *and* gradients at the edges (all targets ignored, the p-norm of
zeros, NaN in max/min/maximum, ties in clamp/max/amax, the hinge of
margin_ranking_loss, relu/abs at 0).  Item 6: bad arguments raise as torch
does instead of being silently accepted (gather with -1, transpose(0, 3) on
3-D, reshape(-2, 6), a loss weight that would broadcast the loss up,
argmax(keepdim=True) without a dim, out-of-range dims everywhere).  Item 8:
empty tensors give what torch gives, or a clear error naming the op.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import thalweg as tw
import thalweg.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

A = np.array
NAN = np.nan


def _run(fn, arrays, lib, grads):
    """fn(*tensors) in one library; returns (value, [input gradients]) as arrays (float64 inputs)."""
    if lib == "ours":
        ts = [tw.tensor(a, requires_grad=grads and a.dtype.kind == "f") if isinstance(a, np.ndarray) else a
              for a in arrays]
    else:
        ts = [torch.tensor(a, requires_grad=grads and a.dtype.kind == "f") if isinstance(a, np.ndarray) else a
              for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(lib, *ts)
        value = out.detach().numpy() if lib == "torch" else np.asarray(out.array)
        if not grads:
            return value, []
        out.sum().backward()
    got = []
    for t in ts:
        if isinstance(t, (tw.Tensor, torch.Tensor)) and t.dtype in (tw.float64, torch.float64):
            g = t.grad
            got.append(None if g is None else (g.numpy() if lib == "torch" else np.asarray(g)))
    return value, got


def assert_matches_torch(fn, arrays, grads=True):
    value, got = _run(fn, arrays, "ours", grads)
    value_t, got_t = _run(fn, arrays, "torch", grads)
    assert value.shape == value_t.shape, (value.shape, value_t.shape)
    np.testing.assert_allclose(value, value_t, rtol=1e-10, atol=1e-12, equal_nan=True)
    assert len(got) == len(got_t)
    for g, g_t in zip(got, got_t):
        if g_t is None:
            assert g is None or not np.any(g), g
            continue
        assert g is not None
        np.testing.assert_allclose(g, g_t, rtol=1e-10, atol=1e-12, equal_nan=True)


def fn(ours, theirs=None):
    """Pick the library's spelling: ``fn(lambda m, ...)`` where m is tw/F or torch/TF."""
    def call(lib, *ts):
        if lib == "ours":
            return ours(tw, F, *ts)
        return (theirs or ours)(torch, TF, *ts)
    return call


X = A([[1.0, 2.0, 0.5], [0.3, -1.0, 2.0]])
ALL_IGNORED = A([-100, -100])

EDGE_CASES = {
    # ---- every target ignored: the mean is 0/0 = nan, the gradient exactly 0 (torch)
    "cross_entropy_all_ignored_mean": (fn(lambda m, f, x, t: f.cross_entropy(x, t)), [X, ALL_IGNORED]),
    "cross_entropy_all_ignored_weighted": (
        fn(lambda m, f, x, t: f.cross_entropy(x, t, weight=m.tensor(A([1.0, 2.0, 3.0])))), [X, ALL_IGNORED]),
    "cross_entropy_all_ignored_smoothing": (
        fn(lambda m, f, x, t: f.cross_entropy(x, t, label_smoothing=0.1)), [X, ALL_IGNORED]),
    "cross_entropy_custom_ignore_index": (fn(lambda m, f, x, t: f.cross_entropy(x, t, ignore_index=1)),
                                          [X, A([1, 1])]),
    "cross_entropy_some_ignored_infinite_logit": (fn(lambda m, f, x, t: f.cross_entropy(x, t, reduction="none")),
                                                  [A([[1.0, 2.0, 0.5], [0.3, np.inf, 2.0]]), A([0, -100])]),
    "nll_all_ignored_mean": (fn(lambda m, f, x, t: f.nll_loss(x, t)), [X, ALL_IGNORED]),
    "nll_all_ignored_sum": (fn(lambda m, f, x, t: f.nll_loss(x, t, reduction="sum")), [X, ALL_IGNORED]),
    # ---- p-norms of zeros: gradient 0, never nan
    **{f"norm_p{p}_of_zeros": (fn(lambda m, f, x, p=p: x.norm(p=p)), [np.zeros(4)])
       for p in (3, 0.5, 1.5, -1.0, float("-inf"), 1, 2, float("inf"))},
    **{f"norm_p{p}_rows_with_zeros": (fn(lambda m, f, x, p=p: x.norm(p=p, dim=1)),
                                      [A([[0.0, 0.0, 0.0], [1.0, -2.0, 0.0]])])
       for p in (3, 0.5, 1.5, -1.0, float("-inf"), 4)},
    # ---- NaN and ties in reductions
    "max_all_with_nan_shares_among_nans": (fn(lambda m, f, x: x.max()), [A([1.0, NAN, 3.0, NAN])]),
    "min_all_with_nan": (fn(lambda m, f, x: x.min()), [A([1.0, NAN, 3.0])]),
    "amax_with_nan": (fn(lambda m, f, x: m.amax(x, dim=1)), [A([[1.0, NAN], [2.0, 3.0]])]),
    "max_dim_with_nan_picks_the_first_nan": (fn(lambda m, f, x: x.max(dim=0)[0]), [A([1.0, NAN, 3.0, NAN])]),
    "max_all_ties_split": (fn(lambda m, f, x: x.max()), [A([3.0, 1.0, 3.0])]),
    "amax_ties_split": (fn(lambda m, f, x: m.amax(x, dim=0)), [A([3.0, 1.0, 3.0])]),
    "max_dim_ties_to_one_index": (fn(lambda m, f, x: x.max(dim=0)[0]), [A([3.0, 1.0, 3.0])]),
    "min_dim_ties_to_one_index": (fn(lambda m, f, x: x.min(1)[0]), [A([[1.0, 3.0, 1.0], [2.0, 2.0, 5.0]])]),
    "maximum_ties_and_nan": (fn(lambda m, f, a, b: m.maximum(a, b)), [A([1.0, NAN, 3.0, 2.0]), A([1.0, 1.0, NAN, 4.0])]),
    "minimum_ties_and_nan": (fn(lambda m, f, a, b: m.minimum(a, b)), [A([1.0, NAN, 3.0, 2.0]), A([1.0, 1.0, NAN, 4.0])]),
    # ---- clamp: ties, crossed bounds, NaN
    "clamp_tensor_bounds_ties": (fn(lambda m, f, x, lo, hi: m.clamp(x, lo, hi)),
                                 [A([0.0, 1.0, 2.0, 3.0, 0.5, 1.5, 0.0, NAN]),
                                  A([0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 1.0, 0.0]),
                                  A([3.0, 1.0, 3.0, 3.0, 1.0, 1.0, 1.0, 1.0])]),
    "clamp_tensor_min_only": (fn(lambda m, f, x, lo: m.clamp(x, min=lo)), [A([0.0, 1.0, 2.0, NAN]), A([0.0, 2.0, 2.0, 1.0])]),
    "clamp_tensor_max_only": (fn(lambda m, f, x, hi: m.clamp(x, max=hi)), [A([0.0, 1.0, 3.0]), A([0.0, 2.0, 2.0])]),
    "clamp_scalar_ties": (fn(lambda m, f, x: m.clamp(x, 0.0, 2.0)), [A([0.0, 1.0, 2.0, 3.0, NAN])]),
    # ---- kinks
    "margin_ranking_at_the_hinge": (fn(lambda m, f, a, b, y: f.margin_ranking_loss(a, b, y)),
                                    [A([1.0, 2.0, 0.0]), A([1.0, 2.0, 0.5]), A([1.0, -1.0, 1.0])]),
    "margin_ranking_hinge_with_margin": (fn(lambda m, f, a, b, y: f.margin_ranking_loss(a, b, y, margin=0.5)),
                                         [A([1.0, 2.0]), A([0.5, 2.5]), A([1.0, -1.0])]),
    "relu_at_zero": (fn(lambda m, f, x: f.relu(x)), [A([-1.0, 0.0, 1.0])]),
    "abs_at_zero": (fn(lambda m, f, x: x.abs()), [A([-1.0, 0.0, 1.0])]),
    "leaky_relu_at_zero": (fn(lambda m, f, x: f.leaky_relu(x, 0.1)), [A([-1.0, 0.0, 1.0])]),
    "elu_at_zero": (fn(lambda m, f, x: f.elu(x)), [A([-1.0, 0.0, 1.0])]),
    "elu_of_nan_passes_the_gradient": (fn(lambda m, f, x: f.elu(x)), [A([-1.0, NAN, 1.0])]),
    "relu_of_nan_passes_the_gradient": (fn(lambda m, f, x: f.relu(x)), [A([-1.0, NAN, 1.0])]),
    "layer_norm_over_an_empty_shape": (fn(lambda m, f, x: f.layer_norm(x, (1, 0))), [np.zeros((4, 1, 0))]),
    "std_of_constant": (fn(lambda m, f, x: x.std()), [A([1.0, 1.0])]),
    "prod_with_zeros": (fn(lambda m, f, x: x.prod(dim=1)), [A([[0.0, 2.0, 0.0], [0.0, 2.0, 3.0]])]),
}


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_values_and_gradients_match_torch(name):
    f, arrays = EDGE_CASES[name]
    assert_matches_torch(f, arrays)


def test_all_ignored_targets_give_nan_loss_and_zero_gradient():
    """The issue's example, spelled out: torch's loss is nan and its gradient exactly zero."""
    x = tw.tensor(X, requires_grad=True)
    loss = F.cross_entropy(x, tw.tensor(ALL_IGNORED))
    assert np.isnan(loss.item())
    loss.backward()
    assert np.array_equal(np.asarray(x.grad), np.zeros_like(X))


# ------------------------------------------------------------------ bad arguments (item 6)
def _error_of(call):
    try:
        call()
    except Exception as e:  # noqa: BLE001 - we compare the exception types of both libraries
        return e
    return None


BAD_ARGUMENTS = {
    "gather_index_minus_one": (lambda m, f, x: m.gather(x, 1, m.tensor(A([[0, -1, 1], [0, 0, 0]]))), RuntimeError),
    "gather_index_too_large": (lambda m, f, x: m.gather(x, 1, m.tensor(A([[0, 3, 1], [0, 0, 0]]))), RuntimeError),
    "gather_dim_out_of_range": (lambda m, f, x: m.gather(x, 2, m.tensor(A([[0, 1], [0, 0]]))), IndexError),
    "transpose_0_3_on_3d": (lambda m, f, x: x.reshape(1, 2, 3).transpose(0, 3), IndexError),
    "transpose_minus_4_on_3d": (lambda m, f, x: x.reshape(1, 2, 3).transpose(-4, 0), IndexError),
    "permute_out_of_range": (lambda m, f, x: x.permute(0, 2), IndexError),
    "reshape_minus_two": (lambda m, f, x: x.reshape(-2, 6), (ValueError, RuntimeError)),
    "reshape_two_minus_ones": (lambda m, f, x: x.reshape(-1, -1), (ValueError, RuntimeError)),
    "view_minus_two": (lambda m, f, x: x.view(-2, 3), (ValueError, RuntimeError)),
    "bce_logits_weight_broadcasts_up": (
        lambda m, f, x: f.binary_cross_entropy_with_logits(x, x.sigmoid(), weight=m.ones(4, 2, 3)), RuntimeError),
    "bce_logits_pos_weight_broadcasts_up": (
        lambda m, f, x: f.binary_cross_entropy_with_logits(x, x.sigmoid(), pos_weight=m.ones(4, 2, 3)),
        RuntimeError),
    "bce_weight_broadcasts_up": (
        lambda m, f, x: f.binary_cross_entropy(x.sigmoid(), x.sigmoid(), weight=m.ones(4, 2, 3)), RuntimeError),
    "sum_repeated_dim": (lambda m, f, x: x.sum(dim=(0, 0)), RuntimeError),
    "max_of_empty": (lambda m, f, x: x[:0].max(), RuntimeError),
    "amax_over_empty_dim": (lambda m, f, x: m.amax(x[:0], dim=0), IndexError),
    "max_dim_over_empty_dim": (lambda m, f, x: x[:0].max(dim=0), IndexError),
    "argmax_of_empty": (lambda m, f, x: x[:0].argmax(), IndexError),
}

DIM_OPS = {
    "sum": lambda m, f, x, d: x.sum(dim=d),
    "mean": lambda m, f, x, d: x.mean(dim=d),
    "prod": lambda m, f, x, d: x.prod(dim=d),
    "var": lambda m, f, x, d: x.var(dim=d),
    "std": lambda m, f, x, d: x.std(dim=d),
    "amax": lambda m, f, x, d: m.amax(x, dim=d),
    "max_dim": lambda m, f, x, d: x.max(dim=d),
    "min_dim": lambda m, f, x, d: x.min(d),
    "argmax": lambda m, f, x, d: x.argmax(dim=d),
    "argmin": lambda m, f, x, d: x.argmin(dim=d),
    "logsumexp": lambda m, f, x, d: x.logsumexp(dim=d),
    "softmax": lambda m, f, x, d: f.softmax(x, dim=d),
    "log_softmax": lambda m, f, x, d: f.log_softmax(x, dim=d),
    "norm": lambda m, f, x, d: x.norm(dim=d),
    "norm3": lambda m, f, x, d: x.norm(p=3, dim=d),
    "squeeze": lambda m, f, x, d: x.squeeze(d),
    "flatten_start": lambda m, f, x, d: x.flatten(d),
    "flatten_end": lambda m, f, x, d: x.flatten(0, d),
    "transpose": lambda m, f, x, d: x.transpose(0, d),
    "split": lambda m, f, x, d: x.split(1, dim=d),
    "chunk": lambda m, f, x, d: x.chunk(2, dim=d),
    "cat": lambda m, f, x, d: m.cat([x, x], dim=d),
    "gather": lambda m, f, x, d: m.gather(x, d, m.zeros(2, 3, 4, dtype=m.int64)),
}


@pytest.mark.parametrize("name", sorted(BAD_ARGUMENTS))
def test_bad_arguments_raise_as_torch(name):
    call, expected = BAD_ARGUMENTS[name]
    x = np.arange(6.0).reshape(2, 3)
    theirs = _error_of(lambda: call(torch, TF, torch.tensor(x)))
    assert isinstance(theirs, expected), f"torch no longer raises {expected} here: {theirs!r}"
    ours = _error_of(lambda: call(tw, F, tw.tensor(x)))
    assert isinstance(ours, expected), f"{name}: expected {expected}, got {ours!r}"
    assert not isinstance(ours, np.exceptions.AxisError)


@pytest.mark.parametrize("dim", [3, -4])
@pytest.mark.parametrize("name", sorted(DIM_OPS))
def test_out_of_range_dims_raise_torch_index_error(name, dim):
    call = DIM_OPS[name]
    x = np.arange(24.0).reshape(2, 3, 4)
    theirs = _error_of(lambda: call(torch, TF, torch.tensor(x), dim))
    assert isinstance(theirs, IndexError), theirs
    ours = _error_of(lambda: call(tw, F, tw.tensor(x), dim))
    assert isinstance(ours, IndexError) and not isinstance(ours, np.exceptions.AxisError), repr(ours)
    assert f"expected to be in range of [-3, 2], but got {dim}" in str(ours)


def test_in_range_negative_dims_still_work():
    x = np.arange(24.0).reshape(2, 3, 4)
    for name in ("sum", "amax", "softmax", "transpose", "flatten_start", "gather", "cat"):
        ours = DIM_OPS[name](tw, F, tw.tensor(x), -1)
        theirs = DIM_OPS[name](torch, TF, torch.tensor(x), -1)
        np.testing.assert_allclose(np.asarray(ours.array), theirs.numpy(), err_msg=name)


@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_arg_extreme_keepdim_without_dim_keeps_every_dim(op):
    x = np.array([[1.0, 5.0, 2.0], [0.0, 3.0, 4.0]])
    ours = getattr(tw.tensor(x), op)(keepdim=True)
    theirs = getattr(torch.tensor(x), op)(keepdim=True)
    assert tuple(ours.shape) == tuple(theirs.shape) == (1, 1)
    assert ours.item() == theirs.item()


def test_gather_negative_index_is_not_wrapped():
    x = tw.tensor(np.arange(6.0).reshape(2, 3))
    with pytest.raises(RuntimeError, match="gather: index -1 is out of bounds for dimension 1 with size 3"):
        tw.gather(x, 1, tw.tensor(A([[0, -1, 1], [0, 0, 0]])))


def test_loss_weight_that_broadcasts_to_the_input_is_still_fine():
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    for kwargs in ({"weight": A([1.0, 2.0, 3.0])}, {"pos_weight": A([[2.0], [0.5]])}):
        ours = F.binary_cross_entropy_with_logits(tw.tensor(x), tw.tensor(x * 0 + 0.5),
                                                  **{k: tw.tensor(v) for k, v in kwargs.items()})
        theirs = TF.binary_cross_entropy_with_logits(torch.tensor(x), torch.tensor(x * 0 + 0.5),
                                                     **{k: torch.tensor(v) for k, v in kwargs.items()})
        np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)


# ------------------------------------------------------------------ empty tensors (item 8)
E03, E30 = np.zeros((0, 3)), np.zeros((3, 0))

EMPTY_CASES = {
    "softmax_over_empty_dim": (fn(lambda m, f, x: f.softmax(x, dim=1)), [E30]),
    "softmax_empty_batch": (fn(lambda m, f, x: f.softmax(x, dim=1)), [E03]),
    "log_softmax_over_empty_dim": (fn(lambda m, f, x: f.log_softmax(x, dim=1)), [E30]),
    "log_softmax_empty_batch": (fn(lambda m, f, x: f.log_softmax(x, dim=0)), [E03]),
    "mean_of_empty": (fn(lambda m, f, x: x.mean()), [E03]),
    "mean_over_empty_dim": (fn(lambda m, f, x: x.mean(dim=0)), [E03]),
    "mean_over_full_dim_of_empty": (fn(lambda m, f, x: x.mean(dim=1)), [E03]),
    "sum_of_empty": (fn(lambda m, f, x: x.sum()), [E03]),
    "sum_over_empty_dim": (fn(lambda m, f, x: x.sum(dim=0)), [E03]),
    "prod_of_empty": (fn(lambda m, f, x: x.prod()), [E03]),
    "prod_over_empty_dim": (fn(lambda m, f, x: x.prod(dim=0)), [E03]),
    "prod_over_full_dim_of_empty": (fn(lambda m, f, x: x.prod(dim=1)), [E03]),
    "var_of_empty": (fn(lambda m, f, x: x.var()), [E03]),
    "var_over_empty_dim": (fn(lambda m, f, x: x.var(dim=0)), [E03]),
    "std_over_empty_dim": (fn(lambda m, f, x: x.std(dim=0)), [E03]),
    "amax_over_full_dim_of_empty": (fn(lambda m, f, x: m.amax(x, dim=1)), [E03]),
    "logsumexp_over_empty_dim": (fn(lambda m, f, x: x.logsumexp(dim=0)), [E03]),
    "norm_of_empty": (fn(lambda m, f, x: x.norm()), [E03]),
    "norm3_of_empty": (fn(lambda m, f, x: x.norm(p=3)), [E03]),
    "matmul_zero_inner": (fn(lambda m, f, a, b: a @ b), [np.zeros((2, 0)), np.zeros((0, 3))]),
    "matmul_zero_rows": (fn(lambda m, f, a, b: a @ b), [np.zeros((0, 2)), np.ones((2, 3))]),
    "cat_with_empty": (fn(lambda m, f, a, b: m.cat([a, b])), [E03, np.ones((2, 3))]),
    "cat_of_empties": (fn(lambda m, f, a, b: m.cat([a, b])), [E03, E03]),
    "cat_skips_legacy_1d_empty": (fn(lambda m, f, a, b: m.cat([a, b])), [np.zeros((0,)), np.ones((2, 3))]),
    "cross_entropy_empty_batch_sum": (fn(lambda m, f, x, t: f.cross_entropy(x, t, reduction="sum")),
                                      [E03, np.zeros((0,), dtype=np.int64)]),
    "cross_entropy_empty_batch_mean": (fn(lambda m, f, x, t: f.cross_entropy(x, t)),
                                       [E03, np.zeros((0,), dtype=np.int64)]),
    "mse_empty": (fn(lambda m, f, a, b: f.mse_loss(a, b)), [np.zeros(0), np.zeros(0)]),
}


@pytest.mark.parametrize("name", sorted(EMPTY_CASES))
def test_empty_tensors_match_torch(name):
    f, arrays = EMPTY_CASES[name]
    assert_matches_torch(f, arrays)


# ------------------------------------------------------------------ found by the fuzzer (tests/fuzz)
FUZZER_FINDINGS = {
    "sign_of_nan_is_zero": (fn(lambda m, f, x: x.sign() * x), [A([NAN, -2.0, 0.0, 3.0])]),
    "abs_gradient_at_nan_is_zero": (fn(lambda m, f, x: x.abs()), [A([NAN, -2.0, 0.0])]),
    "l1_loss_gradient_at_nan": (fn(lambda m, f, x, t: f.l1_loss(x, t, reduction="sum")),
                                [A([NAN, -2.0, 0.0]), A([0.0, 0.0, 0.0])]),
    "nan_upstream_gradient_stops_at_clamp": (fn(lambda m, f, x: x.clamp(max=0.0).sqrt()), [A([-1.0, 0.0, 2.0])]),
    "nan_upstream_gradient_stops_at_maximum": (fn(lambda m, f, x, y: m.maximum(x, y).sqrt()),
                                               [A([-1.0, 4.0]), A([-2.0, 5.0])]),
    "max_dim_of_0d": (fn(lambda m, f, x: x.max(0)[0] * 2), [A(1.5)]),
    "min_dim_of_0d_keepdim": (fn(lambda m, f, x: x.min(dim=-1, keepdim=True)[0]), [A(1.5)]),
    "softmax_of_0d": (fn(lambda m, f, x: f.softmax(x, dim=0)), [A(0.3)]),
    "log_softmax_of_0d": (fn(lambda m, f, x: f.log_softmax(x, dim=-1)), [A(0.3)]),
    "gelu_of_0d": (fn(lambda m, f, x: f.gelu(x) + f.gelu(x, approximate="tanh")), [A(0.3)]),
    "cumprod_1d_with_a_zero": (fn(lambda m, f, x: x.cumprod(0)), [A([0.5, 0.0, 2.0])]),
    "nan_upstream_gradient_of_max_all": (fn(lambda m, f, x: x.max().var()), [A([0.5, 2.0])]),
    "nan_upstream_gradient_of_amax": (fn(lambda m, f, x: m.amax(x, dim=0).var()), [A([0.5, 2.0])]),
}


@pytest.mark.parametrize("name", sorted(FUZZER_FINDINGS))
def test_fuzzer_findings_match_torch(name):
    f, arrays = FUZZER_FINDINGS[name]
    assert_matches_torch(f, arrays)


def test_bce_refuses_nan_probabilities_as_torch():
    x = np.array([0.5, NAN])
    with pytest.raises(RuntimeError):
        TF.binary_cross_entropy(torch.tensor(x), torch.tensor([0.0, 1.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(tw.tensor(x), tw.tensor(np.array([0.0, 1.0])))


def test_repeat_without_repeats_raises_as_torch():
    with pytest.raises(TypeError):
        torch.tensor(1.0).repeat()
    with pytest.raises(TypeError, match="repeat"):
        tw.tensor(1.0).repeat()


@pytest.mark.parametrize("shape, dim", [((0, 3), 1), ((3, 0), 0), ((3, 0), 1), ((0,), None)], ids=str)
@pytest.mark.parametrize("p", [-1.0, float("inf"), -float("inf"), 0.5])
def test_norm_of_empty_input_raises_exactly_where_torch_does(shape, dim, p):
    torch = pytest.importorskip("torch")
    try:
        expected = tuple(torch.norm(torch.zeros(shape), p=p, dim=dim).shape)
    except RuntimeError:
        with pytest.raises(RuntimeError, match="norm: cannot compute"):
            tw.norm(tw.zeros(*shape), p=p, dim=dim)
        return
    assert tw.norm(tw.zeros(*shape), p=p, dim=dim).shape == expected
