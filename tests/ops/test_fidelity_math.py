"""Elementwise math of torch (sin ... xlogy): values and gradients match torch 2.13, and gradcheck passes."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from fidelity_cases import Case, check_grad, check_torch, distinct, normal, uniform

torch = pytest.importorskip("torch")

S = (3, 4)


def _unary(name: str, maker: object, rtol64: float = 1e-9) -> Case:
    return Case(name, maker, lambda x: getattr(tw, name)(x), lambda t, x: getattr(t, name)(x), rtol64=rtol64)


def _method(name: str, maker: object) -> Case:
    return Case(f"{name}_method", maker, lambda x: getattr(x, name)(), lambda t, x: getattr(x, name)())


UNIT = uniform(-0.9, 0.9, S)
POS = uniform(0.3, 2.5, S)
CASES = [
    _unary("sin", normal(S)), _unary("cos", normal(S)), _unary("tan", UNIT),
    _unary("asin", UNIT), _unary("acos", UNIT), _unary("atan", normal(S)),
    _unary("sinh", normal(S)), _unary("cosh", normal(S)), _unary("asinh", normal(S)),
    _unary("acosh", uniform(1.2, 3.0, S)), _unary("atanh", UNIT),
    _unary("log1p", POS), _unary("expm1", normal(S)), _unary("log2", POS), _unary("log10", POS),
    _unary("exp2", normal(S)), _unary("rsqrt", POS), _unary("reciprocal", POS), _unary("square", normal(S)),
    _unary("frac", distinct(S)), _unary("erf", normal(S)), _unary("erfc", normal(S)), _unary("erfinv", UNIT),
    _unary("lgamma", POS), _unary("digamma", POS, rtol64=1e-7),  # torch's own trigamma is good to ~1e-9
    _unary("sinc", normal(S)), _unary("deg2rad", normal(S)), _unary("rad2deg", normal(S)),
    _unary("sigmoid", normal(S)), _unary("logit", uniform(0.05, 0.95, S)),
    _method("sin", normal(S)), _method("expm1", normal(S)), _method("rsqrt", POS), _method("erfinv", UNIT),
    Case("floor_times_x", distinct(S), lambda x: tw.floor(x * 3) * x, lambda t, x: t.floor(x * 3) * x),
    Case("ceil_round_trunc", distinct(S), lambda x: x.ceil() + tw.round(x * 2) + x.trunc() + x,
         lambda t, x: x.ceil() + t.round(x * 2) + x.trunc() + x),
    Case("round_decimals", distinct(S), lambda x: tw.round(x * 3 + 0.012, decimals=1) + x,
         lambda t, x: t.round(x * 3 + 0.012, decimals=1) + x),
    Case("logit_eps", uniform(0.0, 1.0, S), lambda x: tw.logit(x, eps=0.2), lambda t, x: t.logit(x, eps=0.2)),
    Case("nan_to_num", normal(S), lambda x: tw.nan_to_num(tw.log(x), nan=0.5, neginf=-3.0),
         lambda t, x: t.nan_to_num(t.log(x), nan=0.5, neginf=-3.0), gradcheck=False),
    Case("atan2", normal(S, S), lambda y, x: tw.atan2(y, x), lambda t, y, x: t.atan2(y, x)),
    Case("arctan2_method", normal(S, (4,)), lambda y, x: y.arctan2(x), lambda t, y, x: y.arctan2(x)),
    Case("hypot", normal(S, S), lambda x, y: tw.hypot(x, y), lambda t, x, y: t.hypot(x, y)),
    Case("fmod", uniform(-3, 3, S), lambda x: tw.fmod(x, 0.7), lambda t, x: t.fmod(x, 0.7)),
    Case("fmod_tensor", lambda r: [r.uniform(-3, 3, S), r.uniform(0.5, 1.0, S) * r.choice([-1, 1], S)],
         lambda x, y: tw.fmod(x, y), lambda t, x, y: t.fmod(x, y)),
    Case("remainder_tensor", lambda r: [r.uniform(-3, 3, S), r.uniform(0.5, 1.0, S) * r.choice([-1, 1], S)],
         lambda x, y: tw.remainder(x, y), lambda t, x, y: t.remainder(x, y)),
    Case("remainder_scalar", uniform(-3, 3, S), lambda x: x.remainder(-0.7), lambda t, x: x.remainder(-0.7)),
    Case("xlogy", lambda r: [np.where(r.random(S) < 0.3, 0.0, r.standard_normal(S)), r.uniform(0.3, 2, S)],
         lambda x, y: tw.xlogy(x, y), lambda t, x, y: t.xlogy(x, y), gradcheck=False),
    Case("xlogy_grad", normal(S, (4,)), lambda x, y: tw.xlogy(x, y * y + 0.5),
         lambda t, x, y: t.xlogy(x, y * y + 0.5)),
    Case("copysign", normal(S, S), lambda x, y: tw.copysign(x, y), lambda t, x, y: t.copysign(x, y)),
    Case("logaddexp", normal(S, S), lambda x, y: tw.logaddexp(x * 10, y), lambda t, x, y: t.logaddexp(x * 10, y)),
    Case("lerp_scalar", normal(S, S), lambda a, b: tw.lerp(a, b, 0.3), lambda t, a, b: t.lerp(a, b, 0.3)),
    Case("lerp_tensor", normal(S, S, S), lambda a, b, w: a.lerp(b, w), lambda t, a, b, w: a.lerp(b, w)),
    Case("addcmul", normal(S, S, (4,)), lambda a, b, c: tw.addcmul(a, b, c, value=0.5),
         lambda t, a, b, c: t.addcmul(a, b, c, value=0.5)),
    Case("addcdiv", lambda r: [r.standard_normal(S), r.standard_normal(S), r.uniform(0.5, 2, S)],
         lambda a, b, c: a.addcdiv(b, c, value=-2.0), lambda t, a, b, c: a.addcdiv(b, c, value=-2.0)),
    Case("float_power", uniform(0.5, 2, S), lambda x: tw.float_power(x, 1.5),
         lambda t, x: t.float_power(x, 1.5)),
    Case("clamp_min_max", distinct(S), lambda x: tw.clamp_min(x, -0.3) + x.clamp_max(0.35),
         lambda t, x: t.clamp_min(x, -0.3) + x.clamp_max(0.35)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_matches_torch(case: Case, dtype: type) -> None:
    check_torch(torch, case, dtype)


GRAD_CASES = [c for c in CASES if c.gradcheck and not c.name.endswith("_method")]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.name for c in GRAD_CASES])
def test_gradcheck(case: Case) -> None:
    check_grad(case)


def test_integer_inputs_follow_torch_dtypes() -> None:
    x = np.array([-3, 0, 2, 5])
    for name in ("sin", "exp2", "erf", "sqrt", "atan2_self"):
        if name == "atan2_self":
            ours, theirs = tw.atan2(tw.tensor(x), tw.tensor(x)), torch.atan2(torch.tensor(x), torch.tensor(x))
        else:
            ours, theirs = getattr(tw, name)(tw.tensor(x)), getattr(torch, name)(torch.tensor(x))
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), name
        np.testing.assert_allclose(ours.array, theirs.numpy(), rtol=1e-6)
    for name in ("floor", "ceil", "round", "trunc", "square"):
        ours, theirs = getattr(tw, name)(tw.tensor(x)), getattr(torch, name)(torch.tensor(x))
        assert ours.dtype == np.int64
        np.testing.assert_array_equal(ours.array, theirs.numpy())
    for name in ("fmod", "remainder", "floor_divide"):
        ours = getattr(tw, name)(tw.tensor(x), 3)
        theirs = getattr(torch, name)(torch.tensor(x), 3)
        assert ours.dtype == np.int64, name
        np.testing.assert_array_equal(ours.array, theirs.numpy(), err_msg=name)


def test_floor_divide_rounds_down_and_round_is_half_even() -> None:
    x = np.array([-7.5, -2.5, -0.5, 0.5, 1.5, 2.5, 7.0])
    np.testing.assert_array_equal(tw.floor_divide(tw.tensor(x), 2.0).array,
                                  torch.floor_divide(torch.tensor(x), 2.0).numpy())
    np.testing.assert_array_equal(tw.round(tw.tensor(x)).array, torch.round(torch.tensor(x)).numpy())


def test_special_values_match_torch() -> None:
    x = np.array([-np.inf, -3.0, -2.0, -0.5, 0.0, 1.0, np.inf, np.nan])
    y = np.array([-1.0, -0.999999, -0.3, 0.0, 0.999, 1.0, 1.5, np.nan])
    for name, data in (("lgamma", x), ("digamma", x), ("erf", x), ("erfc", x), ("erfinv", y), ("sinc", x),
                       ("expm1", x), ("log1p", y)):
        ours = getattr(tw, name)(tw.tensor(data)).array
        theirs = getattr(torch, name)(torch.tensor(data)).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12, err_msg=name)


def test_tests_and_logic() -> None:
    a = np.array([[-1.0, 0.0, -0.0, np.inf], [np.nan, -np.inf, 2.0, 3.0]])
    b = np.array([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]])
    ta, tb = torch.tensor(a), torch.tensor(b)
    for name in ("signbit", "isinf", "isposinf", "isneginf", "logical_not", "count_nonzero", "all", "any"):
        ours, theirs = getattr(tw, name)(tw.tensor(a)), getattr(torch, name)(ta)
        np.testing.assert_array_equal(ours.array, theirs.numpy(), err_msg=name)
    for name in ("logical_and", "logical_or", "logical_xor"):
        np.testing.assert_array_equal(getattr(tw, name)(tw.tensor(a), tw.tensor(b)).array,
                                      getattr(torch, name)(ta, tb).numpy(), err_msg=name)
    for kw in ({"dim": 1}, {"dim": 0, "keepdim": True}, {"dim": -1}):
        np.testing.assert_array_equal(tw.all(tw.tensor(b), **kw).array, torch.all(tb, **kw).numpy())
        np.testing.assert_array_equal(tw.tensor(b).any(**kw).array, tb.any(**kw).numpy())
    np.testing.assert_array_equal(tw.count_nonzero(tw.tensor(b), dim=1).array, torch.count_nonzero(tb, dim=1).numpy())
    np.testing.assert_array_equal(tw.isclose(tw.tensor(a), tw.tensor(a + 1e-9), equal_nan=True).array,
                                  torch.isclose(ta, ta + 1e-9, equal_nan=True).numpy())
    i, j = np.array([5, -3, 12]), np.array([3, 6, 10])
    for name in ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift"):
        np.testing.assert_array_equal(getattr(tw, name)(tw.tensor(i), tw.tensor(j % 4)).array,
                                      getattr(torch, name)(torch.tensor(i), torch.tensor(j % 4)).numpy())
    np.testing.assert_array_equal(tw.bitwise_not(tw.tensor(i)).array, torch.bitwise_not(torch.tensor(i)).numpy())
    with pytest.raises(TypeError, match="bitwise_and"):
        tw.bitwise_and(tw.tensor([1.0]), tw.tensor([1.0]))
    with pytest.raises(IndexError, match="all"):
        tw.all(tw.tensor(b), dim=2)


def test_inplace_variants_bump_the_version_and_refuse_grad() -> None:
    x = tw.tensor([0.1, 0.5, 2.0])
    v = x._version
    assert x.sin_() is x and x._version == v + 1
    np.testing.assert_allclose(x.array, np.sin([0.1, 0.5, 2.0]).astype(np.float32))
    x.clamp_min_(0.3).mul_(2.0)
    np.testing.assert_allclose(x.array, np.maximum(np.sin([0.1, 0.5, 2.0]), 0.3).astype(np.float32) * 2, rtol=1e-6)
    p = tw.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="sin_"):
        p.sin_()
    with tw.no_grad():
        p.sin_()
