"""Edge cases where a naive formula goes wrong: zeros, infinities, ties, tails, 0-d tensors.

Each is compared with torch 2.13, which defines the value or the subgradient.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pytest

import thalweg as tw

torch = pytest.importorskip("torch")
inf, nan = float("inf"), float("nan")


def both(fn: Callable[..., Any], fn_t: Callable[..., Any], *values: Any, dtype: Any = np.float64) -> None:
    """Compare value and gradients of fn (thalweg) and fn_t (torch), NaNs included."""
    xs = [tw.tensor(np.array(v, dtype=dtype), requires_grad=True) for v in values]
    xts = [torch.tensor(np.array(v, dtype=dtype), requires_grad=True) for v in values]
    out, out_t = fn(*xs), fn_t(*xts)
    assert out.dtype == np.dtype(dtype)
    tol = dict(rtol=1e-6, atol=0) if np.dtype(dtype) == np.float64 else dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), equal_nan=True, **tol)
    out.sum().backward()
    out_t.sum().backward()
    for x, xt in zip(xs, xts):
        assert isinstance(x.grad.array, np.ndarray) and x.grad.dtype == np.dtype(dtype)
        np.testing.assert_allclose(x.grad, xt.grad.numpy(), equal_nan=True, **tol)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_pow_at_zero_and_negative_base() -> None:
    base = [0.0, 0.0, 2.0, -2.0, 0.0, -3.0]
    expo = [0.0, 2.0, 0.0, 0.5, -1.0, 2.0]
    both(lambda a, b: a ** b, lambda a, b: a ** b, base, expo)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_pow_scalar_exponent_zero_and_python_base() -> None:
    both(lambda a: a ** 0, lambda a: a ** 0, [0.0, 1.5])
    both(lambda a: a ** 0.5, lambda a: a ** 0.5, [0.0, 4.0])
    both(lambda a: 0.0 ** a, lambda a: 0.0 ** a, [0.0, 1.0, 2.0])
    both(lambda a: 2.5 ** a, lambda a: 2.5 ** a, [-1.0, 0.0, 3.0])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the test's own sum of -inf and inf rows
def test_logsumexp_with_infinities() -> None:
    both(lambda a: a.logsumexp(axis=1), lambda a: a.logsumexp(dim=1),
         [[-inf, 0.0, 1.0], [-inf, -inf, -inf], [inf, 1.0, 2.0]])


def test_softmax_with_masked_entries() -> None:
    x = [[-inf, 0.5, 1.0], [2.0, -inf, -inf]]
    both(lambda a: a.softmax(dim=1) * 1.5, lambda a: a.softmax(dim=1) * 1.5, x)
    both(lambda a: a.log_softmax(dim=1).clamp(min=-50.0), lambda a: a.log_softmax(dim=1).clamp(min=-50.0), x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_forms_for_large_inputs(dtype: Any) -> None:
    big = [-1000.0, -80.0, -20.0, 0.0, 20.0, 80.0, 1000.0]
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow inside the stable forms
        both(lambda a: a.sigmoid(), lambda a: a.sigmoid(), big, dtype=dtype)
        both(lambda a: a.softplus(), lambda a: torch.nn.functional.softplus(a), big, dtype=dtype)
        both(lambda a: a.log_softmax(dim=0), lambda a: a.log_softmax(dim=0), big, dtype=dtype)
        both(lambda a: a.logsumexp(axis=0), lambda a: a.logsumexp(dim=0), big, dtype=dtype)


def test_sigmoid_tail_is_relatively_accurate() -> None:
    x = np.array([-40.0, -100.0, -700.0])
    ours = tw.tensor(x).sigmoid().numpy()
    np.testing.assert_allclose(ours, torch.sigmoid(torch.tensor(x)).numpy(), rtol=1e-12)
    assert tw.tensor(np.float32(-20.0)).sigmoid().item() > 0  # the tanh form rounded this to 0


def test_std_of_constant_has_zero_gradient() -> None:
    both(lambda a: a.std(), lambda a: a.std(), [1.5, 1.5, 1.5])
    both(lambda a: a.std(dim=1), lambda a: a.std(dim=1), [[1.0, 1.0], [1.0, 3.0]])


@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")
def test_var_of_one_element_is_nan_as_in_torch() -> None:
    both(lambda a: a.var(), lambda a: a.var(), [2.0])


def test_prod_with_zeros() -> None:
    both(lambda a: a.prod(), lambda a: a.prod(), [0.0, 2.0, 3.0])
    both(lambda a: a.prod(), lambda a: a.prod(), [0.0, 2.0, 0.0])
    both(lambda a: a.prod(axis=1), lambda a: a.prod(dim=1), [[0.0, 2.0, -1.5], [1.0, 2.0, 3.0]])


def test_norm_at_zero_has_zero_gradient() -> None:
    both(lambda a: a.norm(), lambda a: torch.linalg.vector_norm(a), [0.0, 0.0])


def test_relu_at_infinities_and_nan() -> None:
    both(lambda a: a.relu(), lambda a: a.relu(), [-inf, -1.0, 0.0, 2.0, inf, nan])


def test_subgradients_at_kinks_follow_torch() -> None:
    both(lambda a: a.abs(), lambda a: a.abs(), [0.0, -1.0])
    both(lambda a: a.clamp(0.0, 1.0), lambda a: a.clamp(0.0, 1.0), [0.0, 0.5, 1.0, 2.0])
    both(lambda a: a.max(), lambda a: a.max(), [1.0, 3.0, 3.0])  # ties share
    both(lambda a: a.max(dim=0)[0], lambda a: a.max(dim=0)[0], [1.0, 3.0, 3.0])  # the index wins
    both(lambda a, b: tw.maximum(a, b), lambda a, b: torch.maximum(a, b), [1.0, 2.0], [1.0, 0.0])
    both(lambda a, b: tw.minimum(a, b), lambda a, b: torch.minimum(a, b), [1.0, 2.0], [1.0, 0.0])
    both(lambda a: a.relu(), lambda a: a.relu(), [0.0])
    both(lambda a: a.leaky_relu(0.2), lambda a: torch.nn.functional.leaky_relu(a, 0.2), [0.0, -1.0])
    both(lambda a: a.elu(), lambda a: torch.nn.functional.elu(a), [0.0, -1.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_dimensional_tensors(dtype: Any) -> None:
    for fn, fn_t in [(lambda a: a * a, lambda a: a * a), (lambda a: a.gelu(), torch.nn.functional.gelu),
                     (lambda a: a.sum(), lambda a: a.sum()), (lambda a: a.sum(dim=0), lambda a: a.sum(dim=0)),
                     (lambda a: a.exp() + a, lambda a: a.exp() + a), (lambda a: a.reshape(1), lambda a: a.reshape(1)),
                     (lambda a: a.var(correction=0), lambda a: a.var(correction=0))]:
        both(fn, fn_t, 0.7, dtype=dtype)


def test_full_reductions_hold_arrays_not_scalars() -> None:
    x = tw.randn(3, 4, requires_grad=True)
    for y in (x.sum(), x.mean(), x.var(), x.std(), x.max(), x.logsumexp(), x.prod(), x.norm(), x.sum(dim=(0, 1))):
        assert type(y.array) is np.ndarray and y.shape == ()
        y.backward()
        assert type(x.grad.array) is np.ndarray


def test_gelu_exact_float32_matches_torch() -> None:
    x = np.linspace(-6, 6, 101).astype(np.float32)
    both(lambda a: a.gelu(), torch.nn.functional.gelu, x, dtype=np.float32)


def test_gelu_exact_is_accurate_in_the_left_tail() -> None:
    """x Phi(x) via erfc: accurate where 1 + erf(x / sqrt 2) would cancel (float32, x = -5)."""
    x = np.array([-5.0, -8.0, -12.0])
    exact = x * 0.5 * np.array([math.erfc(-v / math.sqrt(2.0)) for v in x])
    np.testing.assert_allclose(tw.tensor(x.astype(np.float32)).gelu().numpy(), exact, rtol=1e-5)
    np.testing.assert_allclose(tw.tensor(x).gelu().numpy(), exact, rtol=1e-13)


@pytest.mark.parametrize("exponent", [3.0, 3, -2.0, -2, -0.5, 4.0, 2.5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pow_by_multiplication_matches_torch_with_its_edge_values(exponent, dtype):
    # 3 and -2 by multiplication and -0.5 by 1/sqrt (NumPy's pow is slow there); the rest by NumPy's power
    torch = pytest.importorskip("torch")
    x = np.array([-2.5, -1.0, -0.0, 0.0, 0.3, 1.0, 7.0, np.inf, -np.inf, np.nan], dtype=dtype)
    ours = tw.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    y, yt = tw.pow(ours, exponent), torch.pow(theirs, exponent)
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-6)
    with np.errstate(invalid="ignore"):
        g = np.linspace(0.5, 1.5, x.size).astype(dtype)
    y.backward(tw.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-6)
    assert y.dtype == ours.dtype


@pytest.mark.parametrize("exponent", [3.0, -2.0, -0.5])
def test_pow_by_multiplication_gradcheck(exponent):
    x = tw.tensor(np.random.default_rng(0).uniform(0.5, 2.0, (3, 4)), requires_grad=True)
    assert tw.autograd.gradcheck(lambda t: tw.pow(t, exponent), (x,))
    assert tw.autograd.gradgradcheck(lambda t: tw.pow(t, exponent), (x,))
