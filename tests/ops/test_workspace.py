"""Buffer ownership of the scratch pool (ops/workspace.py), and the ops that use it, under the poisoning debug mode.

The regression (issue 16, item 1): a stride-1 convolution with kernel width 1
and no bias returned a view of a pooled buffer and then gave the buffer back,
so the next convolution of the same geometry overwrote the first one's output
(two 1x1 heads multiplied: loss 10220.5 where torch gives 1534.6).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import thalweg as tw
import thalweg.nn.functional as F
from thalweg import nn
from thalweg.ops import workspace

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def poison():
    """Poisoning on (buffers given back or taken are NaN, every size is pooled) for one test."""
    previous = workspace.set_poison(True)
    workspace.clear()
    yield
    workspace.set_poison(previous)
    workspace.clear()


def grad_array(t) -> np.ndarray:
    return np.asarray(t.grad)


# ------------------------------------------------------------------ the pool's own rules
def test_give_refuses_a_buffer_viewed_by_a_live_array():
    a = workspace.take(np, (64, 1024), np.float32)  # 256 KiB: pooled
    out = a[:, :10]
    with pytest.raises(RuntimeError, match="shares memory"):
        workspace.give(a, alive=(out,))
    workspace.give(a, alive=(np.zeros(3), None))  # unrelated arrays and None are fine


def test_give_refuses_views_and_double_returns():
    a = workspace.take(np, (64, 1024), np.float64)
    with pytest.raises(RuntimeError, match="view"):
        workspace.give(a.reshape(-1))
    workspace.give(a)
    with pytest.raises(RuntimeError, match="twice"):
        workspace.give(a)
    workspace.clear()


def test_lease_refuses_a_buffer_viewed_by_the_output():
    a = workspace.take(np, (4, 4), np.float64)
    with pytest.raises(RuntimeError, match="Lease"):
        workspace.Lease(a, alive=(a[1],))


def test_poison_fills_given_and_taken_buffers(poison):
    a = workspace.take(np, (3, 4), np.float64)
    assert np.isnan(a).all()  # reading scratch memory before writing it shows NaN
    a[...] = 1.0
    alias = a[0]  # what a buggy op would hand to its caller
    workspace.give(a)
    assert np.isnan(alias).all()
    ints = workspace.take(np, (5,), np.int64)
    assert (ints == np.iinfo(np.int64).min).all()
    assert workspace.take(np, (3, 4), np.float64) is a  # small arrays are pooled too while poisoning


def test_poison_flag_comes_from_the_environment():
    code = "from thalweg.ops import workspace; print(workspace.poisoning())"
    env = dict(os.environ, THALWEG_POOL_POISON="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
    env["THALWEG_POOL_POISON"] = "0"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------ the regression, against torch
def test_two_1x1_conv_heads_multiplied_match_torch():
    """The issue's example, at full size (outputs of 64 KiB and more go through the pool)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    heads_t = [torch.nn.Conv2d(16, 16, 1, bias=False) for _ in range(2)]
    heads = [nn.Conv2d(16, 16, 1, bias=False) for _ in range(2)]
    for ours, theirs in zip(heads, heads_t):
        ours.load_state_dict(theirs.state_dict())
    x = np.random.default_rng(0).standard_normal((8, 16, 16, 16)).astype(np.float32)
    xo, xt = tw.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    loss = (heads[0](xo) * heads[1](xo)).sum()
    loss_t = (heads_t[0](xt) * heads_t[1](xt)).sum()
    loss.backward()
    loss_t.backward()
    np.testing.assert_allclose(loss.item(), loss_t.item(), rtol=1e-4)
    np.testing.assert_allclose(grad_array(xo), xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    for ours, theirs in zip(heads, heads_t):
        np.testing.assert_allclose(grad_array(ours.weight), theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-3)


# ------------------------------------------------------------------ every pooled op under poison, against torch
CONV_CASES = [
    # (x shape, w shape, kwargs): 1x1, k x 1, 1 x k, conv1d k=1, padding, stride, groups, dilation
    ((2, 4, 5, 6), (3, 4, 1, 1), {}),
    ((2, 4, 5, 6), (3, 4, 3, 1), {}),
    ((2, 4, 5, 6), (3, 4, 1, 3), {}),
    ((2, 4, 5, 6), (3, 4, 1, 1), {"padding": 1}),
    ((2, 4, 5, 6), (3, 4, 3, 3), {"padding": 1}),
    ((2, 4, 7, 6), (4, 2, 3, 2), {"stride": 2, "groups": 2}),
    ((2, 4, 7, 7), (3, 4, 2, 2), {"dilation": 2, "padding": (1, 0)}),
    ((1, 1, 1, 9), (1, 1, 1, 1), {"padding": (0, 2)}),  # one row, one channel: the slice is contiguous
    ((2, 3, 8), (5, 3, 1), {}),  # conv1d with k = 1
    ((2, 3, 8), (5, 3, 3), {"padding": 2}),
]


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"{c[0]}-{c[1]}-{sorted(c[2].items())}")
def test_conv_under_poison_matches_torch(poison, case, bias):
    torch = pytest.importorskip("torch")
    x_shape, w_shape, kwargs = case
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0]) if bias else None
    conv, conv_t = (F.conv1d, torch.nn.functional.conv1d) if len(x_shape) == 3 else \
        (F.conv2d, torch.nn.functional.conv2d)
    ours = [tw.tensor(a, requires_grad=True) if a is not None else None for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) if a is not None else None for a in (x, w, b)]
    # two calls of the same geometry alive at once, multiplied, as in the regression
    y1, y2 = conv(*ours, **kwargs), conv(ours[0] * 0.5, *ours[1:], **kwargs)
    t1, t2 = conv_t(*theirs, **kwargs), conv_t(theirs[0] * 0.5, *theirs[1:], **kwargs)
    np.testing.assert_allclose(y1.array, t1.detach().numpy(), rtol=1e-10, atol=1e-10)
    (y1 * y2).sum().backward()
    (t1 * t2).sum().backward()
    for a, at in zip(ours, theirs):
        if a is not None:
            np.testing.assert_allclose(grad_array(a), at.grad.numpy(), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_under_poison_matches_torch(poison, kind):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal((2, 3, 7, 7))
    xo, xt = tw.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours = getattr(F, f"{kind}_pool2d")
    theirs = getattr(torch.nn.functional, f"{kind}_pool2d")
    y1, y2 = ours(xo, 3, stride=2, padding=1), ours(xo * 2.0, 3, stride=2, padding=1)
    t1, t2 = theirs(xt, 3, stride=2, padding=1), theirs(xt * 2.0, 3, stride=2, padding=1)
    np.testing.assert_allclose(y1.array, t1.detach().numpy(), rtol=1e-12)
    (y1 * y2).sum().backward()
    (t1 * t2).sum().backward()
    np.testing.assert_allclose(grad_array(xo), xt.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("packed", [False, True])
def test_recurrent_under_poison_matches_torch(poison, kind, packed):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = getattr(torch.nn, kind)(3, 4, num_layers=2, bidirectional=True).double()
    ours = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True, dtype=np.float64)
    ours.load_state_dict(theirs.state_dict())
    x = np.random.default_rng(3).standard_normal((5, 2, 3))
    xo, xt = tw.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)

    lengths = [5, 3] if packed else None

    def run_ours(inp):
        return ours(inp, lengths=lengths)[0]

    def run_torch(inp):
        if not packed:
            return theirs(inp)[0]
        utils = torch.nn.utils.rnn
        seq = utils.pack_padded_sequence(inp, lengths, enforce_sorted=False)
        return utils.pad_packed_sequence(theirs(seq)[0], total_length=5)[0]

    y1, y2 = run_ours(xo), run_ours(xo * 0.5)
    t1, t2 = run_torch(xt), run_torch(xt * 0.5)
    np.testing.assert_allclose(y1.array, t1.detach().numpy(), rtol=1e-10, atol=1e-12)
    (y1 * y2).sum().backward()
    (t1 * t2).sum().backward()
    np.testing.assert_allclose(grad_array(xo), xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    named_t = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(grad_array(p), named_t[name].grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=name)


@pytest.mark.slow
def test_conv_pool_recurrent_test_modules_pass_under_poison():
    """Run the layers' own test modules again with THALWEG_POOL_POISON=1 (a fresh process reads the flag)."""
    modules = ["tests/nn/test_conv.py", "tests/nn/test_pool.py", "tests/nn/test_rnn.py", "tests/nn/test_lstm.py",
               "tests/nn/test_gru.py", "tests/nn/test_bptt.py"]
    env = dict(os.environ, THALWEG_POOL_POISON="1")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:xdist", "-q", "-x", "-W", "ignore",
                           "-p", "no:cacheprovider", *modules], cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
