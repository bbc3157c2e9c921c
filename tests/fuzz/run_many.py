"""Run many random programs (see ``programs.py``) and tally the disagreements with torch, by op.

    python tests/fuzz/run_many.py 3000          # programs per dtype, seeds 0..N-1

Prints the pass rate per dtype and, for each op that ended a failing program,
the count and the first message.  Not collected by pytest.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from programs import Chooser, Mismatch, generate_and_run  # noqa: E402


def main(n: int, start: int = 0) -> None:
    for dtype in (np.float64, np.float32):
        failures: Counter = Counter()
        first: dict[str, str] = {}
        crashes = 0
        for seed in range(start, start + n):
            try:
                generate_and_run(Chooser(np.random.default_rng(seed)), dtype)
            except Mismatch as e:
                text = str(e)
                steps = re.findall(r"^  (\w+)\(", text, flags=re.M)
                key = steps[-1] if steps else "?"
                failures[key] += 1
                first.setdefault(key, f"seed {seed}: {text[:1500]}")
            except Exception as e:  # noqa: BLE001 - a crash of the harness itself
                crashes += 1
                first.setdefault("harness", f"seed {seed}: {type(e).__name__}: {e}")
                failures["harness"] += 1
        failed = sum(failures.values())
        print(f"{np.dtype(dtype).name}: {n - failed}/{n} programs agree ({100 * (n - failed) / n:.2f}%)")
        for key, count in failures.most_common():
            print(f"  {key}: {count}\n    {first[key]}".replace("\n", "\n    "))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300, int(sys.argv[2]) if len(sys.argv) > 2 else 0)
