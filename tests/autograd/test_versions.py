"""Version counter (torch's mechanism): an in-place change of a saved tensor makes backward raise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import thalweg as tw
from thalweg import nn, optim

MODIFIED = "modified by an inplace operation"


def test_every_inplace_method_bumps_the_version() -> None:
    t = tw.zeros(4)
    steps = [
        lambda: t.add_(1.0), lambda: t.sub_(1.0), lambda: t.mul_(2.0), lambda: t.div_(2.0),
        lambda: t.zero_(), lambda: t.fill_(3.0), lambda: t.copy_(tw.ones(4)), lambda: t.clamp_(0.0, 2.0),
        lambda: t.uniform_(), lambda: t.normal_(), lambda: t.__setitem__(0, 5.0),
        lambda: t.__iadd__(1.0), lambda: t.__isub__(1.0), lambda: t.__imul__(1.0), lambda: t.__itruediv__(1.0),
    ]
    assert t._version == 0
    for i, step in enumerate(steps, start=1):
        step()
        assert t._version == i


def test_data_detach_and_views_share_the_counter() -> None:
    x = tw.ones(2, 3, requires_grad=True)
    d, a = x.data, x.detach()
    view = a[0]  # a basic slice is a view of the same memory
    r = a.reshape(6)
    with tw.no_grad():
        x.add_(1.0)
    assert x._version == d._version == a._version == view._version == r._version == 1
    view.mul_(2.0)
    assert x._version == 2 and d._version == 2
    c = x.detach().clone()  # a copy has its own memory and counter
    c.add_(1.0)
    assert c._version == 1 and x._version == 2


@pytest.mark.parametrize("change", ["iadd", "setitem", "mul_no_grad", "data_write", "detach_write", "view_write"])
def test_changing_a_saved_input_raises_naming_op_and_versions(change: str) -> None:
    w = tw.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = tw.tensor([4.0, 5.0, 6.0])
    y = (w * x).sum()  # Mul saved both w and x
    if change == "iadd":
        x += 1.0
    elif change == "setitem":
        x[0] = 5.0
    elif change == "mul_no_grad":
        with tw.no_grad():
            w.mul_(2.0)
    elif change == "data_write":
        w.data.add_(1.0)
    elif change == "detach_write":
        w.detach().fill_(0.0)
    else:
        x[1:].zero_()
    with pytest.raises(RuntimeError, match=MODIFIED) as err:
        y.backward()
    msg = str(err.value)
    assert "MulBackward" in msg and "is at version 1; expected version 0" in msg


def test_changing_a_saved_output_raises() -> None:
    x = tw.tensor([0.5, -1.0], requires_grad=True)
    y = x.exp()  # Exp saves its output
    with tw.no_grad():
        y.detach().add_(1.0)
    with pytest.raises(RuntimeError, match=r"output 0 of <ExpBackward>, is at version 1; expected version 0"):
        y.sum().backward()


def test_unsaved_tensors_may_change_as_in_torch() -> None:
    a = tw.tensor([1.0, 2.0], requires_grad=True)
    b = tw.tensor([3.0, 4.0])
    y = (a + b).sum()  # Add saves nothing
    b += 10.0
    y.backward()
    at, bt = torch.tensor([1.0, 2.0], requires_grad=True), torch.tensor([3.0, 4.0])
    yt = (at + bt).sum()
    bt += 10.0
    yt.backward()  # torch does not raise either
    np.testing.assert_array_equal(a.grad.array, at.grad.numpy())


def test_torch_raises_in_the_same_situations() -> None:
    wt = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    xt = torch.tensor([4.0, 5.0, 6.0])
    yt = (wt * xt).sum()
    xt += 1.0
    with pytest.raises(RuntimeError, match=MODIFIED):
        yt.backward()


def test_optimizer_step_between_two_backwards_raises() -> None:
    tw.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss = model(tw.randn(4, 3)).pow(2).sum()
    loss.backward(retain_graph=True)
    versions = [p._version for p in model.parameters()]
    opt.step()
    assert [p._version for p in model.parameters()] == [v + 1 for v in versions]
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()


def test_a_fresh_forward_after_the_step_is_fine() -> None:
    tw.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = optim.Adam(model.parameters(), lr=0.1)
    x = tw.randn(4, 3)
    for _ in range(3):
        opt.zero_grad()
        model(x).pow(2).sum().backward()
        opt.step()


def test_retain_graph_twice_without_changes_is_fine() -> None:
    w = tw.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(w.grad.array, [4.0, 8.0])


def test_vector_to_parameters_bumps_the_version() -> None:
    p = tw.tensor([3.0, 4.0], requires_grad=True)
    y = (p * p).sum()
    nn.utils.vector_to_parameters(tw.tensor([1.0, 1.0]), [p])
    assert p._version == 1
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()
