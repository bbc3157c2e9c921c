"""What a lab run produces: measured figures, tables, checks, a verdict and plots.

A reproduction is judged in three steps, each kept apart so that the last one
can be tested on made-up numbers:

1. ``run`` trains things and records plain numbers in ``LabResult.measured``
   (a flat ``{name: float or list of floats}``).
2. The experiment's ``judge(measured)`` turns those numbers into ``Check``\\ s,
   each comparing one measured figure with the criterion stated in the claim
   (``Check.at_most("first/last layer gradient ratio", 0.012, 0.1)``).
3. ``verdict_from_checks`` reads the checks: all hold -> "reproduced"; the
   primary ones hold but a secondary one fails, or only some primary ones hold
   -> "partly reproduced"; no primary one holds -> "not reproduced".  The
   reason lists what failed, with the measured value and the criterion.

Nothing here knows what an experiment should find: a verdict can only come
from the measured numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

__all__ = ["REPRODUCED", "PARTLY", "NOT_REPRODUCED", "OUTCOMES", "MIN_SEEDS", "Check", "Verdict", "Table",
           "LabResult", "verdict_from_checks", "fmt_value", "spread", "per_seed", "lowest", "highest", "mean_or_nan"]

MIN_SEEDS = 3  # every figure a verdict rests on comes from at least this many seeds in a full run

REPRODUCED = "reproduced"
PARTLY = "partly reproduced"
NOT_REPRODUCED = "not reproduced"
OUTCOMES = (REPRODUCED, PARTLY, NOT_REPRODUCED)

Measured = Mapping[str, Any]


def fmt_value(v: Any, spec: str = ".4g") -> str:
    """A number for a table or a sentence: ``nan``/``inf`` spelled out, integers without decimals."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int,)) and not isinstance(v, bool):
        return f"{v:,}" if abs(v) >= 10_000 else str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "n/a"
        if math.isinf(v):
            return "never" if v > 0 else "-inf"
        return format(v, spec)
    return str(v)


def spread(values: Sequence[float], spec: str = ".4g") -> str:
    """``mean ± std (min to max, n=K)`` of per-seed values, the form a report gives a figure in."""
    x = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(float(v))]
    if not x:
        return "n/a"
    mean = sum(x) / len(x)
    if len(x) == 1:
        return f"{format(mean, spec)} (n=1)"
    std = math.sqrt(sum((v - mean) ** 2 for v in x) / (len(x) - 1))
    return f"{format(mean, spec)} ± {format(std, spec)} ({format(min(x), spec)} to {format(max(x), spec)}, n={len(x)})"


def per_seed(v: Any) -> "np.ndarray":
    """Per-seed figures as a float64 array (a single number counts as one seed; "inf"/"nan" strings from a
    ``result.json`` are read back as numbers)."""
    import numpy as np

    items = v if isinstance(v, (list, tuple)) or hasattr(v, "ndim") else [v]
    return np.asarray([float(x) for x in items], dtype=np.float64)


def lowest(v: "np.ndarray") -> float:
    """The smallest per-seed figure, for a criterion that must hold on every seed; NaN (a failing value) when
    there is none or one is NaN."""
    return float(v.min()) if v.size and not math.isnan(float(v.sum())) else math.nan


def mean_or_nan(values: Any) -> float:
    """The mean of per-seed figures; NaN (a failing value) when there are none."""
    import numpy as np

    x = np.asarray(values, dtype=np.float64)
    return float(x.mean()) if x.size else math.nan


def highest(v: "np.ndarray") -> float:
    """The largest per-seed figure (see :func:`lowest`)."""
    return float(v.max()) if v.size and not math.isnan(float(v.sum())) else math.nan


def _finite(v: float) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class Check:
    """One measured figure against one criterion.

    ``primary`` checks carry the claim; a failed secondary check (a side
    observation of the paper, a sanity check) can only lower "reproduced" to
    "partly reproduced".  Build checks with the class methods so that
    ``passed`` is computed from the value, never given.
    """

    description: str
    measured: str
    criterion: str
    passed: bool
    primary: bool = True

    @classmethod
    def at_most(cls, description: str, value: float, limit: float, *, primary: bool = True,
                spec: str = ".3g") -> "Check":
        """Holds when ``value <= limit`` (a NaN or missing value fails)."""
        return cls(description, fmt_value(value, spec), f"<= {fmt_value(float(limit), spec)}",
                   _finite(value) and value <= limit, primary)

    @classmethod
    def at_least(cls, description: str, value: float, limit: float, *, primary: bool = True,
                 spec: str = ".3g") -> "Check":
        """Holds when ``value >= limit`` (a NaN fails; +inf passes)."""
        ok = isinstance(value, (int, float)) and not math.isnan(value) and value >= limit
        return cls(description, fmt_value(value, spec), f">= {fmt_value(float(limit), spec)}", bool(ok), primary)

    @classmethod
    def less_than(cls, description: str, value: float, limit: float, *, primary: bool = True,
                  spec: str = ".3g") -> "Check":
        """Holds when ``value < limit`` strictly (NaN fails; +inf never holds)."""
        ok = isinstance(value, (int, float)) and not math.isnan(value) and value < limit
        return cls(description, fmt_value(value, spec), f"< {fmt_value(float(limit), spec)}", bool(ok), primary)

    @classmethod
    def greater_than(cls, description: str, value: float, limit: float, *, primary: bool = True,
                     spec: str = ".3g") -> "Check":
        """Holds when ``value > limit`` strictly (NaN fails)."""
        ok = isinstance(value, (int, float)) and not math.isnan(value) and value > limit
        return cls(description, fmt_value(value, spec), f"> {fmt_value(float(limit), spec)}", bool(ok), primary)

    @classmethod
    def between(cls, description: str, value: float, low: float, high: float, *, primary: bool = True,
                spec: str = ".3g") -> "Check":
        """Holds when ``low <= value <= high``."""
        return cls(description, fmt_value(value, spec),
                   f"in [{fmt_value(float(low), spec)}, {fmt_value(float(high), spec)}]",
                   _finite(value) and low <= value <= high, primary)

    @classmethod
    def count_at_least(cls, description: str, count: int, total: int, needed: int, *,
                       primary: bool = True) -> "Check":
        """Holds when ``count >= needed`` (e.g. "9 of 11 optimizers left the saddle before SGD")."""
        return cls(description, f"{count} of {total}", f">= {needed} of {total}", count >= needed, primary)

    def line(self) -> str:
        mark = "holds" if self.passed else "FAILS"
        kind = "" if self.primary else " (secondary)"
        return f"{self.description}: {self.measured} (criterion {self.criterion}) -> {mark}{kind}"


@dataclass(frozen=True)
class Verdict:
    """The outcome (one of ``OUTCOMES``), the reason in words, and the checks it was read from."""

    outcome: str
    reason: str
    checks: tuple[Check, ...] = ()

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"Verdict: outcome must be one of {', '.join(OUTCOMES)}, got {self.outcome!r}")


def verdict_from_checks(checks: Iterable[Check], *, context: str = "") -> Verdict:
    """Read a verdict off the checks (rules in the module docstring).

    ``context`` is appended to the reason when something fails: the
    experiment's own account of why a scaled-down run may differ from the
    paper (fewer epochs, a smaller data set, ...).
    """
    checks = tuple(checks)
    primary = [c for c in checks if c.primary]
    if not primary:
        raise ValueError("verdict_from_checks: at least one primary check is needed")
    failed = [c for c in checks if not c.passed]
    held_primary = [c for c in primary if c.passed]
    if not failed:
        outcome = REPRODUCED
        reason = "every check holds: " + "; ".join(f"{c.description} = {c.measured} ({c.criterion})" for c in checks)
    else:
        outcome = PARTLY if held_primary else NOT_REPRODUCED
        parts = [f"{c.description} = {c.measured}, needs {c.criterion}" + ("" if c.primary else " (secondary)")
                 for c in failed]
        reason = "fails: " + "; ".join(parts)
        held = [c for c in checks if c.passed]
        if held:
            reason += ". Holds: " + "; ".join(f"{c.description} = {c.measured} ({c.criterion})" for c in held)
        if context:
            reason += ". " + context.strip()
    return Verdict(outcome, reason, checks)


@dataclass
class Table:
    """A table of figures: ``columns`` and ``rows`` of values (numbers are formatted when written)."""

    columns: Sequence[str]
    rows: list[Sequence[Any]] = field(default_factory=list)
    title: str = ""
    spec: str = ".4g"

    def add(self, *values: Any) -> None:
        if len(values) != len(self.columns):
            raise ValueError(f"Table {self.title!r}: {len(values)} values for {len(self.columns)} columns")
        self.rows.append(list(values))

    def to_markdown(self) -> str:
        def cell(v: Any) -> str:
            return fmt_value(v, self.spec).replace("|", "\\|")

        lines = ["| " + " | ".join(str(c).replace("|", "\\|") for c in self.columns) + " |",
                 "| " + " | ".join("---" for _ in self.columns) + " |"]
        lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in self.rows]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        def plain(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return str(v)
            return v if isinstance(v, (int, float, str, bool)) or v is None else str(v)

        return {"title": self.title, "columns": list(self.columns), "rows": [[plain(v) for v in r] for r in self.rows]}


@dataclass
class LabResult:
    """Everything a lab run reports.

    Attributes:
        setup: what was run, in Markdown (data, model, optimizer, steps, seeds);
            say here when the data fell back to the embedded digits.
        tables: the measured figures; the first one is the headline table.
        measured: the flat numbers the verdict is computed from
            (``{name: float or list of floats}``), saved in ``result.json``.
        verdict: set by the framework from ``Experiment.judge(measured)``
            unless ``run`` already computed it (then both must agree).
        plots: PNG files written into the run's directory.
        plot_notes: why plots are missing (matplotlib not installed, ...).
        notes: anything else the reader should know.
        differences: what this run adds to the experiment's own list of differences from the
            paper (the quick mode's sizes, a data fallback); printed under
            ``## Differences from the paper``.
        n_seeds: how many seeds the figures the verdict rests on come from (0: not stated);
            a report with fewer than ``MIN_SEEDS`` says so among the differences.
    """

    setup: str
    tables: list[Table]
    measured: dict[str, Any]
    verdict: Verdict | None = None
    plots: list[Path] = field(default_factory=list)
    plot_notes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    n_seeds: int = 0
    quick: bool = False
    seed: int = 0
    seconds: float = float("nan")

    def headline(self) -> list[str]:
        """The measured figures the verdict rests on, one line per check."""
        if self.verdict is None:
            return []
        return [c.line() for c in self.verdict.checks]
