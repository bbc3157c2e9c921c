"""Helpers shared by the nn core tests: moving arrays and weights between thalweg and torch."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

import thalweg as tw

# float32 parity tolerances: forward and backward are computed in a different order
# (BLAS blocking, reduction trees), so float32 results agree to a few ulps times the
# accumulated size; float64 results agree to ~1e-12.
F32 = dict(rtol=1e-4, atol=1e-5)
F64 = dict(rtol=1e-9, atol=1e-11)


def tol(dtype: Any) -> dict[str, float]:
    return F64 if np.dtype(dtype) == np.float64 else F32


def torch_dtype(torch: Any, dtype: Any) -> Any:
    return torch.float64 if np.dtype(dtype) == np.float64 else torch.float32


def pair(torch: Any, array: np.ndarray, requires_grad: bool = True) -> tuple[tw.Tensor, Any]:
    """The same values as a thalweg tensor and a torch tensor (both leaves)."""
    a = np.array(array)
    ours = tw.tensor(a, requires_grad=requires_grad and a.dtype.kind == "f")
    theirs = torch.tensor(a, requires_grad=requires_grad and a.dtype.kind == "f")
    return ours, theirs


def copy_torch_weights(ours: Any, theirs: Any) -> None:
    """Load a torch module's state_dict into ours (the path users take)."""
    ours.load_state_dict(theirs.state_dict())


def backward_both(torch: Any, out: tw.Tensor, out_t: Any, seed: int = 0) -> None:
    """Backpropagate the same random upstream gradient through both outputs."""
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(out.shape).astype(out.dtype)
    out.backward(g)
    out_t.backward(torch.tensor(g))


def assert_close(ours: Any, theirs: Any, dtype: Any, what: str = "") -> None:
    a = ours.array if isinstance(ours, tw.Tensor) else np.asarray(ours)
    b = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs torch {b.shape}"
    np.testing.assert_allclose(a, b, err_msg=what, **tol(dtype))


def compare_module(torch: Any, ours: Any, theirs: Any, inputs: Sequence[np.ndarray], dtype: Any,
                   seed: int = 0) -> None:
    """Run both modules on the same inputs; compare outputs, input gradients and parameter gradients."""
    ours_in, theirs_in = zip(*(pair(torch, np.asarray(x)) for x in inputs))
    out = ours(*ours_in)
    out_t = theirs(*theirs_in)
    assert_close(out, out_t, dtype, "output")
    backward_both(torch, out, out_t, seed)
    for i, (a, b) in enumerate(zip(ours_in, theirs_in)):
        if b.grad is not None:
            assert_close(a.grad, b.grad, dtype, f"grad of input {i}")
    named_t = dict(theirs.named_parameters())
    named = dict(ours.named_parameters())
    assert sorted(named) == sorted(named_t)
    for name, p in named.items():
        assert p.grad is not None, f"no gradient for {name}"
        assert_close(p.grad, named_t[name].grad, dtype, f"grad of {name}")
