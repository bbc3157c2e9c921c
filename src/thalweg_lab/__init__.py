"""``thalweg_lab``: reproductions of the papers' claims, one module per paper or experiment.

Each experiment states a claim in our own words, runs a real (scaled-down)
experiment with the library, records the measured figures, and lets code
decide the verdict ("reproduced", "partly reproduced", "not reproduced")
from those figures against criteria fixed in advance.  ``thalweg lab NAME``
runs one and writes ``report.md`` (claim, setup, figures, verdict, plots) and
``result.json``; ``--quick`` is the small run the tests use; ``thalweg lab
--list`` shows them all.  From Python::

    import thalweg_lab as lab
    lab.experiments()                       # {name: Experiment}
    lab.run_experiment("depth", quick=True, out_dir="runs/lab/depth-quick", seed=0)

Adding a paper
--------------
Create ``src/thalweg_lab/<module>.py`` (any public module name that is not
one of ``registry.FRAMEWORK_MODULES``); it is imported by ``experiments()``
and registers itself at import time::

    from pathlib import Path
    from typing import Any, Mapping

    from thalweg_lab import Check, Experiment, LabResult, Table, Verdict, register, verdict_from_checks
    from thalweg_lab import datasets
    from thalweg_lab.plotting import figure, plot_into, save

    def run(*, quick: bool, out_dir: Path, seed: int) -> LabResult:
        data = datasets.load("mnist", n_train=2000 if quick else None, seed=seed)   # digits if MNIST is absent
        ...                                                  # train with thalweg; measure
        measured = {"sparsity": 0.91, "accuracy_drop": 0.002}   # flat {name: number or list of numbers}
        table = Table(["figure", "value"], [["sparsity", 0.91]], title="Results")
        result = LabResult(setup=f"- Data: {data.describe()}\\n- ...", tables=[table], measured=measured)
        plot_into(result, out_dir / "curve.png", lambda p: draw_and_save(p))   # skipped without matplotlib
        return result

    def judge(m: Mapping[str, Any]) -> Verdict:               # pure: tested on made-up numbers
        return verdict_from_checks([
            Check.at_least("fraction of weights pruned", m["sparsity"], 0.9),
            Check.at_most("accuracy drop (points)", 100 * m["accuracy_drop"], 0.5),
            Check.at_least("something the paper mentions in passing", 1.0, 0.5, primary=False),
        ], context="why a scaled-down run may differ from the paper")

    EXPERIMENT = register(Experiment(name="pruning", paper="1506.02626", title="...",
                                     claim="one or two sentences in our words", run=run, judge=judge,
                                     quick_seconds=5, full_minutes=5))

``run_experiment`` times the run, sets ``result.verdict = judge(result.measured)``
(if ``run`` computed a verdict itself, the two must agree), writes the report
and prints the claim, the measured figures and the verdict.  Verdict rules
(``verdict_from_checks``): every check holds -> reproduced; the primary checks
hold but a secondary fails, or only some primary checks hold -> partly
reproduced; no primary check holds -> not reproduced.
"""

from thalweg_lab import datasets
from thalweg_lab.registry import Experiment, discovery_errors, experiments, get_experiment, register, run_experiment
from thalweg_lab.report import REPORT_SECTIONS, render_report, write_report
from thalweg_lab.result import (NOT_REPRODUCED, OUTCOMES, PARTLY, REPRODUCED, Check, LabResult, Table, Verdict,
                     verdict_from_checks)

__all__ = ["Check", "Experiment", "LabResult", "NOT_REPRODUCED", "OUTCOMES", "PARTLY", "REPORT_SECTIONS",
           "REPRODUCED", "Table", "Verdict", "datasets", "discovery_errors", "experiments", "get_experiment",
           "register", "render_report", "run_experiment", "verdict_from_checks", "write_report"]
