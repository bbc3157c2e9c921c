"""Reusing a trained run: ``tw.train.load_run`` and ``thalweg predict`` on .npy, .csv and image files."""

import json

import numpy as np
import pytest

import thalweg as tw
from thalweg.cli import main
from thalweg.data import load_digits
from thalweg.train import load_run
from thalweg.train.record import RunRecordError


def _one_line_error(capsys, code, *needles):
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in err, err
    return err


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One MLP and one CNN run on the digits (few epochs, a subset)."""
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for model in ("mlp", "cnn"):
        code = main(["train", "--model", model, "--epochs", "3", "--limit", "400", "--out", str(root), "--no-plots",
                     "--no-progress", "--quiet", "--name", model, "--hidden", "32"])
        assert code == 0
        (out[model],) = root.glob(f"*-{model}")
    return out


def test_train_records_the_architecture(runs):
    cfg = json.loads((runs["cnn"] / "config.json").read_text())
    assert cfg["architecture"] == {"kind": "cnn", "input_shape": [1, 8, 8], "classes": 10, "hidden": [32],
                                   "dropout": 0.0, "dataset": "digits"}


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_load_run_rebuilds_the_model_with_the_best_weights(runs, kind):
    model = load_run(runs[kind])
    assert not model.training
    best = tw.train.load_checkpoint(runs[kind] / "checkpoints" / "best.npz")["model"]
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, best[k])
    from thalweg.data import digits_splits

    x, y = digits_splits(seed=0, images=kind == "cnn").test.tensors
    with tw.no_grad():
        acc = (model(tw.tensor(x)).array.argmax(1) == y).mean()
    summary = json.loads((runs[kind] / "summary.json").read_text())
    assert acc == pytest.approx(summary["test"]["accuracy"])  # the very model the run evaluated
    last = load_run(runs[kind], weights="last")
    assert set(last.state_dict()) == set(model.state_dict())


def test_load_run_errors_name_the_directory(tmp_path, runs):
    with pytest.raises(RunRecordError, match="not found"):
        load_run(tmp_path / "nope")
    d = tmp_path / "cfgonly"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"epochs": 1}))
    with pytest.raises(RunRecordError, match="no model architecture"):
        load_run(d)
    cfg = json.loads((runs["mlp"] / "config.json").read_text())
    e = tmp_path / "nockpt"
    e.mkdir()
    (e / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(RunRecordError, match="no checkpoints"):
        load_run(e)
    with pytest.raises(ValueError, match="weights must be"):
        load_run(runs["mlp"], weights="worst")


def _predictions(out):
    lines = out.strip().splitlines()
    return lines[0], [line.split(",") for line in lines[1:]]


def test_predict_npy_with_probabilities(runs, tmp_path, capsys):
    x, y = load_digits()
    np.save(tmp_path / "x.npy", x[:20])
    assert main(["predict", str(runs["mlp"]), str(tmp_path / "x.npy"), "--probs"]) == 0
    header, rows = _predictions(capsys.readouterr().out)
    assert header == "example,prediction," + ",".join(f"p{k}" for k in range(10))
    assert len(rows) == 20
    probs = np.array([[float(v) for v in r[2:]] for r in rows])
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-3)
    preds = np.array([int(r[1]) for r in rows])
    assert (preds == probs.argmax(1)).all() and (preds == y[:20]).mean() > 0.6


def test_predict_csv_raw_pixels_with_a_label_column(runs, tmp_path, capsys):
    x, y = load_digits()
    table = np.column_stack([np.round(x[:5] * 16), y[:5]])  # the UCI layout: 64 pixels 0..16, then the label
    np.savetxt(tmp_path / "d.csv", table, delimiter=",", fmt="%d")
    assert main(["predict", str(runs["cnn"]), str(tmp_path / "d.csv")]) == 0
    cap = capsys.readouterr()
    header, rows = _predictions(cap.out)
    assert header == "example,prediction" and len(rows) == 5
    assert "labels" in cap.err and "divided by 16" in cap.err


def test_predict_png_image_inverted_and_resized(runs, tmp_path, capsys):
    plt = pytest.importorskip("matplotlib.pyplot")
    x, y = load_digits()
    i = int(np.flatnonzero(y == 0)[0])
    paper = 1.0 - np.kron(x[i].reshape(8, 8), np.ones((4, 4)))  # a dark 0 on white paper, 32x32
    plt.imsave(tmp_path / "zero.png", paper, cmap="gray", vmin=0, vmax=1)
    assert main(["predict", str(runs["mlp"]), str(tmp_path / "zero.png"), "--probs"]) == 0
    cap = capsys.readouterr()
    _, rows = _predictions(cap.out)
    assert len(rows) == 1 and rows[0][1] == "0"
    assert "inverted" in cap.err and "resized from 32x32 to 8x8" in cap.err


def test_predict_bad_inputs_are_one_line_errors(runs, tmp_path, capsys):
    run = str(runs["mlp"])
    _one_line_error(capsys, main(["predict", run, str(tmp_path / "missing.npy")]), "not found")
    np.save(tmp_path / "bad.npy", np.zeros((3, 5)))
    _one_line_error(capsys, main(["predict", run, str(tmp_path / "bad.npy")]), "bad.npy", "(3, 5)", "(64,)")
    (tmp_path / "x.txt").write_text("1")
    _one_line_error(capsys, main(["predict", run, str(tmp_path / "x.txt")]), "unknown input type")
    (tmp_path / "x.csv").write_text("a,b\nc,d\n")
    _one_line_error(capsys, main(["predict", run, str(tmp_path / "x.csv")]), "x.csv", "not a CSV")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    _one_line_error(capsys, main(["predict", run, str(tmp_path / "broken.png")]), "broken.png")
    (tmp_path / "junk.npy").write_bytes(b"junk")
    _one_line_error(capsys, main(["predict", run, str(tmp_path / "junk.npy")]), "junk.npy")
    _one_line_error(capsys, main(["predict", str(tmp_path), str(tmp_path / "x.csv")]), "not a thalweg run")
