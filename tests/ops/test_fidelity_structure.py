"""tril/triu, diag, diagonal, trace, flip, roll, narrow, movedim, tile, repeat_interleave, mm family, einsum vs torch."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from fidelity_cases import Case, normal, parity_tests

torch = pytest.importorskip("torch")

S = (3, 4)
S3 = (2, 3, 4)
CASES = [
    Case("tril", normal(S), lambda x: tw.tril(x), lambda t, x: t.tril(x)),
    Case("tril_diag_neg", normal(S3), lambda x: x.tril(diagonal=-1), lambda t, x: x.tril(diagonal=-1)),
    Case("triu_diag1", normal(S), lambda x: tw.triu(x, 1), lambda t, x: t.triu(x, 1)),
    Case("triu_batched", normal(S3), lambda x: x.triu(-1), lambda t, x: x.triu(-1)),
    Case("diag_vec", normal((4,)), lambda x: tw.diag(x), lambda t, x: t.diag(x)),
    Case("diag_vec_offset", normal((3,)), lambda x: tw.diag(x, -2), lambda t, x: t.diag(x, -2)),
    Case("diag_mat", normal(S), lambda x: x.diag(), lambda t, x: x.diag()),
    Case("diag_mat_offset", normal(S), lambda x: tw.diag(x, 1), lambda t, x: t.diag(x, 1)),
    Case("diagonal", normal(S3), lambda x: tw.diagonal(x, 0, 1, 2), lambda t, x: t.diagonal(x, 0, 1, 2)),
    Case("diagonal_offset_neg_dims", normal(S3), lambda x: x.diagonal(offset=-1, dim1=-1, dim2=0),
         lambda t, x: x.diagonal(offset=-1, dim1=-1, dim2=0)),
    Case("diag_embed", normal((2, 3)), lambda x: tw.diag_embed(x, 1), lambda t, x: t.diag_embed(x, 1)),
    Case("trace", normal(S), lambda x: tw.trace(x), lambda t, x: t.trace(x)),
    Case("flip", normal(S3), lambda x: tw.flip(x, (0, 2)), lambda t, x: t.flip(x, (0, 2))),
    Case("flip_neg", normal(S3), lambda x: x.flip(-1), lambda t, x: x.flip(-1)),
    Case("fliplr_flipud", normal(S), lambda x: tw.fliplr(x) + tw.flipud(x) * 2, lambda t, x: t.fliplr(x) + t.flipud(x) * 2),
    Case("roll", normal(S), lambda x: tw.roll(x, 1, 1), lambda t, x: t.roll(x, 1, 1)),
    Case("roll_flat", normal(S), lambda x: x.roll(5), lambda t, x: x.roll(5)),
    Case("roll_multi", normal(S3), lambda x: x.roll((1, -2), (0, 2)), lambda t, x: x.roll((1, -2), (0, 2))),
    Case("narrow", normal(S3), lambda x: tw.narrow(x, 2, 1, 2), lambda t, x: t.narrow(x, 2, 1, 2)),
    Case("narrow_neg", normal(S3), lambda x: x.narrow(-2, -2, 2), lambda t, x: x.narrow(-2, -2, 2)),
    Case("select", normal(S3), lambda x: x.select(1, -1), lambda t, x: x.select(1, -1)),
    Case("unbind", normal(S3), lambda x: tw.unbind(x, 1), lambda t, x: t.unbind(x, 1)),
    Case("movedim", normal(S3), lambda x: tw.movedim(x, 0, -1), lambda t, x: t.movedim(x, 0, -1)),
    Case("movedim_multi", normal(S3), lambda x: x.movedim((0, 1), (2, 0)), lambda t, x: x.movedim((0, 1), (2, 0))),
    Case("tile", normal(S), lambda x: tw.tile(x, (2,)), lambda t, x: t.tile(x, (2,))),
    Case("tile_more", normal(S), lambda x: x.tile((2, 1, 3)), lambda t, x: x.tile((2, 1, 3))),
    Case("repeat_interleave", normal(S), lambda x: tw.repeat_interleave(x, 2), lambda t, x: t.repeat_interleave(x, 2)),
    Case("repeat_interleave_dim", normal(S), lambda x: x.repeat_interleave(tw.tensor([1, 0, 3]), dim=0),
         lambda t, x: x.repeat_interleave(t.tensor([1, 0, 3]), dim=0)),
    Case("mm", normal((3, 4), (4, 2)), lambda a, b: tw.mm(a, b), lambda t, a, b: t.mm(a, b)),
    Case("mm_method", normal((3, 4), (4, 2)), lambda a, b: a.mm(b), lambda t, a, b: a.mm(b)),
    Case("bmm", normal((2, 3, 4), (2, 4, 2)), lambda a, b: a.bmm(b), lambda t, a, b: a.bmm(b)),
    Case("mv", normal((3, 4), (4,)), lambda a, b: tw.mv(a, b), lambda t, a, b: t.mv(a, b)),
    Case("dot", normal((4,), (4,)), lambda a, b: tw.dot(a, b), lambda t, a, b: t.dot(a, b)),
    Case("outer", normal((3,), (4,)), lambda a, b: tw.outer(a, b), lambda t, a, b: t.outer(a, b)),
    Case("addmm", normal((2,), (3, 4), (4, 2)), lambda c, a, b: tw.addmm(c, a, b, beta=0.5, alpha=2.0),
         lambda t, c, a, b: t.addmm(c, a, b, beta=0.5, alpha=2.0)),
    Case("einsum_matmul", normal((3, 4), (4, 2)), lambda a, b: tw.einsum("ij,jk->ik", a, b),
         lambda t, a, b: t.einsum("ij,jk->ik", a, b)),
    Case("einsum_batched_attention", normal((2, 3, 4), (2, 5, 4)), lambda q, k: tw.einsum("bqd,bkd->bqk", q, k),
         lambda t, q, k: t.einsum("bqd,bkd->bqk", q, k)),
    Case("einsum_implicit", normal((3, 4), (4, 2)), lambda a, b: tw.einsum("ij,jk", a, b),
         lambda t, a, b: t.einsum("ij,jk", a, b)),
    Case("einsum_trace", normal((4, 4)), lambda a: tw.einsum("ii", a), lambda t, a: t.einsum("ii", a)),
    Case("einsum_diag", normal((4, 4)), lambda a: tw.einsum("ii->i", a), lambda t, a: t.einsum("ii->i", a)),
    Case("einsum_sum_out", normal((3, 4)), lambda a: tw.einsum("ij->j", a), lambda t, a: t.einsum("ij->j", a)),
    Case("einsum_outer_broadcast", normal((3,), (4,)), lambda a, b: tw.einsum("i,j->ij", a, b),
         lambda t, a, b: t.einsum("i,j->ij", a, b)),
    Case("einsum_ellipsis", normal((2, 3, 4), (4, 5)), lambda a, b: tw.einsum("...ij,jk->...ik", a, b),
         lambda t, a, b: t.einsum("...ij,jk->...ik", a, b)),
    Case("einsum_ellipsis_broadcast", normal((1, 3, 4), (2, 4, 5)),
         lambda a, b: tw.einsum("...ij,...jk->...ik", a, b), lambda t, a, b: t.einsum("...ij,...jk->...ik", a, b)),
    Case("einsum_three", normal((2, 3), (3, 4), (4,)), lambda a, b, c: tw.einsum("ij,jk,k->i", a, b, c),
         lambda t, a, b, c: t.einsum("ij,jk,k->i", a, b, c)),
    Case("einsum_list_operands", normal((3,), (3,)), lambda a, b: tw.einsum("i,i->", [a, b]),
         lambda t, a, b: t.einsum("i,i->", [a, b])),
]


test_matches_torch, test_gradcheck = parity_tests(torch, CASES)


def test_integer_and_empty_inputs() -> None:
    i = np.arange(12).reshape(3, 4)
    for name in ("tril", "triu"):
        ours, theirs = getattr(tw, name)(tw.tensor(i), 1), getattr(torch, name)(torch.tensor(i), 1)
        assert ours.dtype == np.int64
        np.testing.assert_array_equal(ours.array, theirs.numpy())
    np.testing.assert_array_equal(tw.repeat_interleave(tw.tensor([2, 0, 1])).array,
                                  torch.repeat_interleave(torch.tensor([2, 0, 1])).numpy())
    assert tw.tril(tw.zeros(0, 3)).shape == (0, 3)
    assert tw.diag(tw.zeros(0)).shape == (0, 0)
    assert tw.einsum("ij,jk->ik", tw.zeros(2, 0), tw.zeros(0, 3)).shape == (2, 3)


def test_errors_name_the_op_and_shapes() -> None:
    with pytest.raises(RuntimeError, match=r"mm: shapes \(2, 3\) and \(2, 3\)"):
        tw.mm(tw.zeros(2, 3), tw.zeros(2, 3))
    with pytest.raises(RuntimeError, match="bmm: expected 3-D"):
        tw.bmm(tw.zeros(2, 3), tw.zeros(3, 2))
    with pytest.raises(RuntimeError, match="tril"):
        tw.tril(tw.zeros(3))
    with pytest.raises(IndexError, match="flip"):
        tw.flip(tw.zeros(2, 3), 2)
    with pytest.raises(RuntimeError, match="narrow"):
        tw.narrow(tw.zeros(2, 3), 1, 2, 2)
    with pytest.raises(ValueError, match="einsum"):
        tw.einsum("ij,jk->ik", tw.zeros(2, 3), tw.zeros(2, 3))
    with pytest.raises(RuntimeError, match="roll"):
        tw.roll(tw.zeros(2, 3), (1, 2), 0)


def test_tensor_shape_methods() -> None:
    x = tw.zeros(2, 3, 4, dtype=tw.float64)
    xt = torch.zeros(2, 3, 4, dtype=torch.float64)
    assert x.stride() == xt.stride() and x.stride(1) == xt.stride(1)
    assert x.element_size() == xt.element_size() and x.is_floating_point() and not tw.zeros(2).long().is_floating_point()
    assert x.is_contiguous() and not x.transpose(0, 2).is_contiguous()
    assert x[1].storage_offset() == xt[1].storage_offset()
    m = tw.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    assert m.t_() is m and m.shape == (2, 3)
    assert m.numel() == 6 and m.mT.shape == (3, 2) and m.T.shape == (3, 2)
