"""The harness the test_fidelity_* files share: run a case in thalweg and torch, compare, gradcheck.

A ``Case`` gives float64 input arrays (each input gets a gradient), thalweg's
function of those tensors and torch's.  ``check_torch`` compares every output
and every input gradient (same random output weights on both sides) in
float32 and float64; ``check_grad`` runs thalweg's float64 central-difference
gradcheck.  Outputs that are integer tensors (indices) are compared exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

import thalweg as tw

Maker = Callable[[np.random.Generator], list[np.ndarray]]


@dataclass(frozen=True)
class Case:
    name: str
    inputs: Maker
    ours: Callable[..., Any]
    theirs: Callable[..., Any]
    gradcheck: bool = True
    rtol64: float = 1e-9
    extra: dict[str, Any] = field(default_factory=dict)


def normal(*shapes: tuple[int, ...]) -> Maker:
    return lambda rng: [rng.standard_normal(s) for s in shapes]


def uniform(lo: float, hi: float, *shapes: tuple[int, ...]) -> Maker:
    return lambda rng: [rng.uniform(lo, hi, s) for s in shapes]


def distinct(*shapes: tuple[int, ...]) -> Maker:
    """Distinct values at least 0.1 apart (no ties for sort, max, median...)."""
    def make(rng: np.random.Generator) -> list[np.ndarray]:
        n = sum(int(np.prod(s)) for s in shapes)
        values = -1.05 + 0.17 * rng.permutation(n)
        out, start = [], 0
        for s in shapes:
            k = int(np.prod(s))
            out.append(values[start:start + k].reshape(s))
            start += k
        return out
    return make


def with_zeros(shape: tuple[int, ...], where: list[tuple[int, ...]]) -> Maker:
    def make(rng: np.random.Generator) -> list[np.ndarray]:
        x = rng.uniform(0.5, 1.5, shape) * rng.choice([-1, 1], shape)
        for w in where:
            x[w] = 0.0
        return [x]
    return make


def _list(out: Any) -> list[Any]:
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _np(t: Any) -> np.ndarray:
    if isinstance(t, tw.Tensor):
        return t.array
    return t.detach().numpy()


def check_torch(torch: Any, case: Case, dtype: Any, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    arrays = [a.astype(dtype) for a in case.inputs(rng)]
    ours_in = [tw.tensor(a, requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    outs, outs_t = _list(case.ours(*ours_in)), _list(case.theirs(torch, *theirs_in))
    assert len(outs) == len(outs_t), f"{case.name}: {len(outs)} outputs vs torch {len(outs_t)}"
    f64 = np.dtype(dtype) == np.float64
    tol = dict(rtol=case.rtol64, atol=1e-10) if f64 else dict(rtol=2e-5, atol=3e-6)
    total, total_t = None, None
    for k, (o, ot) in enumerate(zip(outs, outs_t)):
        a, b = _np(o), _np(ot)
        assert a.shape == b.shape, f"{case.name}: output {k} shape {a.shape} vs torch {b.shape}"
        assert a.dtype == np.dtype(str(ot.dtype).replace("torch.", "")), \
            f"{case.name}: output {k} dtype {a.dtype} vs torch {ot.dtype}"
        if a.dtype.kind in "iub":
            np.testing.assert_array_equal(a, b, err_msg=f"{case.name}: output {k}")
            continue
        np.testing.assert_allclose(a, b, err_msg=f"{case.name}: output {k}", **tol)
        if not ot.requires_grad:
            continue
        assert o.requires_grad, f"{case.name}: output {k} should require grad"
        w = rng.standard_normal(a.shape).astype(dtype)
        term, term_t = (o * tw.tensor(w)).sum(), (ot * torch.tensor(w)).sum()
        total = term if total is None else total + term
        total_t = term_t if total_t is None else total_t + term_t
    if total_t is None:
        return
    total.backward()
    total_t.backward()
    for i, (x, xt) in enumerate(zip(ours_in, theirs_in)):
        if xt.grad is None:
            assert x.grad is None or not np.any(np.asarray(x.grad)), f"{case.name}: gradient {i} should be absent"
            continue
        assert x.grad is not None, f"{case.name}: gradient of input {i} is missing"
        g = np.asarray(x.grad)
        assert g.dtype == np.dtype(dtype), f"{case.name}: gradient {i} dtype {g.dtype}"
        np.testing.assert_allclose(g, xt.grad.numpy(), err_msg=f"{case.name}: gradient of input {i}", **tol)


def check_grad(case: Case, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    inputs = [tw.tensor(a, dtype=tw.float64, requires_grad=True) for a in case.inputs(rng)]

    def fn(*xs: Any) -> Any:
        return [o for o in _list(case.ours(*xs)) if isinstance(o, tw.Tensor) and o.dtype.kind == "f"]

    tw.autograd.gradcheck(fn, inputs)


def parity_tests(torch: Any, cases: list[Case]) -> tuple[Callable[..., None], Callable[..., None]]:
    """The two tests every fidelity file runs over its cases: torch parity (float32, float64) and gradcheck.

    Use as ``test_matches_torch, test_gradcheck = parity_tests(torch, CASES)`` at module level.
    """
    import pytest

    ids = [c.name for c in cases]

    @pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
    @pytest.mark.parametrize("case", cases, ids=ids)
    def test_matches_torch(case: Case, dtype: type) -> None:
        check_torch(torch, case, dtype)

    @pytest.mark.parametrize("case", cases, ids=ids)
    def test_gradcheck(case: Case) -> None:
        check_grad(case)

    return test_matches_torch, test_gradcheck
