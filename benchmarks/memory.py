"""Peak memory of one LeNet training step, measured in a fresh process per framework.

Each child process builds the model and the batch, notes its resident set size
(RSS), runs one training step and reports how far its peak RSS (``ru_maxrss``)
rose above that baseline: the step's own peak allocation, whatever allocator
made it (NumPy's and PyTorch's alike).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, resource, sys
sys.path.insert(0, {root!r})
framework = {framework!r}
import numpy as np
from benchmarks import cases

def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024

om, tm = cases._lenet_models()
x, y = cases.lenet_data(64)
ours, theirs = cases._classification_steps(om, tm, x, y)
step = ours if framework == "thalweg" else theirs
base = rss_kib()
peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
step()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"framework": framework, "step_peak_kib": max(peak - max(base, 0), 0), "baseline_kib": base,
                   "peak_before_kib": peak_before}}))
"""


def peak_step_memory(framework: str, threads: int) -> dict:
    """Run one LeNet step of ``framework`` ("thalweg" or "torch") in a child process."""
    root = str(Path(__file__).resolve().parent.parent)
    env_threads = str(threads)
    code = CHILD.format(root=root, framework=framework)
    env = {"OMP_NUM_THREADS": env_threads, "OPENBLAS_NUM_THREADS": env_threads, "MKL_NUM_THREADS": env_threads}
    import os

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, **env})
    return json.loads(out.stdout.strip().splitlines()[-1])
