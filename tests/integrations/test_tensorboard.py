"""``SummaryWriter`` and the ``TensorBoard`` callback, read back with TensorBoard's own ``EventAccumulator``."""

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import thalweg as tw
from thalweg import optim
from thalweg.train import TensorBoard, fit

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from thalweg.utils.tensorboard import SummaryWriter  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from train_helpers import mlp, small_digits  # noqa: E402


def _read(folder):
    return EventAccumulator(str(folder), size_guidance={"tensors": 0, "scalars": 0, "histograms": 0}).Reload()


def test_summary_writer_api_round_trip(tmp_path):
    with SummaryWriter(tmp_path, filename_suffix=".t") as w:
        assert w.get_logdir() == str(tmp_path)
        for step in range(5):
            w.add_scalar("loss/train", tw.tensor(1.0 / (step + 1)), step)
        w.add_scalars("acc", {"train": 0.9, "dev": 0.8}, 4)
        w.add_histogram("fc.weight", tw.randn(500), 2)
        w.add_histogram("counts", np.arange(10.0), 3, bins=5)
        w.add_image("chw", np.random.default_rng(0).random((3, 6, 5)), 1)
        w.add_image("hwc", (np.arange(48, dtype=np.uint8) * 5).reshape(4, 4, 3), 1, dataformats="HWC")
        w.add_image("gray", np.eye(4), 1, dataformats="HW")
        w.add_text("notes", "hello **world**", 0)
        w.add_hparams({"lr": 0.1, "optimizer": "sgd", "nesterov": True}, {"hparam/accuracy": 0.93}, run_name="hp")
    assert all(f.name.endswith(".t") for f in tmp_path.glob("events.out.tfevents.*"))
    ea = _read(tmp_path)
    assert [(e.step, round(e.value, 4)) for e in ea.Scalars("loss/train")] == [
        (0, 1.0), (1, 0.5), (2, 0.3333), (3, 0.25), (4, 0.2)]
    h = ea.Histograms("fc.weight")[0].histogram_value
    assert h.num == 500 and sum(h.bucket) == 500 and h.min < 0 < h.max
    h2 = ea.Histograms("counts")[0].histogram_value
    assert list(h2.bucket) == [2, 2, 2, 2, 2] and h2.sum == 45
    img = ea.Images("chw")[0]
    assert (img.width, img.height) == (5, 6)
    PIL = pytest.importorskip("PIL.Image")
    decoded = np.asarray(PIL.open(io.BytesIO(ea.Images("hwc")[0].encoded_image_string)))
    np.testing.assert_array_equal(decoded, (np.arange(48, dtype=np.uint8) * 5).reshape(4, 4, 3))
    gray = np.asarray(PIL.open(io.BytesIO(ea.Images("gray")[0].encoded_image_string)))
    np.testing.assert_array_equal(gray, (np.eye(4) * 255).astype(np.uint8))
    assert ea.Tensors("notes/text_summary")[0].tensor_proto.string_val == [b"hello **world**"]
    for key, v in (("train", 0.9), ("dev", 0.8)):
        assert _read(tmp_path / f"acc_{key}").Scalars("acc")[0].value == pytest.approx(v)
    hp = _read(tmp_path / "hp")
    assert hp.Scalars("hparam/accuracy")[0].value == pytest.approx(0.93)
    assert hp.SummaryMetadata("_hparams_/session_start_info").plugin_data.plugin_name == "hparams"


def test_summary_writer_errors_are_clear(tmp_path):
    w = SummaryWriter(tmp_path)
    with pytest.raises(ValueError, match="dataformats"):
        w.add_image("x", np.zeros((3, 4, 4)), dataformats="NCHW")
    with pytest.raises(ValueError, match="one number"):
        w.add_scalar("x", np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        w.add_histogram("x", np.array([1.0, np.nan]))
    w.close()
    with pytest.raises(RuntimeError, match="closed"):
        w.add_scalar("x", 1.0)


def test_default_log_dir_is_runs_date_host_comment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with SummaryWriter(comment="_lr0.1") as w:
        d = Path(w.get_logdir())
    assert d.parent.name == "runs" and d.name.endswith("_lr0.1") and any(d.iterdir())


def test_purge_step_writes_a_session_start(tmp_path):
    with SummaryWriter(tmp_path, purge_step=7) as w:
        w.add_scalar("a", 1.0, 7)
    from tensorboard.backend.event_processing import event_file_loader

    (f,) = tmp_path.glob("events.*")
    events = list(event_file_loader.EventFileLoader(str(f)).Load())
    assert any(e.HasField("session_log") and e.step == 7 for e in events)


def test_tensorboard_callback_logs_loss_accuracy_lr_grad_norms_and_histograms(tmp_path):
    train, dev, test = small_digits(128)
    model = mlp()
    fit(model, optim.SGD(model.parameters(), lr=0.1), train, dev, test=test, epochs=2, batch_size=32, seed=0,
        run_dir=tmp_path / "run", config={"note": "x"}, callbacks=[TensorBoard(log_every_n_steps=2)],
        verbose=False, plots=False)
    ea = _read(tmp_path / "run" / "tensorboard")
    tags = ea.Tags()
    for t in ("epoch/loss", "epoch/train_accuracy", "epoch/dev_loss", "epoch/dev_accuracy", "epoch/lr",
              "step/loss", "step/lr", "step/grad_norm", "grad_norm/0.weight", "test/accuracy"):
        assert t in tags["scalars"], t
    assert [e.step for e in ea.Scalars("epoch/loss")] == [1, 2]
    assert [e.step for e in ea.Scalars("step/loss")] == [2, 4, 6, 8]
    assert all(e.value > 0 for e in ea.Scalars("step/grad_norm"))
    assert "weights/0.weight" in tags["histograms"] and "weights/2.bias" in tags["histograms"]
    assert ea.Scalars("epoch/lr")[0].value == pytest.approx(0.1)
    assert "config/text_summary" in tags["tensors"]


def test_cli_train_tensorboard_flag(tmp_path, capsys):
    from thalweg.cli import main

    code = main(["train", "--epochs", "1", "--limit", "128", "--out", str(tmp_path / "runs"), "--no-plots",
                 "--no-progress", "--name", "tb", "--tensorboard", str(tmp_path / "tb")])
    assert code == 0, capsys.readouterr().err
    (run,) = (tmp_path / "runs").iterdir()
    assert json.loads((run / "config.json").read_text())["tensorboard"] == str(tmp_path / "tb")
    ea = _read(tmp_path / "tb" / run.name)
    assert "epoch/dev_accuracy" in ea.Tags()["scalars"]
