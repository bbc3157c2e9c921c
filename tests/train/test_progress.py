"""Progress: a per-batch tqdm bar on a terminal (or when forced), one line per epoch otherwise."""

import io
import sys

import numpy as np
import pytest

import thalweg as tw
from thalweg import optim
from thalweg.train import fit
from thalweg.train.progress import format_running, progress_bar, progress_enabled

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from train_helpers import mlp, small_digits  # noqa: E402


class _TTY(io.StringIO):
    def isatty(self):
        return True


def test_auto_means_a_terminal_without_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    assert progress_enabled("auto", file=_TTY()) is True
    assert progress_enabled("auto", file=io.StringIO()) is False  # a pipe or a log file
    monkeypatch.setenv("CI", "true")
    assert progress_enabled("auto", file=_TTY()) is False
    monkeypatch.setenv("CI", "0")
    assert progress_enabled("auto", file=_TTY()) is True
    assert progress_enabled(True) is True and progress_enabled(False) is False
    with pytest.raises(ValueError, match="progress must be"):
        progress_enabled("sometimes")


def test_disabled_bar_is_a_silent_stand_in():
    bar = progress_bar(10, desc="x", enabled=False)
    with bar:
        bar.update(3)
        bar.set_postfix_str("loss 1")
    bar.close()


def test_running_postfix_is_keras_style():
    assert format_running({"loss": 0.23456, "train_accuracy": 0.9341}) == "loss 0.2346  acc 93.41%"


def _fit(progress, capsys):
    train, dev, _ = small_digits(128)
    model = mlp()
    lines = []
    fit(model, optim.SGD(model.parameters(), lr=0.1), train, dev, epochs=2, batch_size=32, seed=0,
        progress=progress, log=lines.append)
    return lines, capsys.readouterr()


def test_fit_draws_a_per_batch_bar_with_the_running_loss_when_forced(capsys):
    lines, cap = _fit(True, capsys)
    assert "epoch 1/2" in cap.err and "epoch 2/2" in cap.err  # the bars, on stderr
    assert "4/4" in cap.err and "batch" in cap.err and "loss " in cap.err and "acc " in cap.err
    assert sum(ln.startswith("epoch") for ln in lines) == 2  # the epoch lines with the metrics stay


def test_fit_prints_one_line_per_epoch_without_a_terminal(capsys, monkeypatch):
    monkeypatch.setenv("CI", "true")
    lines, cap = _fit("auto", capsys)
    assert cap.err == ""
    assert [ln.split()[1] for ln in lines if ln.startswith("epoch")] == ["1/2", "2/2"]


def test_progress_false_is_silent_even_on_a_terminal(capsys, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    lines, cap = _fit(False, capsys)
    assert cap.err == "" and len(lines) >= 2


def test_fit_refuses_a_bad_progress_value():
    train, dev, _ = small_digits(64)
    model = mlp()
    with pytest.raises(ValueError, match="progress"):
        fit(model, optim.SGD(model.parameters(), lr=0.1), train, dev, epochs=1, progress="yes", verbose=True,
            log=lambda m: None)


def test_download_reads_in_chunks_with_a_bar(tmp_path, capsys, monkeypatch):
    from thalweg.data.download import url_fetcher
    import thalweg.train.progress as P

    payload = np.random.default_rng(0).bytes(200_000)
    f = tmp_path / "blob.gz"
    f.write_bytes(payload)
    monkeypatch.setattr(P, "progress_enabled", lambda enabled="auto", file=None: True)
    assert url_fetcher()(f.as_uri()) == payload
    err = capsys.readouterr().err
    assert "blob.gz" in err and "B" in err


def test_lr_find_shows_a_bar_and_extends_a_sweep_that_never_turned_up(tmp_path, capsys):
    from thalweg.train.lr_find import lr_find

    train, _, _ = small_digits(256)
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.01)
    lines = []
    r = lr_find(model, opt, train, min_lr=1e-5, max_lr=1e-4, steps=40, out=tmp_path, plots=False,
                log=lines.append, extend=2, progress=True)
    assert any("extending it to 0.001" in ln for ln in lines)  # 1e-4 is far too small: the loss still falls
    assert "lr-find" in capsys.readouterr().err
    assert r["warning"] is None or "end of the sweep" in r["warning"]
    r0 = lr_find(model, opt, train, min_lr=1e-5, max_lr=1e-4, steps=40, out=tmp_path, plots=False,
                 log=lines.append, extend=0, progress=False)
    if r0["max_lr"] is not None:
        assert r0["warning"] and "end of the sweep" in r0["warning"] and any("warning:" in ln for ln in lines)


def test_lab_training_shows_a_step_bar_on_a_terminal(capsys, monkeypatch):
    pytest.importorskip("thalweg_lab")
    import thalweg.train.progress as P
    from thalweg import nn
    from thalweg_lab.training import train

    monkeypatch.setattr(P, "progress_enabled", lambda enabled="auto", file=None: True)
    model = nn.Linear(4, 3)
    rng = np.random.default_rng(0)
    log = train(model, optim.SGD(model.parameters(), lr=0.1), rng.random((64, 4), dtype=np.float32),
                rng.integers(0, 3, 64), steps=12, batch_size=8, seed=0)
    assert len(log.loss) == 12
    err = capsys.readouterr().err
    assert "lab train" in err and "step" in err
