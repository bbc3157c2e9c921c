"""The Optimizer front: parameters and groups, validation, zero_grad/step, state_dict round trips."""

from __future__ import annotations

import numbers

import numpy as np
import pytest
from _optim_testlib import curvatures, make_params, smooth_grad, start_values

import thalweg as tw
from thalweg import nn, optim
from thalweg.nn import Parameter
from thalweg.optim import transforms as T
from thalweg.optim.registry import OPTIMIZERS


def _params(n: int = 2) -> list[Parameter]:
    return make_params(start_values()[:n])


def _grads_for(params, curv, step: int) -> None:
    for i, (p, a) in enumerate(zip(params, curv)):
        p.grad = None if (i == 2 and step % 3 == 1) else smooth_grad(p.array, a)


class TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.scale = Parameter(np.ones(4, dtype=np.float32))
        self.out = nn.Linear(4, 1)

    def forward(self, x):
        return self.out(self.fc(x).relu() * self.scale)


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_negative_learning_rate_is_rejected(name):
    with pytest.raises(ValueError, match=r"Invalid learning rate: -0\.1"):
        OPTIMIZERS[name].factory(_params(), lr=-0.1)


@pytest.mark.parametrize("name", [n for n in sorted(OPTIMIZERS) if n in ("Adam", "AdamW", "Adamax", "NAdam", "RAdam")])
@pytest.mark.parametrize("betas,index", [((1.0, 0.999), 0), ((0.9, -0.1), 1), ((-0.5, 0.9), 0), ((0.9, 1.5), 1)])
def test_betas_outside_unit_interval_are_rejected(name, betas, index):
    with pytest.raises(ValueError, match=f"Invalid beta parameter at index {index}"):
        OPTIMIZERS[name].factory(_params(), betas=betas)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_empty_parameter_list_is_rejected(name):
    with pytest.raises(ValueError, match="empty parameter list"):
        OPTIMIZERS[name].factory([], **OPTIMIZERS[name].test_kwargs)


def test_parameter_in_two_groups_is_rejected():
    a, b = _params()
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [a, b]}, {"params": [b]}], lr=0.1)
    model = TinyNet()
    opt = optim.Adam(model.named_parameters())
    with pytest.raises(ValueError, match="more than one parameter group: 'fc.weight'"):
        opt.add_param_group({"params": [("fc.weight", model.fc.weight)]})


@pytest.mark.parametrize("kwargs,message", [
    ({"lr": 0.1, "momentum": -0.5}, "Invalid momentum value: -0.5"),
    ({"lr": 0.1, "weight_decay": -1e-4}, "Invalid weight_decay value: -0.0001"),
    ({"lr": 0.1, "nesterov": True}, "Nesterov momentum requires a momentum and zero dampening"),
    ({"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True}, "Nesterov momentum requires"),
])
def test_sgd_hyperparameters_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        optim.SGD(_params(), **kwargs)


def test_other_bad_inputs_give_clear_errors():
    p = _params()
    with pytest.raises(ValueError, match="Invalid epsilon value: -1e-08"):
        optim.Adam(p, eps=-1e-8)
    with pytest.raises(ValueError, match="Invalid alpha value"):
        optim.RMSprop(p, alpha=-0.9)
    with pytest.raises(ValueError, match="Invalid rho value: 1.5"):
        optim.Adadelta(p, rho=1.5)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.SGD(p[0], lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD(set(p), lr=0.1)
    with pytest.raises(TypeError, match="learning rate must be a real number"):
        optim.SGD(p, lr="0.1")
    with pytest.raises(ValueError, match="twice in one parameter group"):
        optim.SGD([p[0], p[0]], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p[0] * 2.0], lr=0.1)
    opt = optim.SGD([p[0]], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        opt.add_param_group({"params": [p[1]], "lr": -1})
    assert len(opt.param_groups) == 1  # nothing was added
    with pytest.raises(RuntimeError, match=r"assigned grad has shape \(5,\), different from the tensor's shape \(3, 4\)"):
        p[0].grad = np.ones(5)  # torch refuses it at the assignment
    p[0].grad = tw.ones(3, 4, dtype=p[0].dtype)
    p[0].array = np.ones((2, 6), dtype=np.float32)  # the parameter changed shape under its gradient
    with pytest.raises(ValueError, match=r"parameter #0 has shape \(2, 6\) but its gradient has shape \(3, 4\)"):
        opt.step()


# ------------------------------------------------------------- groups, steps
def test_step_leaves_gradients_untouched_and_keeps_float32():
    for name, entry in OPTIMIZERS.items():
        rng = np.random.default_rng(0)
        p = Parameter(rng.standard_normal((4, 3)).astype(np.float32))
        opt = entry.factory([p], **entry.test_kwargs)
        g = rng.standard_normal((4, 3)).astype(np.float32)
        p.grad = g.copy()
        for _ in range(3):
            opt.step()
        np.testing.assert_array_equal(p.grad, g, err_msg=name)
        assert p.array.dtype == np.float32, name
        for entries in opt.state.values():
            for key, v in entries.items():
                if isinstance(v, np.ndarray):
                    assert v.dtype == np.float32, (name, key)


def test_zero_grad_to_none_or_zeros():
    a, b = _params()
    opt = optim.SGD([a, b], lr=0.1)
    a.grad, b.grad = np.ones_like(a.array), np.ones_like(b.array)
    buf = a.grad
    opt.zero_grad(set_to_none=False)
    assert a.grad is buf and not a.grad.array.any()
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_lr_is_read_from_the_group_every_step():
    a, b = _params()
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    a0, b0 = a.array.copy(), b.array.copy()
    a.grad, b.grad = np.ones_like(a0), np.ones_like(b0)
    opt.step()
    np.testing.assert_allclose(a.array, a0 - 0.1)
    np.testing.assert_allclose(b.array, b0 - 0.5)
    opt.param_groups[0]["lr"] = 0.0
    opt.param_groups[1]["lr"] *= 2
    opt.step()
    np.testing.assert_allclose(a.array, a0 - 0.1)
    np.testing.assert_allclose(b.array, b0 - 1.5)


def test_add_param_group_fills_defaults_and_trains_the_new_group():
    a, b = _params()
    opt = optim.Adam([a], lr=0.01, weight_decay=0.1)
    opt.add_param_group({"params": b, "lr": 0.02})
    assert opt.param_groups[1]["weight_decay"] == 0.1 and opt.param_groups[1]["betas"] == (0.9, 0.999)
    b0 = b.array.copy()
    b.grad = np.ones_like(b0)
    opt.step()
    assert not np.allclose(b.array, b0)


def test_engine_gradients_and_closure_train_a_small_model():
    tw.manual_seed(0)
    model = TinyNet()
    rng = np.random.default_rng(1)
    xs = rng.standard_normal((64, 3)).astype(np.float32)
    x, y = tw.tensor(xs), tw.tensor((np.abs(xs) @ np.array([[1.0], [-2.0], [0.5]])).astype(np.float32))
    opt = optim.Adam(model.named_parameters(), lr=0.02)

    def closure():
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        return loss

    first = float(closure().item())
    for _ in range(150):
        last = float(opt.step(closure).item())
    assert last < 0.25 * first
    assert set(opt.state_dict()["state"]) == {"fc.weight", "fc.bias", "scale", "out.weight", "out.bias"}


def test_maximize_ascends():
    p = Parameter(np.array([1.0, -2.0]))
    opt = optim.SGD([p], lr=0.1, maximize=True)
    p.grad = np.array([1.0, 1.0])
    opt.step()
    np.testing.assert_allclose(p.array, [1.1, -1.9])


def test_no_decay_groups_in_one_line():
    model = TinyNet()
    groups = optim.param_groups_no_decay(model, weight_decay=0.05)
    assert [n for n, _ in groups[0]["params"]] == ["fc.weight", "out.weight"]
    assert [n for n, _ in groups[1]["params"]] == ["scale", "fc.bias", "out.bias"]
    opt = optim.AdamW(optim.param_groups_no_decay(model, weight_decay=0.05), lr=1e-3)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.05, 0.0]
    # with a zero gradient, only decayed tensors move
    before = {k: v.copy() for k, v in model.state_dict().items()}
    for p in model.parameters():
        p.grad = np.zeros_like(p.array)
    opt.step()
    after = model.state_dict()
    for k in before:
        moved = not np.array_equal(before[k], after[k])
        assert moved == k.endswith("weight"), k


def test_custom_chain_optimizer_descends():
    values, curv = start_values(), curvatures()
    params = make_params(values)
    opt = optim.Optimizer(params, T.chain(T.clip_by_global_norm(5.0), T.add_gradient_noise(0.01, seed=3),
                                          T.scale_by_adam(), T.scale_by_learning_rate(0.05)))
    assert opt.defaults["max_norm"] == 5.0 and opt.defaults["lr"] == 0.05
    f = lambda: sum(float((a * p.array**2).sum()) for p, a in zip(params, curv))  # noqa: E731
    f0 = f()
    for step in range(200):
        for p, a in zip(params, curv):
            p.grad = smooth_grad(p.array, a)
        opt.step()
    assert f() < 0.05 * f0


# -------------------------------------------------------------- state dicts
def _plain(x) -> bool:
    if isinstance(x, dict):
        return all(isinstance(k, (str, int)) and _plain(v) for k, v in x.items())
    if isinstance(x, (list, tuple)):
        return all(_plain(v) for v in x)
    return x is None or isinstance(x, (np.ndarray, numbers.Number, str))


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_state_dict_round_trip_mid_run_continues_identically(name):
    entry = OPTIMIZERS[name]
    kwargs = {**entry.test_kwargs, **entry.variants[-1]}
    kwargs.pop("maximize", None)
    curv = curvatures()
    params = make_params(start_values())
    opt = entry.factory(params, **kwargs)
    for step in range(10):
        _grads_for(params, curv, step)
        opt.step()
    saved, saved_values = opt.state_dict(), [p.array.copy() for p in params]
    assert _plain(saved)
    for step in range(10, 20):  # the uninterrupted run
        _grads_for(params, curv, step)
        opt.step()
    expected = [p.array.copy() for p in params]

    resumed = make_params(saved_values)
    opt2 = entry.factory(resumed, **{**kwargs, "lr": 123.0})  # the group options come back from the state dict
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == kwargs["lr"]
    for step in range(10, 20):
        _grads_for(resumed, curv, step)
        opt2.step()
    for e, p in zip(expected, resumed):
        np.testing.assert_array_equal(p.array, e)


def test_state_dict_is_keyed_by_name_and_shape_checked():
    model = TinyNet()
    opt = optim.Adam(model.named_parameters(), lr=0.01)
    for p in model.parameters():
        p.grad = np.ones_like(p.array)
    opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == ["scale", "fc.weight", "fc.bias", "out.weight", "out.bias"]
    assert sd["state"]["fc.weight"]["1.exp_sum"].shape == (4, 3)

    # names may come in another order: matched by name, not position
    other = TinyNet()
    pairs = list(other.named_parameters())[::-1]
    opt2 = optim.Adam(pairs, lr=0.5)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.01
    np.testing.assert_array_equal(opt2.state[other.fc.weight]["1.exp_sum"], sd["state"]["fc.weight"]["1.exp_sum"])

    bad = opt.state_dict()
    bad["state"]["fc.weight"]["1.exp_sum"] = np.zeros((3, 4), dtype=np.float32)
    with pytest.raises(ValueError, match=r"'1.exp_sum' for parameter 'fc.weight' has shape \(3, 4\) but the "
                                         r"parameter has shape \(4, 3\)"):
        opt2.load_state_dict(bad)
    renamed = opt.state_dict()
    renamed["param_groups"][0]["param_names"][0] = "encoder.weight"
    with pytest.raises(ValueError, match="missing \\['scale'\\], unexpected \\['encoder.weight'\\]"):
        opt2.load_state_dict(renamed)
    with pytest.raises(ValueError, match="2 parameter groups"):
        opt2.load_state_dict({"state": {}, "param_groups": sd["param_groups"] * 2})
    wrong_chain = optim.SGD(other.named_parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="does not belong to this optimizer's transform"):
        wrong_chain.load_state_dict(sd)


def test_positional_state_dict_like_torch():
    params = _params(3)
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    for p in params:
        p.grad = np.ones_like(p.array)
    opt.step()
    sd = opt.state_dict()
    assert sorted(sd["state"]) == [0, 1, 2] and sd["param_groups"][0]["params"] == [0, 1, 2]
    assert set(sd["state"][0]) == {"1.momentum_buffer"}
    assert "1.momentum_buffer" in opt.state[params[0]]
    assert "Parameter Group 0" in repr(opt) and "momentum: 0.9" in repr(opt)
