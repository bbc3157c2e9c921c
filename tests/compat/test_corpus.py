"""The fast part of the compatibility corpus: real PyTorch scripts by others, run under torch and thalweg.

Each entry marked ``quick = true`` in its ``port.toml`` runs here under both libraries; the whole corpus runs
with ``python tests/compat/corpus/harness.py`` (see that file). Skipped when torch or the data is missing.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

HARNESS = Path(__file__).parent / "corpus" / "harness.py"
_spec = importlib.util.spec_from_file_location("corpus_harness", HARNESS)
harness = importlib.util.module_from_spec(_spec)
sys.modules["corpus_harness"] = harness
_spec.loader.exec_module(harness)

QUICK = [s for s in harness.load_corpus() if s.quick]


def test_the_corpus_has_at_least_twelve_real_scripts_with_their_source_and_licence() -> None:
    scripts = harness.load_corpus()
    assert len(scripts) >= 12
    for s in scripts:
        assert {"repository", "commit", "license", "entry"} <= set(s.spec), s.name
        assert len(s.spec["commit"]) == 40, s.name


def test_the_import_port_rewrites_every_torch_import_form() -> None:
    src = ("import torch\nimport torch.nn as nn\nfrom torch.nn import functional as F\n"
           "from torch import optim\nimport torch.optim\n    import torch\nx = torch.zeros(3)\n")
    out = harness.port_imports(src)
    assert "import thalweg as torch\n" in out
    assert "import thalweg.nn as nn" in out
    assert "from thalweg.nn import functional as F" in out
    assert "from thalweg import optim" in out
    assert "import thalweg.optim; import thalweg as torch" in out
    assert "    import thalweg as torch" in out
    assert "x = torch.zeros(3)" in out  # only imports change


@pytest.mark.parametrize("script", QUICK, ids=[s.name for s in QUICK])
def test_quick_corpus_script_runs_under_thalweg_and_agrees_with_torch(script) -> None:
    control = harness.run_script(script, "torch")
    ours = harness.run_script(script, "thalweg")
    ok, why = harness.judge(script, ours, control)
    assert ok, f"{script.name}: {why}\n--- thalweg output ---\n{ours.output[-3000:]}"
