"""Scans (cumsum, cumprod with zeros, logcumsumexp, cummax) and order statistics (sort, topk, median...) vs torch."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from fidelity_cases import Case, distinct, normal, parity_tests, with_zeros

torch = pytest.importorskip("torch")

S = (3, 5)
CASES = [
    Case("cumsum", normal(S), lambda x: tw.cumsum(x, 1), lambda t, x: t.cumsum(x, 1)),
    Case("cumsum_neg_dim", normal((2, 3, 4)), lambda x: x.cumsum(dim=-2), lambda t, x: x.cumsum(dim=-2)),
    Case("cumprod", normal(S), lambda x: tw.cumprod(x, 1), lambda t, x: t.cumprod(x, 1)),
    Case("cumprod_one_zero", with_zeros(S, [(0, 2), (2, 0)]), lambda x: x.cumprod(1), lambda t, x: x.cumprod(1)),
    Case("cumprod_two_zeros", with_zeros(S, [(1, 1), (1, 3), (0, 4)]), lambda x: x.cumprod(dim=1),
         lambda t, x: x.cumprod(dim=1)),
    Case("cumprod_dim0_zeros", with_zeros((4, 3), [(0, 0), (2, 1)]), lambda x: tw.cumprod(x, 0),
         lambda t, x: t.cumprod(x, 0)),
    Case("logcumsumexp", normal(S), lambda x: tw.logcumsumexp(x * 5, 1), lambda t, x: t.logcumsumexp(x * 5, 1)),
    Case("cummax", distinct(S), lambda x: tw.cummax(x, 1), lambda t, x: t.cummax(x, 1)),
    Case("cummin_dim0", distinct(S), lambda x: x.cummin(0), lambda t, x: x.cummin(0)),
    Case("sort", distinct(S), lambda x: tw.sort(x), lambda t, x: t.sort(x)),
    Case("sort_desc_dim0", distinct(S), lambda x: x.sort(dim=0, descending=True),
         lambda t, x: x.sort(dim=0, descending=True)),
    Case("argsort_times_x", distinct(S), lambda x: x * tw.argsort(x, dim=1, descending=True),
         lambda t, x: x * t.argsort(x, dim=1, descending=True)),
    Case("topk", distinct(S), lambda x: tw.topk(x, 2), lambda t, x: t.topk(x, 2)),
    Case("topk_smallest_dim0", distinct(S), lambda x: x.topk(2, dim=0, largest=False),
         lambda t, x: x.topk(2, dim=0, largest=False)),
    Case("kthvalue", distinct(S), lambda x: tw.kthvalue(x, 2, 1), lambda t, x: t.kthvalue(x, 2, 1)),
    Case("kthvalue_keepdim", distinct(S), lambda x: x.kthvalue(3, dim=0, keepdim=True),
         lambda t, x: x.kthvalue(3, dim=0, keepdim=True)),
    Case("median_all_even", distinct((2, 3)), lambda x: tw.median(x), lambda t, x: t.median(x)),
    Case("median_all_odd", distinct(S), lambda x: x.median(), lambda t, x: x.median()),
    Case("median_dim", distinct((3, 4)), lambda x: x.median(dim=1), lambda t, x: x.median(dim=1)),
    Case("median_dim_keepdim", distinct((4, 3)), lambda x: tw.median(x, 0, keepdim=True),
         lambda t, x: t.median(x, 0, keepdim=True)),
]


test_matches_torch, test_gradcheck = parity_tests(torch, CASES)


def test_stable_sort_with_ties_matches_torch() -> None:
    x = np.array([[3, 1, 2, 1, 3, 2, 1], [0, 0, 0, 1, 1, 0, 2]])
    for desc in (False, True):
        ours = tw.sort(tw.tensor(x), dim=1, descending=desc, stable=True)
        theirs = torch.sort(torch.tensor(x), dim=1, descending=desc, stable=True)
        np.testing.assert_array_equal(ours.values.array, theirs.values.numpy())
        np.testing.assert_array_equal(ours.indices.array, theirs.indices.numpy())
    f = np.array([1.0, np.nan, -2.0, 5.0])
    np.testing.assert_array_equal(tw.sort(tw.tensor(f)).indices.array, torch.sort(torch.tensor(f)).indices.numpy())
    np.testing.assert_array_equal(tw.sort(tw.tensor(f), descending=True).indices.array,
                                  torch.sort(torch.tensor(f), descending=True).indices.numpy())


def test_cummax_ties_and_mode_match_torch() -> None:
    x = np.array([[1.0, 3.0, 3.0, 2.0, 3.0], [2.0, 2.0, 1.0, 1.0, 5.0]])
    for name in ("cummax", "cummin"):
        ours, theirs = getattr(tw, name)(tw.tensor(x), 1), getattr(torch, name)(torch.tensor(x), 1)
        np.testing.assert_array_equal(ours.indices.array, theirs.indices.numpy(), err_msg=name)
    ours, theirs = tw.mode(tw.tensor(x), 1), torch.mode(torch.tensor(x), 1)
    np.testing.assert_array_equal(ours.values.array, theirs.values.numpy())
    np.testing.assert_array_equal(ours.indices.array, theirs.indices.numpy())


def test_integer_scans_and_edge_cases() -> None:
    i = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int32)
    assert tw.cumsum(tw.tensor(i), 1).dtype == np.int64 == np.dtype(str(torch.cumsum(torch.tensor(i), 1).dtype)[6:])
    np.testing.assert_array_equal(tw.cumprod(tw.tensor(i), 0).array, torch.cumprod(torch.tensor(i), 0).numpy())
    assert tw.cumsum(tw.tensor(i), 1, dtype=tw.float64).dtype == np.float64
    empty = tw.zeros(0, 3)
    assert tw.cumsum(empty, 0).shape == (0, 3) and tw.sort(empty, 0).values.shape == (0, 3)
    assert tw.cumsum(tw.tensor(2.0), 0).item() == 2.0
    with pytest.raises(IndexError, match="cumsum"):
        tw.cumsum(tw.zeros(2, 3), 2)
    with pytest.raises(RuntimeError, match="topk"):
        tw.topk(tw.zeros(2, 3), 4)
    with pytest.raises(RuntimeError, match="kthvalue"):
        tw.kthvalue(tw.zeros(2, 3), 0)
    assert np.isnan(tw.median(tw.tensor([1.0, np.nan, 2.0])).item())
    assert tw.nanmedian(tw.tensor([1.0, np.nan, 2.0, 7.0])).item() == 2.0
