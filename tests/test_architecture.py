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
