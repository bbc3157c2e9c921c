"""Schedules: torch's lr sequences, the CLR paper's formulas, 1/t decay, plateau, round trips, clamping."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from thalweg import optim
from thalweg.nn import Parameter
from thalweg.optim import lr_scheduler as S
from thalweg.optim.registry import SCHEDULERS

torch = pytest.importorskip("torch")

# a metric sequence with plateaus, improvements below and above the thresholds, and noise
METRICS = [1.0, 0.9, 0.95, 0.91, 0.905, 0.7, 0.7, 0.71, 0.69, 0.695, 0.5, 0.5, 0.5, 0.5, 0.5, 0.49, 0.6, 0.3,
           0.31, 0.3, 0.29, 0.3, 0.3, 0.3, 0.3, 0.1, 0.1, 0.1, 0.1, 0.1]
# schedules torch lacks, with the formula they must follow (base_lr = 0.1 from the registry's optimizer)
REFERENCES = {"InverseTimeLR": lambda t, base: base / (1.0 + 0.5 * t)}


def _ours(entry):
    p = [Parameter(np.zeros(3)), Parameter(np.zeros(2))]
    opt = getattr(optim, entry.optimizer)([{"params": p[:1]}, {"params": p[1:], "lr": 0.03}], **entry.optimizer_kwargs)
    return opt, entry.make(opt)


def _theirs(entry):
    p = [torch.zeros(3, requires_grad=True), torch.zeros(2, requires_grad=True)]
    opt = getattr(torch.optim, entry.optimizer)([{"params": p[:1]}, {"params": p[1:], "lr": 0.03}],
                                                **entry.optimizer_kwargs)
    return opt, entry.make(opt, torch.optim.lr_scheduler)


def _momenta(opt) -> list[float]:
    return [g["betas"][0] if "betas" in g else g.get("momentum", 0.0) for g in opt.param_groups]


TORCH_ENTRIES = sorted(n for n, e in SCHEDULERS.items() if e.torch_name)


@pytest.mark.parametrize("name", TORCH_ENTRIES)
def test_reproduces_torch_lr_sequence(name):
    entry = SCHEDULERS[name]
    opt, ours = _ours(entry)
    topt, theirs = _theirs(entry)
    assert ours.interval in ("step", "epoch")
    seq_ours, seq_theirs, mom_ours, mom_theirs = [], [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's "lr_scheduler.step() before optimizer.step()" chatter
        for t in range(entry.steps + 1):
            seq_ours.append([g["lr"] for g in opt.param_groups])
            seq_theirs.append([g["lr"] for g in topt.param_groups])
            mom_ours.append(_momenta(opt))
            mom_theirs.append(_momenta(topt))
            assert ours.get_last_lr() == pytest.approx(seq_ours[-1])
            topt.step()
            if entry.needs_metric:
                ours.step(METRICS[t % len(METRICS)])
                theirs.step(METRICS[t % len(METRICS)])
            else:
                ours.step()
                theirs.step()
    np.testing.assert_allclose(seq_ours, seq_theirs, rtol=1e-12, atol=1e-15, err_msg=name)
    np.testing.assert_allclose(mom_ours, mom_theirs, rtol=1e-12, atol=1e-15, err_msg=name)
    if entry.needs_metric:
        assert len({round(x[0], 12) for x in seq_ours}) > 2  # the scripted metrics did trigger reductions


@pytest.mark.parametrize("name", sorted(n for n, e in SCHEDULERS.items() if not e.torch_name))
def test_schedules_torch_lacks_follow_their_formula(name):
    assert name in REFERENCES, f"{name} has no torch counterpart: add its reference formula to REFERENCES"
    entry = SCHEDULERS[name]
    opt, sched = _ours(entry)
    for t in range(entry.steps):
        for group, base in zip(opt.param_groups, (0.1, 0.03)):
            assert group["lr"] == pytest.approx(REFERENCES[name](t, base), rel=1e-14)
        sched.step()


def test_inverse_time_is_the_lectures_one_over_t_decay():
    opt = optim.SGD([Parameter(np.zeros(1))], lr=0.2)
    sched = S.InverseTimeLR(opt, alpha=0.1)
    lrs = [sched.lr_at(t)[0] for t in range(0, 101, 10)]
    assert lrs[1] == pytest.approx(0.1)  # halves at t = 1 / alpha
    assert lrs[-1] == pytest.approx(0.2 / 11) and all(a > b for a, b in zip(lrs, lrs[1:]))
    with pytest.raises(ValueError, match="alpha must be non-negative"):
        S.InverseTimeLR(opt, alpha=-1.0)


# ------------------------------------------------------------------ CLR paper
def _paper_clr(t: int, base: float, top: float, stepsize: int, mode: str, gamma: float = 1.0) -> float:
    cycle = math.floor(1 + t / (2 * stepsize))
    x = abs(t / stepsize - 2 * cycle + 1)
    scale = {"triangular": 1.0, "triangular2": 1.0 / 2 ** (cycle - 1), "exp_range": gamma**t}[mode]
    return base + (top - base) * max(0.0, 1.0 - x) * scale


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_lr_policies_match_the_papers_formulas(mode):
    opt = optim.SGD([Parameter(np.zeros(2))], lr=0.5, momentum=0.9)
    sched = S.CyclicLR(opt, base_lr=0.001, max_lr=0.006, step_size_up=7, mode=mode, gamma=0.99)
    assert opt.param_groups[0]["lr"] == 0.001 and sched.interval == "step"
    for t in range(60):
        expected = _paper_clr(t, 0.001, 0.006, 7, mode, 0.99)
        assert opt.param_groups[0]["lr"] == pytest.approx(expected, rel=1e-12, abs=1e-15), (mode, t)
        # momentum cycles inversely between 0.9 (at base_lr) and 0.8 (at max_lr)
        frac = (expected - 0.001) / 0.005
        assert opt.param_groups[0]["momentum"] == pytest.approx(0.9 - 0.1 * frac, rel=1e-12)
        sched.step()


def test_cyclic_momentum_drives_adam_beta1_and_needs_momentum():
    opt = optim.Adam([Parameter(np.zeros(2))], lr=0.01)
    sched = S.CyclicLR(opt, 0.01, 0.1, step_size_up=2)
    sched.step()
    assert opt.param_groups[0]["betas"] == (pytest.approx(0.85), 0.999)
    plain = optim.Optimizer([Parameter(np.zeros(2))], optim.transforms.scale_by_learning_rate(0.1))
    with pytest.raises(ValueError, match="momentum or beta1"):
        S.CyclicLR(plain, 0.01, 0.1)
    S.CyclicLR(plain, 0.01, 0.1, cycle_momentum=False)


# --------------------------------------------------------- state and ranges
@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_state_dict_round_trip_continues_identically(name):
    entry = SCHEDULERS[name]
    opt, sched = _ours(entry)
    step = (lambda t: sched.step(METRICS[t])) if entry.needs_metric else (lambda t: sched.step())
    for t in range(10):
        step(t)
    saved_sched, saved_opt = sched.state_dict(), opt.state_dict()
    assert all(isinstance(v, (int, float)) for v in saved_sched.values())
    if not entry.needs_metric:
        assert saved_sched == {"last_epoch": 10}  # a pure schedule saves only its count
    expected = []
    for t in range(10, 20):
        step(t)
        expected.append(sched.get_last_lr())

    opt2, sched2 = _ours(entry)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    step2 = (lambda t: sched2.step(METRICS[t])) if entry.needs_metric else (lambda t: sched2.step())
    got = []
    for t in range(10, 20):
        step2(t)
        got.append(sched2.get_last_lr())
    assert got == expected


def test_past_the_end_follows_torch_and_cosine_decay_clamps():
    opt = optim.SGD([Parameter(np.zeros(1))], lr=0.1, momentum=0.9)
    one = S.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    for _ in range(10):
        one.step()
    assert one.last_epoch == 10
    with pytest.raises(ValueError, match="Tried to step 11 times"):
        one.step()
    opt2 = optim.SGD([Parameter(np.zeros(1))], lr=0.1)
    cos = S.CosineAnnealingLR(opt2, T_max=5, eta_min=0.01)
    for _ in range(10):
        cos.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.1)  # the cosine climbs back after T_max
    opt3 = optim.SGD([Parameter(np.zeros(1))], lr=0.1)
    decay = S.CosineDecayLR(opt3, T_max=5, eta_min=0.01)
    for _ in range(12):
        decay.step()
    assert opt3.param_groups[0]["lr"] == pytest.approx(0.01)


def test_intervals_and_bad_arguments():
    opt = optim.SGD([Parameter(np.zeros(1))], lr=0.1, momentum=0.9)
    assert S.StepLR(opt, 3).interval == "epoch"
    assert S.OneCycleLR(opt, 0.1, total_steps=5).interval == "step"
    assert S.ExponentialLR(opt, 0.9, interval="step").interval == "step"
    with pytest.raises(ValueError, match="interval must be 'step' or 'epoch'"):
        S.ExponentialLR(opt, 0.9, interval="batch")
    with pytest.raises(ValueError, match="step_size must be a positive integer"):
        S.StepLR(opt, 0)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        S.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(TypeError, match="needs the monitored metric"):
        S.ReduceLROnPlateau(opt).step()
    with pytest.raises(ValueError, match="total_steps OR"):
        S.OneCycleLR(opt, 0.1)
    with pytest.raises(ValueError, match="one more than the number of milestone"):
        S.SequentialLR(opt, [S.StepLR(opt, 2), S.StepLR(opt, 3)], milestones=[])
    with pytest.raises(ValueError, match="does not support ReduceLROnPlateau"):
        S.ChainedScheduler([S.StepLR(opt, 2), S.ReduceLROnPlateau(opt)])
    other = optim.SGD([Parameter(np.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="same optimizer"):
        S.SequentialLR(opt, [S.StepLR(opt, 2), S.StepLR(other, 3)], milestones=[4])
    fresh = optim.SGD([Parameter(np.zeros(1))], lr=0.1)
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(fresh, 2, last_epoch=5)
    with pytest.raises(TypeError, match="not an Optimizer"):
        S.StepLR(object(), 2)


def test_plateau_is_the_lectures_decay_on_dev_accuracy():
    opt = optim.SGD([Parameter(np.zeros(1))], lr=0.01)
    sched = S.ReduceLROnPlateau(opt, mode="max", factor=0.1, patience=2)
    for acc in [0.5, 0.6, 0.6, 0.6]:  # improved, then 2 epochs without improvement: not yet
        sched.step(acc)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)
    sched.step(0.59)  # third epoch without improvement: decay by alpha = 0.1
    assert opt.param_groups[0]["lr"] == pytest.approx(0.001) and sched.get_last_lr() == [pytest.approx(0.001)]
