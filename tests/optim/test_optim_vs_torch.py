"""Each optimizer torch has matches ``torch.optim`` step for step for 100 steps in float64.

The registry lists the option sets (momentum, Nesterov, dampening, weight decay, AMSGrad, centered RMSprop,
decoupled decay, maximize); every one is walked here, and so is a two-group setup with different options
per group.  One parameter gets no gradient on every third step, which both libraries skip (its step count
and state stay put).
"""

from __future__ import annotations

import numpy as np
import pytest
from _optim_testlib import SHAPES, curvatures, make_params, smooth_grad, start_values

from thalweg.optim.registry import OPTIMIZERS

torch = pytest.importorskip("torch")

STEPS = 100
CASES = [(name, kw) for name, e in OPTIMIZERS.items() if e.torch_name for kw in ({}, *e.variants)]
# constructor-only options, not per-group ones; torch.optim.Adagrad fills every group's accumulator with the
# constructor's initial_accumulator_value (ignoring a group's own), where thalweg honours the group's value
GROUP_ONLY = ("decoupled_weight_decay", "maximize", "initial_accumulator_value")


@pytest.fixture(autouse=True)
def _torch_float64():
    # torch keeps some scalar state (NAdam's mu_product, step counts) in the default dtype
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _set_grads(step: int, ours, theirs, curv, sign: float) -> None:
    for i, (p, q, a) in enumerate(zip(ours, theirs, curv)):
        if i == len(SHAPES) - 1 and step % 3 == 1:
            p.grad, q.grad = None, None
            continue
        p.grad = sign * smooth_grad(p.array, a)
        q.grad = torch.from_numpy(sign * smooth_grad(q.detach().numpy(), a))


def _compare(ours, theirs, step: int, label: str) -> None:
    for i, (p, q) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(p.array, q.detach().numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=f"{label}: parameter {i} differs after step {step}")


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for n, i in
                                                    [(n, j) for n, e in OPTIMIZERS.items() if e.torch_name
                                                     for j in range(1 + len(e.variants))]])
def test_matches_torch_step_for_step(name, kwargs):
    entry = OPTIMIZERS[name]
    values, curv = start_values(), curvatures()
    ours = make_params(values)
    theirs = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    opt = entry.factory(ours, **kwargs)
    ref = getattr(torch.optim, entry.torch_name)(theirs, **kwargs)
    sign = -1.0 if kwargs.get("maximize") else 1.0  # ascend on -f, which stays bounded
    for step in range(STEPS):
        _set_grads(step, ours, theirs, curv, sign)
        opt.step()
        ref.step()
        _compare(ours, theirs, step, f"{name}{kwargs}")


@pytest.mark.parametrize("name", [n for n, e in OPTIMIZERS.items() if e.torch_name and e.multi_group])
def test_two_param_groups_with_different_options(name):
    entry = OPTIMIZERS[name]
    other = {k: v for k, v in entry.variants[-1].items() if k not in GROUP_ONLY}
    other["lr"] = 0.5 * other.get("lr", entry.test_kwargs.get("lr", 1e-3))
    values, curv = start_values(seed=5), curvatures(seed=6)
    ours = make_params(values)
    theirs = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    opt = entry.factory([{"params": ours[:2]}, {"params": ours[2:], **other}], **entry.test_kwargs)
    ref = getattr(torch.optim, entry.torch_name)([{"params": theirs[:2]}, {"params": theirs[2:], **other}],
                                                 **entry.test_kwargs)
    for key in other:
        assert opt.param_groups[1][key] == ref.param_groups[1][key]
        assert opt.param_groups[0][key] == ref.param_groups[0][key]
    for step in range(STEPS):
        _set_grads(step, ours, theirs, curv, 1.0)
        opt.step()
        ref.step()
        _compare(ours, theirs, step, f"{name} two groups")


@pytest.mark.parametrize("amsgrad", [False, True])
def test_lr_and_betas_changed_mid_run_take_effect_like_torch(amsgrad):
    values, curv = start_values(), curvatures()
    ours = make_params(values)
    theirs = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    opt = OPTIMIZERS["Adam"].factory(ours, lr=0.01, amsgrad=amsgrad)
    ref = torch.optim.Adam(theirs, lr=0.01, amsgrad=amsgrad)
    for step in range(30):
        if step == 10:
            opt.param_groups[0]["lr"] = ref.param_groups[0]["lr"] = 0.05
            opt.param_groups[0]["betas"] = ref.param_groups[0]["betas"] = (0.5, 0.9)
        _set_grads(step, ours, theirs, curv, 1.0)
        opt.step()
        ref.step()
        _compare(ours, theirs, step, "Adam with lr and betas changed at step 10")


@pytest.mark.parametrize("name,kwargs", [("Adam", {"lr": 0.01, "amsgrad": True}), ("NAdam", {"lr": 0.01}),
                                         ("SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True})])
def test_training_under_a_momentum_cycling_schedule_matches_torch(name, kwargs):
    from thalweg.optim import lr_scheduler

    values, curv = start_values(seed=2), curvatures(seed=3)
    ours = make_params(values)
    theirs = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    opt = OPTIMIZERS[name].factory(ours, **kwargs)
    ref = getattr(torch.optim, name)(theirs, **kwargs)
    sched = lr_scheduler.CyclicLR(opt, 0.005, 0.05, step_size_up=5, mode="triangular2")
    tsched = torch.optim.lr_scheduler.CyclicLR(ref, 0.005, 0.05, step_size_up=5, mode="triangular2")
    for step in range(40):
        _set_grads(step, ours, theirs, curv, 1.0)
        opt.step()
        ref.step()
        sched.step()
        tsched.step()
        _compare(ours, theirs, step, f"{name} under CyclicLR with momentum cycling")


def test_every_registered_optimizer_has_a_reference():
    # an optimizer torch lacks must come with a hand-computed reference test; none is registered yet
    for name, entry in OPTIMIZERS.items():
        assert entry.torch_name is not None and hasattr(torch.optim, entry.torch_name), (
            f"{name} has no torch counterpart: add a reference test for it")
