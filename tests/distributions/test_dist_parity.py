"""tw.distributions against torch.distributions: log_prob, entropy, moments and KL,
their values and their gradients (float64 and float32), plus float64 gradchecks."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg as tw
from thalweg.autograd import gradcheck
from thalweg.distributions import Bernoulli, Categorical, Normal, kl_divergence

torch = pytest.importorskip("torch")

DTYPES = [np.float64, np.float32]
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-6)}


def pair(a: np.ndarray, *, grad: bool = True):
    """The same array as a thalweg leaf and a torch leaf."""
    return tw.tensor(a.copy(), requires_grad=grad), torch.tensor(a.copy(), requires_grad=grad)


def backward_weighted(out_tw, out_t, seed: int = 0) -> None:
    """Backpropagate sum(w * out) with the same random w in both frameworks (every element matters)."""
    w = np.random.default_rng(seed).standard_normal(out_tw.shape).astype(out_tw.dtype)
    (out_tw * tw.tensor(w)).sum().backward()
    (out_t * torch.tensor(w)).sum().backward()


def close(a, b, dtype) -> None:
    a = np.asarray(a.array if isinstance(a, tw.Tensor) else a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert a.dtype == np.dtype(dtype), f"dtype {a.dtype}, expected {np.dtype(dtype)}"
    np.testing.assert_allclose(a, b, **TOL[dtype])


def grads_close(leaves, dtype) -> None:
    for mine, ref in leaves:
        assert mine.grad is not None and ref.grad is not None
        close(mine.grad, ref.grad, dtype)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ------------------------------------------------------------------ Normal
@pytest.mark.parametrize("dtype", DTYPES)
def test_normal_log_prob_entropy_moments_match_torch(dtype):
    g = rng(1)
    loc, tloc = pair(g.standard_normal((3, 4)).astype(dtype))
    scale, tscale = pair(g.uniform(0.3, 2.0, (4,)).astype(dtype))
    x, tx = pair(g.standard_normal((2, 3, 4)).astype(dtype))
    d, td = Normal(loc, scale), torch.distributions.Normal(tloc, tscale)
    assert d.batch_shape == tuple(td.batch_shape) == (3, 4)
    assert d.event_shape == tuple(td.event_shape) == ()
    lp, tlp = d.log_prob(x), td.log_prob(tx)
    close(lp, tlp, dtype)
    backward_weighted(lp, tlp)
    grads_close([(loc, tloc), (scale, tscale), (x, tx)], dtype)

    for attr in ("mean", "variance", "stddev"):
        close(getattr(d, attr), getattr(td, attr), dtype)
    loc.grad = scale.grad = None
    tloc.grad = tscale.grad = None
    # a fresh pair: the first backward freed the graph built in the constructor (as torch does)
    d, td = Normal(loc, scale), torch.distributions.Normal(tloc, tscale)
    h, th = d.entropy(), td.entropy()
    close(h, th, dtype)
    backward_weighted(h, th, seed=3)
    close(scale.grad, tscale.grad, dtype)


def test_normal_scalar_parameters_give_empty_batch_shape():
    d = Normal(0.5, 2.0)
    td = torch.distributions.Normal(0.5, 2.0)
    assert d.batch_shape == tuple(td.batch_shape) == ()
    close(d.log_prob(1.25), td.log_prob(torch.tensor(1.25)), np.float32)


@pytest.mark.parametrize("dtype", DTYPES)
def test_normal_kl_matches_torch(dtype):
    g = rng(2)
    arrays = [g.standard_normal(5), g.uniform(0.2, 2, 5), g.standard_normal(5), g.uniform(0.2, 2, 5)]
    tws, ts = zip(*(pair(a.astype(dtype)) for a in arrays))
    kl = kl_divergence(Normal(tws[0], tws[1]), Normal(tws[2], tws[3]))
    tkl = torch.distributions.kl_divergence(torch.distributions.Normal(ts[0], ts[1]),
                                            torch.distributions.Normal(ts[2], ts[3]))
    close(kl, tkl, dtype)
    backward_weighted(kl, tkl)
    grads_close(list(zip(tws, ts)), dtype)


def test_normal_gradcheck():
    g = rng(3)
    loc = tw.tensor(g.standard_normal(4), requires_grad=True)
    scale = tw.tensor(g.uniform(0.5, 2, 4), requires_grad=True)
    x = tw.tensor(g.standard_normal((3, 4)), requires_grad=True)
    gradcheck(lambda m, s, v: Normal(m, s).log_prob(v), [loc, scale, x])
    gradcheck(lambda s: Normal(0.0, s).entropy(), [scale])
    loc2 = tw.tensor(g.standard_normal(4), requires_grad=True)
    scale2 = tw.tensor(g.uniform(0.5, 2, 4), requires_grad=True)
    gradcheck(lambda a, b, c, d: kl_divergence(Normal(a, b), Normal(c, d)), [loc, scale, loc2, scale2])


# ---------------------------------------------------------------- Categorical
@pytest.mark.parametrize("dtype", DTYPES)
def test_categorical_from_logits_matches_torch(dtype):
    g = rng(4)
    logits, tlogits = pair((2 * g.standard_normal((3, 5))).astype(dtype))
    d = Categorical(logits=logits)
    td = torch.distributions.Categorical(logits=tlogits)
    assert d.batch_shape == tuple(td.batch_shape) == (3,)
    close(d.logits, td.logits, dtype)
    close(d.probs, td.probs, dtype)
    value = np.array([[0, 4, 2], [1, 1, 3]])  # (2, 3): sample dims in front of the batch
    lp, tlp = d.log_prob(tw.tensor(value)), td.log_prob(torch.tensor(value))
    close(lp, tlp, dtype)
    backward_weighted(lp, tlp)
    grads_close([(logits, tlogits)], dtype)

    logits.grad, tlogits.grad = None, None
    d = Categorical(logits=logits)
    td = torch.distributions.Categorical(logits=tlogits)
    h, th = d.entropy(), td.entropy()
    close(h, th, dtype)
    backward_weighted(h, th, seed=5)
    grads_close([(logits, tlogits)], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_categorical_from_probs_matches_torch(dtype):
    g = rng(5)
    probs, tprobs = pair(g.uniform(0.1, 3.0, (2, 4)).astype(dtype))  # unnormalised weights
    d = Categorical(probs=probs)
    td = torch.distributions.Categorical(probs=tprobs)
    close(d.probs, td.probs, dtype)
    close(d.logits, td.logits, dtype)
    value = np.array([[3], [0], [2]])  # (3, 1) broadcasts with batch (2,) to (3, 2)
    lp, tlp = d.log_prob(value), td.log_prob(torch.tensor(value))
    assert lp.shape == (3, 2)
    close(lp, tlp, dtype)
    h, th = d.entropy(), td.entropy()
    backward_weighted(lp + h, tlp + th)
    grads_close([(probs, tprobs)], dtype)


def test_categorical_entropy_with_zero_probability_class():
    p = np.array([[0.5, 0.0, 0.5], [0.2, 0.3, 0.5]])
    close(Categorical(probs=tw.tensor(p)).entropy(), torch.distributions.Categorical(probs=torch.tensor(p)).entropy(),
          np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
def test_categorical_kl_matches_torch(dtype):
    g = rng(6)
    a, ta = pair(g.standard_normal((3, 4)).astype(dtype))
    b, tb = pair(g.standard_normal((4,)).astype(dtype))  # q broadcasts against p's batch
    kl = kl_divergence(Categorical(logits=a), Categorical(logits=b))
    tkl = torch.distributions.kl_divergence(torch.distributions.Categorical(logits=ta),
                                            torch.distributions.Categorical(logits=tb))
    close(kl, tkl, dtype)
    backward_weighted(kl, tkl)
    grads_close([(a, ta), (b, tb)], dtype)


def test_categorical_kl_with_zeros_is_inf_or_skips_like_torch():
    p = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    q = np.array([[0.5, 0.0, 0.5], [0.3, 0.3, 0.4]])
    kl = kl_divergence(Categorical(probs=tw.tensor(p)), Categorical(probs=tw.tensor(q)))
    tkl = torch.distributions.kl_divergence(torch.distributions.Categorical(probs=torch.tensor(p)),
                                            torch.distributions.Categorical(probs=torch.tensor(q)))
    assert np.isinf(kl.array[0]) and np.isinf(tkl[0].item())
    close(kl[1:], tkl[1:], np.float64)


def test_categorical_gradcheck():
    g = rng(7)
    logits = tw.tensor(g.standard_normal((3, 4)), requires_grad=True)
    other = tw.tensor(g.standard_normal((3, 4)), requires_grad=True)
    probs = tw.tensor(g.uniform(0.2, 1.0, (3, 4)), requires_grad=True)
    idx = tw.tensor([[1, 0, 3], [2, 2, 0]])
    gradcheck(lambda l: Categorical(logits=l).log_prob(idx), [logits])
    gradcheck(lambda p: Categorical(probs=p).log_prob(idx), [probs])
    gradcheck(lambda l: Categorical(logits=l).entropy(), [logits])
    gradcheck(lambda p: Categorical(probs=p).entropy(), [probs])
    gradcheck(lambda a, b: kl_divergence(Categorical(logits=a), Categorical(logits=b)), [logits, other])


# ------------------------------------------------------------------ Bernoulli
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("param", ["logits", "probs"])
def test_bernoulli_matches_torch(dtype, param):
    g = rng(8)
    raw = g.standard_normal((2, 3)) * 2 if param == "logits" else g.uniform(0.05, 0.95, (2, 3))
    a, ta = pair(raw.astype(dtype))
    d = Bernoulli(**{param: a})
    td = torch.distributions.Bernoulli(**{param: ta})
    assert d.batch_shape == tuple(td.batch_shape) == (2, 3)
    for attr in ("probs", "logits", "mean", "variance", "stddev"):
        close(getattr(d, attr), getattr(td, attr), dtype)
    value = (g.random((4, 2, 3)) < 0.5).astype(dtype)
    lp, tlp = d.log_prob(tw.tensor(value)), td.log_prob(torch.tensor(value))
    close(lp, tlp, dtype)
    h, th = d.entropy(), td.entropy()
    close(h, th, dtype)
    backward_weighted(lp.sum(0) + h, tlp.sum(0) + th)
    grads_close([(a, ta)], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bernoulli_kl_matches_torch(dtype):
    g = rng(9)
    a, ta = pair(g.uniform(0.05, 0.95, 6).astype(dtype))
    b, tb = pair(g.standard_normal(6).astype(dtype))
    kl = kl_divergence(Bernoulli(probs=a), Bernoulli(logits=b))
    tkl = torch.distributions.kl_divergence(torch.distributions.Bernoulli(probs=ta),
                                            torch.distributions.Bernoulli(logits=tb))
    close(kl, tkl, dtype)
    backward_weighted(kl, tkl)
    grads_close([(a, ta), (b, tb)], dtype)


def test_bernoulli_kl_edge_probabilities_like_torch():
    p = np.array([0.0, 1.0, 0.3, 0.4])
    q = np.array([0.5, 0.5, 0.0, 1.0])
    kl = kl_divergence(Bernoulli(probs=tw.tensor(p)), Bernoulli(probs=tw.tensor(q)))
    tkl = torch.distributions.kl_divergence(torch.distributions.Bernoulli(probs=torch.tensor(p)),
                                            torch.distributions.Bernoulli(probs=torch.tensor(q)))
    np.testing.assert_allclose(kl.array, tkl.numpy(), rtol=1e-12)
    assert np.isinf(kl.array[2:]).all()


def test_bernoulli_gradcheck():
    g = rng(10)
    logits = tw.tensor(g.standard_normal(5), requires_grad=True)
    probs = tw.tensor(g.uniform(0.1, 0.9, 5), requires_grad=True)
    value = tw.tensor([0.0, 1.0, 1.0, 0.0, 1.0], dtype=tw.float64)
    gradcheck(lambda l: Bernoulli(logits=l).log_prob(value), [logits])
    gradcheck(lambda p: Bernoulli(probs=p).log_prob(value), [probs])
    gradcheck(lambda l: Bernoulli(logits=l).entropy(), [logits])
    gradcheck(lambda p, l: kl_divergence(Bernoulli(probs=p), Bernoulli(logits=l)), [probs, logits])


def test_bernoulli_logit_zero_has_the_right_gradient():
    """probs=0.5 gives logit exactly 0, where |x|-based formulas get the wrong gradient."""
    logits = tw.tensor([0.0, 0.0], dtype=tw.float64, requires_grad=True)
    Bernoulli(logits=logits).log_prob(tw.tensor([1.0, 0.0], dtype=tw.float64)).sum().backward()
    np.testing.assert_allclose(logits.grad, [0.5, -0.5])
