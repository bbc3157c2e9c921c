"""Adam step over 1M float32 parameters in 10 tensors: thalweg vs torch.optim.Adam, in one process.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python tests/optim/bench_adam_vs_torch.py``.  Prints the median
time per step of each and the ratio (thalweg / torch; below 1 means faster).  Both run single-threaded.
Not collected by pytest (timings do not belong in tests).
"""

from __future__ import annotations

import time

import numpy as np


def main(n_tensors: int = 10, size: int = 100_000, rounds: int = 15, steps: int = 30) -> float:
    import torch

    from thalweg import optim
    from thalweg.nn import Parameter

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(size).astype(np.float32) for _ in range(n_tensors)]
    grads = [rng.standard_normal(size).astype(np.float32) for _ in range(n_tensors)]
    ours = [Parameter(v.copy()) for v in values]
    for p, g in zip(ours, grads):
        p.grad = g.copy()
    theirs = [torch.nn.Parameter(torch.from_numpy(v.copy())) for v in values]
    for p, g in zip(theirs, grads):
        p.grad = torch.from_numpy(g.copy())
    opt_ours = optim.Adam(ours, lr=1e-3)
    opt_theirs = torch.optim.Adam(theirs, lr=1e-3)

    def timed(step) -> float:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        return (time.perf_counter() - t0) / steps

    timed(opt_ours.step), timed(opt_theirs.step)  # warm up (allocates the state)
    a, b = [], []
    for _ in range(rounds):  # interleaved, so machine load affects both alike
        a.append(timed(opt_ours.step))
        b.append(timed(opt_theirs.step))
    ta, tb = float(np.median(a)), float(np.median(b))
    print(f"Adam step, {n_tensors} x {size} float32: thalweg {ta * 1e3:.2f} ms, torch {tb * 1e3:.2f} ms, "
          f"ratio {ta / tb:.2f}")
    return ta / tb


if __name__ == "__main__":
    main()
