"""Every op in the registry passes the float64 central-difference gradient check."""

from __future__ import annotations

import pytest

from thalweg.autograd import gradcheck

from ops_helpers import CASE_IDS, CASES, Case, float64_inputs


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_gradcheck(case: Case) -> None:
    inputs = float64_inputs(case)
    assert gradcheck(case.ours, inputs)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_float32_in_float32_out(case: Case) -> None:
    """Nothing upcasts float32: the output and every input gradient stay float32."""
    inputs = [t.float().detach().requires_grad_() for t in float64_inputs(case)]
    outs = case.ours(*inputs)
    outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
    total = None
    for o in outs:
        assert o.dtype == "float32", f"{case.name}: output is {o.dtype}"
        total = o.sum() if total is None else total + o.sum()
    total.backward()
    for i, t in enumerate(inputs):
        assert t.grad is not None and t.grad.dtype == "float32", f"{case.name}: grad {i}"
        assert type(t.grad.array).__name__ == "ndarray" and t.grad.shape == t.shape
