"""The registry of lab experiments and the one function that runs any of them.

An experiment is registered when its module is imported; ``experiments()``
imports every public module of the ``thalweg_lab`` package first, so a new
file ``src/thalweg/lab/<name>.py`` that calls ``register(...)`` at import time
is found without editing any list (see the package docstring for a template).
Other packages (or a notebook) can call ``register`` too.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from thalweg_lab.result import LabResult, Verdict

__all__ = ["Experiment", "register", "experiments", "get_experiment", "run_experiment", "discovery_errors",
           "FRAMEWORK_MODULES"]

# Modules of the package that hold the framework rather than experiments.
FRAMEWORK_MODULES = frozenset({"registry", "result", "report", "cli", "datasets", "training", "plotting"})

_REGISTRY: dict[str, "Experiment"] = {}
_ERRORS: dict[str, str] = {}
_DISCOVERED = [False]


@dataclass(frozen=True)
class Experiment:
    """One reproduction.

    Attributes:
        name: the command-line name (``thalweg lab NAME``), lower case with dashes.
        paper: the arXiv id (``"1506.01186"``) or another short source id (``"lecture-004"``).
        title: the paper's (or lecture's) title.
        claim: what is being checked, in one or two sentences of our own words.
        run: ``run(*, quick: bool, out_dir: Path, seed: int) -> LabResult``.
        judge: ``judge(measured) -> Verdict``, a pure function of the measured numbers.
        quick_seconds, full_minutes: rough CPU times on one core (shown by ``--list``; a busy
            machine takes longer in wall time).
        differences: what the full run does differently from the paper (data, scale, model,
            budget), one item each with the reason; required, and printed in every report under
            ``## Differences from the paper`` (a run may add its own, e.g. the quick mode's sizes).
    """

    name: str
    paper: str
    title: str
    claim: str
    run: Callable[..., LabResult]
    judge: Callable[[Mapping[str, Any]], Verdict]
    quick_seconds: float = 5.0
    full_minutes: float = 5.0
    differences: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.lower() or " " in self.name:
            raise ValueError(f"Experiment: name must be lower case without spaces, got {self.name!r}")
        for attr in ("paper", "title", "claim"):
            if not str(getattr(self, attr)).strip():
                raise ValueError(f"Experiment {self.name!r}: {attr} must not be empty")
        items = (self.differences,) if isinstance(self.differences, str) else tuple(self.differences)
        if not items or not all(isinstance(d, str) and d.strip() for d in items):
            raise ValueError(f"Experiment {self.name!r}: differences must list what differs from the paper "
                             f"(data, scale, model, budget) and why; a report without them is refused")
        object.__setattr__(self, "differences", items)
        if not callable(self.run) or not callable(self.judge):
            raise TypeError(f"Experiment {self.name!r}: run and judge must be callables")


def register(experiment: Experiment, *, replace: bool = False) -> Experiment:
    """Add ``experiment`` to the registry and return it (``EXPERIMENT = register(Experiment(...))``).

    Registering a second experiment under a taken name is an error unless
    ``replace=True`` (re-importing the same module, whose ``run`` has the same
    qualified name, replaces silently).
    """
    if not isinstance(experiment, Experiment):
        raise TypeError(f"register: expected an Experiment, got {type(experiment).__name__}")
    old = _REGISTRY.get(experiment.name)
    if old is not None and not (replace or _origin(old.run) == _origin(experiment.run)):
        raise ValueError(f"register: an experiment named {experiment.name!r} already exists "
                         f"(from {old.run.__module__}); pick another name or pass replace=True")
    _REGISTRY[experiment.name] = experiment
    return experiment


def _origin(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', '?')}"


def _discover() -> None:
    if _DISCOVERED[0]:
        return
    _DISCOVERED[0] = True
    package = importlib.import_module(__package__ or "thalweg_lab")
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_") or info.name in FRAMEWORK_MODULES:
            continue
        try:
            importlib.import_module(f"{package.__name__}.{info.name}")
        except Exception as e:  # noqa: BLE001 - one broken module must not hide the others
            _ERRORS[info.name] = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"


def discovery_errors() -> dict[str, str]:
    """Modules of ``thalweg_lab`` that failed to import, with the error (empty when all is well)."""
    _discover()
    return dict(_ERRORS)


def experiments() -> dict[str, Experiment]:
    """Every registered experiment by name, in name order (imports the lab's modules on first call)."""
    _discover()
    return {k: _REGISTRY[k] for k in sorted(_REGISTRY)}


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``; a clear ``ValueError`` listing the valid names otherwise."""
    found = experiments()
    if name not in found:
        module = name.replace("-", "_")
        hint = f" (module {module} failed to import: {_ERRORS[module].splitlines()[0]})" if module in _ERRORS else ""
        raise ValueError(f"unknown lab experiment {name!r}; valid: {', '.join(found) or 'none'}{hint}")
    return found[name]


def run_experiment(name: str | Experiment, *, quick: bool = False, out_dir: str | Path | None = None,
                   seed: int = 0, write: bool = True, echo: Callable[[str], None] | None = print) -> LabResult:
    """Run one experiment, judge it, write ``out_dir/report.md`` and print the summary.

    ``out_dir`` defaults to ``runs/lab/<name>`` (``<name>-quick`` in quick
    mode).  The verdict always comes from ``judge(result.measured)``; if
    ``run`` set one itself, the two must agree.
    """
    exp = get_experiment(name) if isinstance(name, str) else name
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"lab: seed must be a non-negative integer, got {seed!r}")
    out = Path(out_dir) if out_dir is not None else Path("runs") / "lab" / (exp.name + ("-quick" if quick else ""))
    out.mkdir(parents=True, exist_ok=True)
    if echo is not None:  # a first line at once: a full run may take many minutes
        echo(f"lab {exp.name}: running{' (quick mode)' if quick else ''}, seed {seed}; "
             f"about {exp.quick_seconds:g} s quick, {exp.full_minutes:g} min full")
    t0 = time.perf_counter()
    result = exp.run(quick=quick, out_dir=out, seed=seed)
    if not isinstance(result, LabResult):
        raise TypeError(f"lab {exp.name}: run() must return a LabResult, got {type(result).__name__}")
    result.seconds = time.perf_counter() - t0
    result.quick, result.seed = quick, seed
    judged = exp.judge(result.measured)
    if result.verdict is not None and result.verdict.outcome != judged.outcome:
        raise RuntimeError(f"lab {exp.name}: run() reported {result.verdict.outcome!r} but judge() on its measured "
                           f"figures says {judged.outcome!r}")
    result.verdict = judged
    if write:
        from thalweg_lab.report import print_summary, write_report

        path = write_report(exp, result, out)
        if echo is not None:
            print_summary(exp, result, path, echo=echo)
    return result
