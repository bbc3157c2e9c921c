"""The op registry the ops tests walk: each case says how to run one op in thalweg and in torch.

A ``Case`` has a name, a maker of float64 input arrays (each input gets a
gradient), thalweg's function of those tensors and, where PyTorch has the op,
torch's.  ``test_ops_gradcheck.py`` runs the float64 gradient check of every
case; ``test_ops_torch_parity.py`` compares values and input gradients with
torch in float32 and float64.

Inputs of non-smooth ops (abs, relu, max, clamp...) come from ``grid``: distinct
values at least 0.02 away from every kink these tests use (0, +-0.5, ties),
so central differences with eps = 1e-6 never straddle one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

import thalweg as tw

Maker = Callable[[np.random.Generator], list[np.ndarray]]


@dataclass(frozen=True)
class Case:
    name: str
    inputs: Maker
    ours: Callable[..., Any]
    theirs: Callable[..., Any] | None  # (torch, *tensors) -> output; None where torch lacks the op


# ------------------------------------------------------------------ input makers
def normal(*shapes: tuple[int, ...]) -> Maker:
    return lambda rng: [rng.standard_normal(s) for s in shapes]


def positive(*shapes: tuple[int, ...]) -> Maker:
    return lambda rng: [rng.uniform(0.5, 2.0, s) for s in shapes]


def grid(*shapes: tuple[int, ...]) -> Maker:
    """Distinct values -1.13 + 0.19 k (k = 0, 1, ...), shuffled: none within 0.02 of 0, +-0.5 or +-0.6."""
    def make(rng: np.random.Generator) -> list[np.ndarray]:
        n = sum(int(np.prod(s)) for s in shapes)
        values = -1.13 + 0.19 * rng.permutation(n)  # distinct across all inputs too (maximum, minimum)
        out, start = [], 0
        for s in shapes:
            k = int(np.prod(s))
            out.append(values[start:start + k].reshape(s))
            start += k
        return out

    return make


def away(*shapes: tuple[int, ...]) -> Maker:
    """Normal values pushed at least 0.3 away from zero (for division)."""
    def make(rng: np.random.Generator) -> list[np.ndarray]:
        out = []
        for s in shapes:
            x = rng.standard_normal(s)
            out.append(np.where(x >= 0, x + 0.3, x - 0.3))
        return out

    return make


# Index arrays used by the indexing cases (fixed, with repeats on purpose).
IDX = np.array([0, 2, 2, 1, 0])
ROWS = np.array([[0, 1], [1, 1]])
COLS = np.array([[3, 3], [0, 2]])
MASK = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, False]])
GATHER_IDX = np.array([[0, 0, 3], [2, 1, 2], [3, 3, 3]])


def _tidx(torch: Any, a: np.ndarray) -> Any:
    return torch.from_numpy(a)


def _torch_pad(torch: Any, x: Any) -> Any:
    # numpy pad_width ((1, 0), (2, 1)) is torch's (last-dim left, right, first-dim left, right)
    return torch.nn.functional.pad(x, (2, 1, 1, 0), value=0.25)


def _all_dims(x: Any) -> tuple[int, ...]:
    return tuple(range(x.ndim))


def _f(torch: Any) -> Any:
    return torch.nn.functional


S = (3, 4)
S3 = (2, 3, 4)

CASES: list[Case] = [
    # ------------------------------------------------------------ unary elementwise
    Case("neg", normal(S), lambda x: -x, lambda t, x: -x),
    Case("exp", normal(S), lambda x: x.exp(), lambda t, x: x.exp()),
    Case("log", positive(S), lambda x: tw.log(x), lambda t, x: t.log(x)),
    Case("sqrt", positive(S), lambda x: x.sqrt(), lambda t, x: x.sqrt()),
    Case("abs", grid(S), lambda x: abs(x), lambda t, x: x.abs()),
    Case("sign", grid(S), lambda x: x.sign() * x, lambda t, x: x.sign() * x),
    Case("clamp", grid(S), lambda x: x.clamp(-0.5, 0.5), lambda t, x: x.clamp(-0.5, 0.5)),
    Case("clamp_min", grid(S), lambda x: tw.clamp(x, min=0.0), lambda t, x: t.clamp(x, min=0.0)),
    Case("clip_max", grid(S), lambda x: x.clip(max=0.5), lambda t, x: x.clip(max=0.5)),
    Case("relu", grid(S), lambda x: x.relu(), lambda t, x: x.relu()),
    Case("sigmoid", normal(S), lambda x: x.sigmoid(), lambda t, x: x.sigmoid()),
    Case("tanh", normal(S), lambda x: tw.tanh(x), lambda t, x: t.tanh(x)),
    Case("elu", grid(S), lambda x: x.elu(0.7), lambda t, x: _f(t).elu(x, 0.7)),
    Case("leaky_relu", grid(S), lambda x: tw.leaky_relu(x, 0.1), lambda t, x: _f(t).leaky_relu(x, 0.1)),
    Case("softplus", normal(S), lambda x: x.softplus(), lambda t, x: _f(t).softplus(x)),
    Case("softplus_beta_threshold", grid(S), lambda x: tw.softplus(x, beta=2.0, threshold=1.5),
         lambda t, x: _f(t).softplus(x, beta=2.0, threshold=1.5)),
    Case("softmax_dim1", normal(S), lambda x: x.softmax(dim=1), lambda t, x: x.softmax(dim=1)),
    Case("softmax_dim0", normal(S3), lambda x: tw.softmax(x, 0), lambda t, x: t.softmax(x, 0)),
    Case("log_softmax", normal(S3), lambda x: x.log_softmax(dim=-1), lambda t, x: x.log_softmax(dim=-1)),
    Case("log_softmax_dim1", normal(S3), lambda x: x.log_softmax(1), lambda t, x: x.log_softmax(1)),
    Case("gelu", normal(S), lambda x: x.gelu(), lambda t, x: _f(t).gelu(x)),
    Case("gelu_tanh", normal(S), lambda x: tw.gelu(x, approximate="tanh"),
         lambda t, x: _f(t).gelu(x, approximate="tanh")),
    # ------------------------------------------------- arithmetic, scalars and arrays
    Case("add", normal(S, S), lambda x, y: x + y, lambda t, x, y: x + y),
    Case("sub", normal(S, S), lambda x, y: x - y, lambda t, x, y: x - y),
    Case("mul", normal(S, S), lambda x, y: x * y, lambda t, x, y: x * y),
    Case("div", away(S, S), lambda x, y: x / y, lambda t, x, y: x / y),
    Case("pow_tensor_tensor", lambda r: positive(S)(r) + normal(S)(r), lambda x, y: x ** y,
         lambda t, x, y: x ** y),
    Case("add_scalar", normal(S), lambda x: x + 2.5, lambda t, x: x + 2.5),
    Case("radd_scalar", normal(S), lambda x: 2.5 + x, lambda t, x: 2.5 + x),
    Case("sub_scalar", normal(S), lambda x: x - 1.5, lambda t, x: x - 1.5),
    Case("rsub_scalar", normal(S), lambda x: 1.5 - x, lambda t, x: 1.5 - x),
    Case("mul_scalar", normal(S), lambda x: x * 3.0, lambda t, x: x * 3.0),
    Case("rmul_scalar", normal(S), lambda x: 3.0 * x, lambda t, x: 3.0 * x),
    Case("div_scalar", normal(S), lambda x: x / 3.0, lambda t, x: x / 3.0),
    Case("rdiv_scalar", away(S), lambda x: 3.0 / x, lambda t, x: 3.0 / x),
    Case("pow_int", normal(S), lambda x: x ** 3, lambda t, x: x ** 3),
    Case("pow_2", normal(S), lambda x: x ** 2, lambda t, x: x ** 2),
    Case("pow_half", positive(S), lambda x: x ** 0.5, lambda t, x: x ** 0.5),
    Case("pow_negative", positive(S), lambda x: tw.pow(x, -1.5), lambda t, x: t.pow(x, -1.5)),
    Case("rpow_scalar", normal(S), lambda x: 2.0 ** x, lambda t, x: 2.0 ** x),
    Case("add_ndarray", normal(S), lambda x: x + np.linspace(-1, 1, 4),
         lambda t, x: x + t.linspace(-1, 1, 4, dtype=x.dtype)),
    Case("rsub_ndarray", normal(S), lambda x: np.linspace(-1, 1, 4) - x,
         lambda t, x: t.linspace(-1, 1, 4, dtype=x.dtype) - x),
    Case("rmul_ndarray", normal(S), lambda x: np.arange(4.0) * x, lambda t, x: t.arange(4.0, dtype=x.dtype) * x),
    Case("add_alpha", normal(S, S), lambda x, y: tw.add(x, y, alpha=0.5), lambda t, x, y: t.add(x, y, alpha=0.5)),
    Case("maximum", grid(S, S), lambda x, y: tw.maximum(x, y), lambda t, x, y: t.maximum(x, y)),
    Case("minimum", grid(S, S), lambda x, y: tw.minimum(x, y), lambda t, x, y: t.minimum(x, y)),
    Case("max_elementwise", grid(S, S), lambda x, y: tw.max(x, y), lambda t, x, y: t.max(x, y)),
    Case("where", normal(S, S), lambda x, y: tw.where(MASK, x, y),
         lambda t, x, y: t.where(_tidx(t, MASK), x, y)),
    Case("where_scalar", normal(S), lambda x: tw.where(x > 0, x, 0.5), lambda t, x: t.where(x > 0, x, 0.5)),
    Case("masked_fill", normal(S), lambda x: x.masked_fill(tw.tensor(MASK), -2.0),
         lambda t, x: x.masked_fill(_tidx(t, MASK), -2.0)),
    Case("clamp_tensor_bounds", grid(S, (4,), (4,)), lambda x, lo, hi: x.clamp(lo - 0.6, hi + 0.6),
         lambda t, x, lo, hi: x.clamp(lo - 0.6, hi + 0.6)),
    # ------------------------------------------------------------------- reductions
    Case("sum", normal(S3), lambda x: x.sum(), lambda t, x: x.sum()),
    Case("sum_axis1", normal(S3), lambda x: x.sum(axis=1), lambda t, x: x.sum(dim=1)),
    Case("sum_axes_keepdims", normal(S3), lambda x: x.sum(axis=(0, 2), keepdims=True),
         lambda t, x: x.sum(dim=(0, 2), keepdim=True)),
    Case("mean", normal(S3), lambda x: x.mean(), lambda t, x: x.mean()),
    Case("mean_axis", normal(S3), lambda x: tw.mean(x, -1, keepdims=True), lambda t, x: x.mean(-1, keepdim=True)),
    Case("amax", grid(S3), lambda x: x.max(), lambda t, x: x.max()),
    Case("amax_axis", grid(S3), lambda x: x.max(axis=1), lambda t, x: x.amax(dim=1)),
    Case("amin_axes_keepdims", grid(S3), lambda x: x.min(axis=(0, 2), keepdims=True),
         lambda t, x: x.amin(dim=(0, 2), keepdim=True)),
    Case("max_dim_values", grid(S3), lambda x: x.max(dim=2)[0], lambda t, x: x.max(dim=2)[0]),
    Case("min_dim_keepdim", grid(S3), lambda x: x.min(1, keepdim=True).values,
         lambda t, x: x.min(1, keepdim=True).values),
    Case("var", normal(S3), lambda x: x.var(), lambda t, x: x.var()),
    Case("var_axis_correction0", normal(S3), lambda x: x.var(axis=1, correction=0, keepdims=True),
         lambda t, x: x.var(dim=1, correction=0, keepdim=True)),
    Case("var_axes_unbiased", normal(S3), lambda x: tw.var(x, (0, 2)), lambda t, x: t.var(x, (0, 2))),
    Case("std", normal(S3), lambda x: x.std(), lambda t, x: x.std()),
    Case("std_axis", normal(S3), lambda x: x.std(dim=-1, unbiased=False), lambda t, x: x.std(dim=-1, unbiased=False)),
    Case("logsumexp", normal(S3), lambda x: x.logsumexp(), lambda t, x: x.logsumexp(dim=_all_dims(x))),
    Case("logsumexp_axis", normal(S3), lambda x: x.logsumexp(axis=2), lambda t, x: x.logsumexp(dim=2)),
    Case("logsumexp_axes_keepdims", normal(S3), lambda x: tw.logsumexp(x, (0, 1), keepdims=True),
         lambda t, x: t.logsumexp(x, (0, 1), keepdim=True)),
    Case("prod", away((2, 3)), lambda x: x.prod(), lambda t, x: x.prod()),
    Case("prod_axis", away(S3), lambda x: x.prod(axis=1), lambda t, x: x.prod(dim=1)),
    Case("norm", normal(S3), lambda x: x.norm(), lambda t, x: t.linalg.vector_norm(x)),
    Case("norm_axis", normal(S3), lambda x: x.norm(dim=1, keepdim=True),
         lambda t, x: t.linalg.vector_norm(x, dim=1, keepdim=True)),
    # ------------------------------------------------------------------------ shape
    Case("reshape", normal(S3), lambda x: x.reshape(6, 4), lambda t, x: x.reshape(6, 4)),
    Case("reshape_minus1", normal(S3), lambda x: tw.reshape(x, (-1,)), lambda t, x: t.reshape(x, (-1,))),
    Case("view", normal(S3), lambda x: x.view(4, -1), lambda t, x: x.view(4, -1)),
    Case("transpose_swap", normal(S3), lambda x: x.transpose(0, 2), lambda t, x: x.transpose(0, 2)),
    Case("permute", normal(S3), lambda x: x.permute(2, 0, 1), lambda t, x: x.permute(2, 0, 1)),
    Case("T", normal(S), lambda x: x.T, lambda t, x: x.T),
    Case("mT", normal(S3), lambda x: x.mT, lambda t, x: x.mT),
    Case("expand", normal((3, 1)), lambda x: x.expand(2, 3, 4), lambda t, x: x.expand(2, 3, 4)),
    Case("expand_minus1", normal((3, 1)), lambda x: x.expand(2, -1, 4), lambda t, x: x.expand(2, -1, 4)),
    Case("broadcast_to", normal((1, 4)), lambda x: tw.broadcast_to(x, (3, 4)), lambda t, x: t.broadcast_to(x, (3, 4))),
    Case("squeeze_all", normal((1, 3, 1, 2)), lambda x: x.squeeze(), lambda t, x: x.squeeze()),
    Case("squeeze_dim", normal((1, 3, 1, 2)), lambda x: x.squeeze(dim=2), lambda t, x: x.squeeze(dim=2)),
    Case("unsqueeze", normal(S), lambda x: x.unsqueeze(1), lambda t, x: x.unsqueeze(1)),
    Case("unsqueeze_last", normal(S), lambda x: tw.unsqueeze(x, -1), lambda t, x: t.unsqueeze(x, -1)),
    Case("flatten", normal(S3), lambda x: x.flatten(), lambda t, x: x.flatten()),
    Case("flatten_start", normal(S3), lambda x: tw.flatten(x, 1), lambda t, x: t.flatten(x, 1)),
    Case("flatten_range", normal((2, 3, 4, 2)), lambda x: x.flatten(1, 2), lambda t, x: x.flatten(1, 2)),
    Case("cat", normal((2, 3), (2, 1), (2, 2)), lambda a, b, c: tw.cat([a, b, c], dim=1),
         lambda t, a, b, c: t.cat([a, b, c], dim=1)),
    Case("concatenate_axis0", normal((1, 3), (2, 3)), lambda a, b: tw.concatenate([a, b]),
         lambda t, a, b: t.cat([a, b])),
    Case("stack", normal(S, S, S), lambda a, b, c: tw.stack([a, b, c], dim=1),
         lambda t, a, b, c: t.stack([a, b, c], dim=1)),
    Case("split", normal((3, 5)), lambda x: x.split(2, dim=1), lambda t, x: x.split(2, dim=1)),
    Case("split_sizes", normal((4, 3)), lambda x: tw.split(x, [1, 3]), lambda t, x: t.split(x, [1, 3])),
    Case("chunk", normal((5, 2)), lambda x: x.chunk(3), lambda t, x: x.chunk(3)),
    Case("pad", normal(S), lambda x: tw.pad(x, ((1, 0), (2, 1)), value=0.25), _torch_pad),
    Case("repeat", normal((2, 3)), lambda x: x.repeat(2, 1, 3), lambda t, x: x.repeat(2, 1, 3)),
    Case("gather", normal(S), lambda x: x.gather(1, tw.tensor(GATHER_IDX)),
         lambda t, x: x.gather(1, _tidx(t, GATHER_IDX))),
    # --------------------------------------------------------------------- indexing
    Case("index_int", normal(S3), lambda x: x[1], lambda t, x: x[1]),
    Case("index_slices", normal(S3), lambda x: x[:, 1:3, ::2], lambda t, x: x[:, 1:3, ::2]),
    Case("index_negative_step", normal(S), lambda x: x[::-1], None),  # torch refuses negative steps
    Case("index_ellipsis_none", normal(S3), lambda x: x[..., None, 2], lambda t, x: x[..., None, 2]),
    Case("index_fancy_repeated", normal(S), lambda x: x[IDX], lambda t, x: x[_tidx(t, IDX)]),
    Case("index_list_repeated", normal(S), lambda x: x[[0, 0, 2]], lambda t, x: x[[0, 0, 2]]),
    Case("index_two_arrays", normal(S), lambda x: x[ROWS, COLS], lambda t, x: x[_tidx(t, ROWS), _tidx(t, COLS)]),
    Case("index_slice_and_array", normal(S3), lambda x: x[:, [1, 1, 0]], lambda t, x: x[:, [1, 1, 0]]),
    Case("index_tensor", normal(S), lambda x: x[tw.tensor(IDX)], lambda t, x: x[_tidx(t, IDX)]),
    Case("index_tensor_tuple", normal(S), lambda x: x[tw.tensor(IDX), 1:],
         lambda t, x: x[_tidx(t, IDX), 1:]),
    Case("index_bool_mask", normal(S), lambda x: x[MASK], lambda t, x: x[_tidx(t, MASK)]),
    Case("index_bool_tensor", normal(S), lambda x: x[tw.tensor(MASK[:, 0])], lambda t, x: x[_tidx(t, MASK[:, 0])]),
    Case("index_bool_rows_and_int", normal(S), lambda x: x[MASK[:, 0], 2], lambda t, x: x[_tidx(t, MASK[:, 0]), 2]),
    # ----------------------------------------------------------------------- matmul
    Case("matmul_2d", normal((3, 4), (4, 5)), lambda a, b: a @ b, lambda t, a, b: a @ b),
    Case("matmul_batched", normal((2, 3, 4), (2, 4, 5)), lambda a, b: tw.matmul(a, b), lambda t, a, b: t.matmul(a, b)),
    Case("matmul_broadcast", normal((2, 1, 3, 4), (5, 4, 2)), lambda a, b: a @ b, lambda t, a, b: a @ b),
    Case("matmul_vec_mat", normal((4,), (4, 5)), lambda a, b: a @ b, lambda t, a, b: a @ b),
    Case("matmul_mat_vec", normal((3, 4), (4,)), lambda a, b: a @ b, lambda t, a, b: a @ b),
    Case("matmul_dot", normal((4,), (4,)), lambda a, b: a @ b, lambda t, a, b: a @ b),
    Case("matmul_vec_batched", normal((4,), (2, 4, 5)), lambda a, b: a @ b, lambda t, a, b: a @ b),
    Case("matmul_batched_vec", normal((2, 3, 4), (4,)), lambda a, b: a @ b, lambda t, a, b: a @ b),
    Case("matmul_rmatmul_ndarray", normal((3, 4)), lambda a: np.ones((2, 3)) @ a,
         lambda t, a: t.ones((2, 3), dtype=a.dtype) @ a),
]

CASE_IDS = [c.name for c in CASES]


def as_list(out: Any) -> list[Any]:
    return list(out) if isinstance(out, (list, tuple)) else [out]


def run_both(torch: Any, case: Case, dtype: Any, seed: int = 0) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    """Run a case in thalweg and torch on the same inputs, backpropagate the same random weights.

    Returns (our outputs, torch outputs, our inputs, torch inputs) after backward.
    """
    rng = np.random.default_rng(seed)
    arrays = [a.astype(dtype) for a in case.inputs(rng)]
    ours_in = [tw.tensor(a, requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    outs = as_list(case.ours(*ours_in))
    outs_t = as_list(case.theirs(torch, *theirs_in))  # type: ignore[misc]
    weights = [rng.standard_normal(o.shape).astype(dtype) for o in outs]
    total = None
    total_t = None
    for o, ot, w in zip(outs, outs_t, weights):
        term = (o * tw.tensor(w)).sum()
        term_t = (ot * torch.tensor(w)).sum()
        total = term if total is None else total + term
        total_t = term_t if total_t is None else total_t + term_t
    total.backward()
    total_t.backward()
    return outs, outs_t, ours_in, theirs_in


def tol(dtype: Any) -> dict[str, float]:
    return dict(rtol=1e-9, atol=1e-10) if np.dtype(dtype) == np.float64 else dict(rtol=2e-5, atol=2e-6)


def assert_same(ours: Any, theirs: Any, dtype: Any, what: str) -> None:
    a = ours.array if isinstance(ours, tw.Tensor) else np.asarray(ours)
    b = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs torch {b.shape}"
    np.testing.assert_allclose(a, b, err_msg=what, **tol(dtype))


def float64_inputs(case: Case, seed: int = 0) -> list[tw.Tensor]:
    rng = np.random.default_rng(seed)
    return [tw.tensor(a, dtype=tw.float64, requires_grad=True) for a in case.inputs(rng)]


def pick(names: Sequence[str]) -> list[Case]:
    by_name = {c.name: c for c in CASES}
    return [by_name[n] for n in names]
