"""Run the compatibility corpus: real PyTorch scripts by other authors, under torch and under thalweg.

Each folder beside this file holds one script (or a small project) copied verbatim from its public
repository, and a ``port.toml`` that says where it came from (repository, commit, path, licence), how to
run it at a reduced size (its own command-line options), and the few edits a port may make: where the data
comes from (no downloads here), and hyperparameter constants for scripts that have no options. The import
change (``import torch`` -> ``import thalweg as torch`` and the like) is applied by this harness to every
``.py`` file of the folder, and is the only difference between the two runs.

A script *passes* when it runs to completion under thalweg and, where its ``port.toml`` names a metric
(a regular expression over the script's own output), the last value thalweg prints is within the stated
relative tolerance of torch's (the control run, same edits, real torch). The two libraries draw different
random numbers, so the figures agree as training runs agree, not to the last digit.

    python tests/compat/corpus/harness.py             # every script; prints "N/M pass" and wall times
    python tests/compat/corpus/harness.py gcn regression --keep /tmp/corpus

torchvision is not installed next to torch 2.13 here, so both runs import a small stand-in package
(``_shims/torchvision``) that serves MNIST from the IDX files in ``$THALWEG_DATA`` (default
``../shared/data``), as the tensors of whichever library the run uses.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHIMS = HERE / "_shims"

_IMPORT_RULES = [
    (re.compile(r"^(\s*)import torch\s*$", re.M), r"\1import thalweg as torch"),
    (re.compile(r"^(\s*)import torch\.([\w.]+) as (\w+)", re.M), r"\1import thalweg.\2 as \3"),
    (re.compile(r"^(\s*)import torch\.([\w.]+)\s*$", re.M), r"\1import thalweg.\2; import thalweg as torch"),
    (re.compile(r"^(\s*)from torch(\.[\w.]+)? import", re.M), r"\1from thalweg\2 import"),
]


def port_imports(source: str) -> str:
    """The import change of a port: every ``torch`` import becomes the same import of ``thalweg``."""
    for pattern, repl in _IMPORT_RULES:
        source = pattern.sub(repl, source)
    return source


@dataclasses.dataclass
class Script:
    """One corpus entry, read from its ``port.toml``."""

    name: str
    folder: Path
    spec: dict

    @property
    def quick(self) -> bool:
        return bool(self.spec.get("quick", False))


@dataclasses.dataclass
class Run:
    backend: str
    returncode: int
    seconds: float
    output: str
    metric: float | None


def load_corpus(names: list[str] | None = None) -> list[Script]:
    scripts = []
    for port in sorted(HERE.glob("*/port.toml")):
        name = port.parent.name
        if names and name not in names:
            continue
        with open(port, "rb") as f:
            scripts.append(Script(name, port.parent, tomllib.load(f)))
    if names:
        missing = sorted(set(names) - {s.name for s in scripts})
        if missing:
            raise SystemExit(f"harness: no corpus entry named {', '.join(missing)}")
    return scripts


def _prepare(script: Script, backend: str, workdir: Path) -> None:
    """Copy the script's folder into ``workdir`` and apply the port's edits (and, for thalweg, the imports)."""
    source = HERE / script.spec["files_from"] if "files_from" in script.spec else script.folder
    shutil.copytree(source, workdir, dirs_exist_ok=True, ignore=shutil.ignore_patterns("port.toml"))
    for edit in script.spec.get("edit", []):
        path = workdir / edit["file"]
        text = path.read_text()
        if edit["old"] not in text:
            raise RuntimeError(f"{script.name}: port edit not found in {edit['file']}: {edit['old'][:60]!r}")
        path.write_text(text.replace(edit["old"], edit["new"]))
    if backend == "thalweg":
        for path in workdir.rglob("*.py"):
            path.write_text(port_imports(path.read_text()))


def run_script(script: Script, backend: str, keep: Path | None = None) -> Run:
    """Run one script under ``backend`` ("torch" or "thalweg") in a fresh directory."""
    root = Path(tempfile.mkdtemp(prefix=f"corpus-{script.name}-{backend}-")) if keep is None else keep
    workdir = root / f"{script.name}-{backend}"
    if workdir.exists():
        shutil.rmtree(workdir)
    _prepare(script, backend, workdir)
    env = dict(os.environ)
    env["CORPUS_BACKEND"] = backend
    env["PYTHONPATH"] = os.pathsep.join([str(SHIMS), str(workdir)] + ([env["PYTHONPATH"]] if "PYTHONPATH" in env else []))
    env.setdefault("THALWEG_DATA", str((HERE / "../../../../shared/data").resolve()))
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MPLBACKEND", "Agg")
    timeout = float(script.spec.get("timeout", 300))
    output = []
    start = time.perf_counter()
    returncode = 0
    cwd = workdir / script.spec.get("cwd", ".")
    for cmd in script.spec.get("setup", []) + [[script.spec["entry"], *script.spec.get("args", [])]]:
        try:
            proc = subprocess.run([sys.executable, *cmd], cwd=cwd, env=env, capture_output=True, text=True,
                                  timeout=timeout)
            output.append(proc.stdout + proc.stderr)
            returncode = proc.returncode
        except subprocess.TimeoutExpired as e:
            output.append(f"{(e.stdout or b'')!s}\nTIMEOUT after {timeout:.0f} s")
            returncode = -1
        if returncode != 0:
            break
    seconds = time.perf_counter() - start
    text = "\n".join(output)
    metric = None
    if "metric" in script.spec and returncode == 0:
        found = re.findall(script.spec["metric"], text)
        metric = float(found[-1]) if found else None
    if keep is None:
        shutil.rmtree(root, ignore_errors=True)
    return Run(backend, returncode, seconds, text, metric)


def judge(script: Script, ours: Run, control: Run) -> tuple[bool, str]:
    """Whether thalweg's run passes against torch's control, and why."""
    if control.returncode != 0:
        return False, "the torch control failed: " + control.output.strip().splitlines()[-1][:200]
    if ours.returncode != 0:
        lines = ours.output.strip().splitlines() or ["(no output)"]
        return False, lines[-1][:200]
    if "metric" not in script.spec:
        return True, "ran to completion"
    if ours.metric is None or control.metric is None:
        return False, f"metric {script.spec['metric']!r} not found in the output"
    tol = float(script.spec.get("tolerance", 0.25))
    scale = max(abs(control.metric), float(script.spec.get("metric_floor", 1e-3)))
    ok = abs(ours.metric - control.metric) <= tol * scale
    return ok, f"metric thalweg {ours.metric:.4g} vs torch {control.metric:.4g} (tolerance {tol:.0%})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="corpus entries to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="only the entries marked quick (what the tests run)")
    parser.add_argument("--keep", type=Path, help="keep the working folders here")
    parser.add_argument("--verbose", action="store_true", help="print each run's output")
    args = parser.parse_args(argv)
    scripts = [s for s in load_corpus(args.names or None) if s.quick or not args.quick]
    passed = semantic = 0
    print(f"{'script':22} {'result':6} {'thalweg s':>9} {'torch s':>8} {'ratio':>6}  detail")
    for s in scripts:
        control = run_script(s, "torch", args.keep)
        ours = run_script(s, "thalweg", args.keep)
        ok, why = judge(s, ours, control)
        passed += ok
        if ok and any(e.get("kind") == "semantic" for e in s.spec.get("edit", [])):
            semantic += 1
            why += " [with a semantic edit, see port.toml]"
        ratio = ours.seconds / control.seconds if control.seconds else float("nan")
        print(f"{s.name:22} {'pass' if ok else 'FAIL':6} {ours.seconds:9.1f} {control.seconds:8.1f} {ratio:6.2f}  {why}",
              flush=True)
        if args.verbose or not ok:
            for run in (control, ours):
                tail = "\n".join(run.output.strip().splitlines()[-12:])
                print(f"  --- {run.backend} (exit {run.returncode}) ---\n" + "\n".join("  " + l for l in tail.splitlines()))
    print(f"{passed}/{len(scripts)} pass" + (f" ({semantic} with a semantic edit)" if semantic else ""))
    return 0 if passed == len(scripts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
