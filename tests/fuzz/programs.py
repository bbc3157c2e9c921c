"""Random programs run in thalweg and in torch from the same inputs: the machinery of the parity fuzzer.

A *program* starts from one to three leaf tensors (random shapes of up to three
dimensions, sizes 1 to 4 so that broadcasting happens, values normal or, in a
quarter of the programs, rounded to halves so that ties and exact zeros
happen) and applies three to eight ops, each drawn from ``OPS`` and applied to
tensors of the growing *pool* of intermediate results.  Each op's ``make``
looks at the pool (torch's values: torch is the oracle) and either declines
or picks its operands and parameters: dims, keepdim, shapes, index arrays,
fresh parameter leaves (a weight for ``linear``, a target for a loss).

Both libraries run the program step by step.  At every step the output's
shape, dtype and values are compared; if torch raises, thalweg must raise too
(and the step is dropped), and thalweg may not raise where torch does not.  At
the end the loss ``sum_k (out_k * W_k).sum()`` over every float result, with
fixed random weights ``W_k``, is backpropagated in both and every leaf's
gradient is compared.  Tolerances: float64 rtol 1e-6, float32 rtol 2e-3, each
with an absolute floor scaled by the largest magnitude of the reference.

Choices come from a ``Chooser``: the hypothesis test draws them from
``st.data()`` (so failures shrink), and a plain loop can draw them from a seeded
NumPy generator (``tests/fuzz/run_many.py`` runs thousands that way).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

import thalweg as tw
import thalweg.nn.functional as F

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover - the tests skip without torch
    torch = TF = None


# ---------------------------------------------------------------------------------------------- choices
class Chooser:
    """Where a program's choices come from (hypothesis data, or a NumPy generator)."""

    def __init__(self, rng: np.random.Generator, data: Any = None) -> None:
        self.rng = rng  # values (never structure) always come from here
        self.data = data

    def int(self, lo: int, hi: int) -> int:
        """An int in [lo, hi]."""
        if self.data is not None:
            from hypothesis import strategies as st

            return self.data.draw(st.integers(lo, hi))
        return int(self.rng.integers(lo, hi + 1))

    def choice(self, seq: Sequence[Any]) -> Any:
        return seq[self.int(0, len(seq) - 1)]

    def coin(self) -> bool:
        return self.int(0, 1) == 1


# ---------------------------------------------------------------------------------------------- the libraries
class Lib:
    """One library's spelling of what the ops need."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.m = tw if name == "thalweg" else torch
        self.F = F if name == "thalweg" else TF

    def leaf(self, a: np.ndarray) -> Any:
        return self.m.tensor(a, requires_grad=True)

    def const(self, a: Any) -> Any:
        return self.m.tensor(np.asarray(a))

    def numpy(self, t: Any) -> np.ndarray:
        if self.name == "thalweg":
            return np.array(t.array)
        return t.detach().numpy().copy()

    def grad(self, t: Any) -> np.ndarray | None:
        g = t.grad
        if g is None:
            return None
        return np.array(np.asarray(g)) if self.name == "thalweg" else g.numpy().copy()


# ---------------------------------------------------------------------------------------------- the op table
@dataclass
class Step:
    """One op applied to pool entries ``args`` with parameters ``params`` (fresh leaves in ``leaves``)."""

    op: str
    args: tuple[int, ...]
    params: dict[str, Any] = field(default_factory=dict)
    leaves: list[np.ndarray] = field(default_factory=list)

    def describe(self, shapes: Sequence[tuple[int, ...]]) -> str:
        shown = {k: (f"array{v.shape}" if isinstance(v, np.ndarray) else v) for k, v in self.params.items()}
        fresh = [a.shape for a in self.leaves]
        return f"{self.op}({', '.join(f'#{i}{shapes[i]}' for i in self.args)}; {shown}; leaves {fresh})"


Make = Callable[[Chooser, list[np.ndarray]], "Step | None"]
Call = Callable[..., Any]  # (lib, operands..., fresh leaves..., **params) -> tensor


@dataclass(frozen=True)
class Op:
    name: str
    make: Make
    call: Call


OPS: dict[str, Op] = {}


def op(name: str, make: Make) -> Callable[[Call], Call]:
    def register(call: Call) -> Call:
        OPS[name] = Op(name, make, call)
        return call
    return register


def _pick(c: Chooser, pool: list[np.ndarray], ok: Callable[[np.ndarray], bool] = lambda a: True) -> int | None:
    candidates = [i for i, a in enumerate(pool) if ok(a)]
    return None if not candidates else c.choice(candidates)


def _dim(c: Chooser, a: np.ndarray) -> int:
    """A valid dim of ``a``, negative half of the time (a 0-d tensor takes 0 or -1)."""
    n = max(a.ndim, 1)
    d = c.int(0, n - 1)
    return d - n if c.coin() else d


def _dims(c: Chooser, a: np.ndarray) -> Any:
    """None, one dim, or a tuple of distinct dims."""
    kind = c.int(0, 2) if a.ndim else c.int(0, 1)
    if kind == 0:
        return None
    if kind == 1 or a.ndim < 2:
        return _dim(c, a)
    chosen = sorted({c.int(0, a.ndim - 1) for _ in range(c.int(1, a.ndim))})
    return tuple(chosen)


def unary(name: str, ok: Callable[[np.ndarray], bool] = lambda a: True, **choices: Sequence[Any]) -> Callable:
    """An op of one pool operand; ``choices`` are parameter values drawn uniformly."""
    def make(c: Chooser, pool: list[np.ndarray]) -> Step | None:
        i = _pick(c, pool, ok)
        if i is None:
            return None
        return Step(name, (i,), {k: c.choice(v) for k, v in choices.items()})
    return op(name, make)


def _away_from_zero(limit: float) -> Callable[[np.ndarray], bool]:
    return lambda a: a.size > 0 and bool(np.all(np.abs(a) > limit))


def _positive(limit: float) -> Callable[[np.ndarray], bool]:
    return lambda a: a.size > 0 and bool(np.all(a > limit))


def _below(limit: float) -> Callable[[np.ndarray], bool]:
    return lambda a: bool(np.all(a < limit))


def _bounded(limit: float) -> Callable[[np.ndarray], bool]:
    return lambda a: bool(np.all(np.abs(a) < limit))


# ---- elementwise, one operand
unary("neg")(lambda L, x: -x)
unary("abs")(lambda L, x: x.abs())
unary("exp", _below(6.0))(lambda L, x: x.exp())
unary("log", _positive(0.1))(lambda L, x: x.log())
unary("log_abs")(lambda L, x: (x.abs() + 0.5).log())
unary("sqrt", _positive(0.1))(lambda L, x: x.sqrt())
unary("sigmoid")(lambda L, x: x.sigmoid())
unary("tanh")(lambda L, x: x.tanh())
unary("relu")(lambda L, x: L.F.relu(x))
unary("sin")(lambda L, x: x.sin())
unary("cos")(lambda L, x: x.cos())
unary("square")(lambda L, x: x.square())
unary("reciprocal", _away_from_zero(0.3))(lambda L, x: x.reciprocal())
unary("sign")(lambda L, x: x.sign())
unary("erf")(lambda L, x: x.erf())
unary("atan")(lambda L, x: x.atan())
unary("log1p", _positive(-0.8))(lambda L, x: x.log1p())
unary("expm1", _below(6.0))(lambda L, x: x.expm1())
unary("sinh", _bounded(4.0))(lambda L, x: x.sinh())
unary("pow_int", p=(2, 3, 0))(lambda L, x, p: x ** p)
unary("pow_neg", _away_from_zero(0.3), p=(-1.0, -2.0))(lambda L, x, p: x ** p)
unary("pow_frac", _positive(0.1), p=(0.5, 1.5, 2.5))(lambda L, x, p: x ** p)
unary("rpow", _below(6.0), base=(2.0, 0.5))(lambda L, x, base: base ** x)
unary("add_scalar", s=(-1.0, 0.5, 2.0))(lambda L, x, s: x + s)
unary("rsub_scalar", s=(-1.0, 0.5, 2.0))(lambda L, x, s: s - x)
unary("mul_scalar", s=(-1.5, 0.0, 3.0))(lambda L, x, s: x * s)
unary("div_scalar", s=(-2.0, 0.5, 4.0))(lambda L, x, s: x / s)
unary("rdiv_scalar", _away_from_zero(0.3), s=(-2.0, 1.0))(lambda L, x, s: s / x)
unary("clamp", bounds=((-0.5, 0.5), (0.0, 1.0), (None, 0.0), (0.0, None), (-1.0, None), (1.0, 1.0)))(
    lambda L, x, bounds: x.clamp(*bounds))
unary("leaky_relu", slope=(0.01, 0.2))(lambda L, x, slope: L.F.leaky_relu(x, slope))
unary("elu", alpha=(1.0, 0.5))(lambda L, x, alpha: L.F.elu(x, alpha))
unary("softplus", beta=(1.0, 2.0), threshold=(20.0, 1.0))(
    lambda L, x, beta, threshold: L.F.softplus(x, beta, threshold))
unary("gelu", approximate=("none", "tanh"))(lambda L, x, approximate: L.F.gelu(x, approximate=approximate))


# ---- elementwise, two operands with broadcasting
def _broadcasts(a: np.ndarray, b: np.ndarray) -> bool:
    try:
        np.broadcast_shapes(a.shape, b.shape)
        return True
    except ValueError:
        return False


def binary(name: str, ok_b: Callable[[np.ndarray], bool] = lambda b: True,
           ok_a: Callable[[np.ndarray], bool] = lambda a: True) -> Callable:
    """x op y for two pool operands that broadcast together (or a fresh leaf of a broadcastable shape)."""
    def make(c: Chooser, pool: list[np.ndarray]) -> Step | None:
        i = _pick(c, pool, ok_a)
        if i is None:
            return None
        a = pool[i]
        j = _pick(c, pool, lambda b: _broadcasts(a, b) and ok_b(b))
        if j is not None and c.int(0, 3) > 0:
            return Step(name, (i, j))
        # a fresh leaf: a's shape with some dims set to 1, and maybe one leading dim more
        shape = [n if c.coin() else 1 for n in a.shape]
        if c.int(0, 3) == 0:
            shape = [c.int(1, 3)] + shape
        fresh = c.rng.standard_normal(shape)
        if not ok_b(fresh):
            fresh = np.sign(fresh) * (np.abs(fresh) + 0.5) if name != "pow" else np.abs(fresh) + 0.5
        return Step(name, (i,), leaves=[fresh])
    return op(name, make)


binary("add")(lambda L, x, y: x + y)
binary("sub")(lambda L, x, y: x - y)
binary("mul")(lambda L, x, y: x * y)
binary("div", ok_b=_away_from_zero(0.3))(lambda L, x, y: x / y)
binary("maximum")(lambda L, x, y: L.m.maximum(x, y))
binary("minimum")(lambda L, x, y: L.m.minimum(x, y))
binary("pow", ok_a=_positive(0.2), ok_b=_bounded(3.0))(lambda L, x, y: x ** y)
binary("atan2", ok_b=_away_from_zero(0.1))(lambda L, x, y: L.m.atan2(x, y))
binary("where_positive")(lambda L, x, y: L.m.where(x > 0, x, y))


# ---- reductions
def reduction(name: str, ok: Callable[[np.ndarray], bool] = lambda a: True, keepdim: bool = True,
              single_dim: bool = False, **choices: Sequence[Any]) -> Callable:
    def make(c: Chooser, pool: list[np.ndarray]) -> Step | None:
        i = _pick(c, pool, ok)
        if i is None:
            return None
        a = pool[i]
        params = {"dim": _dim(c, a) if single_dim else _dims(c, a)}
        if keepdim:
            params["keepdim"] = c.coin()
        params.update({k: c.choice(v) for k, v in choices.items()})
        return Step(name, (i,), params)
    return op(name, make)


def _kw(dim: Any, keepdim: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {} if dim is None else {"dim": dim}
    if keepdim is not None and dim is not None:
        out["keepdim"] = keepdim
    return out


reduction("sum")(lambda L, x, dim, keepdim: x.sum(**_kw(dim, keepdim)))
reduction("mean")(lambda L, x, dim, keepdim: x.mean(**_kw(dim, keepdim)))
reduction("prod", single_dim=True, ok=_bounded(3.0))(lambda L, x, dim, keepdim: x.prod(dim, keepdim=keepdim))
reduction("prod_all", keepdim=False, ok=lambda a: a.size <= 12 and bool(np.all(np.abs(a) < 3)))(
    lambda L, x, dim: x.prod())
reduction("amax")(lambda L, x, dim, keepdim: L.m.amax(x, dim=tuple(range(x.ndim)) if dim is None else dim,
                                                      keepdim=keepdim))
reduction("amin", single_dim=True)(lambda L, x, dim, keepdim: L.m.amin(x, dim=dim, keepdim=keepdim))
reduction("max_all", keepdim=False, ok=lambda a: a.size > 0)(lambda L, x, dim: x.max())
reduction("min_all", keepdim=False, ok=lambda a: a.size > 0)(lambda L, x, dim: x.min())
reduction("max_dim", single_dim=True)(lambda L, x, dim, keepdim: x.max(dim, keepdim)[0])
reduction("min_dim", single_dim=True)(lambda L, x, dim, keepdim: x.min(dim=dim, keepdim=keepdim)[0])
reduction("var", correction=(0, 1))(lambda L, x, dim, keepdim, correction: x.var(**_kw(dim, keepdim),
                                                                                  correction=correction))
reduction("std", correction=(0, 1))(lambda L, x, dim, keepdim, correction: x.std(**_kw(dim, keepdim),
                                                                                  correction=correction))
reduction("logsumexp", single_dim=True)(lambda L, x, dim, keepdim: x.logsumexp(dim, keepdim=keepdim))
reduction("norm", p=(1, 2, 3, 0.5, float("inf"), -1.0))(
    lambda L, x, dim, keepdim, p: x.norm(p=p, **_kw(dim, keepdim)))
reduction("cumsum", single_dim=True, keepdim=False)(lambda L, x, dim: x.cumsum(dim))
reduction("cumprod", single_dim=True, keepdim=False, ok=_bounded(3.0))(lambda L, x, dim: x.cumprod(dim))
reduction("softmax", single_dim=True, keepdim=False)(lambda L, x, dim: L.F.softmax(x, dim=dim))
reduction("log_softmax", single_dim=True, keepdim=False)(lambda L, x, dim: L.F.log_softmax(x, dim=dim))
# zero rows are left to test_edge_conventions: there the gradient is 1/eps = 1e12, and any rounding
# difference upstream is multiplied by it
reduction("normalize", single_dim=True, keepdim=False, ok=lambda a: a.ndim >= 1 and bool(np.all(np.abs(a) > 0.05)))(
    lambda L, x, dim: L.F.normalize(x, dim=dim))
reduction("sort", single_dim=True, keepdim=False, descending=(False, True))(
    lambda L, x, dim, descending: x.sort(dim=dim, descending=descending)[0])
# (x * 1): torch 2.13's median(dim) reads garbage from an expanded (stride-0) input, e.g.
# torch.tensor(0.5).expand(3).median(-1) -> 6.9e-310; a contiguous copy sidesteps that torch bug
reduction("median_dim", single_dim=True)(lambda L, x, dim, keepdim: (x * 1).median(dim, keepdim=keepdim)[0])


# ---- shape ops
def _factor_shape(c: Chooser, n: int) -> list[int]:
    """A random shape with ``n`` elements (maybe with one -1)."""
    if n == 0:
        return [0, c.int(1, 3)]
    shape = []
    rest = n
    for _ in range(c.int(0, 3)):
        divisors = [d for d in range(1, rest + 1) if rest % d == 0]
        d = c.choice(divisors)
        shape.append(d)
        rest //= d
    shape.append(rest)
    if c.coin():
        shape[c.int(0, len(shape) - 1)] = -1
    return shape


@op("reshape", lambda c, pool: (lambda i: Step("reshape", (i,), {"shape": _factor_shape(c, pool[i].size)}))(
    c.int(0, len(pool) - 1)))
def _reshape(L: Lib, x: Any, shape: list[int]) -> Any:
    return x.reshape(*shape)


def _make_transpose(c: Chooser, pool: list[np.ndarray]) -> Step | None:
    i = _pick(c, pool, lambda a: a.ndim >= 1)
    return None if i is None else Step("transpose", (i,), {"d0": _dim(c, pool[i]), "d1": _dim(c, pool[i])})


op("transpose", _make_transpose)(lambda L, x, d0, d1: x.transpose(d0, d1))


def _make_permute(c: Chooser, pool: list[np.ndarray]) -> Step | None:
    i = _pick(c, pool, lambda a: a.ndim >= 2)
    if i is None:
        return None
    perm = list(range(pool[i].ndim))
    for k in range(len(perm) - 1, 0, -1):
        j = c.int(0, k)
        perm[k], perm[j] = perm[j], perm[k]
    return Step("permute", (i,), {"perm": tuple(perm)})


op("permute", _make_permute)(lambda L, x, perm: x.permute(*perm))


def _make_unsqueeze(c: Chooser, pool: list[np.ndarray]) -> Step | None:
    i = _pick(c, pool, lambda a: a.ndim <= 3)
    if i is None:
        return None
    n = pool[i].ndim + 1
    return Step("unsqueeze", (i,), {"dim": c.int(-n, n - 1)})


op("unsqueeze", _make_unsqueeze)(lambda L, x, dim: x.unsqueeze(dim))
unary("squeeze_all")(lambda L, x: x.squeeze())
reduction("squeeze_dim", single_dim=True, keepdim=False)(lambda L, x, dim: x.squeeze(dim))


def _make_flatten(c: Chooser, pool: list[np.ndarray]) -> Step | None:
    i = c.int(0, len(pool) - 1)
    a = pool[i]
    if a.ndim == 0:
        return Step("flatten", (i,), {"start": 0, "end": -1})
    s = c.int(0, a.ndim - 1)
    e = c.int(s, a.ndim - 1)
    return Step("flatten", (i,), {"start": s - a.ndim if c.coin() else s, "end": e})


op("flatten", _make_flatten)(lambda L, x, start, end: x.flatten(start, end))


def _make_expand(c: Chooser, pool: list[np.ndarray]) -> Step | None:
    i = _pick(c, pool, lambda a: a.ndim <= 3)
    if i is None:
        return None
    a = pool[i]
    shape = [c.int(2, 3) if n == 1 and c.coin() else (-1 if c.coin() else n) for n in a.shape]
    if c.coin() or not shape:
        shape = [c.int(1, 3)] + shape
    return Step("expand", (i,), {"shape": tuple(shape)})


op("expand", _make_expand)(lambda L, x, shape: x.expand(*shape))


def _make_repeat(c: Chooser, pool: list[np.ndarray]) -> Step | None:
    i = _pick(c, pool, lambda a: a.ndim <= 3 and a.size <= 24)
    if i is None:
        return None
    reps = [c.int(1, 2) for _ in range(pool[i].ndim + c.int(0, 1))]
    return Step("repeat", (i,), {"reps": tuple(reps)})


op("repeat", _make_repeat)(lambda L, x, reps: x.repeat(*reps))
reduction("flip", keepdim=False, single_dim=True, ok=lambda a: a.ndim >= 1)(lambda L, x, dim: x.flip(dim))
reduction("roll", keepdim=False, single_dim=True, ok=lambda a: a.ndim >= 1, shift=(1, -2, 3))(
    lambda L, x, dim, shift: x.roll(shift, dim))


def _make_cat(c: Chooser, pool: list[np.ndarray], name: str = "cat") -> Step | None:
    i = _pick(c, pool, lambda a: a.ndim >= 1)
    if i is None:
        return None
    a = pool[i]
    d = _dim(c, a)
    axis = d % a.ndim
    if name == "stack":
        partners = [j for j, b in enumerate(pool) if b.shape == a.shape]
    else:
        partners = [j for j, b in enumerate(pool) if b.ndim == a.ndim and all(
            p == q for k, (p, q) in enumerate(zip(a.shape, b.shape)) if k != axis)]
    j = c.choice(partners)  # a itself is always a partner: the same tensor twice accumulates
    if name == "stack":
        return Step(name, (i, j), {"dim": c.int(-a.ndim - 1, a.ndim)})
    return Step(name, (i, j), {"dim": d})


op("cat", _make_cat)(lambda L, x, y, dim: L.m.cat([x, y], dim=dim))
op("stack", lambda c, pool: _make_cat(c, pool, "stack"))(lambda L, x, y, dim: L.m.stack([x, y], dim=dim))


def _make_piece(c: Chooser, pool: list[np.ndarray]) -> Step | None:
    i = _pick(c, pool, lambda a: a.ndim >= 1 and a.size > 0)
    if i is None:
        return None
    a = pool[i]
    d = _dim(c, a)
    n = a.shape[d]
    kind = c.choice(["split", "chunk", "narrow", "select"])
    if kind == "split":
        size = c.int(1, n)
        return Step("piece", (i,), {"kind": kind, "dim": d, "size": size, "k": c.int(0, -(-n // size) - 1)})
    if kind == "chunk":
        chunks = c.int(1, 3)
        pieces = -(-n // -(-n // chunks))
        return Step("piece", (i,), {"kind": kind, "dim": d, "size": chunks, "k": c.int(0, pieces - 1)})
    start = c.int(0, n - 1)
    if kind == "narrow":
        return Step("piece", (i,), {"kind": kind, "dim": d, "size": c.int(0, n - start), "k": start})
    return Step("piece", (i,), {"kind": kind, "dim": d, "size": 0, "k": start - n if c.coin() else start})


@op("piece", _make_piece)
def _piece(L: Lib, x: Any, kind: str, dim: int, size: int, k: int) -> Any:
    if kind == "split":
        return x.split(size, dim=dim)[k]
    if kind == "chunk":
        return x.chunk(size, dim=dim)[k]
    if kind == "narrow":
        return x.narrow(dim, k, size)
    return x.select(dim, k)


def _make_index(c: Chooser, pool: list[np.ndarray]) -> Step | None:
    i = _pick(c, pool, lambda a: a.ndim >= 1 and a.size > 0)
    if i is None:
        return None
    a = pool[i]
    kind = c.choice(["slice", "int", "fancy", "mask", "gather", "index_select", "masked_fill"])
    n = a.shape[0]
    if kind == "slice":
        start, step = c.int(-n, n - 1), c.int(1, 2)
        return Step("index", (i,), {"kind": kind, "start": start, "step": step, "ellipsis": c.coin()})
    if kind == "int":
        return Step("index", (i,), {"kind": kind, "k": c.int(-n, n - 1)})
    if kind == "fancy":
        return Step("index", (i,), {"kind": kind, "idx": c.rng.integers(-n, n, size=c.int(1, 5))})
    if kind == "mask":
        return Step("index", (i,), {"kind": kind, "mask": a > 0})
    d = _dim(c, a)
    if kind == "gather":
        shape = list(a.shape)
        shape[d] = c.int(1, 4)
        shape = [c.int(1, s) if k != d % a.ndim else s for k, s in enumerate(shape)]
        return Step("index", (i,), {"kind": kind, "dim": d,
                                    "idx": c.rng.integers(0, a.shape[d], size=shape)})
    if kind == "index_select":
        return Step("index", (i,), {"kind": kind, "dim": d,
                                    "idx": c.rng.integers(0, a.shape[d], size=c.int(1, 4))})
    return Step("index", (i,), {"kind": kind, "mask": a > 0.3, "value": c.choice([0.0, -1.5])})


@op("index", _make_index)
def _index(L: Lib, x: Any, kind: str, **p: Any) -> Any:
    if kind == "slice":
        s = slice(p["start"], None, p["step"])
        return x[..., s] if p["ellipsis"] else x[s]
    if kind == "int":
        return x[p["k"]]
    if kind == "fancy":
        return x[L.const(p["idx"])]
    if kind == "mask":
        return x[L.const(p["mask"])]
    if kind == "gather":
        return L.m.gather(x, p["dim"], L.const(p["idx"]))
    if kind == "index_select":
        return x.index_select(p["dim"], L.const(p["idx"]))
    return x.masked_fill(L.const(p["mask"]), p["value"])


def _make_tri(c: Chooser, pool: list[np.ndarray]) -> Step | None:
    i = _pick(c, pool, lambda a: a.ndim >= 2)
    return None if i is None else Step("tri", (i,), {"upper": c.coin(), "k": c.int(-1, 1)})


op("tri", _make_tri)(lambda L, x, upper, k: x.triu(k) if upper else x.tril(k))


def _make_topk(c: Chooser, pool: list[np.ndarray]) -> Step | None:
    # distinct values only: torch's topk orders ties erratically ([2., 1., 2., 1.].topk(2, largest=False)
    # gives indices [1, 3] but [.5, -1, 2, -1, .5, -1] gives [3, 5]), so no rule to match there
    i = _pick(c, pool, lambda a: a.ndim >= 1 and a.size > 0 and np.unique(a).size == a.size)
    if i is None:
        return None
    d = _dim(c, pool[i])
    return Step("topk", (i,), {"k": c.int(1, pool[i].shape[d]), "dim": d, "largest": c.coin()})


op("topk", _make_topk)(lambda L, x, k, dim, largest: x.topk(k, dim=dim, largest=largest)[0])


# ---- products and layers with fresh parameters
def _make_matmul(c: Chooser, pool: list[np.ndarray]) -> Step | None:
    i = _pick(c, pool, lambda a: a.ndim >= 1)
    if i is None:
        return None
    a = pool[i]
    k = a.shape[-1]
    partners = [j for j, b in enumerate(pool) if b.ndim >= 1 and (b.shape[0] if b.ndim == 1 else b.shape[-2]) == k
                and _batch_ok(a, b)]
    if partners and c.coin():
        return Step("matmul", (i, c.choice(partners)))
    kind = c.int(0, 2)
    shape = (k,) if kind == 0 else (k, c.int(1, 4)) if kind == 1 else (c.int(1, 2), k, c.int(1, 3))
    if len(shape) == 3 and a.ndim >= 3 and a.shape[-3] not in (1, shape[0]):
        shape = (1,) + shape[1:]
    return Step("matmul", (i,), leaves=[c.rng.standard_normal(shape)])


def _batch_ok(a: np.ndarray, b: np.ndarray) -> bool:
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        return True
    except ValueError:
        return False


op("matmul", _make_matmul)(lambda L, x, y: x @ y)


def _make_linear(c: Chooser, pool: list[np.ndarray]) -> Step | None:
    i = _pick(c, pool, lambda a: a.ndim >= 1)
    if i is None:
        return None
    k, out = pool[i].shape[-1], c.int(1, 4)
    leaves = [c.rng.standard_normal((out, k))]
    if c.coin():
        leaves.append(c.rng.standard_normal(out))
    return Step("linear", (i,), leaves=leaves)


op("linear", _make_linear)(lambda L, x, w, b=None: L.F.linear(x, w, b))


def _make_layer_norm(c: Chooser, pool: list[np.ndarray]) -> Step | None:
    i = _pick(c, pool, lambda a: a.ndim >= 1)
    if i is None:
        return None
    a = pool[i]
    shape = a.shape[a.ndim - c.int(1, a.ndim):]
    leaves = [c.rng.standard_normal(shape), c.rng.standard_normal(shape)] if c.coin() else []
    return Step("layer_norm", (i,), {"shape": tuple(shape)}, leaves=leaves)


op("layer_norm", _make_layer_norm)(lambda L, x, w=None, b=None, shape=(): L.F.layer_norm(x, shape, w, b))


# ---- losses
REDUCTIONS = ("mean", "sum", "none")


def _make_pair_loss(name: str, **choices: Sequence[Any]) -> Make:
    def make(c: Chooser, pool: list[np.ndarray]) -> Step | None:
        i = c.int(0, len(pool) - 1)
        a = pool[i]
        params = {"reduction": c.choice(REDUCTIONS), **{k: c.choice(v) for k, v in choices.items()}}
        same = [j for j, b in enumerate(pool) if b.shape == a.shape and j != i]
        if same and c.coin():
            return Step(name, (i, c.choice(same)), params)
        return Step(name, (i,), params, leaves=[c.rng.standard_normal(a.shape)])
    return make


op("mse_loss", _make_pair_loss("mse_loss"))(lambda L, x, y, reduction: L.F.mse_loss(x, y, reduction=reduction))
op("l1_loss", _make_pair_loss("l1_loss"))(lambda L, x, y, reduction: L.F.l1_loss(x, y, reduction=reduction))
op("smooth_l1_loss", _make_pair_loss("smooth_l1_loss", beta=(1.0, 0.5)))(
    lambda L, x, y, reduction, beta: L.F.smooth_l1_loss(x, y, reduction=reduction, beta=beta))
op("huber_loss", _make_pair_loss("huber_loss", delta=(1.0, 0.3)))(
    lambda L, x, y, reduction, delta: L.F.huber_loss(x, y, reduction=reduction, delta=delta))
def _signs(x: Any) -> np.ndarray:
    """A fixed +-1 target of x's shape (alternating), in x's dtype."""
    shape = tuple(x.shape)
    parity = np.indices(shape).sum(axis=0) % 2 if shape else np.zeros(())
    return np.where(parity == 0, 1.0, -1.0).astype(_np_dtype(x))


op("margin_ranking_loss", _make_pair_loss("margin_ranking_loss", margin=(0.0, 0.5)))(
    lambda L, x, y, reduction, margin: L.F.margin_ranking_loss(x, y, L.const(_signs(x)), margin=margin,
                                                               reduction=reduction))


def _make_bce(c: Chooser, pool: list[np.ndarray]) -> Step | None:
    i = c.int(0, len(pool) - 1)
    a = pool[i]
    params: dict[str, Any] = {"reduction": c.choice(REDUCTIONS), "target": c.rng.uniform(0, 1, a.shape),
                              "logits": c.coin()}
    if c.coin():
        params["weight"] = c.rng.uniform(0.5, 2, a.shape[a.ndim - c.int(0, a.ndim):])
    if params["logits"] and a.ndim and c.coin():
        params["pos_weight"] = c.rng.uniform(0.5, 2, a.shape[-1:])
    return Step("bce", (i,), params)


@op("bce", _make_bce)
def _bce(L: Lib, x: Any, reduction: str, target: np.ndarray, logits: bool, weight: Any = None,
         pos_weight: Any = None) -> Any:
    dt = _np_dtype(x)
    t = L.const(target.astype(dt))
    w = None if weight is None else L.const(weight.astype(dt))
    if logits:
        pw = None if pos_weight is None else L.const(pos_weight.astype(dt))
        return L.F.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw, reduction=reduction)
    return L.F.binary_cross_entropy(x.sigmoid(), t, weight=w, reduction=reduction)


def _make_class_loss(c: Chooser, pool: list[np.ndarray]) -> Step | None:
    i = _pick(c, pool, lambda a: 1 <= a.ndim <= 3 and a.size > 0)
    if i is None:
        return None
    a = pool[i]
    C = a.shape[0] if a.ndim == 1 else a.shape[1]
    tshape = () if a.ndim == 1 else (a.shape[0],) + a.shape[2:]
    target = c.rng.integers(0, C, size=tshape)
    if c.int(0, 2) == 0:  # some (maybe all) targets ignored
        target = np.where(c.rng.uniform(size=tshape) < 0.5, -100, target)
    params: dict[str, Any] = {"reduction": c.choice(REDUCTIONS), "target": target, "kind": c.choice(
        ["ce", "ce", "nll", "soft"])}
    if c.coin():
        params["weight"] = c.rng.uniform(0.5, 2, C)
    if params["kind"] != "nll":
        params["smoothing"] = c.choice([0.0, 0.0, 0.2])
    if params["kind"] == "soft":
        params["target"] = c.rng.dirichlet(np.ones(C), size=tshape).reshape(tshape + (C,))
        params["target"] = np.moveaxis(params["target"], -1, 0 if a.ndim == 1 else 1)
    return Step("class_loss", (i,), params)


@op("class_loss", _make_class_loss)
def _class_loss(L: Lib, x: Any, reduction: str, target: np.ndarray, kind: str, weight: Any = None,
                smoothing: float = 0.0) -> Any:
    dt = _np_dtype(x)
    w = None if weight is None else L.const(weight.astype(dt))
    if kind == "nll":
        return L.F.nll_loss(L.F.log_softmax(x, dim=0 if x.ndim == 1 else 1), L.const(target), weight=w,
                            reduction=reduction)
    t = L.const(target.astype(dt) if kind == "soft" else target)
    return L.F.cross_entropy(x, t, weight=w, reduction=reduction, label_smoothing=smoothing)


def _make_kl(c: Chooser, pool: list[np.ndarray]) -> Step | None:
    i = _pick(c, pool, lambda a: a.ndim >= 1)
    if i is None:
        return None
    return Step("kl_div", (i,), {"reduction": c.choice(REDUCTIONS + ("batchmean",)), "log_target": c.coin()},
                leaves=[c.rng.standard_normal(pool[i].shape)])


op("kl_div", _make_kl)(lambda L, x, y, reduction, log_target: L.F.kl_div(
    L.F.log_softmax(x, dim=-1), L.F.log_softmax(y, dim=-1) if log_target else L.F.softmax(y, dim=-1),
    reduction=reduction, log_target=log_target))


def _make_cosine(c: Chooser, pool: list[np.ndarray]) -> Step | None:
    i = _pick(c, pool, lambda a: a.ndim >= 1)
    if i is None:
        return None
    a = pool[i]
    partners = [j for j, b in enumerate(pool) if b.ndim >= 1 and _broadcasts(a, b)]
    j = c.choice(partners)
    nd = len(np.broadcast_shapes(a.shape, pool[j].shape))
    return Step("cosine_similarity", (i, j), {"dim": c.int(-nd, nd - 1)})


op("cosine_similarity", _make_cosine)(lambda L, x, y, dim: L.F.cosine_similarity(x, y, dim=dim))


def _np_dtype(t: Any) -> Any:
    return np.float64 if str(t.dtype).endswith("float64") else np.float32


OP_NAMES = sorted(OPS)


# ---------------------------------------------------------------------------------------------- programs
@dataclass
class Program:
    dtype: Any
    inputs: list[np.ndarray]
    steps: list[Step]

    def describe(self) -> str:
        lines = [f"dtype {np.dtype(self.dtype).name}; inputs " + ", ".join(
            f"#{k}{a.shape}" for k, a in enumerate(self.inputs))]
        shapes = [a.shape for a in self.inputs]
        for s in self.steps:
            lines.append("  " + s.describe(shapes))
            shapes.append(getattr(s, "out_shape", ()))
        return "\n".join(lines)


class Mismatch(AssertionError):
    """thalweg and torch disagree; the message holds the program."""


def tolerances(dtype: Any) -> tuple[float, float]:
    return (1e-6, 1e-9) if np.dtype(dtype) == np.float64 else (2e-3, 2e-4)


def _close(ours: np.ndarray, ref: np.ndarray, dtype: Any) -> bool:
    rtol, atol = tolerances(dtype)
    finite = ref[np.isfinite(ref)]
    scale = max(1.0, float(np.abs(finite).max())) if finite.size else 1.0
    return bool(np.allclose(ours, ref, rtol=rtol, atol=atol * scale, equal_nan=True))


def _quiet_call(fn: Callable[[], Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            return fn()


def generate_and_run(c: Chooser, dtype: Any, *, min_steps: int = 3, max_steps: int = 8,
                     ops: Sequence[str] = ()) -> Program:
    """Draw a program, run it in both libraries, raise ``Mismatch`` at the first disagreement.

    ``ops`` restricts the op table (all of ``OPS`` by default).
    """
    names = sorted(ops) if ops else OP_NAMES
    ours, theirs = Lib("thalweg"), Lib("torch")
    rng = c.rng
    ties = c.int(0, 3) == 0
    inputs = []
    for _ in range(c.int(1, 3)):
        shape = tuple(c.int(1, 4) for _ in range(c.int(0, 3)))
        a = rng.standard_normal(shape)
        if ties:  # (+ 0.0 turns -0.0 into 0.0: torch's cumsum does too, NumPy's keeps the sign, and atan2 sees it)
            a = np.round(a * 2) / 2 + 0.0
        inputs.append(a.astype(dtype))
    program = Program(dtype, inputs, [])
    leaves_o = [ours.leaf(a) for a in inputs]
    leaves_t = [theirs.leaf(a) for a in inputs]
    pool_o: list[Any] = list(leaves_o)
    pool_t: list[Any] = list(leaves_t)
    n_steps = c.int(min_steps, max_steps)
    attempts = 0
    while len(program.steps) < n_steps and attempts < 4 * max_steps:
        attempts += 1
        values = [theirs.numpy(t) for t in pool_t]
        name = c.choice(names)
        step = _quiet_call(lambda: OPS[name].make(c, values))
        if step is None:
            continue
        step.leaves = [a.astype(dtype) for a in step.leaves]
        fresh_o = [ours.leaf(a) for a in step.leaves]
        fresh_t = [theirs.leaf(a) for a in step.leaves]
        fn = OPS[name].call
        program.steps.append(step)
        try:
            out_t = _quiet_call(lambda: fn(theirs, *[pool_t[i] for i in step.args], *fresh_t, **step.params))
        except Exception as e:  # noqa: BLE001 - torch refusing is a legitimate outcome: thalweg must refuse too
            try:
                _quiet_call(lambda: fn(ours, *[pool_o[i] for i in step.args], *fresh_o, **step.params))
            except Exception:  # noqa: BLE001
                program.steps.pop()
                continue
            raise Mismatch(f"torch raised {type(e).__name__}: {e}\nbut thalweg accepted the last step of\n"
                           f"{program.describe()}") from None
        try:
            out_o = _quiet_call(lambda: fn(ours, *[pool_o[i] for i in step.args], *fresh_o, **step.params))
        except Exception as e:  # noqa: BLE001
            raise Mismatch(f"thalweg raised {type(e).__name__}: {e}\nwhere torch did not, at the last step of\n"
                           f"{program.describe()}") from e
        step.out_shape = tuple(out_t.shape)  # type: ignore[attr-defined]
        a_o, a_t = ours.numpy(out_o), theirs.numpy(out_t)
        if a_o.shape != a_t.shape or a_o.dtype != a_t.dtype:
            raise Mismatch(f"shape/dtype {a_o.shape} {a_o.dtype} vs torch {a_t.shape} {a_t.dtype} at the last step"
                           f" of\n{program.describe()}")
        if not _close(a_o, a_t, dtype):
            raise Mismatch(f"values differ at the last step of\n{program.describe()}\nthalweg {a_o}\ntorch   {a_t}")
        if bool(out_o.requires_grad) != bool(out_t.requires_grad):
            raise Mismatch(f"requires_grad {out_o.requires_grad} vs torch {out_t.requires_grad} at the last step"
                           f" of\n{program.describe()}")
        leaves_o += fresh_o
        leaves_t += fresh_t
        pool_o.append(out_o)
        pool_t.append(out_t)
    program.fresh = [a for s in program.steps for a in s.leaves]  # type: ignore[attr-defined]
    _compare_gradients(program, ours, theirs, pool_o, pool_t, leaves_o, leaves_t)
    return program


def _compare_gradients(program: Program, ours: Lib, theirs: Lib, pool_o: list[Any], pool_t: list[Any],
                       leaves_o: list[Any], leaves_t: list[Any]) -> None:
    wrng = np.random.default_rng(1234)
    loss_o = loss_t = None
    for t_o, t_t in zip(pool_o, pool_t):
        if not t_t.requires_grad:
            continue
        w = wrng.standard_normal(tuple(t_t.shape)).astype(program.dtype)
        term_o = (t_o * ours.const(w)).sum()
        term_t = (t_t * theirs.const(w)).sum()
        loss_o = term_o if loss_o is None else loss_o + term_o
        loss_t = term_t if loss_t is None else loss_t + term_t
    if loss_t is None:
        return
    _quiet_call(loss_t.backward)
    try:
        _quiet_call(loss_o.backward)
    except Exception as e:  # noqa: BLE001
        raise Mismatch(f"thalweg's backward raised {type(e).__name__}: {e} for\n{program.describe()}") from e
    for k, (l_o, l_t) in enumerate(zip(leaves_o, leaves_t)):
        g_o, g_t = ours.grad(l_o), theirs.grad(l_t)
        if g_t is None:
            if g_o is not None and np.any(g_o):
                raise Mismatch(f"leaf {k}: thalweg has a gradient where torch has none, for\n{program.describe()}")
            continue
        if g_o is None:
            if np.any(g_t):
                raise Mismatch(f"leaf {k}: thalweg has no gradient, torch {g_t}, for\n{program.describe()}")
            continue
        if g_o.shape != g_t.shape or g_o.dtype != g_t.dtype:
            raise Mismatch(f"leaf {k}: gradient {g_o.shape} {g_o.dtype} vs torch {g_t.shape} {g_t.dtype} for\n"
                           f"{program.describe()}")
        if not _close(g_o, g_t, program.dtype):
            raise Mismatch(f"leaf {k}: gradients differ for\n{program.describe()}\nthalweg {g_o}\ntorch   {g_t}")


def torch_available() -> bool:
    return torch is not None


__all__ = ["Chooser", "Mismatch", "OPS", "OP_NAMES", "Program", "generate_and_run", "torch_available"]
