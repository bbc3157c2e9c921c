"""Every torch-named schedule against torch.optim.lr_scheduler, step by step, far past its end."""

import math

import numpy as np
import pytest

from thalweg import optim
from thalweg.nn import Parameter
from thalweg.optim import lr_scheduler as S
from thalweg.optim.registry import SCHEDULERS

torch = pytest.importorskip("torch")
TS = torch.optim.lr_scheduler


def _pair(opt_name="SGD", lr=0.1, groups=2, **kw):
    kw = {"momentum": 0.9, **kw} if opt_name == "SGD" else kw
    ours = getattr(optim, opt_name)([{"params": [Parameter(np.zeros(1))], "lr": lr * (g + 1)} for g in range(groups)],
                                    lr=lr, **kw)
    theirs = getattr(torch.optim, opt_name)(
        [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr * (g + 1)} for g in range(groups)], lr=lr, **kw)
    return ours, theirs


def _walk(ours, theirs, t_opt, steps, exact=False):
    assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12, abs=1e-15)
    for t in range(1, steps + 1):
        t_opt.step()
        ours.step()
        theirs.step()
        a, b = ours.get_last_lr(), [float(v) for v in theirs.get_last_lr()]
        if exact:
            assert a == b, (t, a, b)
        else:
            assert a == pytest.approx(b, rel=1e-12, abs=1e-15), (t, a, b)


@pytest.mark.parametrize("T_max,eta_min", [(7, 0.003), (10, 0.05), (1, 0.01), (4, 0.0)])
def test_cosine_annealing_is_torch_exact_for_three_periods(T_max, eta_min):
    o, t = _pair()
    _walk(S.CosineAnnealingLR(o, T_max=T_max, eta_min=eta_min), TS.CosineAnnealingLR(t, T_max=T_max, eta_min=eta_min),
          t, 3 * T_max + 2, exact=True)


def test_cosine_annealing_closed_form_jumps_as_torch():
    o, t = _pair()
    ours, theirs = S.CosineAnnealingLR(o, T_max=6, eta_min=0.01), TS.CosineAnnealingLR(t, T_max=6, eta_min=0.01)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in (3, 9, 13):
            ours.step(epoch)
            theirs.step(epoch)
            assert ours.get_last_lr() == [float(v) for v in theirs.get_last_lr()]
            for _ in range(4):  # then the recursion from the jumped-to value
                t.step()
                ours.step()
                theirs.step()
                assert ours.get_last_lr() == [float(v) for v in theirs.get_last_lr()]


def test_cosine_annealing_state_dict_resume_continues_exactly():
    o, _ = _pair()
    ref = S.CosineAnnealingLR(o, T_max=5, eta_min=0.02)
    seq = []
    for _ in range(17):
        ref.step()
        seq.append(ref.get_last_lr())
    o2, _ = _pair()
    a = S.CosineAnnealingLR(o2, T_max=5, eta_min=0.02)
    for _ in range(8):
        a.step()
    o3, _ = _pair()
    b = S.CosineAnnealingLR(o3, T_max=5, eta_min=0.02)
    b.load_state_dict(a.state_dict())
    rest = []
    for _ in range(9):
        b.step()
        rest.append(b.get_last_lr())
    assert rest == seq[8:]


@pytest.mark.parametrize("three_phase,strategy", [(False, "cos"), (True, "linear"), (False, "linear"), (True, "cos")])
def test_one_cycle_last_step_and_raise_as_torch(three_phase, strategy):
    o, t = _pair(groups=1)
    kw = dict(max_lr=0.5, total_steps=23, pct_start=0.25, three_phase=three_phase, anneal_strategy=strategy)
    ours, theirs = S.OneCycleLR(o, **kw), TS.OneCycleLR(t, **kw)
    _walk(ours, theirs, t, 23)
    assert o.param_groups[0]["momentum"] == pytest.approx(t.param_groups[0]["momentum"], rel=1e-12)
    with pytest.raises(ValueError) as ref:
        theirs.step()
    with pytest.raises(ValueError) as got:
        ours.step()
    assert str(got.value) == str(ref.value)


_LONG = {name: e for name, e in SCHEDULERS.items() if e.torch_name and not e.needs_metric
         and not name.startswith("OneCycleLR")}


@pytest.mark.parametrize("name", sorted(_LONG))
def test_every_registered_schedule_matches_torch_far_past_its_end(name):
    entry = _LONG[name]
    kw = dict(entry.optimizer_kwargs)
    lr = kw.pop("lr", 0.1)
    kw.pop("momentum", None)
    o, t = _pair(entry.optimizer, lr=lr, groups=1, **kw)
    _walk(entry.make(o), entry.make(t, TS), t, 4 * entry.steps + 10)


@pytest.mark.parametrize("kw", [dict(mode="min", factor=0.5, patience=2, threshold=0.01, cooldown=1, min_lr=0.004),
                                dict(mode="max", factor=0.1, patience=1, threshold=0.05, threshold_mode="abs")])
def test_reduce_on_plateau_long_run_as_torch(kw):
    o, t = _pair(groups=1)
    ours, theirs = S.ReduceLROnPlateau(o, **kw), TS.ReduceLROnPlateau(t, **kw)
    rng = np.random.default_rng(0)
    for i in range(120):
        metric = float(math.sin(i / 7) + rng.normal(0, 0.05))
        ours.step(metric)
        theirs.step(metric)
        assert o.param_groups[0]["lr"] == pytest.approx(t.param_groups[0]["lr"], rel=1e-12)


_COMPOSITES = {
    "chained-exp-cosine": lambda M, o: M.ChainedScheduler([M.ExponentialLR(o, 0.9),
                                                           M.CosineAnnealingLR(o, T_max=5, eta_min=0.01)]),
    "chained-cosine-step": lambda M, o: M.ChainedScheduler([M.CosineAnnealingLR(o, T_max=5), M.StepLR(o, 3, 0.5)]),
    "chained-four": lambda M, o: M.ChainedScheduler([
        M.ConstantLR(o, 0.5, total_iters=4), M.LinearLR(o, 0.2, total_iters=6), M.MultiStepLR(o, [3, 8], 0.3),
        M.PolynomialLR(o, total_iters=10)]),
    "seq-constant-onecycle": lambda M, o: M.SequentialLR(o, [M.ConstantLR(o, 0.5, total_iters=3),
                                                             M.OneCycleLR(o, max_lr=1.0, total_steps=40)],
                                                         milestones=[3]),
    "seq-cos-exp-cos": lambda M, o: M.SequentialLR(o, [
        M.CosineAnnealingLR(o, T_max=4, eta_min=0.02), M.ExponentialLR(o, 0.8),
        M.CosineAnnealingLR(o, T_max=3, eta_min=0.01)], milestones=[6, 9]),
    "seq-linear-lambda-poly": lambda M, o: M.SequentialLR(o, [
        M.LinearLR(o, 0.1, total_iters=4), M.LambdaLR(o, lambda t: 0.9 ** t), M.PolynomialLR(o, total_iters=5)],
        milestones=[5, 12]),
    "seq-milestone-zero": lambda M, o: M.SequentialLR(o, [M.ExponentialLR(o, 0.9), M.ConstantLR(o, 0.5)],
                                                      milestones=[0]),
}


@pytest.mark.parametrize("name", sorted(_COMPOSITES))
def test_composites_follow_torch_chainable_steps(name):
    o, t = _pair(groups=2)
    build = _COMPOSITES[name]
    _walk(build(S, o), build(TS, t), t, 35)
