"""Writing a lab run down: ``report.md`` and ``result.json`` in the run's directory, and a printed summary.

``report.md`` has the sections a reader of a reproduction expects, in this
order: the claim, the setup, the measured figures (Markdown tables), the
verdict with the checks it rests on, the plots (embedded PNGs, or the reason
they were skipped) and notes.  ``result.json`` holds the same figures as
plain data for scripts.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # pragma: no cover
    from thalweg_lab.registry import Experiment
    from thalweg_lab.result import LabResult

__all__ = ["write_report", "render_report", "print_summary", "differences", "scrub_paths", "REPORT_SECTIONS"]

REPORT_SECTIONS = ("## Claim", "## Setup", "## Differences from the paper", "## Measured figures", "## Verdict",
                   "## Plots")

# An absolute path: a slash not preceded by a word character, a dot, a colon, a slash or a tilde
# (so URLs and relative paths are left alone), then at least two path components.
_ABS_PATH = re.compile(r"(?<![\w.:/~-])/(?:[\w.+-]+/)+[\w.+-]*")


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _paper_line(exp: "Experiment") -> str:
    p = exp.paper
    if p[:1].isdigit() and "." in p:
        return f"{exp.title} (arXiv:{p}, https://arxiv.org/abs/{p})"
    return f"{exp.title} ({p})"


def render_report(exp: "Experiment", result: "LabResult", out_dir: Path) -> str:
    """The Markdown text of ``report.md`` (plots linked relative to ``out_dir``)."""
    v = result.verdict
    mode = "quick mode (a small run for the tests; figures are not at the paper's scale)" if result.quick \
        else "full mode"
    timing = f", {result.seconds:.1f} s wall time" if math.isfinite(result.seconds) else ""
    lines = [f"# {exp.name}: {exp.title}", "",
             f"Source: {_paper_line(exp)}. Run: {mode}, seed {result.seed}{timing}.", "",
             "## Claim", "", exp.claim.strip(), "",
             "## Setup", "", result.setup.strip(), "",
             "## Differences from the paper", ""]
    lines += [f"- {d}" for d in differences(exp, result)] + [""]
    lines += ["## Measured figures", ""]
    for t in result.tables:
        if t.title:
            lines += [f"**{t.title}**", ""]
        lines += [t.to_markdown(), ""]
    lines += ["## Verdict", ""]
    if v is None:
        lines += ["(no verdict)", ""]
    else:
        lines += [f"**{v.outcome.upper()}**: {v.reason}", ""]
        if v.checks:
            lines += ["| check | measured | criterion | holds |", "| --- | --- | --- | --- |"]
            lines += [f"| {_cell(c.description)}{'' if c.primary else ' (secondary)'} | {_cell(c.measured)} | "
                      f"{_cell(c.criterion)} | {'yes' if c.passed else 'no'} |" for c in v.checks]
            lines.append("")
    lines += ["## Plots", ""]
    for p in result.plots:
        rel = os.path.relpath(p, out_dir)
        lines += [f"![{Path(p).stem}]({rel})", ""]
    for note in result.plot_notes:
        lines += [f"Plots skipped: {note}", ""]
    if not result.plots and not result.plot_notes:
        lines += ["(this experiment draws no plot)", ""]
    if result.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in result.notes] + [""]
    return scrub_paths("\n".join(lines))


def differences(exp: "Experiment", result: "LabResult") -> list[str]:
    """The items of ``## Differences from the paper``: the experiment's, the run's, and the framework's
    own (quick mode; fewer seeds than ``MIN_SEEDS``).  An experiment without any is refused."""
    from thalweg_lab.result import MIN_SEEDS

    items = [d.strip() for d in (*exp.differences, *result.differences) if str(d).strip()]
    if not items:
        raise ValueError(f"lab {exp.name}: the report needs a '## Differences from the paper' section; "
                         f"the experiment lists no differences")
    if result.quick:
        items.append("Quick mode: sizes, steps and seeds are cut to seconds for the tests; its figures and verdict "
                     "say nothing about the paper's claim.")
    if 0 < result.n_seeds < MIN_SEEDS and not result.quick:
        items.append(f"The figures come from {result.n_seeds} seed(s), fewer than the {MIN_SEEDS} the lab asks for.")
    return items


def scrub_paths(text: str) -> str:
    """``text`` with every absolute path made relative to the working directory (when below it) or
    cut to its last two components, so that no report shows the machine it ran on."""
    from thalweg_lab.datasets import display_path

    return _ABS_PATH.sub(lambda m: display_path(m.group(0)), text)


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if hasattr(x, "tolist"):
        return _plain(x.tolist())
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, (int, float, str, bool)) or x is None:
        return x
    return str(x)


def write_report(exp: "Experiment", result: "LabResult", out_dir: str | Path) -> Path:
    """Write ``report.md`` and ``result.json`` into ``out_dir``; return the report's path."""
    out = Path(out_dir)
    path = out / "report.md"
    _atomic_write_text(path, render_report(exp, result, out))
    v = result.verdict
    data = {"name": exp.name, "paper": exp.paper, "title": exp.title, "claim": exp.claim, "quick": result.quick,
            "seed": result.seed, "seconds": result.seconds, "measured": result.measured,
            "verdict": None if v is None else {"outcome": v.outcome, "reason": v.reason,
                                               "checks": [c.__dict__ for c in v.checks]},
            "tables": [t.as_dict() for t in result.tables], "plots": [str(os.path.relpath(p, out)) for p in result.plots],
            "plot_notes": result.plot_notes, "notes": result.notes, "differences": differences(exp, result),
            "n_seeds": result.n_seeds}
    _atomic_write_text(out / "result.json", scrub_paths(json.dumps(_plain(data), indent=1)) + "\n")
    return path


def print_summary(exp: "Experiment", result: "LabResult", report: Path,
                  echo: Callable[[str], None] = print) -> None:
    """Print the claim, the measured figures the verdict rests on, and the verdict."""
    echo(f"{exp.name} ({exp.paper}){' [quick]' if result.quick else ''}")
    echo(f"claim:    {exp.claim.strip()}")
    for line in result.headline():
        echo(f"measured: {line}")
    if result.verdict is not None:
        echo(f"verdict:  {result.verdict.outcome.upper()}: {result.verdict.reason}")
    for note in result.plot_notes:
        echo(f"plots skipped: {note}")
    echo(f"report:   {report}  ({result.seconds:.1f} s)")


def _cell(text: object) -> str:
    """Text safe inside a Markdown table cell (a ``|`` would end the cell)."""
    return str(text).replace("|", "\\|")
