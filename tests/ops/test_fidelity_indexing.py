"""scatter / index_* / masked_* / take_along_dim / nonzero / where forms: values and gradients vs torch."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from fidelity_cases import Case, distinct, normal, parity_tests

torch = pytest.importorskip("torch")

IDX0 = np.array([[0, 2, 1, 3], [3, 0, 2, 1]])  # scatter along dim 0 of a (4, 4): distinct per column
IDXR = np.array([[0, 0, 2], [1, 3, 1], [2, 2, 2]])  # repeats, for the reducing forms (dim 1 of (3, 4))
SEL = np.array([2, 0, 2, 1])
MASK = np.array([[True, False, True, False], [False, False, True, True], [True, True, False, False]])


def _t(torch_mod: object, a: np.ndarray) -> object:
    return torch_mod.from_numpy(a)  # type: ignore[attr-defined]


CASES = [
    Case("scatter_src", normal((4, 4), (2, 4)), lambda x, s: tw.scatter(x, 0, tw.tensor(IDX0), s),
         lambda t, x, s: t.scatter(x, 0, _t(t, IDX0), s)),
    Case("scatter_value", normal((4, 4)), lambda x: x.scatter(0, tw.tensor(IDX0), 1.5),
         lambda t, x: x.scatter(0, _t(t, IDX0), 1.5)),
    Case("scatter_src_larger", normal((4, 4), (3, 5)), lambda x, s: x.scatter(0, tw.tensor(IDX0), s),
         lambda t, x, s: x.scatter(0, _t(t, IDX0), s[:2, :4])),  # torch 2.13's backward rejects a larger src
    Case("scatter_add", normal((3, 4), (3, 3)), lambda x, s: tw.scatter_add(x, 1, tw.tensor(IDXR), s),
         lambda t, x, s: t.scatter_add(x, 1, _t(t, IDXR), s)),
    Case("scatter_reduce_sum_noself", normal((3, 4), (3, 3)),
         lambda x, s: x.scatter_reduce(1, tw.tensor(IDXR), s, "sum", include_self=False),
         lambda t, x, s: x.scatter_reduce(1, _t(t, IDXR), s, "sum", include_self=False)),
    Case("scatter_reduce_mean", normal((3, 4), (3, 3)), lambda x, s: tw.scatter_reduce(x, 1, tw.tensor(IDXR), s, "mean"),
         lambda t, x, s: t.scatter_reduce(x, 1, _t(t, IDXR), s, "mean")),
    Case("scatter_reduce_mean_noself", normal((3, 4), (3, 3)),
         lambda x, s: x.scatter_reduce(1, tw.tensor(IDXR), s, "mean", include_self=False),
         lambda t, x, s: x.scatter_reduce(1, _t(t, IDXR), s, "mean", include_self=False)),
    Case("scatter_reduce_amax", distinct((3, 4), (3, 3)), lambda x, s: x.scatter_reduce(1, tw.tensor(IDXR), s, "amax"),
         lambda t, x, s: x.scatter_reduce(1, _t(t, IDXR), s, "amax")),
    Case("scatter_reduce_amin_noself", distinct((3, 4), (3, 3)),
         lambda x, s: x.scatter_reduce(1, tw.tensor(IDXR), s, "amin", include_self=False),
         lambda t, x, s: x.scatter_reduce(1, _t(t, IDXR), s, "amin", include_self=False)),
    Case("scatter_reduce_prod", normal((3, 4), (3, 3)), lambda x, s: x.scatter_reduce(1, tw.tensor(IDXR), s, "prod"),
         lambda t, x, s: x.scatter_reduce(1, _t(t, IDXR), s, "prod")),
    Case("scatter_reduce_prod_zeros", lambda r: [np.array([[0.0, 1.5, 2.0, -1.0], [1.0, 0.0, 3.0, 2.0],
                                                           [0.5, 2.0, 1.0, 0.0]]),
                                                 np.array([[2.0, 0.0, 1.5], [0.0, 2.0, 1.2], [1.1, 0.0, 0.0]])],
         lambda x, s: x.scatter_reduce(1, tw.tensor(IDXR), s, "prod"),
         lambda t, x, s: x.scatter_reduce(1, _t(t, IDXR), s, "prod")),
    Case("index_select", normal((3, 4)), lambda x: tw.index_select(x, 1, tw.tensor(SEL)),
         lambda t, x: t.index_select(x, 1, _t(t, SEL))),
    Case("index_select_dim0", normal((3, 4)), lambda x: x.index_select(0, tw.tensor(SEL[:3])),
         lambda t, x: x.index_select(0, _t(t, SEL[:3]))),
    Case("index_add", normal((3, 4), (3, 4)), lambda x, s: tw.index_add(x, 1, tw.tensor(SEL), s, alpha=2.0),
         lambda t, x, s: t.index_add(x, 1, _t(t, SEL), s, alpha=2.0)),
    Case("index_copy", normal((4, 3), (2, 3)), lambda x, s: x.index_copy(0, tw.tensor([3, 1]), s),
         lambda t, x, s: x.index_copy(0, t.tensor([3, 1]), s)),
    Case("index_fill", normal((3, 4)), lambda x: x.index_fill(1, tw.tensor([0, 2]), -1.0),
         lambda t, x: x.index_fill(1, t.tensor([0, 2]), -1.0)),
    Case("index_fill_tensor_value", normal((3, 4), ()), lambda x, v: tw.index_fill(x, 1, tw.tensor([0, 2]), v),
         lambda t, x, v: t.index_fill(x, 1, t.tensor([0, 2]), v)),
    Case("masked_select", normal((3, 4)), lambda x: tw.masked_select(x, tw.tensor(MASK)),
         lambda t, x: t.masked_select(x, _t(t, MASK))),
    Case("masked_select_broadcast", normal((3, 1)), lambda x: x.masked_select(tw.tensor(MASK)),
         lambda t, x: x.masked_select(_t(t, MASK))),
    Case("masked_scatter", normal((3, 4), (2, 5)), lambda x, s: tw.masked_scatter(x, tw.tensor(MASK), s),
         lambda t, x, s: x.masked_scatter(_t(t, MASK), s)),
    Case("masked_fill_tensor_value", normal((3, 4), ()), lambda x, v: x.masked_fill(tw.tensor(MASK), v),
         lambda t, x, v: x.masked_fill(_t(t, MASK), v)),
    Case("masked_fill_broadcast_mask", normal((3, 4)), lambda x: x.masked_fill(tw.tensor(MASK[0]), 2.0),
         lambda t, x: x.masked_fill(_t(t, MASK[0].copy()), 2.0)),
    Case("where_scalar_tensor", normal((3, 4)), lambda x: tw.where(tw.tensor(MASK), 0.5, x),
         lambda t, x: t.where(_t(t, MASK), 0.5, x)),
    Case("where_tensor_scalar", normal((3, 4)), lambda x: tw.where(x > 0, x, -1.0),
         lambda t, x: t.where(x > 0, x, -1.0)),
    Case("take_along_dim", normal((3, 4)), lambda x: tw.take_along_dim(x, tw.tensor(IDXR), 1),
         lambda t, x: t.take_along_dim(x, _t(t, IDXR), 1)),
    Case("take_along_dim_broadcast", normal((3, 4)), lambda x: x.take_along_dim(tw.tensor([[1], [3], [0]]), dim=1),
         lambda t, x: x.take_along_dim(t.tensor([[1], [3], [0]]), dim=1)),
    Case("take_along_dim_flat", normal((3, 4)), lambda x: tw.take_along_dim(x, tw.tensor([5, 0, 5])),
         lambda t, x: t.take_along_dim(x, t.tensor([5, 0, 5]))),
]


test_matches_torch, test_gradcheck = parity_tests(torch, CASES)


def test_nonzero_argwhere_and_where_forms() -> None:
    a = np.array([[0, 1, 0], [2, 0, 3]])
    np.testing.assert_array_equal(tw.nonzero(tw.tensor(a)).array, torch.nonzero(torch.tensor(a)).numpy())
    np.testing.assert_array_equal(tw.argwhere(tw.tensor(a)).array, torch.argwhere(torch.tensor(a)).numpy())
    for ours, theirs in zip(tw.nonzero(tw.tensor(a), as_tuple=True), torch.nonzero(torch.tensor(a), as_tuple=True)):
        np.testing.assert_array_equal(ours.array, theirs.numpy())
    for ours, theirs in zip(tw.where(tw.tensor(a) > 0), torch.where(torch.tensor(a) > 0)):
        np.testing.assert_array_equal(ours.array, theirs.numpy())
    assert tw.tensor(a).nonzero().dtype == np.int64
    assert tw.nonzero(tw.zeros(2, 3)).shape == (0, 2)


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
def test_integer_scatter_and_errors() -> None:
    x = np.zeros((2, 5), dtype=np.int64)
    idx = np.array([[0, 1, 2, 0, 0], [2, 0, 0, 1, 2]])
    src = np.arange(1, 11).reshape(2, 5)
    np.testing.assert_array_equal(tw.scatter_add(tw.tensor(x), 0, tw.tensor(idx[:, :5] % 2), tw.tensor(src)).array,
                                  torch.scatter_add(torch.tensor(x), 0, torch.tensor(idx % 2), torch.tensor(src)).numpy())
    ours = tw.tensor(x).scatter(1, tw.tensor(idx), tw.tensor(src), reduce="add")
    theirs = torch.tensor(x).scatter(1, torch.tensor(idx), torch.tensor(src), reduce="add")
    np.testing.assert_array_equal(ours.array, theirs.numpy())
    with pytest.raises(IndexError, match="scatter"):
        tw.scatter(tw.zeros(2, 3), 1, tw.tensor([[3]]), 1.0)
    with pytest.raises(IndexError, match="index_select"):
        tw.index_select(tw.zeros(2, 3), 0, tw.tensor([2]))
    with pytest.raises(IndexError, match="dimension 2"):
        tw.index_select(tw.zeros(2, 3), 2, tw.tensor([0]))
    with pytest.raises(TypeError, match="gather|scatter|index"):
        tw.index_select(tw.zeros(2, 3), 0, tw.tensor([0.0]))
    with pytest.raises(RuntimeError, match="index_add"):
        tw.index_add(tw.zeros(2, 3), 0, tw.tensor([0]), tw.ones(2, 3))


def test_inplace_index_ops() -> None:
    x = tw.zeros(3, 4)
    x.index_add_(0, tw.tensor([0, 0, 2]), tw.ones(3, 4))
    np.testing.assert_array_equal(x.array[:, 0], [2, 0, 1])
    x.masked_fill_(tw.tensor(MASK), 7.0).scatter_(1, tw.tensor([[0], [1], [2]]), -1.0)
    ref = torch.zeros(3, 4).index_add_(0, torch.tensor([0, 0, 2]), torch.ones(3, 4))
    ref.masked_fill_(torch.from_numpy(MASK), 7.0).scatter_(1, torch.tensor([[0], [1], [2]]), -1.0)
    np.testing.assert_array_equal(x.array, ref.numpy())
    v = x._version
    x.index_fill_(1, tw.tensor([3]), 0.0)
    assert x._version == v + 1 and (x.array[:, 3] == 0).all()
    p = tw.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="masked_fill_"):
        p.masked_fill_(tw.tensor([True, False]), 1.0)


def test_inplace_ops_join_the_graph_as_in_torch() -> None:
    """GNN aggregation (``out.index_add_(0, idx, messages)``) and masking a non-leaf in place backpropagate."""
    grads = []
    for lib in (tw, torch):
        msg = lib.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True)
        out = lib.zeros(2, 2)
        out.index_add_(0, lib.tensor([1, 0, 1]), msg * 2)
        agg = lib.zeros(2, 2).scatter_add_(0, lib.tensor([[0, 1], [1, 1], [0, 0]]), msg)
        scores = (msg * 3).sum(1).unsqueeze(0) * 1.0
        scores.masked_fill_(lib.tensor([[True, False, False]]), -5.0).sin_()
        total = (out * lib.tensor([[1.0, 2.0], [3.0, 4.0]])).sum() + (agg * agg).sum() \
            + (scores * lib.tensor([[1.0, 2.0, 3.0]])).sum()
        assert out.requires_grad and scores.requires_grad
        total.backward()
        grads.append(np.asarray(msg.grad))
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6)
