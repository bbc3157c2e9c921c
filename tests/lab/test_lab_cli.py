"""``thalweg lab`` as a command: the stand-alone ``main`` and the hook for the main parser."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Mapping

import pytest

import thalweg_lab as lab
from thalweg_lab import cli, registry
from thalweg_lab.result import Check, LabResult, Table, Verdict, verdict_from_checks

OURS = ("clr", "depth", "dropout", "lr-range-test", "memorization", "optimizer-paths", "optimizer-survey",
        "weight-decay")


def test_every_lab_module_imports_and_registers() -> None:
    found = lab.experiments()
    assert set(OURS) <= set(found)
    assert lab.discovery_errors() == {}
    for name, exp in found.items():
        assert exp.name == name and exp.claim.strip() and exp.title.strip() and exp.paper.strip()


def test_list_prints_every_experiment(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--list"]) == 0
    out = capsys.readouterr().out
    for name in lab.experiments():
        assert f"\n{name} " in "\n" + out
    assert "claim:" in out and "1506.01186" in out


def test_bad_input_is_one_line_and_status_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["no-such-paper"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("thalweg lab: error: unknown lab experiment 'no-such-paper'") and err.count("\n") == 1
    assert cli.main([]) == 2
    assert "give an experiment name" in capsys.readouterr().err
    assert cli.main(["depth", "--seed", "-1"]) == 2
    assert cli.main(["depth", "--data-dir", str(tmp_path / "missing")]) == 2
    assert "no such directory" in capsys.readouterr().err


def _judge(m: Mapping[str, Any]) -> Verdict:
    return verdict_from_checks([Check.at_least("seed + 1", m["value"], 1.0)])


def _run(*, quick: bool, out_dir: Path, seed: int) -> LabResult:
    return LabResult(setup=f"quick={quick}", tables=[Table(["v"], [[seed + 1]])], measured={"value": seed + 1.0})


def test_the_hook_runs_an_experiment_from_the_main_parser(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    lab.experiments()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    lab.register(lab.Experiment("zz-cli", "p", "A title", "Values are positive.", _run, _judge,
                                  differences=("Made-up data for the tests.",)))
    parser = argparse.ArgumentParser(prog="thalweg")
    sub = parser.add_subparsers(dest="command")
    cli.add_parser(sub)
    args = parser.parse_args(["lab", "zz-cli", "--quick", "--seed", "2", "--out", str(tmp_path / "r")])
    assert args.func is cli.run and args.quick and args.seed == 2
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "claim:    Values are positive." in out and "verdict:  REPRODUCED" in out
    report = (tmp_path / "r" / "report.md").read_text()
    assert "quick=True" in report and "| 3 |" in report


def test_default_output_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    lab.experiments()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    lab.register(lab.Experiment("zz-cli", "p", "A title", "Values are positive.", _run, _judge,
                                  differences=("Made-up data for the tests.",)))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["zz-cli", "--quick"]) == 0
    assert (tmp_path / "runs" / "lab" / "zz-cli-quick" / "report.md").is_file()
