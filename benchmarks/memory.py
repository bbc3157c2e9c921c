"""Peak memory of one LeNet training step, measured in a fresh process per framework.

Each child process builds the model and the batch, notes its resident set size
(RSS), resets the kernel's high-water mark (writing 5 to ``/proc/self/clear_refs``),
runs one training step (the first: nothing is cached yet) and reports how far
the peak RSS (``VmHWM``) rose above the baseline: the step's own peak
allocation, whatever allocator made it (NumPy's and PyTorch's alike).
Libraries are loaded before the baseline, torch's by its import and thalweg's
optional numba kernels by ``kernels.warm_up()`` and MKL's by ``gemm.warm_up()``,
whose resident memory (about 150 MB, once per process) is reported on its own as
``kernels_kib``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, sys
sys.path.insert(0, {root!r})
framework = {framework!r}
import numpy as np
from benchmarks import cases

def status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field + " not in /proc/self/status")

kernels_kib = 0
if framework == "thalweg":  # numba's kernels and LLVM, MKL's: loaded once per process, like torch's libraries
    from thalweg.ops import gemm, kernels
    before = status_kib("VmRSS")
    loaded = [kernels.warm_up(), gemm.warm_up()]  # both run, whichever is present
    if any(loaded):
        kernels_kib = status_kib("VmRSS") - before
om, tm = cases._lenet_models()
x, y = cases.lenet_data(64)
ours, theirs = cases._classification_steps(om, tm, x, y)
step = ours if framework == "thalweg" else theirs
import gc
gc.collect()
base = status_kib("VmRSS")
with open("/proc/self/clear_refs", "w") as f:  # resets the high-water mark VmHWM to the current RSS
    f.write("5")
step()
peak = status_kib("VmHWM")
print(json.dumps({{"framework": framework, "step_peak_kib": max(peak - base, 0), "baseline_kib": base,
                  "kernels_kib": kernels_kib}}))
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
