"""Data-parallel scaling on one machine: MNIST MLP and LeNet epochs on 1 and 2 MPI processes.

    python benchmarks/distributed_scaling.py                    # 12,800 examples per epoch, both models
    python benchmarks/distributed_scaling.py --examples 50000 --models lenet --procs 1 2

Each process gets one BLAS thread (OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1),
so P processes use P cores.  The batch is 64 *per process* (weak scaling, as
torch's DDP and Horovod measure it): P processes do an epoch in 1/P of the
steps.  Reported per model and process count:

* throughput (training examples per second, all processes together, from the
  slowest rank's median step, and from the epoch's wall time) and scaling
  efficiency = throughput_P / (P * throughput_1);
* the all-reduce figures of DDP: seconds per step spent waiting for
  all-reduces after backward (exposed), seconds per step that the same buckets
  take to all-reduce when nothing else runs (blocking ``MPI_Allreduce``, the
  communication cost), and the share hidden behind backward =
  1 - exposed / cost, for torch's default 25 MB buckets and for 0.1 MB buckets
  (both models' gradients fit in one 25 MB bucket, which can only start when
  backward ends).  "Exposed" also contains the wait for the slower process,
  so on a busy machine it overstates the communication left visible.

Data: MNIST from ``../shared/data/mnist`` (or ``$THALWEG_DATA``, or
``--data-dir``); synthetic data of MNIST's shape when the files are absent.
The machine may be shared: rounds alternate the process counts and each figure
is the median over rounds (``--repeat``); still, figures are rough.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load(examples: int, data_dir: str | None) -> tuple["object", "object", str]:
    import numpy as np

    candidates = [data_dir, os.environ.get("THALWEG_DATA"), str(ROOT.parent / "shared" / "data")]
    for d in candidates:
        if d and (Path(d) / "mnist" / "train-images-idx3-ubyte.gz").is_file():
            from thalweg.data import load_mnist

            train = load_mnist(d, download=False, limit=examples).train
            X, y = train.tensors
            X = np.asarray(X, dtype=np.float32).reshape(-1, 1, 28, 28)[:examples]
            return X, np.asarray(y, dtype=np.int64)[:examples], f"MNIST ({d})"
    rng = np.random.default_rng(0)
    return (rng.random((examples, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, examples),
            "synthetic data of MNIST's shape (MNIST files not found)")


def _model(name: str):
    from thalweg.train import lenet5, mlp

    return mlp(784, 10, (256, 256)) if name == "mlp" else lenet5()


def worker(args: argparse.Namespace) -> None:
    """One process of the job: an epoch per configuration; rank 0 prints one RESULT line per configuration."""
    import numpy as np

    import thalweg as tw
    import thalweg.distributed as dist
    from thalweg import nn, optim
    from thalweg.data import DistributedSampler
    from thalweg.distributed.backends import ReduceOp
    from thalweg.nn.parallel import DistributedDataParallel as DDP

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    X, Y, source = _load(args.examples, args.data_dir)
    idx = DistributedSampler(X, num_replicas=world, rank=rank, shuffle=True, seed=0).indices()
    bs = args.batch
    for name in args.models:
        for cap in ([None] if world == 1 else args.caps):
            tw.manual_seed(0)
            net = _model(name)
            x_shape = (-1, 784) if name == "mlp" else (-1, 1, 28, 28)
            model = net if cap is None else DDP(net, bucket_cap_mb=cap)
            opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

            def step(b: np.ndarray) -> None:
                opt.zero_grad()
                x = tw.tensor(X[b].reshape(x_shape))
                nn.functional.cross_entropy(model(x), tw.tensor(Y[b])).backward()
                opt.step()

            step(idx[:bs])  # warm-up (allocations, first buckets)
            if cap is not None:
                model.reducer.stats["wait_s"] = 0.0
                model.reducer.stats["iterations"] = 0
            dist.barrier()
            t0 = time.perf_counter()
            times = []
            for s in range(0, len(idx) - bs + 1, bs):
                t = time.perf_counter()
                step(idx[s:s + bs])
                times.append(time.perf_counter() - t)
            dist.barrier()
            wall = time.perf_counter() - t0
            steps = len(times)
            median = np.array([float(np.median(times))])
            dist.all_reduce(median, op=ReduceOp.MAX)  # the slowest rank's typical step sets the pace
            row = {"model": name, "procs": world, "bucket_cap_mb": cap, "steps": steps, "batch_per_proc": bs,
                   "examples": steps * bs * world, "wall_s": wall, "throughput_wall": steps * bs * world / wall,
                   "median_step_s": float(median[0]), "throughput": bs * world / float(median[0]), "data": source}
            if cap is not None:
                red = model.reducer
                exposed = red.stats["wait_s"] / max(red.stats["iterations"], 1)
                reps = 20
                dist.barrier()
                t1 = time.perf_counter()
                for _ in range(reps):
                    for b in red.buckets:
                        red.group.allreduce(b.buffer, ReduceOp.SUM)
                cost = (time.perf_counter() - t1) / reps
                worst = np.array([exposed, cost])
                dist.all_reduce(worst, op=ReduceOp.MAX)
                row.update({"buckets": len(red.buckets), "gradient_mb": red.stats["bytes"] / 2**20,
                            "exposed_allreduce_s_per_step": float(worst[0]),
                            "allreduce_cost_s_per_step": float(worst[1]),
                            "hidden_share": float(max(0.0, 1.0 - worst[0] / worst[1])) if worst[1] > 0 else None})
            if rank == 0:
                print("RESULT " + json.dumps(row), flush=True)


def _medians(runs: list[dict]) -> list[dict]:
    """One row per (model, processes, bucket cap): the median of every numeric figure over the rounds."""
    import statistics

    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault((r["model"], r["procs"], r["bucket_cap_mb"]), []).append(r)
    rows = []
    for same in groups.values():
        row = dict(same[0])
        for k, v in row.items():
            if isinstance(v, float) and all(isinstance(x.get(k), float) for x in same):
                row[k] = statistics.median(x[k] for x in same)
        row["rounds"] = len(same)
        rows.append(row)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--examples", type=int, default=12800, help="training examples per epoch (default 12800)")
    p.add_argument("--models", nargs="+", default=["mlp", "lenet"], choices=["mlp", "lenet"])
    p.add_argument("--procs", nargs="+", type=int, default=[1, 2])
    p.add_argument("--batch", type=int, default=64, help="batch per process")
    p.add_argument("--caps", nargs="+", type=float, default=[25.0, 0.1],
                   help="DDP bucket caps in MB to compare (default: torch's 25, and 0.1 for several buckets)")
    p.add_argument("--data-dir")
    p.add_argument("--repeat", type=int, default=3, help="rounds of 1 and P processes (default 3)")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return
    sys.path.insert(0, str(ROOT / "src"))
    from thalweg.distributed.launch import find_mpiexec

    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    runs: list[dict] = []
    for _ in range(args.repeat):  # rounds alternate 1 and P processes, so drifts in machine load hit both
        for procs in args.procs:
            cmd = [find_mpiexec(), "-n", str(procs), sys.executable, __file__, "--worker", "--examples",
                   str(args.examples), "--batch", str(args.batch), "--models", *args.models,
                   "--caps", *map(str, args.caps)]
            if args.data_dir:
                cmd += ["--data-dir", args.data_dir]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
            if out.returncode != 0:
                sys.exit(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
            runs += [json.loads(line[7:]) for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    rows = _medians(runs)
    print(f"{args.repeat} round(s); each figure is the median over rounds")
    print(f"data: {rows[0]['data']}; batch {args.batch} per process; 1 BLAS thread per process")
    print("examples/s from the median step (and from the epoch's wall time, which a busy machine hurts more)")
    print(f"{'model':6} {'procs':>5} {'bucket':>7} {'examples/s':>11} {'efficiency':>10} {'(wall)':>7} "
          f"{'exposed ms':>10} {'allreduce ms':>12} {'hidden':>7}")
    base = {r["model"]: r for r in rows if r["procs"] == 1}
    for r in rows:
        b = base.get(r["model"])
        eff = r["throughput"] / (r["procs"] * b["throughput"]) if b else float("nan")
        eff_wall = r["throughput_wall"] / (r["procs"] * b["throughput_wall"]) if b else float("nan")
        r["efficiency"], r["efficiency_wall"] = eff, eff_wall
        cap = "-" if r["bucket_cap_mb"] is None else f"{r['bucket_cap_mb']:g} MB"
        extra = ""
        if r["bucket_cap_mb"] is not None:
            hidden = r["hidden_share"]
            extra = (f"{1e3 * r['exposed_allreduce_s_per_step']:10.2f} {1e3 * r['allreduce_cost_s_per_step']:12.2f} "
                     f"{'' if hidden is None else f'{100 * hidden:6.0f}%'}")
        print(f"{r['model']:6} {r['procs']:5d} {cap:>7} {r['throughput']:11.0f} {eff:10.2f} {eff_wall:7.2f} {extra}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
