"""torch's smaller top-level functions (hstack, meshgrid, diff, cdist, tensordot, rot90, unique...) vs torch."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from fidelity_cases import Case, distinct, normal, parity_tests

torch = pytest.importorskip("torch")

S = (3, 4)
CASES = [
    Case("hstack", normal(S, (3, 2)), lambda a, b: tw.hstack([a, b]), lambda t, a, b: t.hstack([a, b])),
    Case("vstack_1d", normal((4,), S), lambda a, b: tw.vstack([a, b]), lambda t, a, b: t.vstack([a, b])),
    Case("column_stack", normal((3,), S), lambda a, b: tw.column_stack([a, b]), lambda t, a, b: t.column_stack([a, b])),
    Case("dstack", normal(S, S), lambda a, b: tw.dstack([a, b]), lambda t, a, b: t.dstack([a, b])),
    Case("meshgrid_ij", normal((3,), (2,)), lambda a, b: tw.meshgrid(a, b, indexing="ij"),
         lambda t, a, b: t.meshgrid(a, b, indexing="ij")),
    Case("meshgrid_xy", normal((3,), (2,)), lambda a, b: tw.meshgrid([a, b], indexing="xy"),
         lambda t, a, b: t.meshgrid([a, b], indexing="xy")),
    Case("broadcast_tensors", normal((3, 1), (4,)), lambda a, b: tw.broadcast_tensors(a, b),
         lambda t, a, b: t.broadcast_tensors(a, b)),
    Case("diff", normal(S), lambda x: tw.diff(x), lambda t, x: t.diff(x)),
    Case("diff_n2_dim0_prepend", normal(S, (1, 4)), lambda x, p: x.diff(n=2, dim=0, prepend=p),
         lambda t, x, p: x.diff(n=2, dim=0, prepend=p)),
    Case("tensordot", normal((2, 3, 4), (3, 4, 5)), lambda a, b: tw.tensordot(a, b), lambda t, a, b: t.tensordot(a, b)),
    Case("tensordot_pairs", normal((2, 3, 4), (4, 2)), lambda a, b: tw.tensordot(a, b, ([0, 2], [1, 0])),
         lambda t, a, b: t.tensordot(a, b, ([0, 2], [1, 0]))),
    Case("inner", normal(S, (2, 4)), lambda a, b: tw.inner(a, b), lambda t, a, b: t.inner(a, b)),
    Case("vdot", normal((4,), (4,)), lambda a, b: tw.vdot(a, b), lambda t, a, b: t.vdot(a, b)),
    Case("cross", normal((2, 3), (2, 3)), lambda a, b: tw.cross(a, b, dim=1), lambda t, a, b: t.cross(a, b, dim=1)),
    Case("cdist", normal((3, 4), (5, 4)), lambda a, b: tw.cdist(a, b), lambda t, a, b: t.cdist(a, b)),
    Case("cdist_p1", distinct((3, 4), (2, 4)), lambda a, b: tw.cdist(a, b, p=1.0), lambda t, a, b: t.cdist(a, b, p=1.0)),
    Case("rot90", normal(S), lambda x: tw.rot90(x), lambda t, x: t.rot90(x)),
    Case("rot90_k3", normal((2, 3, 4)), lambda x: x.rot90(3, (1, 2)), lambda t, x: x.rot90(3, (1, 2))),
    Case("rot90_k2", normal(S), lambda x: tw.rot90(x, 2), lambda t, x: t.rot90(x, 2)),
    Case("unflatten", normal((2, 12)), lambda x: x.unflatten(1, (3, -1)), lambda t, x: x.unflatten(1, (3, -1))),
    Case("take", normal(S), lambda x: tw.take(x, tw.tensor([[0, 11], [5, -1]])),
         lambda t, x: t.take(x, t.tensor([[0, 11], [5, -1]]))),
    Case("fmax_fmin", distinct(S, S), lambda a, b: tw.fmax(a, b) + tw.fmin(a, b) * 2,
         lambda t, a, b: t.fmax(a, b) + t.fmin(a, b) * 2),
    Case("logaddexp2", normal(S, S), lambda a, b: tw.logaddexp2(a, b), lambda t, a, b: t.logaddexp2(a, b)),
    Case("nansum_nanmean", normal(S), lambda x: tw.nansum(x, dim=1) + tw.nanmean(x),
         lambda t, x: t.nansum(x, dim=1) + t.nanmean(x)),
    Case("clone_t_aliases", normal(S, S), lambda a, b: tw.t(tw.clone(a)) + tw.multiply(tw.subtract(a, b), 2).T,
         lambda t, a, b: t.t(t.clone(a)) + t.multiply(t.subtract(a, b), 2).T),
]


test_matches_torch, test_gradcheck = parity_tests(torch, CASES)


def test_integer_utilities_match_torch() -> None:
    a = np.array([3, 1, 3, 3, 0, 1, 1])
    for kw in ({}, {"return_inverse": True}, {"return_counts": True}, {"return_inverse": True, "return_counts": True}):
        ours, theirs = tw.unique(tw.tensor(a), **kw), torch.unique(torch.tensor(a), **kw)
        for o, t in zip(ours if isinstance(ours, tuple) else (ours,), theirs if isinstance(theirs, tuple) else (theirs,)):
            np.testing.assert_array_equal(o.array, t.numpy())
    ours = tw.unique_consecutive(tw.tensor(a), return_inverse=True, return_counts=True)
    theirs = torch.unique_consecutive(torch.tensor(a), return_inverse=True, return_counts=True)
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o.array, t.numpy())
    np.testing.assert_array_equal(tw.bincount(tw.tensor(a)).array, torch.bincount(torch.tensor(a)).numpy())
    w = np.linspace(0.5, 2.0, a.size)
    ours, theirs = tw.bincount(tw.tensor(a), tw.tensor(w), minlength=6), torch.bincount(torch.tensor(a), torch.tensor(w),
                                                                                         minlength=6)
    assert ours.dtype == np.float64
    np.testing.assert_allclose(ours.array, theirs.numpy())
    seq, v = np.array([1.0, 3.0, 5.0, 7.0]), np.array([[3.0, 6.0, 9.0], [0.0, 1.0, 7.0]])
    for right in (False, True):
        np.testing.assert_array_equal(tw.searchsorted(tw.tensor(seq), tw.tensor(v), right=right).array,
                                      torch.searchsorted(torch.tensor(seq), torch.tensor(v), right=right).numpy())
        np.testing.assert_array_equal(tw.bucketize(tw.tensor(v), tw.tensor(seq), right=right).array,
                                      torch.bucketize(torch.tensor(v), torch.tensor(seq), right=right).numpy())
    np.testing.assert_array_equal(tw.isin(tw.tensor(a), tw.tensor([1, 0])).array,
                                  torch.isin(torch.tensor(a), torch.tensor([1, 0])).numpy())
    for fn in ("tril_indices", "triu_indices"):
        for args in ((3, 4), (4, 3, 1), (3, 3, -1)):
            np.testing.assert_array_equal(getattr(tw, fn)(*args).array, getattr(torch, fn)(*args).numpy())
    np.testing.assert_array_equal(tw.heaviside(tw.tensor([-1.0, 0.0, 2.0]), tw.tensor([0.5])).array,
                                  torch.heaviside(torch.tensor([-1.0, 0.0, 2.0]), torch.tensor([0.5])).numpy())
    assert tw.numel(tw.zeros(2, 3)) == 6 and tw.broadcast_shapes((3, 1), (4,)) == (3, 4)
    with pytest.raises(RuntimeError, match="bincount"):
        tw.bincount(tw.tensor([-1, 2]))
