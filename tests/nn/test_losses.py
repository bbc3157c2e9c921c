"""Losses: torch parity (values and every gradient, float32 and float64), float64 gradchecks, errors."""

import numpy as np
import pytest

import thalweg as tw
import thalweg.nn.functional as F
from thalweg import nn
from thalweg.autograd import gradcheck

from core_helpers import assert_close, backward_both

RNG = np.random.default_rng(0)


def _logits(*shape):
    return RNG.standard_normal(shape) * 2


def _probs(*shape, axis=1):
    e = np.exp(RNG.standard_normal(shape))
    return e / e.sum(axis=axis, keepdims=True)


def _labels(C, *shape, ignore=None):
    t = RNG.integers(0, C, shape)
    if ignore is not None:
        t.reshape(-1)[::3] = ignore
    return t


def _unit(*shape):
    return RNG.uniform(0.05, 0.95, shape)


def _sign(*shape):
    return np.where(RNG.random(shape) < 0.5, -1.0, 1.0)


W4 = np.array([1.0, 2.0, 0.5, 3.0])
# (function name, positional arrays, which of them require grad, keyword arrays, keyword options)
CASES = [
    ("cross_entropy", [_logits(6, 4), _labels(4, 6)], [True, False], {}, {}),
    ("cross_entropy", [_logits(6, 4), _labels(4, 6)], [True, False], {}, {"reduction": "sum"}),
    ("cross_entropy", [_logits(6, 4), _labels(4, 6)], [True, False], {}, {"reduction": "none"}),
    ("cross_entropy", [_logits(6, 4), _labels(4, 6, ignore=-100)], [True, False], {}, {}),
    ("cross_entropy", [_logits(6, 4), _labels(4, 6, ignore=2)], [True, False], {"weight": W4},
     {"ignore_index": 2, "label_smoothing": 0.2}),
    ("cross_entropy", [_logits(6, 4), _labels(4, 6)], [True, False], {"weight": W4}, {"reduction": "none"}),
    ("cross_entropy", [_logits(6, 4), _labels(4, 6)], [True, False], {}, {"label_smoothing": 0.1}),
    ("cross_entropy", [_logits(3, 4, 2, 3), _labels(4, 3, 2, 3, ignore=-100)], [True, False], {"weight": W4},
     {"label_smoothing": 0.05}),
    ("cross_entropy", [_logits(3, 4, 5), _labels(4, 3, 5)], [True, False], {}, {"reduction": "none"}),
    ("cross_entropy", [_logits(4), np.array(2)], [True, False], {}, {}),
    ("cross_entropy", [_logits(4), np.array(2)], [True, False], {}, {"reduction": "none"}),
    ("cross_entropy", [_logits(5, 4), _probs(5, 4)], [True, True], {}, {}),
    ("cross_entropy", [_logits(5, 4), _probs(5, 4)], [True, True], {"weight": W4},
     {"label_smoothing": 0.3, "reduction": "sum"}),
    ("cross_entropy", [_logits(2, 4, 3), _probs(2, 4, 3)], [True, True], {}, {"reduction": "none"}),
    ("nll_loss", [_logits(6, 4), _labels(4, 6)], [True, False], {}, {}),
    ("nll_loss", [_logits(6, 4), _labels(4, 6, ignore=1)], [True, False], {"weight": W4}, {"ignore_index": 1}),
    ("nll_loss", [_logits(3, 4, 5), _labels(4, 3, 5)], [True, False], {}, {"reduction": "none"}),
    ("nll_loss", [_logits(6, 4), _labels(4, 6)], [True, False], {"weight": W4}, {"reduction": "sum"}),
    ("mse_loss", [_logits(4, 3), _logits(4, 3)], [True, True], {}, {}),
    ("mse_loss", [_logits(4, 3), _logits(4, 3)], [True, True], {}, {"reduction": "none"}),
    ("l1_loss", [_logits(4, 3), _logits(4, 3)], [True, True], {}, {"reduction": "sum"}),
    ("huber_loss", [_logits(5, 3), _logits(5, 3)], [True, True], {}, {}),
    ("huber_loss", [_logits(5, 3), _logits(5, 3)], [True, True], {}, {"delta": 0.5, "reduction": "none"}),
    ("smooth_l1_loss", [_logits(5, 3), _logits(5, 3)], [True, True], {}, {"beta": 0.7}),
    ("smooth_l1_loss", [_logits(5, 3), _logits(5, 3)], [True, True], {}, {"beta": 0.0, "reduction": "sum"}),
    ("binary_cross_entropy", [_unit(4, 3), _unit(4, 3)], [True, True], {}, {}),
    ("binary_cross_entropy", [_unit(4, 3), _unit(4, 3)], [True, True], {"weight": _unit(4, 3)},
     {"reduction": "none"}),
    ("binary_cross_entropy_with_logits", [_logits(4, 3), _unit(4, 3)], [True, True], {}, {}),
    ("binary_cross_entropy_with_logits", [_logits(4, 3), _unit(4, 3)], [True, True],
     {"weight": _unit(4, 3), "pos_weight": np.array([0.5, 2.0, 3.0])}, {"reduction": "sum"}),
    ("kl_div", [np.log(_probs(4, 5)), _probs(4, 5)], [True, True], {}, {"reduction": "batchmean"}),
    ("kl_div", [np.log(_probs(4, 5)), np.log(_probs(4, 5))], [True, True], {},
     {"log_target": True, "reduction": "sum"}),
    ("kl_div", [np.log(_probs(4, 5)), _probs(4, 5)], [True, True], {}, {"reduction": "none"}),
    ("cosine_similarity", [_logits(4, 5), _logits(4, 5)], [True, True], {}, {}),
    ("cosine_similarity", [_logits(2, 3, 4), _logits(3, 4)], [True, True], {}, {"dim": -1}),
    ("margin_ranking_loss", [_logits(6), _logits(6), _sign(6)], [True, True, False], {}, {"margin": 0.3}),
    ("margin_ranking_loss", [_logits(6), _logits(6), _sign(6)], [True, True, False], {}, {"reduction": "none"}),
]
IDS = [f"{c[0]}-{i}" for i, c in enumerate(CASES)]


def _run(module, name, arrays, grads, kw_arrays, options, dtype, make):
    inputs = [make(a.astype(dtype) if a.dtype.kind == "f" else a, g) for a, g in zip(arrays, grads)]
    kw = {k: make(v.astype(dtype), False) for k, v in kw_arrays.items()}
    return inputs, getattr(module, name)(*inputs, **kw, **options)


@pytest.mark.parametrize("name,arrays,grads,kw_arrays,options", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loss_matches_torch(name, arrays, grads, kw_arrays, options, dtype):
    torch = pytest.importorskip("torch")
    ins, out = _run(F, name, arrays, grads, kw_arrays, options, dtype,
                    lambda a, g: tw.tensor(a, requires_grad=g))
    ins_t, out_t = _run(torch.nn.functional, name, arrays, grads, kw_arrays, options, dtype,
                        lambda a, g: torch.tensor(a, requires_grad=g))
    assert out.dtype == dtype
    assert_close(out, out_t, dtype, "loss")
    backward_both(torch, out, out_t)
    for i, (a, b) in enumerate(zip(ins, ins_t)):
        if b.requires_grad:
            assert_close(a.grad, b.grad, dtype, f"grad of input {i}")


@pytest.mark.parametrize("name,arrays,grads,kw_arrays,options", CASES, ids=IDS)
def test_loss_gradcheck(name, arrays, grads, kw_arrays, options):
    ins = [tw.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    kw = {k: tw.tensor(v) for k, v in kw_arrays.items()}
    gradcheck(lambda *xs: getattr(F, name)(*xs, **kw, **options), ins)


def test_weights_of_binary_losses_are_differentiable_too():
    x, t = tw.tensor(_logits(3, 2)), tw.tensor(_unit(3, 2))
    w = tw.tensor(_unit(3, 2), requires_grad=True)
    pw = tw.tensor(np.array([0.5, 2.0]), requires_grad=True)
    gradcheck(lambda w, pw: F.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw), [w, pw])
    p = tw.tensor(_unit(3, 2))
    gradcheck(lambda w: F.binary_cross_entropy(p, t, weight=w), [w])


def test_cross_entropy_is_stable_for_huge_logits():
    torch = pytest.importorskip("torch")
    x = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 1e4], [5e3, 5e3 + 1, -3e3]], dtype=np.float32)
    y = np.array([1, 2, 0])
    xt = tw.tensor(x, requires_grad=True)
    loss = F.cross_entropy(xt, tw.tensor(y), label_smoothing=0.1)
    loss.backward()
    assert np.isfinite(loss.array) and np.isfinite(xt.grad).all()
    expected = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(y), label_smoothing=0.1)
    np.testing.assert_allclose(loss.array, expected.numpy(), rtol=1e-5)
    # -log softmax(x)_1 of the first row is 1e4 exactly; the gradient is softmax - onehot
    single = F.cross_entropy(tw.tensor(x[:1]), tw.tensor(y[:1]))
    assert single.item() == pytest.approx(1e4)


def test_cross_entropy_rejects_out_of_range_class_index():
    with pytest.raises(IndexError, match="target class index 5 is out of range for 4 classes"):
        F.cross_entropy(tw.randn(3, 4), tw.tensor([0, 5, 1]))
    with pytest.raises(IndexError, match="target class index -1 is out of range"):
        F.cross_entropy(tw.randn(3, 4), tw.tensor([0, -1, 1]))
    with pytest.raises(IndexError, match="nll_loss"):
        F.nll_loss(tw.randn(3, 4), tw.tensor([0, 4, 1]))


def test_loss_shape_and_option_errors():
    with pytest.raises(ValueError, match=r"target must have shape \(3,\), got \(4,\)"):
        F.cross_entropy(tw.randn(3, 4), tw.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.cross_entropy(tw.randn(3, 4), tw.tensor([0, 1, 2]), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(tw.randn(3, 4), tw.tensor([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"weight must have shape \(4,\)"):
        F.cross_entropy(tw.randn(3, 4), tw.tensor([0, 1, 2]), weight=tw.ones(3))
    with pytest.raises(ValueError, match="same as input shape"):
        F.binary_cross_entropy_with_logits(tw.randn(3, 1), tw.rand(3))
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(tw.tensor([0.5, 1.5]), tw.tensor([0.0, 1.0]))
    with pytest.warns(UserWarning, match="broadcast"):
        F.mse_loss(tw.randn(3, 1), tw.randn(3))
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="batchmean")


def test_cross_entropy_all_ignored_and_legacy_flags():
    torch = pytest.importorskip("torch")
    x = _logits(3, 4).astype(np.float32)
    t = np.array([-100, -100, -100])
    ours = F.cross_entropy(tw.tensor(x), tw.tensor(t))
    theirs = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t))
    assert np.isnan(ours.item()) and np.isnan(theirs.item())  # 0 / 0, as torch
    t = np.array([1, 2, 3])
    np.testing.assert_allclose(F.cross_entropy(tw.tensor(x), tw.tensor(t), size_average=False).array,
                               torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t),
                                                                 reduction="sum").numpy(), rtol=1e-6)


def test_cross_entropy_equals_log_softmax_then_nll():
    x = tw.tensor(_logits(5, 3), requires_grad=True)
    t = tw.tensor(_labels(3, 5))
    a = F.cross_entropy(x, t)
    b = F.nll_loss(F.log_softmax(x, dim=1), t)
    np.testing.assert_allclose(a.array, b.array, rtol=1e-12)


MODULES = [
    ("CrossEntropyLoss", {"weight": W4, "label_smoothing": 0.1, "ignore_index": 0}, [_logits(5, 4), _labels(4, 5)]),
    ("NLLLoss", {"weight": W4, "reduction": "sum"}, [_logits(5, 4), _labels(4, 5)]),
    ("MSELoss", {}, [_logits(3, 2), _logits(3, 2)]),
    ("L1Loss", {"reduction": "none"}, [_logits(3, 2), _logits(3, 2)]),
    ("HuberLoss", {"delta": 0.4}, [_logits(3, 2), _logits(3, 2)]),
    ("SmoothL1Loss", {"beta": 0.4}, [_logits(3, 2), _logits(3, 2)]),
    ("BCELoss", {"weight": _unit(3, 2)}, [_unit(3, 2), _unit(3, 2)]),
    ("BCEWithLogitsLoss", {"pos_weight": np.array([2.0, 0.5])}, [_logits(3, 2), _unit(3, 2)]),
    ("KLDivLoss", {"reduction": "batchmean", "log_target": True}, [np.log(_probs(3, 4)), np.log(_probs(3, 4))]),
    ("MarginRankingLoss", {"margin": 0.5}, [_logits(4), _logits(4), _sign(4)]),
    ("CosineSimilarity", {"dim": 0}, [_logits(4, 3), _logits(4, 3)]),
]


@pytest.mark.parametrize("name,options,arrays", MODULES, ids=[m[0] for m in MODULES])
def test_loss_modules_match_torch(name, options, arrays):
    torch = pytest.importorskip("torch")
    dtype = np.float32

    def conv(make):
        return {k: make(np.asarray(v, dtype=dtype)) if isinstance(v, np.ndarray) else v for k, v in options.items()}

    ours = getattr(nn, name)(**conv(tw.tensor))
    theirs = getattr(torch.nn, name)(**conv(torch.tensor))
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ins = [tw.tensor(a.astype(dtype) if a.dtype.kind == "f" else a, requires_grad=a.dtype.kind == "f") for a in arrays]
    ins_t = [torch.tensor(a.astype(dtype) if a.dtype.kind == "f" else a) for a in arrays]
    ins_t = [t.requires_grad_() if t.is_floating_point() else t for t in ins_t]
    out, out_t = ours(*ins), theirs(*ins_t)
    assert_close(out, out_t, dtype, name)
    backward_both(torch, out, out_t)
    for a, b in zip(ins, ins_t):
        if b.grad is not None:
            assert_close(a.grad, b.grad, dtype, f"{name} gradient")
