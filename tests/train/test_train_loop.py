"""The loop: learning, printed lines, model selection, early stopping, the NaN guard, schedules, clipping."""

import math

import numpy as np
import pytest

import thalweg as tw
from thalweg import optim
from thalweg.train import (Callback, EarlyStopping, GradientClipping, ModelCheckpoint, ReduceLROnPlateau,
                           ScheduleCallback, evaluate, fit, load_checkpoint)

from train_helpers import Sabotage, Snapshots, mlp, params, small_digits, spirals


def test_fit_on_digits_reaches_a_sane_accuracy():
    train, dev, test = small_digits(800)
    model = mlp()
    lines = []
    r = fit(model, optim.SGD(model.parameters(), lr=0.1, momentum=0.9), train, dev, test=test, epochs=8,
            batch_size=32, seed=0, log=lines.append)
    assert r.best_score >= 0.9 and r.test["accuracy"] >= 0.88
    assert r.history[-1]["loss"] < r.history[0]["loss"]
    epoch_lines = [ln for ln in lines if ln.startswith("epoch")]
    assert len(epoch_lines) == 8
    for key in ("loss", "acc", "dev_acc", "lr 1.00e-01", "ms"):
        assert key in epoch_lines[0]
    assert any(ln.startswith("test") for ln in lines)


def test_fit_on_spirals_learns_a_nonlinear_boundary():
    s = spirals()
    model = mlp(2, 3, hidden=64)
    r = fit(model, optim.SGD(model.parameters(), lr=0.2, momentum=0.9), s.train, s.dev, test=s.test, epochs=60,
            batch_size=32, seed=0, verbose=False)
    assert r.best_score >= 0.9


def test_arrays_and_regression_loss():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3).astype(np.float32)
    tw.manual_seed(0)
    model = tw.nn.Linear(3, 1)
    r = fit(model, optim.SGD(model.parameters(), lr=0.05), (x[:200], y[:200]), (x[200:], y[200:]), epochs=30,
            loss="mse", batch_size=16, seed=0, verbose=False)
    assert r.monitor == "dev_loss" and r.best_score < 1e-3
    assert "train_accuracy" not in r.history[0]


def test_model_selection_restores_the_best_weights_and_tests_them_once():
    train, dev, test = small_digits()
    model = mlp()
    snaps = Snapshots()
    r = fit(model, optim.SGD(model.parameters(), lr=0.1, momentum=0.9), train, dev, test=test, epochs=5,
            batch_size=32, seed=0, callbacks=[Sabotage(start=4), snaps], verbose=False)
    devs = [row["dev_accuracy"] for row in r.history]
    best = int(np.argmax(devs)) + 1
    assert best <= 3 and r.best_epoch == best and r.best_score == max(devs)
    assert devs[-1] < max(devs) - 0.3  # the last epoch is much worse
    for k, v in params(model).items():
        np.testing.assert_array_equal(v, snaps.by_epoch[best][k])
    assert r.test["accuracy"] == evaluate(model, test)["accuracy"]
    assert [row["best"] for row in r.history].count(True) >= 1 and r.history[best - 1]["best"]


def test_early_stopping_stops_after_patience_and_still_restores():
    train, dev, _ = small_digits()
    model = mlp()
    snaps = Snapshots()
    r = fit(model, optim.SGD(model.parameters(), lr=0.1, momentum=0.9), train, dev, epochs=20, batch_size=32,
            seed=0, callbacks=[Sabotage(start=4), EarlyStopping("val_accuracy", patience=2), snaps], verbose=False)
    assert r.status == "stopped" and "early stopping" in r.stop_reason
    assert r.epochs == r.best_epoch + 2 < 20
    for k, v in params(model).items():
        np.testing.assert_array_equal(v, snaps.by_epoch[r.best_epoch][k])


class NaNAfter:
    """A loss that becomes NaN after ``n`` calls in training mode."""

    def __init__(self, n):
        self.n, self.calls = n, 0

    def __call__(self, out, y):
        loss = tw.nn.functional.cross_entropy(out, y)
        if tw.is_grad_enabled():
            self.calls += 1
            if self.calls > self.n:
                return loss * float("nan")
        return loss


def test_nan_guard_stops_with_a_message_and_keeps_the_last_good_checkpoint(tmp_path):
    train, dev, test = small_digits(320)  # 10 steps per epoch
    model = mlp()
    lines = []
    snaps = Snapshots()
    r = fit(model, optim.SGD(model.parameters(), lr=0.1), train, dev, test=test, epochs=5, batch_size=32, seed=0,
            loss=NaNAfter(25), callbacks=[snaps, ModelCheckpoint(tmp_path, every_n_epochs=1)], log=lines.append,
            restore_best=False)
    assert r.status == "diverged" and "non-finite loss (nan) at epoch 3, step 26" in r.stop_reason
    assert any("non-finite loss" in ln for ln in lines)
    assert r.epochs == 2 and r.steps == 25
    ckpt = load_checkpoint(tmp_path / "last.npz")
    assert ckpt["epoch"] == 2
    for k, v in ckpt["model"].items():
        assert np.isfinite(v).all()
        np.testing.assert_array_equal(v, snaps.by_epoch[2][k])
    assert all(np.isfinite(p.array).all() for p in model.parameters())  # the NaN step was never applied
    assert math.isfinite(r.test["loss"])


def test_evaluations_inside_epochs():
    train, dev, _ = small_digits(320)
    model = mlp()
    lines = []
    r = fit(model, optim.SGD(model.parameters(), lr=0.1), train, dev, epochs=2, batch_size=32, seed=0,
            evals_per_epoch=3, log=lines.append)
    assert [e["step"] for e in r.evals] == [3, 7, 10, 13, 17, 20]
    assert sum(ln.startswith("  @ epoch") for ln in lines) == 4


class CountingSchedule:
    def __init__(self, interval=None):
        if interval is not None:
            self.interval = interval
        self.calls = 0

    def step(self):
        self.calls += 1

    def state_dict(self):
        return {"calls": self.calls}

    def load_state_dict(self, s):
        self.calls = s["calls"]


class PlateauLike:
    def __init__(self):
        self.values = []

    def step(self, metrics):
        self.values.append(metrics)

    def state_dict(self):
        return {}

    def load_state_dict(self, s):
        pass


def test_schedules_follow_their_interval_and_plateau_gets_the_metric():
    train, dev, _ = small_digits(320)
    per_step, per_epoch, default, plateau = (CountingSchedule("step"), CountingSchedule("epoch"),
                                             CountingSchedule(), PlateauLike())
    model = mlp()
    r = fit(model, optim.SGD(model.parameters(), lr=0.1), train, dev, epochs=3, batch_size=32, seed=0,
            schedule=[per_step, per_epoch, default, plateau], verbose=False)
    assert per_step.calls == 30 and per_epoch.calls == 3 and default.calls == 3
    assert plateau.values == [row["dev_accuracy"] for row in r.history]


def test_torch_style_schedule_changes_the_logged_lr():
    train, dev, _ = small_digits(320)
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    r = fit(model, opt, train, dev, epochs=3, batch_size=32, seed=0, schedule=ScheduleCallback(sched, interval="epoch"),
            verbose=False)
    assert [row["lr"] for row in r.history] == pytest.approx([0.1, 0.05, 0.025])


class FakeTrainer:
    def __init__(self, lr):
        self.optimizer = type("O", (), {"param_groups": [{"lr": lr}]})()
        self.messages = []

    def log(self, msg):
        self.messages.append(msg)

    def stop(self, reason):
        self.stopped = reason


def test_reduce_lr_on_plateau_is_the_lectures_heuristic():
    cb = ReduceLROnPlateau("dev_accuracy", factor=0.1, patience=2)
    t = FakeTrainer(0.01)
    lrs = []
    for acc in [0.5, 0.6, 0.6, 0.59, 0.7, 0.7, 0.7, 0.7, 0.7]:
        cb.on_epoch_end(t, 0, {"dev_accuracy": acc})
        lrs.append(t.optimizer.param_groups[0]["lr"])
    assert lrs == pytest.approx([0.01, 0.01, 0.01, 0.001, 0.001, 0.001, 1e-4, 1e-4, 1e-5])
    with pytest.raises(ValueError, match="factor"):
        ReduceLROnPlateau(factor=1.5)


def test_monitor_callbacks_share_mode_and_min_delta():
    es = EarlyStopping("val_loss", patience=1, min_delta=0.1)
    assert es.monitor == "dev_loss" and es.mode == "min"
    t = FakeTrainer(0.1)
    for v in [1.0, 0.95]:  # 0.05 is below min_delta: no improvement
        es.on_epoch_end(t, 1, {"dev_loss": v})
    assert "did not improve" in t.stopped
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")


def test_gradient_clipping_bounds_the_global_norm():
    train, dev, _ = small_digits(64)
    seen = []

    class Probe(Callback):
        def on_after_backward(self, trainer):
            g = np.sqrt(sum(float((p.grad.astype(np.float64) ** 2).sum()) for p in trainer.model.parameters()))
            seen.append(g)

    model = mlp()
    fit(model, optim.SGD(model.parameters(), lr=0.1), train, dev, epochs=1, batch_size=32, seed=0,
        callbacks=[GradientClipping(max_norm=1e-3), Probe()], verbose=False)
    assert len(seen) == 2 and max(seen) <= 1e-3 * (1 + 1e-5)


def test_plateau_schedule_from_optim_is_fed_the_dev_accuracy():
    train, dev, _ = small_digits(320)
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=0)
    r = fit(model, opt, train, dev, epochs=4, batch_size=32, seed=0, schedule=sched, callbacks=[Sabotage(start=2)],
            verbose=False)
    # from epoch 2 on the weights are noise: the accuracy stalls and every epoch halves the rate
    assert [row["lr"] for row in r.history] == pytest.approx([0.1, 0.1, 0.05, 0.025])
    wrong = optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min")
    with pytest.raises(ValueError, match="mode='min'.*'dev_accuracy'.*give it mode='max'"):
        fit(model, opt, train, dev, epochs=1, schedule=wrong, verbose=False)


def test_bad_input_is_caught_before_training(tmp_path):
    train, dev, _ = small_digits(64)
    model = mlp(n_out=5)
    with pytest.raises(ValueError, match="outputs 5 values per example but the dataset has 10 classes"):
        fit(model, optim.SGD(model.parameters(), lr=0.1), train, dev, epochs=1, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="epochs must be a non-negative integer, got -1"):
        fit(model, opt, train, dev, epochs=-1)
    with pytest.raises(ValueError, match="unknown metric 'f2'; valid: "):
        fit(model, opt, train, dev, epochs=1, metrics=["f2"])
    with pytest.raises(ValueError, match="unknown loss 'hinge'; valid: .*cross_entropy"):
        fit(model, opt, train, dev, epochs=1, loss="hinge")
    with pytest.raises(ValueError, match="cannot monitor 'dev_f1'; this run logs loss, train_accuracy"):
        fit(model, opt, train, dev, epochs=1, callbacks=[EarlyStopping("dev_f1")])
    with pytest.raises(ValueError, match="give dirpath"):
        fit(model, opt, train, dev, epochs=1, callbacks=[ModelCheckpoint()], verbose=False)


def test_zero_epochs_evaluates_the_initial_model():
    train, dev, test = small_digits(64)
    model = mlp()
    before = params(model)
    r = fit(model, optim.SGD(model.parameters(), lr=0.1), train, dev, test=test, epochs=0, verbose=False)
    assert r.history == [] and r.steps == 0 and 0.0 <= r.test["accuracy"] <= 1.0
    for k, v in params(model).items():
        np.testing.assert_array_equal(v, before[k])


def test_output_size_check_without_declared_classes():
    x = np.random.default_rng(0).normal(size=(40, 64)).astype(np.float32)
    y = np.arange(40) % 7  # labels 0..6, classes not declared
    model = mlp(n_out=10)  # more outputs than the largest label needs: allowed
    fit(model, optim.SGD(model.parameters(), lr=0.1), (x, y), epochs=1, verbose=False)
    small = mlp(n_out=5)
    with pytest.raises(ValueError, match="outputs 5 values per example but the dataset has labels up to 6"):
        fit(small, optim.SGD(small.parameters(), lr=0.1), (x, y), epochs=1, verbose=False)


def test_fit_warns_once_when_other_processes_take_the_cores_its_blas_threads_need(monkeypatch):
    """The epoch-end check of thalweg.threads.OversubscriptionWatch, on a made-up two-core machine whose second
    core another process keeps busy (0.9 cores) while BLAS runs two threads."""
    import warnings

    from thalweg import threads

    clock = [0.0]

    def busy_machine():
        clock[0] += 1.0  # a second between readings
        return threads.CpuSample(machine_busy=1.9 * clock[0], own=clock[0], wall=clock[0])

    monkeypatch.delenv("THALWEG_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "_warned", [False])
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    monkeypatch.setattr(threads, "get_num_threads", lambda: 2)
    monkeypatch.setattr(threads, "cpu_sample", busy_machine)
    train, _, _ = small_digits(64)
    model = mlp()
    with pytest.warns(RuntimeWarning, match=r"other processes kept 0\.9 of this machine's 2 cores") as caught:
        fit(model, optim.SGD(model.parameters(), lr=0.1), train, epochs=3, batch_size=32, seed=0, verbose=False)
    assert sum("other processes kept" in str(w.message) for w in caught) == 1
    monkeypatch.setattr(threads, "_warned", [False])
    monkeypatch.setattr(threads, "cpu_sample", lambda: threads.CpuSample(0.0, 0.0, clock[0]))  # nothing measured
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        fit(model, optim.SGD(model.parameters(), lr=0.1), train, epochs=2, batch_size=32, seed=0, verbose=False)
