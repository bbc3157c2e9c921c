"""Every op PyTorch also has: forward values and input gradients match torch 2.13, float32 and float64."""

from __future__ import annotations

import numpy as np
import pytest

from ops_helpers import CASES, Case, assert_same, run_both

torch = pytest.importorskip("torch")

WITH_TORCH = [c for c in CASES if c.theirs is not None]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", WITH_TORCH, ids=[c.name for c in WITH_TORCH])
def test_matches_torch(case: Case, dtype: type) -> None:
    outs, outs_t, ins, ins_t = run_both(torch, case, dtype)
    assert len(outs) == len(outs_t)
    for k, (o, ot) in enumerate(zip(outs, outs_t)):
        assert o.dtype == np.dtype(dtype), f"{case.name}: output {k} has dtype {o.dtype}"
        assert_same(o, ot, dtype, f"{case.name}: output {k}")
    for i, (x, xt) in enumerate(zip(ins, ins_t)):
        assert (x.grad is None) == (xt.grad is None), f"{case.name}: gradient {i} presence"
        if xt.grad is not None:
            assert x.grad.dtype == np.dtype(dtype)
            assert_same(x.grad, xt.grad, dtype, f"{case.name}: gradient of input {i}")


def test_max_with_dim_returns_torch_indices() -> None:
    x = np.random.default_rng(1).standard_normal((3, 5)).astype(np.float32)
    import thalweg as tw

    for args, kwargs in [((1,), {}), ((), {"dim": 0}), ((1, True), {}), ((), {"dim": -1, "keepdim": True})]:
        for name in ("max", "min"):
            ours = getattr(tw.tensor(x), name)(*args, **kwargs)
            theirs = getattr(torch.tensor(x), name)(*args, **kwargs)
            assert isinstance(ours, tuple) and len(ours) == 2
            np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
            np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
            assert ours.indices.dtype == np.int64
