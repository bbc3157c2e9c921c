"""The backward pass: reverse topological order, accumulation, freeing, gradient ownership."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import thalweg as tw
from thalweg.autograd import gradcheck


def test_chain_of_100000_nodes_has_no_recursion_error() -> None:
    x = tw.tensor([1.0, 2.0], requires_grad=True)
    y = x
    n = 100_000
    assert n > sys.getrecursionlimit()
    for _ in range(n):
        y = y + 1.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])
    np.testing.assert_array_equal(y.numpy(), [n + 1.0, n + 2.0])


def test_a_tensor_used_many_times_gets_the_sum() -> None:
    x = tw.tensor(3.0, requires_grad=True)
    y = x * x + x * 2.0 + x + x - x / 4.0  # dy/dx = 2x + 2 + 1 + 1 - 1/4
    y.backward()
    assert x.grad == pytest.approx(2 * 3.0 + 3.75)
    w = tw.tensor(np.arange(3.0), requires_grad=True)
    total = w.sum()
    for _ in range(49):
        total = total + w.sum()
    total.backward()
    np.testing.assert_array_equal(w.grad, [50.0, 50.0, 50.0])


def test_diamond_graph() -> None:
    """x -> (a, b) -> c: the gradient of x is complete before it is used (reverse topological order)."""
    x = tw.tensor([0.5, -1.0], dtype=tw.float64, requires_grad=True)

    def diamond(x: tw.Tensor) -> tw.Tensor:
        top = x.tanh()
        left = top * 3.0
        right = top.exp()
        return (left * right + left).sum()

    diamond(x).backward()
    t = np.tanh(x.numpy())
    expected = (3 * np.exp(t) + 3 * t * np.exp(t) + 3) * (1 - t * t)
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12)
    assert gradcheck(diamond, [tw.tensor([0.5, -1.0], dtype=tw.float64, requires_grad=True)])


def test_graph_mixing_broadcasting_and_fancy_indexing() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    emb, w, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    tokens = np.array([[0, 4, 4], [2, 0, 4]])  # repeated rows
    gold = np.array([1, 3])

    def model(lib, emb, w, b, idx, gold):  # the same code for both libraries
        h = emb[idx]  # (2, 3, 3) fancy indexing with repeats
        logits = (h @ w + b).mean(1)  # broadcast bias, batched matmul
        logp = logits.log_softmax(dim=1)
        return -(logp[lib.arange(2), gold]).sum()  # pick the gold class

    ours = [tw.tensor(a, requires_grad=True) for a in (emb, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (emb, w, b)]
    loss = model(tw, *ours, tw.tensor(tokens), tw.tensor(gold))
    loss_t = model(torch, *theirs, torch.tensor(tokens), torch.tensor(gold))
    loss.backward()
    loss_t.backward()
    assert loss.item() == pytest.approx(loss_t.item(), rel=1e-12)
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a.grad, t.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert np.all(ours[0].grad[[1, 3]] == 0)  # rows never picked get nothing
    fresh = [tw.tensor(a, requires_grad=True) for a in (emb, w, b)]
    assert gradcheck(lambda e, w_, b_: model(tw, e, w_, b_, tw.tensor(tokens), tw.tensor(gold)), fresh)


def test_gradients_accumulate_across_backward_calls() -> None:
    x = tw.tensor([1.0, 2.0], requires_grad=True)
    (x * 3.0).sum().backward()
    first = x.grad
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0 + 2.0, 3.0 + 4.0])
    assert x.grad is first  # accumulated in place, like torch
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


def test_retain_graph_and_the_freed_graph_error() -> None:
    x = tw.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad, [4.0, 8.0])
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*retain_graph=True"):
        y.backward()
    z = x.exp()
    a, b = z.sum(), (z * 2.0).sum()
    a.backward()  # frees the shared node z
    with pytest.raises(RuntimeError, match="second time"):
        b.backward()


def test_backward_errors_are_clear() -> None:
    x = tw.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        x.sum().backward()
    with tw.no_grad():
        y = tw.tensor([1.0], requires_grad=True) * 2.0
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()
    z = tw.tensor([1.0, 2.0], requires_grad=True) * 2.0
    with pytest.raises(RuntimeError, match=r"only for scalar outputs.*\(2,\)"):
        z.backward()
    with pytest.raises(RuntimeError, match="gradient has shape"):
        z.backward(tw.ones(3))


def test_non_scalar_backward_with_gradient() -> None:
    x = tw.tensor([1.0, 2.0, 3.0], requires_grad=True)
    seed = np.array([1.0, 0.5, -1.0], dtype=np.float32)
    (x * x).backward(seed)
    np.testing.assert_array_equal(x.grad, 2 * x.numpy() * seed)
    seed[:] = 0  # the engine copied the seed
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, -6.0])
    x.grad = None
    (x * 2.0).backward(tw.ones(3))
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])


def test_backward_on_a_leaf() -> None:
    x = tw.tensor([1.0, 2.0], requires_grad=True)
    x.backward(np.array([3.0, 4.0]))
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


def test_leaf_gradients_never_alias_each_other_or_the_seed() -> None:
    a = tw.tensor([1.0, 2.0], requires_grad=True)
    b = tw.tensor([3.0, 4.0], requires_grad=True)
    seed = np.array([1.0, 1.0], dtype=np.float32)
    (a + b).backward(seed)  # Add hands the same array to both inputs
    assert a.grad is not b.grad and not np.shares_memory(a.grad, b.grad)
    a.grad += 10.0
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])
    np.testing.assert_array_equal(seed, [1.0, 1.0])


def test_leaf_gradient_does_not_alias_a_pending_gradient() -> None:
    """x gets d(out)/dx first from Add; the same array flows on to h = x * 2, which x receives again."""
    x = tw.tensor([1.0, 2.0], requires_grad=True)
    h = x.reshape(2) * 2.0
    out = x + h  # x's first gradient is the very array that is h's pending gradient
    out.backward(np.ones(2, dtype=np.float32))
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])
    c = tw.tensor([1.0, 2.0], requires_grad=True)
    d = tw.tensor([1.0, 2.0], requires_grad=True)
    y = c.clone() + d  # Clone passes its incoming gradient through unchanged
    (y + c).backward(np.ones(2, dtype=np.float32))
    np.testing.assert_array_equal(c.grad, [2.0, 2.0])
    np.testing.assert_array_equal(d.grad, [1.0, 1.0])
    assert not np.shares_memory(c.grad, d.grad)


def test_views_and_broadcast_gradients_are_copied_into_grad() -> None:
    x = tw.tensor([[1.0, 2.0]], requires_grad=True)
    x.sum().backward()  # Sum's backward is a read-only broadcast view
    assert x.grad.array.flags.writeable and x.grad.array.flags.owndata
    x.grad[...] = 0  # zero_grad(set_to_none=False) style works
    w = tw.tensor(np.ones((2, 3)), requires_grad=True)
    parts = w.reshape(6).split(3)
    (parts[0].sum() + parts[1].sum() * 2.0).backward()
    assert w.grad.array.flags.writeable
    np.testing.assert_array_equal(w.grad, [[1, 1, 1], [2, 2, 2]])


@pytest.mark.parametrize("dtype", [tw.float32, tw.float64])
def test_gradients_keep_the_leaf_dtype(dtype: np.dtype) -> None:
    x = tw.randn(3, 4, dtype=dtype, requires_grad=True)
    w = tw.randn(4, 2, dtype=dtype, requires_grad=True)
    loss = ((x @ w).tanh() * 0.5 + 1.0).log_softmax(dim=1).mean() * 2
    assert loss.dtype == dtype
    loss.backward()
    assert x.grad.dtype == dtype and w.grad.dtype == dtype


def test_mixed_precision_graph_gives_each_leaf_its_own_dtype() -> None:
    a = tw.ones(3, dtype=tw.float32, requires_grad=True)
    b = tw.ones(3, dtype=tw.float64, requires_grad=True)
    (a * b).sum().backward()  # float32 * float64 tensors -> float64 (both explicit tensors)
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_zero_dimensional_gradients_are_arrays() -> None:
    x = tw.tensor(2.0, requires_grad=True)
    (x * x).backward()
    assert type(x.grad.array) is np.ndarray and x.grad.shape == () and x.grad == 4.0
    y = tw.tensor(2.0, requires_grad=True)
    (y * tw.ones(2, 3)).sum().backward()  # un-broadcasting sums everything away
    assert type(y.grad.array) is np.ndarray and y.grad.shape == () and y.grad == 6.0
    y.grad += 1.0
    assert y.grad == 7.0


def test_retain_grad_and_hooks() -> None:
    x = tw.tensor([1.0, -2.0], requires_grad=True)
    h = x * 3.0
    h.retain_grad()
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.clone()))
    doubled = h.register_hook(lambda g: g * 2)  # replaces h's gradient on its way down
    (h * h).sum().backward()
    np.testing.assert_array_equal(h.grad, 2 * h.numpy() * 2)  # retained after its hook ran
    np.testing.assert_array_equal(x.grad, 2 * h.numpy() * 2 * 3)
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], x.grad)
    handle.remove()
    doubled.remove()
    x.grad = None
    (x * 1.0).sum().backward()
    assert len(seen) == 1
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        tw.ones(2).register_hook(print)


def test_leaf_hook_sees_the_total_of_a_pass() -> None:
    x = tw.tensor([1.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(float(g[0])))
    (x * 2.0 + x * 3.0).sum().backward()
    assert seen == [5.0] and x.grad[0] == 5.0


def test_autograd_grad_leaves_grad_untouched() -> None:
    x = tw.tensor([1.0, 2.0], requires_grad=True)
    w = tw.tensor([3.0, 4.0], requires_grad=True)
    h = x * w
    y = (h * h).sum()
    gx, gh = tw.autograd.grad(y, [x, h], retain_graph=True)
    np.testing.assert_array_equal(gh, 2 * h.numpy())
    np.testing.assert_array_equal(gx, 2 * h.numpy() * w.numpy())
    assert x.grad is None and w.grad is None and h.grad is None
    unused = tw.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="not used"):
        tw.autograd.grad(y, [unused], retain_graph=True)
    assert tw.autograd.grad(y, [x, unused], allow_unused=True)[1] is None


def test_nothing_but_requiring_inputs_are_kept_in_the_graph() -> None:
    x = tw.tensor([1.0, 2.0], requires_grad=True)
    c = tw.tensor([5.0, 6.0])
    y = x * c
    assert y.grad_fn is not None and not y.is_leaf and x.is_leaf
    assert y.grad_fn.inputs[0] is x and y.grad_fn.inputs[1] is None
    assert y.grad_fn.needs_input_grad == (True, False)
    y.sum().backward()
    assert c.grad is None
    np.testing.assert_array_equal(x.grad, [5.0, 6.0])
