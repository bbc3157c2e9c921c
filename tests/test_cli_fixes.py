"""Command-line fixes found by trying thalweg as a new user would (issue 21)."""

import json
import os
import sys

import numpy as np
import pytest

import thalweg
from thalweg.cli import main


def _one_line_error(capsys, code, *needles):
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err and "internal error" not in err, err
    for n in needles:
        assert n in err, err
    return err


QUICK = ["--epochs", "1", "--limit", "100", "--no-plots", "--no-progress"]


def test_inline_option_values_of_the_wrong_kind_name_key_and_value(tmp_path, capsys):
    out = ["--out", str(tmp_path)]
    _one_line_error(capsys, main(["train", "--optimizer", "sgd:momentum=abc", *QUICK, *out]), "momentum", "'abc'")
    _one_line_error(capsys, main(["train", "--schedule", "step:gamma=abc", *QUICK, *out]), "gamma", "'abc'")
    _one_line_error(capsys, main(["train", "--optimizer", "sgd:nesterov=maybe", *QUICK, *out]), "nesterov", "maybe")
    _one_line_error(capsys, main(["train", "--optimizer", "adam:betas=x", *QUICK, *out]), "betas")
    _one_line_error(capsys, main(["train", "--schedule", "multistep:milestones=3", *QUICK, *out]), "milestones")
    _one_line_error(capsys, main(["train", "--optimizer", "sgd:lr=-1", *QUICK, *out]), "learning rate")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["../../escape", "a/b", "..", ".hidden", ""])
def test_run_names_are_one_folder_inside_out(tmp_path, capsys, name):
    out = tmp_path / "runs"
    _one_line_error(capsys, main(["train", "--name", name, *QUICK, "--out", str(out)]), "--name")
    _one_line_error(capsys, main(["lr-find", "--name", name, "--steps", "5", "--out", str(out)]), "--name")
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == []


def test_divergence_at_step_two_tells_the_truth(tmp_path, capsys):
    with np.errstate(all="ignore"):
        code = main(["train", "--lr", "1e20", "--epochs", "2", "--out", str(tmp_path), "--no-plots",
                     "--no-progress"])
    cap = capsys.readouterr()
    assert code == 1
    assert "step 2" in cap.err and "no checkpoint had been written yet" in cap.err
    assert "last good ones" not in cap.out + cap.err
    assert "test  loss" not in cap.out and "no test evaluation" in cap.out
    (run,) = tmp_path.iterdir()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["test"] is None


def _interrupt_after_epoch(monkeypatch, epoch):
    from thalweg.train.loop import Trainer

    original = Trainer._end_epoch

    def end_epoch(self, e, epochs, record):
        original(self, e, epochs, record)
        if e == epoch:
            raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "_end_epoch", end_epoch)


def test_ctrl_c_prints_a_resume_hint_and_resume_cleans_stale_temporaries(tmp_path, capsys, monkeypatch):
    _interrupt_after_epoch(monkeypatch, 2)
    assert main(["train", "--epochs", "4", "--limit", "100", "--out", str(tmp_path), "--no-plots", "--no-progress",
                 "--name", "r"]) == 130
    (run,) = tmp_path.iterdir()
    err = capsys.readouterr().err
    assert f"continue with: thalweg train --resume {run}" in err
    # what a kill -9 in the middle of an atomic write leaves behind
    stale = [run / ".metrics.jsonl.abc123.tmp", run / "checkpoints" / ".last.npz.x9y8.tmp"]
    for f in stale:
        f.write_bytes(b"half a file")
    monkeypatch.undo()
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    assert not any(f.exists() for f in stale)
    assert json.loads((run / "summary.json").read_text())["epochs_run"] == 4


def test_ctrl_c_before_any_checkpoint_says_there_is_nothing_to_resume(tmp_path, capsys, monkeypatch):
    from thalweg.train.loop import Trainer

    def boom(self, *a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "_train_epoch", boom)
    assert main(["train", *QUICK, "--out", str(tmp_path)]) == 130
    assert "nothing to resume" in capsys.readouterr().err


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("r")
    assert main(["train", "--epochs", "14", "--limit", "100", "--out", str(root), "--no-plots", "--no-progress",
                 "--quiet"]) == 0
    (run,) = root.iterdir()
    return run


def test_report_shows_the_default_learning_rate(default_run, capsys):
    assert main(["report", str(default_run)]) == 0
    out = capsys.readouterr().out
    assert "lr=0.05 (default)" in out and "lr=None" not in out


def test_report_into_a_closed_pipe_is_quiet(default_run, capsys, monkeypatch):
    r, w = os.pipe()
    os.close(r)  # `| head` has gone
    saved = os.dup(1)
    try:
        pipe = os.fdopen(w, "w", buffering=1)
        monkeypatch.setattr(sys, "stdout", pipe)
        assert main(["report", str(default_run), "--all"]) == 0
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    assert "BrokenPipe" not in capsys.readouterr().err


def test_help_thalweg_points_to_the_parts():
    doc = thalweg.__doc__
    for part in ("thalweg.nn", "thalweg.optim", "thalweg.data", "thalweg.train", "thalweg train", "thalweg predict",
                 "thalweg.onnx", "thalweg.utils.tensorboard", "--help"):
        assert part in doc, part


def test_lr_find_warns_when_the_suggestion_is_the_end_of_the_sweep(tmp_path, capsys):
    code = main(["lr-find", "--steps", "30", "--min-lr", "1e-6", "--max-lr", "1e-5", "--limit", "200", "--out",
                 str(tmp_path), "--no-plots", "--no-progress"])
    assert code == 0
    out = capsys.readouterr().out
    assert "extending it to 0.0001" in out
    (run,) = tmp_path.iterdir()
    data = json.loads((run / "lr_find.json").read_text())
    assert data["lrs"][-1] > 1e-5  # the sweep went past the requested end
    if data["max_lr"] is not None and data["warning"]:
        assert "at the end of the sweep" in out and "warning:" in out
    if data["max_lr"] is not None:
        assert "--schedule cyclic --lr" in out  # how to use the bounds, and not as a constant rate
    assert main(["report", str(run)]) == 0


def test_report_piped_into_head_in_a_real_shell(default_run):
    import shlex
    import subprocess

    cmd = (f"{shlex.quote(sys.executable)} -c 'import sys; from thalweg.cli import main; sys.exit(main())' "
           f"report {shlex.quote(str(default_run))} --all | head -0")
    for _ in range(3):
        p = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, timeout=60)
        assert p.stderr == "" and p.returncode == 0, p.stderr
