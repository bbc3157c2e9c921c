"""``.grad`` is a tensor over the engine's array; hooks never alias; post-accumulate hooks; legacy constructor."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

import thalweg as tw
from thalweg import nn
from thalweg.autograd import engine, tensor


def _loss(w: tw.Tensor) -> tw.Tensor:
    return (w * w * 3.0).sum()


# ------------------------------------------------------------------ .grad
def test_grad_is_a_tensor_sharing_the_accumulated_array() -> None:
    w = tw.tensor([1.0, -2.0, 3.0], requires_grad=True)
    _loss(w).backward()
    g = w.grad
    assert isinstance(g, tw.Tensor) and not g.requires_grad and g is w.grad
    arr = g.array
    _loss(w).backward()  # accumulation is in place: same tensor, same array
    assert w.grad is g and w.grad.array is arr
    np.testing.assert_allclose(g.array, 12.0 * np.array([1.0, -2.0, 3.0]))


def test_torch_idioms_on_grad() -> None:
    w = tw.tensor([3.0, 4.0], requires_grad=True)
    wt = torch.tensor([3.0, 4.0], requires_grad=True)
    _loss(w).backward()
    _loss(wt).backward()
    assert float(w.grad.norm()) == pytest.approx(float(wt.grad.norm()))
    lr = 0.01
    w.data.add_(w.grad, alpha=-lr)
    wt.data.add_(wt.grad, alpha=-lr)
    np.testing.assert_allclose(w.array, wt.detach().numpy(), rtol=1e-6)
    w.grad.zero_()
    assert not w.grad.array.any()
    w.grad = None
    assert w.grad is None
    given = tw.ones(2)
    w.grad = given
    assert w.grad is given
    _loss(w).backward()  # accumulates into the assigned tensor, as torch does
    np.testing.assert_allclose(given.array, 1.0 + 6.0 * w.array, rtol=1e-6)


def test_grad_assignment_checks_shape_and_dtype_as_torch() -> None:
    w = tw.zeros(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \(3,\).*\(2, 3\)"):
        w.grad = tw.zeros(3)
    with pytest.raises(RuntimeError, match="dtype float64.*float32"):
        w.grad = tw.zeros(2, 3, dtype=tw.float64)
    with pytest.raises(TypeError, match="Tensor or None"):
        w.grad = 3.0
    w.grad = np.ones((2, 3), dtype=np.float32)  # an array becomes a tensor over it
    assert isinstance(w.grad, tw.Tensor)


def test_optimizer_clip_and_utils_read_grad_tensors() -> None:
    tw.manual_seed(0)
    model = nn.Linear(4, 3)
    tm = torch.nn.Linear(4, 3)
    with torch.no_grad():
        tm.weight.copy_(torch.from_numpy(model.weight.array))
        tm.bias.copy_(torch.from_numpy(model.bias.array))
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    model(tw.tensor(x)).pow(2).sum().backward()
    tm(torch.from_numpy(x)).pow(2).sum().backward()
    n = nn.utils.clip_grad_norm_(model.parameters(), 0.5)
    nt = torch.nn.utils.clip_grad_norm_(tm.parameters(), 0.5)
    assert float(n) == pytest.approx(float(nt), rel=1e-5)
    np.testing.assert_allclose(model.weight.grad.array, tm.weight.grad.numpy(), rtol=1e-5)
    opt = tw.optim.SGD(model.parameters(), lr=0.1)
    topt = torch.optim.SGD(tm.parameters(), lr=0.1)
    opt.step()
    topt.step()
    np.testing.assert_allclose(model.weight.array, tm.weight.detach().numpy(), rtol=1e-5)
    opt.zero_grad(set_to_none=False)
    assert model.weight.grad is not None and not model.weight.grad.array.any()


# ------------------------------------------------------------------ hooks
@pytest.mark.parametrize("as_tensor", [False, True])
def test_a_hook_result_is_copied_before_it_becomes_grad(as_tensor: bool) -> None:
    mine = np.array([1.0, 1.0])
    w = tw.tensor([2.0, 3.0], requires_grad=True)
    w.register_hook(lambda g: tw.tensor(mine) if as_tensor else mine)
    _loss(w).backward()
    _loss(w).backward()  # the second pass adds into .grad: never into the caller's array
    np.testing.assert_array_equal(mine, [1.0, 1.0])
    np.testing.assert_array_equal(w.grad.array, [2.0, 2.0])


def test_a_non_leaf_hook_result_is_copied_too() -> None:
    mine = np.array([5.0, 5.0])
    w = tw.tensor([2.0, 3.0], requires_grad=True)
    h = w + 0.0  # Add passes its gradient through unchanged: w.grad would be the hook's array itself
    h.retain_grad()
    h.register_hook(lambda g: mine)
    (h * 2.0).sum().backward()
    h.grad.add_(1.0)
    w.grad.add_(1.0)
    np.testing.assert_array_equal(mine, [5.0, 5.0])
    np.testing.assert_array_equal(w.grad.array, [6.0, 6.0])


def test_post_accumulate_grad_hook_fires_once_when_the_grad_is_final() -> None:
    w = tw.tensor([1.0, 2.0], requires_grad=True)
    v = tw.tensor([0.5, 0.5], requires_grad=True)
    seen: list[tuple[str, np.ndarray]] = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(("w", t.grad.array.copy())))
    handle = v.register_post_accumulate_grad_hook(lambda t: seen.append(("v", t.grad.array.copy())))
    a = w * 2.0  # w is used three times, in different places of the graph
    b = (w * v).exp()
    loss = (a * a).sum() + b.sum() + (w * 3.0).sum()
    loss.backward()
    wt = torch.tensor([1.0, 2.0], requires_grad=True)
    vt = torch.tensor([0.5, 0.5], requires_grad=True)
    ((wt * 2.0) ** 2).sum().add((wt * vt).exp().sum()).add((wt * 3.0).sum()).backward()
    assert sorted(n for n, _ in seen) == ["v", "w"]
    final = dict(seen)
    np.testing.assert_allclose(final["w"], wt.grad.numpy(), rtol=1e-6)  # the total, not a part
    np.testing.assert_allclose(final["v"], vt.grad.numpy(), rtol=1e-6)
    handle.remove()
    seen.clear()
    (w * v).sum().backward()
    assert [n for n, _ in seen] == ["w"]


def test_post_accumulate_hook_runs_while_backward_continues() -> None:
    """The first layer's weights are final only at the end; the last layer's much earlier."""
    tw.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 1))
    events: list[str] = []
    for name, p in model.named_parameters():
        p.register_post_accumulate_grad_hook(lambda t, name=name: events.append(name))
    x = tw.randn(5, 3)
    model(x).sum().backward()
    assert sorted(events) == sorted(n for n, _ in model.named_parameters())
    assert events.index("4.weight") < events.index("0.weight")


def test_post_accumulate_hook_checks_its_tensor() -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        tw.ones(2).register_post_accumulate_grad_hook(print)
    w = tw.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="only leaf"):
        (w * 2.0).register_post_accumulate_grad_hook(print)


def test_post_accumulate_hook_also_on_a_backward_from_the_leaf_itself() -> None:
    w = tw.ones(3, requires_grad=True)
    calls = []
    w.register_post_accumulate_grad_hook(lambda t: calls.append(t.grad.array.copy()))
    w.backward(tw.full((3,), 2.0))
    assert len(calls) == 1
    np.testing.assert_array_equal(calls[0], [2.0, 2.0, 2.0])


# ----------------------------------------------- constructor and formatting
def test_legacy_constructor_gives_an_uninitialized_float_tensor() -> None:
    t = tw.Tensor(2, 3)
    assert t.shape == (2, 3) and t.dtype == np.float32 and not t.requires_grad
    assert tw.Tensor(4).shape == (4,) == torch.Tensor(4).shape
    assert tw.Tensor().shape == (0,) == tuple(torch.Tensor().shape)
    data = tw.Tensor([1, 2])
    assert data.shape == (2,) and data.tolist() == [1, 2]
    assert tw.Tensor(2, 3, requires_grad=True).requires_grad
    with pytest.raises(ValueError, match="negative"):
        tw.Tensor(2, -1)


def test_format_of_one_element_tensors() -> None:
    assert f"{tw.tensor(1.23456):.4f}" == f"{torch.tensor(1.23456):.4f}" == "1.2346"
    assert f"{tw.tensor([2.5]):>6.1f}" == "   2.5"
    assert f"{tw.tensor(3.0)}" == f"{torch.tensor(3.0)}"
    with pytest.raises(TypeError, match="one-element"):
        f"{tw.ones(2):.2f}"


# ------------------------------------------------- the shape of the engine
def test_tensor_owns_its_operators() -> None:
    for name in ("__add__", "__radd__", "__mul__", "__rmul__", "__sub__", "__truediv__", "__pow__", "__matmul__",
                 "__neg__", "__getitem__", "__lt__", "__eq__", "__abs__"):
        assert name in vars(tensor.Tensor), name
    a, b = tw.tensor([1.0, 2.0], requires_grad=True), tw.tensor([3.0, 4.0])
    assert type((a * b).grad_fn).__name__ == "Context" and repr((a * b).grad_fn) == "<MulBackward>"


def test_the_lecture_algorithm_is_one_short_function() -> None:
    lines = [ln for ln in inspect.getsource(engine.backpropagate).splitlines() if ln.strip()]
    assert len(lines) <= 30


def test_hooks_receive_tensors_as_in_torch() -> None:
    """A hook gets the gradient as a tensor (``clone``, ``norm``, ``clamp`` work) and its result replaces it."""
    import torch

    seen = []

    def clip(g):
        seen.append(type(g))
        return g.clamp(-0.5, 0.5) * (1.0 / max(1.0, float(g.norm())))

    x = tw.tensor([[1.0, -2.0], [0.25, 3.0]], dtype=tw.float64, requires_grad=True)
    h = x * 2.0
    h.register_hook(clip)
    (h * h).sum().backward()
    xt = torch.tensor([[1.0, -2.0], [0.25, 3.0]], dtype=torch.float64, requires_grad=True)
    ht = xt * 2.0
    ht.register_hook(lambda g: g.clamp(-0.5, 0.5) * (1.0 / max(1.0, float(g.norm()))))
    (ht * ht).sum().backward()
    assert seen == [tw.Tensor]
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
