"""The two floors: the core never loads or names the lab, and importing it stays light."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "src" / "thalweg"


def _loaded_modules() -> list[str]:
    code = "import sys, json, thalweg; print(json.dumps(sorted(m for m in sys.modules if m.startswith('thalweg'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_import_thalweg_loads_no_lab_module_and_at_most_80_modules() -> None:
    mods = _loaded_modules()
    assert not [m for m in mods if m.startswith("thalweg_lab")]
    assert len(mods) <= 80, f"import thalweg loads {len(mods)} modules: {mods}"


def test_no_core_file_imports_the_lab_except_the_cli_subcommand() -> None:
    offenders = []
    for path in CORE.rglob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import thalweg_lab", "from thalweg_lab")) and path.name != "cli.py":
                offenders.append(f"{path.relative_to(CORE)}: {stripped}")
    assert offenders == []


def test_functional_names_every_function_of_its_parts() -> None:
    """``nn/functional.py`` imports its names explicitly: a new function in a part needs its line there."""
    import importlib
    import pkgutil

    import thalweg.nn.functional as F
    import thalweg.nn.functional_parts as parts

    missing = [f"{info.name}.{name}" for info in pkgutil.iter_modules(parts.__path__)
               for name in getattr(importlib.import_module(f"{parts.__name__}.{info.name}"), "__all__", ())
               if not hasattr(F, name)]
    assert missing == []


def test_lazy_names_load_on_first_use() -> None:
    code = ("import sys, thalweg as tw; assert 'thalweg.nn' not in sys.modules; "
            "from thalweg.data import DataLoader, MNIST, Vocabulary; from thalweg.optim import LBFGS, lr_range_test; "
            "from thalweg.train import fit, TensorBoard; from thalweg.nn import SyncBatchNorm; "
            "import thalweg.nn.functional as F; "
            "assert tw.nn.TransformerEncoderLayer and tw.nn.init.data_dependent_ and tw.nn.utils.clip_grad_norm_; "
            "assert tw.spmm and tw.sparse_coo_tensor and tw.distributions.Normal and callable(tw.save)")
    subprocess.run([sys.executable, "-c", code], check=True)
