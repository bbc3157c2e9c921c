#!/usr/bin/env python
"""Reproduce the MNIST figures of the training issue: an MLP and a LeNet-5-style CNN.

Standard split: the official 60,000 training images cut into 50,000 train and
10,000 dev (a random choice seeded with 0), the official 10,000 test images
evaluated once, with the weights of the best dev epoch.  Targets: MLP
(784-256-256-10, ReLU, dropout) >= 98.0 % test accuracy, CNN >= 99.0 %, each in
under 10 minutes of CPU time on 2 cores.

    OMP_NUM_THREADS=2 python scripts/reproduce_mnist.py --data-dir ../shared/data
    python scripts/reproduce_mnist.py --quick          # a 2-minute smoke version (5,000 examples)

Each model is the same run as the command line's, e.g.

    thalweg train --dataset mnist --data-dir ../shared/data --model mlp --hidden 256 256 --dropout 0.2 \\
        --optimizer sgd:momentum=0.9,nesterov=true --lr 0.05 --schedule cosine --epochs 20 --batch-size 128 --seed 0
    thalweg train --dataset mnist --data-dir ../shared/data --model cnn \\
        --optimizer adam --lr 2e-3 --schedule cosine --epochs 15 --batch-size 64 --seed 0

and writes a run record (curves, checkpoints, summary) under --out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from thalweg.train.experiment import TrainConfig, prepare, run_training  # noqa: E402

MODELS = {
    "mlp": dict(model="mlp", hidden=[256, 256], dropout=0.2, optimizer="sgd:momentum=0.9,nesterov=true", lr=0.05,
                schedule="cosine", epochs=20, batch_size=128),
    "cnn": dict(model="cnn", dropout=0.0, optimizer="adam", lr=2e-3, schedule="cosine", epochs=15, batch_size=64),
}
TARGETS = {"mlp": 0.980, "cnn": 0.990}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=os.environ.get("THALWEG_DATA", str(ROOT.parent / "shared" / "data")))
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, help="override the epochs of every model")
    ap.add_argument("--quick", action="store_true", help="5,000 training examples and 2 epochs: a smoke test")
    ap.add_argument("--out", default=str(ROOT / "runs" / "reproduce-mnist"))
    ap.add_argument("--progress", action="store_true", help="show progress bars")
    args = ap.parse_args()

    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    print(f"thalweg MNIST reproduction: python {platform.python_version()}, {os.cpu_count()} CPUs visible, "
          f"OMP_NUM_THREADS={threads}, seed {args.seed}, data {args.data_dir}")
    rows = []
    for name in args.models:
        spec = dict(MODELS[name])
        if args.epochs is not None:
            spec["epochs"] = args.epochs
        if args.quick:
            spec.update(epochs=2, limit=5000)
        cfg = TrainConfig(dataset="mnist", data_dir=args.data_dir, seed=args.seed, out=args.out,
                          name=f"{name}-mnist{'-quick' if args.quick else ''}", **spec)
        cfg, splits, info = prepare(cfg)
        print(f"\n=== {name}: {info.sizes[0]} train / {info.sizes[1]} dev / {info.sizes[2]} test, {spec}")
        wall0, cpu0 = time.perf_counter(), time.process_time()
        result, model = run_training(cfg, splits=splits, info=info, progress=args.progress)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        acc = result.test["accuracy"]
        rows.append({"model": name, "test_accuracy": acc, "target": TARGETS[name], "met": acc >= TARGETS[name],
                     "best_dev_epoch": result.best_epoch, "best_dev_accuracy": result.best_score,
                     "epochs": result.epochs, "wall_s": wall, "cpu_s": cpu, "parameters": result.summary["parameters"],
                     "run_dir": str(result.run_dir)})
    print("\nmodel  test acc  target  best dev (epoch)   wall     CPU      params")
    for r in rows:
        print(f"{r['model']:<5}  {100 * r['test_accuracy']:6.2f}%  {100 * r['target']:.1f}%  "
              f"{100 * r['best_dev_accuracy']:6.2f}% ({r['best_dev_epoch']:g})     {r['wall_s']:6.1f}s  "
              f"{r['cpu_s']:6.1f}s  {r['parameters']}  {'ok' if r['met'] else 'BELOW TARGET'}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"results{'-quick' if args.quick else ''}.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0 if args.quick or all(r["met"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
