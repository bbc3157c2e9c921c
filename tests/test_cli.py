"""The ``thalweg`` command, run in-process through ``main([...])``."""

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from thalweg.cli import main
from thalweg.data import encode_idx

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _one_line_error(capsys, code, *needles):
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in err, err
    return err


def test_train_with_no_arguments_runs_the_main_job(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--no-progress"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("thalweg train: mlp on digits (1197 train / 300 dev / 300 test)")
    assert sum(ln.startswith("epoch") for ln in lines) == 20
    assert "run record: runs" in lines[-1]
    (run,) = (tmp_path / "runs").iterdir()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["test"]["accuracy"] > 0.9 and summary["status"] == "completed"
    assert (run / "checkpoints" / "last.npz").is_file() and (run / "config.json").is_file()


def test_options_and_config_file(tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_text('dataset = "moons"\nepochs = 30\nhidden = [16]\nbatch-size = 16\noptimizer = "sgd:momentum=0.9"\n'
                   'lr = 0.05\n')
    code = main(["train", "--config", str(cfg), "--epochs", "4", "--out", str(tmp_path / "o"), "--no-plots",
                 "--seed", "3", "--schedule", "step:step_size=2,gamma=0.5"])
    assert code == 0, capsys.readouterr().err
    (run,) = (tmp_path / "o").iterdir()
    config = json.loads((run / "config.json").read_text())
    assert config["dataset"] == "moons" and config["epochs"] == 4 and config["hidden"] == [16]
    assert config["batch_size"] == 16 and config["seed"] == 3 and config["optimizer"] == "sgd:momentum=0.9"
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["lr"] for r in rows] == pytest.approx([0.05, 0.05, 0.025, 0.025])


def test_cnn_on_digits(tmp_path, capsys):
    code = main(["train", "--model", "cnn", "--epochs", "2", "--out", str(tmp_path), "--no-plots",
                 "--optimizer", "sgd:momentum=0.9", "--lr", "0.05", "--limit", "300"])
    assert code == 0, capsys.readouterr().err
    (run,) = tmp_path.iterdir()
    assert json.loads((run / "config.json").read_text())["data"]["input_shape"] == [1, 8, 8]


@pytest.mark.parametrize("argv, needles", [
    (["train", "--model", "resnet"], ["unknown model 'resnet'; valid: mlp, cnn"]),
    (["train", "--dataset", "cifar"], ["unknown dataset 'cifar'; valid: digits, mnist"]),
    (["train", "--optimizer", "adamm"], ["unknown optimizer 'adamm'; valid: sgd"]),
    (["train", "--schedule", "warm"], ["unknown schedule 'warm'; valid: none, step"]),
    (["train", "--epochs", "-1"], ["epochs must be an integer >= 0, got -1"]),
    (["train", "--lr", "-0.1"], ["Invalid learning rate: -0.1"]),
    (["train", "--optimizer", "sgd:betas=(0.9,0.99)"], ["optimizer 'sgd' does not take 'betas'"]),
    (["train", "--model", "cnn", "--dataset", "spirals"], ["the cnn model needs an image dataset"]),
    (["train", "--data-dir", "/nonexistent/thalweg"], ["data directory does not exist: /nonexistent/thalweg"]),
    (["train", "--config", "/nonexistent/x.toml"], ["config file not found"]),
    (["train", "--epochs", "many"], ["argument --epochs: invalid int value: 'many'"]),
    (["fly"], ["invalid choice: 'fly'"]),
    (["report", "/nonexistent/run"], ["run directory not found"]),
    (["compare", "--optimizers", "sgd", "--schedules", "none"], ["exactly one of --optimizers"]),
    (["compare", "--optimizers", "sgd", "nope"], ["unknown optimizer 'nope'"]),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, needles):
    code = main(argv + (["--out", str(tmp_path / "runs")] if argv[0] in ("train", "compare") else []))
    _one_line_error(capsys, code, *needles)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_unknown_config_key_lists_valid_ones(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("epoch = 3\n")
    _one_line_error(capsys, main(["train", "--config", str(cfg)]), "unknown key 'epoch'", "valid: model, dataset")


def _mnist_dir(tmp_path, images_bytes):
    d = tmp_path / "data" / "mnist"
    d.mkdir(parents=True)
    (d / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(images_bytes))
    return tmp_path / "data"


def test_corrupted_idx_and_checksum_mismatch_are_bad_input(tmp_path, capsys):
    # a file in IDX format but not the official bytes: the checksum catches it before anything is trained
    root = _mnist_dir(tmp_path / "a", encode_idx(np.zeros((2, 28, 28), np.uint8)))
    code = main(["train", "--dataset", "mnist", "--data-dir", str(root), "--out", str(tmp_path / "runs")])
    _one_line_error(capsys, code, "train-images-idx3-ubyte.gz: checksum mismatch")
    # a truncated gzip
    d = tmp_path / "b" / "fashion-mnist"
    d.mkdir(parents=True)
    (d / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(bytes(5000))[:-20])
    code = main(["train", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path / "b"),
                 "--out", str(tmp_path / "runs")])
    _one_line_error(capsys, code, "corrupted or truncated gzip")
    assert not (tmp_path / "runs").exists()


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(ValueError, match="unknown model"):
        main(["train", "--model", "resnet", "--debug", "--out", str(tmp_path)])


def test_resume_and_report(tmp_path, capsys):
    assert main(["train", "--epochs", "2", "--out", str(tmp_path), "--no-plots", "--name", "r"]) == 0
    (run,) = tmp_path.iterdir()
    assert main(["train", "--resume", str(run), "--epochs", "4", "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "epoch 3/4" in out and "epoch 1/4" not in out
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 4
    assert main(["report", str(run)]) == 0
    rep = capsys.readouterr().out
    assert "status: completed" in rep and "best dev: epoch" in rep and "epoch 4/4" in rep
    code = main(["train", "--resume", str(run), "--lr", "0.5"])
    _one_line_error(capsys, code, "only --epochs")


def test_compare_optimizers_from_the_same_init(tmp_path, capsys):
    code = main(["compare", "--optimizers", "sgd", "sgd:momentum=0.9", "--epochs", "3", "--out", str(tmp_path),
                 "--dataset", "moons", "--no-checkpoint"])
    assert code == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    table = out[out.index("run "):]
    assert "sgd:momentum=0.9" in table and "best dev" in table
    (root,) = tmp_path.iterdir()
    data = json.loads((root / "comparison.json").read_text())
    assert [r["label"] for r in data["runs"]] == ["sgd", "sgd:momentum=0.9"]
    runs = sorted(p for p in root.iterdir() if p.is_dir())
    inits = []
    for r in runs:  # both started from the same weights: their first step's loss is the same
        first = (r / "steps.csv").read_text().splitlines()[1].split(",")
        inits.append(float(first[2]))
    assert inits[0] == inits[1]
    if data["plot"] == "compare.png":
        assert (root / "compare.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["report", str(root)]) == 0
    assert "comparison of optimizers" in capsys.readouterr().out


@pytest.mark.skipif(not (SHARED / "mnist" / "t10k-images-idx3-ubyte.gz").exists(), reason="no MNIST files")
def test_train_on_a_slice_of_mnist(tmp_path, capsys):
    code = main(["train", "--dataset", "mnist", "--data-dir", str(SHARED), "--limit", "500", "--epochs", "1",
                 "--hidden", "32", "--out", str(tmp_path), "--no-plots", "--no-checkpoint"])
    assert code == 0, capsys.readouterr().err
    assert "500 train / 10000 dev / 10000 test" in capsys.readouterr().out


@pytest.mark.parametrize("schedule", ["cosine", "cyclic", "onecycle", "plateau", "inverse-time",
                                      "exponential:gamma=0.5", "multistep"])
def test_every_schedule_name_trains(tmp_path, capsys, schedule):
    code = main(["train", "--dataset", "moons", "--epochs", "3", "--schedule", schedule, "--out", str(tmp_path),
                 "--no-plots", "--no-checkpoint", "--quiet"])
    assert code == 0, capsys.readouterr().err
    (run,) = tmp_path.iterdir()
    steps = [line.split(",") for line in (run / "steps.csv").read_text().splitlines()[1:]]
    lrs = [float(s[3]) for s in steps]
    if schedule in ("cyclic", "onecycle"):  # stepped per batch: the rate moves inside the first epoch
        assert len(set(lrs[:10])) == 10
    elif schedule.startswith("exponential"):
        assert sorted(set(lrs), reverse=True) == pytest.approx([0.05, 0.025, 0.0125])


def test_lr_find_plots_and_suggests_bounds(tmp_path, capsys):
    code = main(["lr-find", "--steps", "120", "--min-lr", "1e-4", "--max-lr", "3", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "suggested base_lr" in out
    (run,) = tmp_path.iterdir()
    data = json.loads((run / "lr_find.json").read_text())
    assert 1e-4 <= data["base_lr"] < data["max_lr"] <= 3
    assert len(data["lrs"]) <= 120 and data["lrs"][0] == pytest.approx(1e-4)
    if "plot skipped" not in out:
        assert (run / "lr_find.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["report", str(run)]) == 0
    assert "suggested base_lr" in capsys.readouterr().out
