"""Sparse COO tensors and sparse x dense products vs torch.sparse (values and gradients, float32 and float64)."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw

torch = pytest.importorskip("torch")
pytest.importorskip("scipy")

INDICES = np.array([[0, 0, 1, 2, 3, 3, 0], [1, 3, 0, 2, 1, 3, 1]])  # a repeated (0, 1) entry on purpose
SIZE = (4, 5)


def _tol(dtype: type) -> dict:
    return dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("how", ["sparse.mm", "spmm", "mm", "matmul_op"])
def test_sparse_mm_matches_torch(dtype: type, how: str) -> None:
    rng = np.random.default_rng(0)
    values = rng.standard_normal(INDICES.shape[1]).astype(dtype)
    dense = rng.standard_normal((5, 3)).astype(dtype)
    w = rng.standard_normal((4, 3)).astype(dtype)
    vals, x = tw.tensor(values, requires_grad=True), tw.tensor(dense, requires_grad=True)
    a = tw.sparse_coo_tensor(tw.tensor(INDICES), vals, SIZE)
    vals_t, x_t = torch.tensor(values, requires_grad=True), torch.tensor(dense, requires_grad=True)
    a_t = torch.sparse_coo_tensor(torch.tensor(INDICES), vals_t, SIZE, check_invariants=True)
    ours = {"sparse.mm": lambda: tw.sparse.mm(a, x), "spmm": lambda: tw.spmm(a, x), "mm": lambda: tw.mm(a, x),
            "matmul_op": lambda: a @ x}[how]()
    theirs = torch.sparse.mm(a_t, x_t)
    assert ours.dtype == np.dtype(dtype)
    np.testing.assert_allclose(ours.array, theirs.detach().numpy(), **_tol(dtype))
    (ours * tw.tensor(w)).sum().backward()
    (theirs * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), x_t.grad.numpy(), **_tol(dtype))
    np.testing.assert_allclose(np.asarray(vals.grad), vals_t.grad.numpy(), **_tol(dtype))


def test_gradcheck_in_dense_operand_and_values() -> None:
    rng = np.random.default_rng(1)
    vals = tw.tensor(rng.standard_normal(INDICES.shape[1]), dtype=tw.float64, requires_grad=True)
    x = tw.tensor(rng.standard_normal((5, 2)), dtype=tw.float64, requires_grad=True)
    tw.autograd.gradcheck(lambda v, d: tw.sparse.mm(tw.sparse_coo_tensor(INDICES, v, SIZE), d), [vals, x])
    tw.autograd.gradcheck(lambda v: tw.sparse_coo_tensor(INDICES, v, SIZE).to_dense(), [vals])
    tw.autograd.gradcheck(lambda v: tw.sparse_coo_tensor(INDICES, v, SIZE).coalesce().values(), [vals])
    dense = tw.tensor(rng.uniform(0.5, 1.5, (3, 4)), dtype=tw.float64, requires_grad=True)  # no zero moves in/out
    tw.autograd.gradcheck(lambda d: tw.sparse.mm(d.to_sparse(), x[:4]), [dense])


def test_coo_accessors_match_torch() -> None:
    values = np.arange(1.0, 8.0)
    ours = tw.sparse_coo_tensor(INDICES, values, SIZE)
    theirs = torch.sparse_coo_tensor(torch.tensor(INDICES), torch.tensor(values), SIZE, check_invariants=True)
    assert ours.is_sparse and not tw.zeros(2).is_sparse and ours.shape == tuple(theirs.shape)
    assert ours._nnz() == theirs._nnz() and ours.sparse_dim() == theirs.sparse_dim()
    np.testing.assert_array_equal(ours._indices().array, theirs._indices().numpy())
    np.testing.assert_array_equal(ours._values().array, theirs._values().numpy())
    np.testing.assert_array_equal(ours.to_dense().array, theirs.to_dense().numpy())
    c, ct = ours.coalesce(), theirs.coalesce()
    assert c.is_coalesced() and c._nnz() == ct._nnz()
    np.testing.assert_array_equal(c.indices().array, ct.indices().numpy())
    np.testing.assert_array_equal(c.values().array, ct.values().numpy())
    with pytest.raises(RuntimeError, match="coalesce"):
        ours.values()
    d = np.array([[0.0, 2.0, 0.0], [1.5, 0.0, -1.0]])
    s, st = tw.tensor(d).to_sparse(), torch.tensor(d).to_sparse()
    np.testing.assert_array_equal(s.indices().array, st.indices().numpy())
    np.testing.assert_array_equal(s.values().array, st.values().numpy())
    inferred = tw.sparse_coo_tensor([[0, 2], [1, 0]], [1.0, 2.0])
    assert inferred.shape == tuple(torch.sparse_coo_tensor([[0, 2], [1, 0]], [1.0, 2.0], check_invariants=True).shape)
    legacy = tw.sparse.FloatTensor(tw.tensor(INDICES), tw.tensor(values), SIZE)
    assert legacy.dtype == np.float32 and legacy.shape == SIZE


def test_sparse_errors() -> None:
    with pytest.raises(RuntimeError, match="out of range"):
        tw.sparse_coo_tensor([[0, 4]], [1.0, 2.0], (3,))
    with pytest.raises(RuntimeError, match="values"):
        tw.sparse_coo_tensor([[0, 1]], [1.0], (3,))
    a = tw.sparse_coo_tensor(INDICES, np.ones(7), SIZE)
    with pytest.raises(RuntimeError, match=r"sparse.mm: shapes \(4, 5\)"):
        tw.sparse.mm(a, tw.zeros(4, 2, dtype=tw.float64))


def test_gcn_idioms_match_torch() -> None:
    """pytorch/examples gcn: eye + sparse, sparse @ dense @ sparse, mm with a sparse first operand."""
    edges = np.array([[0, 1], [1, 2], [2, 0], [3, 1]]).T
    results = []
    for lib in (tw, torch):
        adj = lib.sparse_coo_tensor(edges, lib.ones(4), (4, 4), dtype=lib.int64)
        adj = lib.eye(4) + adj
        deg = lib.diag(lib.sqrt(1 / lib.sum(adj, dim=1))).to_sparse()
        adj = (deg @ adj @ deg).to_sparse()
        x = lib.tensor(np.arange(12.0).reshape(4, 3), dtype=lib.float32).to_sparse()
        w = lib.tensor(np.linspace(-1, 1, 6).reshape(3, 2), dtype=lib.float32, requires_grad=True)
        out = lib.spmm(adj, lib.mm(x, w))
        (out * out).sum().backward()
        results.append((out.detach().numpy(), np.asarray(w.grad)))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-5)
    assert tw.accelerator.is_available() is False and tw.accelerator.current_accelerator() is None
