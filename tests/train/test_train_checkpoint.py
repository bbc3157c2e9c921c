"""Checkpoints: plain arrays without pickle, atomic writes, and a bit-for-bit resume."""

import os
import zipfile

import numpy as np
import pytest

from thalweg import optim
from thalweg.train import CheckpointError, ModelCheckpoint, fit, load_checkpoint, save_checkpoint
from thalweg.train.io import atomic_write

from train_helpers import mlp, params, small_digits


def test_round_trip_of_nested_plain_data(tmp_path):
    state = {
        "w": np.arange(6, dtype=np.float32).reshape(2, 3),
        "nested": {"step": 7, "betas": (0.9, 0.999), "ids": [1, 2, 3], "none": None, "flag": True},
        3: "int key",
        "scalar": np.float32(0.1),
        "rng": np.random.default_rng(5).bit_generator.state,  # 128-bit integers
        "nan": float("nan"),
        "list_of_arrays": [np.ones(2, np.int64), None],
    }
    path = save_checkpoint(tmp_path / "c.npz", state)
    back = load_checkpoint(path)
    np.testing.assert_array_equal(back["w"], state["w"])
    assert back["w"].dtype == np.float32
    assert back["nested"] == state["nested"] and isinstance(back["nested"]["betas"], tuple)
    assert back[3] == "int key"
    assert back["scalar"] == np.float32(0.1) and back["scalar"].dtype == np.float32
    assert back["rng"] == state["rng"]
    assert np.isnan(back["nan"])
    np.testing.assert_array_equal(back["list_of_arrays"][0], [1, 1])
    assert back["list_of_arrays"][1] is None


def test_file_is_a_plain_npz_loadable_without_pickle(tmp_path):
    path = save_checkpoint(tmp_path / "c.npz", {"a": np.zeros(3)})
    with np.load(path, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
    assert zipfile.is_zipfile(path)


def test_objects_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="object array"):
        save_checkpoint(tmp_path / "c.npz", {"bad": np.array([object()], dtype=object)})
    with pytest.raises(CheckpointError, match="cannot store function"):
        save_checkpoint(tmp_path / "c.npz", {"fn": lambda: 0})
    assert not list(tmp_path.iterdir())


def test_load_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(2))
    with pytest.raises(CheckpointError, match="not a thalweg checkpoint"):
        load_checkpoint(tmp_path / "other.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(tmp_path / "junk.npz")


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "c.npz"
    save_checkpoint(target, {"v": np.ones(2)})
    before = target.read_bytes()

    def crash(f):
        f.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, crash)
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["c.npz"]  # no temporary file left behind


def _run(epochs, *, run_dir=None, resume=None, callbacks=(), restore_best=False, perturb=False):
    train, dev, _ = small_digits(300)  # 10 batches of 30
    model = mlp(dropout=0.3, seed=0)
    if perturb:  # a resumed run must not depend on how the new model was initialized
        for p in model.parameters():
            p.array[...] = 7.0
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    r = fit(model, opt, train, dev, epochs=epochs, batch_size=30, seed=4, schedule=sched, run_dir=run_dir,
            resume=resume, callbacks=list(callbacks), restore_best=restore_best, verbose=False, plots=False,
            evals_per_epoch=2)
    return model, r


@pytest.mark.parametrize("restore_best", [False, True])
def test_resume_continues_bit_for_bit(tmp_path, restore_best):
    straight, r_straight = _run(4, restore_best=restore_best)
    _run(2, run_dir=tmp_path / "run", callbacks=[ModelCheckpoint(every_n_epochs=1)], restore_best=restore_best)
    resumed, r_resumed = _run(4, resume=tmp_path / "run", callbacks=[ModelCheckpoint(every_n_epochs=1)],
                              restore_best=restore_best, perturb=True)
    for k, v in params(straight).items():
        np.testing.assert_array_equal(params(resumed)[k], v)
    strip = lambda h: [{k: v for k, v in row.items() if k not in ("time", "cpu_time")} for row in h]  # noqa: E731
    assert strip(r_resumed.history) == strip(r_straight.history)
    assert r_resumed.best_epoch == r_straight.best_epoch
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 4


def test_resume_from_the_middle_of_an_epoch(tmp_path):
    straight, _ = _run(3)
    ck = tmp_path / "ck"
    _run(2, callbacks=[ModelCheckpoint(ck, every_n_steps=7, every_n_epochs=None, save_best=False)])
    state = load_checkpoint(ck / "last.npz")
    assert state["step"] == 14 and state["in_epoch"]["batches"] == 4 and state["loader"]["pos"] == 4
    resumed, r = _run(3, resume=ck / "last.npz", perturb=True)
    assert r.steps == 30
    for k, v in params(straight).items():
        np.testing.assert_array_equal(params(resumed)[k], v)


def test_resume_with_another_schedule_is_refused(tmp_path):
    _run(1, run_dir=tmp_path / "run", callbacks=[ModelCheckpoint()])
    model = mlp(dropout=0.3)
    train, dev, _ = small_digits(300)
    with pytest.raises(ValueError, match=r"schedules \['StepLR'\] differ from this run's \[\]"):
        fit(model, optim.SGD(model.parameters(), lr=0.05, momentum=0.9), train, dev, epochs=2, batch_size=30,
            resume=tmp_path / "run", verbose=False)


def test_resume_into_another_model_is_a_clear_error(tmp_path):
    _run(1, run_dir=tmp_path / "run", callbacks=[ModelCheckpoint()])
    model = mlp(hidden=16)
    train, dev, _ = small_digits(300)
    with pytest.raises(ValueError, match="does not fit this model"):
        fit(model, optim.SGD(model.parameters(), lr=0.05), train, dev, epochs=2, batch_size=30,
            resume=tmp_path / "run", verbose=False, callbacks=[ModelCheckpoint()])
