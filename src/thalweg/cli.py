"""The ``thalweg`` command.

::

    thalweg train                       # a small MLP on the embedded 8x8 digits, in seconds
    thalweg train --model cnn --dataset mnist --data-dir ../shared/data --optimizer adam --epochs 10
    thalweg train --config run.toml     # the same options in a TOML file (flags override it)
    thalweg train --resume runs/20250101-120000-mlp-digits --epochs 40
    thalweg compare --optimizers sgd "sgd:momentum=0.9" adam     # same model, same init, one plot
    thalweg compare --schedules none step cosine plateau
    thalweg lr-find --min-lr 1e-4 --max-lr 1                      # the LR range test
    thalweg report runs/20250101-120000-mlp-digits

Bad input (an unknown name, a missing path, a corrupted or unverified data
file, a model that does not fit the data, a negative epoch count) ends with a
one-line ``thalweg: error: ...`` and exit status 2; ``--debug`` shows the
traceback instead.  A run that diverges (NaN loss) exits with status 1.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

__all__ = ["main", "build_parser"]

_ARGV: list[str] = []  # the command line main() parsed (thalweg train --nproc reruns it)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _flag(p: argparse.ArgumentParser, *names: str, **kw: Any) -> None:
    p.add_argument(*names, default=argparse.SUPPRESS, **kw)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")


def _add_training_options(p: argparse.ArgumentParser) -> None:
    from .train.experiment import DATASETS, MODELS, OPTIMIZERS, SCHEDULES
    from .train.models import INITS

    g = p.add_argument_group("data and model")
    _flag(g, "--dataset", metavar="NAME", help=f"one of {', '.join(DATASETS)} (default digits, embedded)")
    _flag(g, "--data-dir", metavar="DIR", help="folder holding mnist/ and fashion-mnist/ (default $THALWEG_DATA "
                                               "or ~/.cache/thalweg/data; missing files are downloaded)")
    _flag(g, "--model", metavar="NAME", help=f"one of {', '.join(MODELS)} (cnn: LeNet-5 style)")
    _flag(g, "--hidden", metavar="N", type=int, nargs="+", help="MLP hidden layer widths")
    _flag(g, "--dropout", metavar="P", type=float, help="dropout probability after hidden layers")
    _flag(g, "--init", metavar="NAME", help=f"weight initialization: {', '.join(INITS)}")
    _flag(g, "--limit", metavar="N", type=int, help="train on the first N training examples only")
    g = p.add_argument_group("optimization")
    _flag(g, "--optimizer", metavar="SPEC", help=f"{', '.join(OPTIMIZERS)}; options inline as "
                                                 "'sgd:momentum=0.9,nesterov=true'")
    _flag(g, "--lr", type=float, help="learning rate (default: the optimizer's usual one)")
    _flag(g, "--momentum", type=float)
    _flag(g, "--weight-decay", type=float)
    _flag(g, "--nesterov", action="store_true")
    _flag(g, "--betas", type=float, nargs=2, metavar=("B1", "B2"))
    _flag(g, "--eps", type=float)
    _flag(g, "--schedule", metavar="SPEC", help=f"{', '.join(SCHEDULES)}; options inline as 'step:step_size=5'")
    _flag(g, "--clip-grad-norm", type=float, metavar="MAX", help="clip the global gradient norm")
    _flag(g, "--epochs", type=int)
    _flag(g, "--batch-size", type=int)
    _flag(g, "--seed", type=int)
    _flag(g, "--patience", type=int, metavar="N", help="early stopping after N epochs without dev improvement")
    _flag(g, "--evals-per-epoch", type=int, metavar="K", help="evaluate the dev set K times per epoch")
    g = p.add_argument_group("output")
    _flag(g, "--out", metavar="DIR", help="where run records go (default runs/)")
    _flag(g, "--name", help="run name (default <model>-<dataset>)")
    _flag(g, "--tensorboard", metavar="DIR", help="also log to TensorBoard under DIR/<run name> (loss, accuracy, "
                                                  "lr, gradient norms, weight histograms; needs thalweg[tensorboard])")
    _flag(g, "--mlflow", metavar="URI", help="also log to an MLflow store: sqlite:///mlflow.db or a directory "
                                             "(needs thalweg[mlflow])")
    p.add_argument("--no-checkpoint", dest="checkpoint", action="store_false", default=argparse.SUPPRESS,
                   help="do not write checkpoints")
    p.add_argument("--no-plots", dest="plots", action="store_false", default=argparse.SUPPRESS)
    p.add_argument("--no-progress", dest="progress", action="store_false", default=argparse.SUPPRESS,
                   help="never show a progress bar")
    p.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS, help="print only the result")
    _flag(p, "--config", metavar="FILE.toml", help="read options from a TOML file (flags override it)")


_NOT_CONFIG = {"debug", "func", "command", "config", "progress", "quiet", "resume", "optimizers", "schedules",
               "inits", "min_lr", "max_lr", "steps", "mode", "run_dir", "all", "nproc"}


def _training_command(sub: Any, name: str, func: Callable[[argparse.Namespace], Any], *, help: str,  # noqa: A002
                      description: str) -> argparse.ArgumentParser:
    """A subcommand that trains a model: the common and the training options, run by ``func``."""
    p = sub.add_parser(name, help=help, description=description)
    _add_common(p)
    _add_training_options(p)
    p.set_defaults(func=func)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="thalweg", description="Train, compare and inspect neural networks with thalweg.")
    _add_common(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = _training_command(sub, "train", cmd_train, help="train a model and write a run record",
                          description="Train a model (default: an MLP on the embedded 8x8 digits).")
    _flag(p, "--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint (same trajectory)")
    _flag(p, "--nproc", metavar="N", type=int, help="data-parallel on N processes: starts mpiexec itself "
                                                     "(needs pip install 'thalweg[mpi]')")

    p = _training_command(sub, "compare", cmd_compare,
                          help="same model and init, several optimizers/schedules/inits, one plot",
                          description="Train the same model from the same initialization with several optimizers "
                                      "(or schedules, or initializations); write one plot and a table.")
    _flag(p, "--optimizers", nargs="+", metavar="SPEC", help="e.g. sgd 'sgd:momentum=0.9' adam:lr=3e-3")
    _flag(p, "--schedules", nargs="+", metavar="SPEC", help="e.g. none step cosine plateau")
    _flag(p, "--inits", nargs="+", metavar="NAME", help="e.g. default xavier-uniform kaiming-normal")

    p = _training_command(sub, "lr-find", cmd_lr_find,
                          help="LR range test: loss against a rising learning rate, suggested bounds",
                          description="The LR range test of Smith's cyclical learning rates paper: train while the "
                                      "learning rate rises from --min-lr to --max-lr, plot, suggest base and max LR.")
    _flag(p, "--min-lr", type=float, help="start of the range (default 1e-5)")
    _flag(p, "--max-lr", type=float, help="end of the range (default 1.0)")
    _flag(p, "--steps", type=int, help="number of steps (default: --epochs passes, 2 if not given; at least 100)")
    _flag(p, "--mode", metavar="exp|linear", help="exponential sweep (default) or linear, as in the paper")

    p = sub.add_parser("predict", help="predict with a trained run's model on a .npy, .csv or image file",
                       description="Rebuild a `thalweg train` run's model with its best weights and print one "
                                   "prediction per example of INPUT (.npy, .csv, or a PNG/JPEG digit image).")
    _add_common(p)
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("input", metavar="INPUT")
    p.add_argument("--probs", action="store_true", default=argparse.SUPPRESS,
                   help="also print the class probabilities")
    p.add_argument("--weights", choices=("best", "last"), default=argparse.SUPPRESS,
                   help="the best dev epoch's weights (default) or the last epoch's")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("report", help="print the summary of a past run (or comparison)")
    _add_common(p)
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--all", action="store_true", default=argparse.SUPPRESS, help="print every epoch's row")
    p.set_defaults(func=cmd_report)

    from thalweg_lab.cli import add_parser as add_lab_parser  # the lab (beside the core) owns its options

    add_lab_parser(sub)
    return parser


# ------------------------------------------------------------------ config
def _read_toml(path: str) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"config file not found: {p}")
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ImportError:
            raise ValueError("reading a TOML config needs Python 3.11 or the tomli package") from None
    try:
        with p.open("rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{p}: invalid TOML ({e})") from None
    flat: dict[str, Any] = {}
    for k, v in data.items():  # a [train] (or [compare]) table is read like top-level keys
        if isinstance(v, dict) and k in ("train", "compare", "lr-find", "lr_find"):
            flat.update(v)
        else:
            flat[k] = v
    return flat


def _config(args: argparse.Namespace, extra_keys: Sequence[str] = ()) -> tuple[Any, dict[str, Any]]:
    """TrainConfig from defaults < TOML file < command-line flags; plus the extra (command-specific) values."""
    from .train.experiment import TrainConfig

    cfg = TrainConfig()
    extras: dict[str, Any] = {}
    given = vars(args)
    if "config" in given:
        values = _read_toml(given["config"])
        for k in list(values):
            if k.replace("-", "_") in extra_keys:
                extras[k.replace("-", "_")] = values.pop(k)
        cfg.update(values, source=given["config"])
    cfg.update({k: v for k, v in given.items() if k not in _NOT_CONFIG}, source="options")
    extras.update({k: given[k] for k in extra_keys if k in given})
    return cfg, extras


def _log_rank() -> int:
    from .distributed import launched_rank

    return launched_rank()


def _log(args: argparse.Namespace) -> Any:
    # in a data-parallel run only rank 0 prints
    return (lambda msg: None) if getattr(args, "quiet", False) or _log_rank() != 0 else print


# ---------------------------------------------------------------- commands
def cmd_train(args: argparse.Namespace) -> int:
    if "nproc" in vars(args):  # run this same command again under mpiexec -n N
        from .distributed.launch import relaunch

        return relaunch(args.nproc, _ARGV)
    from .train.experiment import TrainConfig, prepare, run_training
    from .train.record import read_run

    resume = getattr(args, "resume", None)
    if resume is not None:
        run = read_run(resume)
        if run["config"] is None:
            raise ValueError(f"{resume}: no config.json to resume from")
        if not (Path(resume) / "checkpoints" / "last.npz").is_file():
            raise ValueError(f"{resume}: no checkpoints/last.npz to resume from")
        stored = {k: v for k, v in run["config"].items() if k in TrainConfig.keys()}
        cfg = TrainConfig().update(stored, source=f"{resume}/config.json")
        overrides = {k: v for k, v in vars(args).items() if k not in _NOT_CONFIG}
        if set(overrides) - {"epochs", "patience", "plots", "checkpoint"}:
            raise ValueError("--resume continues the stored configuration; only --epochs, --patience, "
                             f"--no-plots and --no-checkpoint may change (got {', '.join(sorted(overrides))})")
        cfg.update(overrides)
    else:
        cfg, _ = _config(args)
    cfg, splits, info = prepare(cfg)
    log = _log(args)
    from .train.experiment import OPTIMIZERS, parse_spec

    opt_name, opt_kw = parse_spec(str(cfg.optimizer))
    lr = cfg.lr if cfg.lr is not None else opt_kw.get("lr", OPTIMIZERS[opt_name][1])
    log(f"thalweg train: {cfg.model} on {cfg.dataset} ({info.sizes[0]} train / {info.sizes[1]} dev / "
        f"{info.sizes[2]} test), {cfg.optimizer} lr={lr:g}, "
        f"schedule {cfg.schedule}, {cfg.epochs} epochs, batch {cfg.batch_size}, seed {cfg.seed}")
    from .train.record import new_run_dir

    run_dir = Path(resume) if resume is not None else new_run_dir(cfg.out, cfg.name or f"{cfg.model}-{cfg.dataset}")
    try:
        result, model = run_training(cfg, splits=splits, info=info, resume=resume, run_dir=run_dir, log=log,
                                     progress=getattr(args, "progress", "auto"))
    except KeyboardInterrupt:
        if (run_dir / "checkpoints" / "last.npz").is_file():
            print(f"thalweg: interrupted; continue with: thalweg train --resume {run_dir}", file=sys.stderr)
        else:
            print("thalweg: interrupted before the first checkpoint was written: nothing to resume",
                  file=sys.stderr)
        raise
    except Exception as e:  # a data-parallel run: this rank's error ends every rank's process (no hang)
        from .distributed.launch import abort_job_on_error

        abort_job_on_error(e)
        raise
    if getattr(args, "quiet", False) and _log_rank() == 0:
        test = result.test
        shown = "no test evaluation" if not test else f"test accuracy {100 * test.get('accuracy', math.nan):.2f}%"
        print(f"{shown}  best dev epoch {result.best_epoch}  run record {result.run_dir}")
    if result.status == "diverged":
        print(f"thalweg: training diverged: {result.stop_reason}", file=sys.stderr)
        return 1
    return 0


def _table(rows: list[dict[str, Any]]) -> str:
    from .train.progress import format_seconds

    cols = ["run", "status", "best dev", "epoch", "test", "final loss", "time"]
    body = []
    for r in rows:
        acc = r.get("metric") == "accuracy"

        def fmt(v: Any) -> str:
            if v is None or (isinstance(v, float) and math.isnan(v)):
                return "-"
            return f"{100 * v:.2f}%" if acc else f"{v:.4f}"

        epoch = "-" if r["best_epoch"] is None else f"{r['best_epoch']:g}"
        body.append([r["label"], r["status"], fmt(r["best_dev"]), epoch,
                     fmt(r["test"]), "-" if r["final_loss"] is None else f"{r['final_loss']:.4f}",
                     format_seconds(r["time"])])
    widths = [max(len(c), *(len(b[i]) for b in body)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(b, widths)) for b in body]
    return "\n".join(lines)


def cmd_compare(args: argparse.Namespace) -> int:
    from .train.experiment import build_model, prepare, run_training
    from .train.io import atomic_write_json, atomic_write_text
    from .train.models import INITS
    from .train.plots import PlotsUnavailable, plot_compare
    from .train.record import new_run_dir
    from . import random as _random

    cfg, extras = _config(args, ("optimizers", "schedules", "inits"))
    axes = {k: v for k, v in extras.items() if v}
    if len(axes) != 1:
        raise ValueError("give exactly one of --optimizers, --schedules or --inits (each with one or more entries)")
    axis, variants = next(iter(axes.items()))
    if isinstance(variants, str):
        variants = [variants]
    if len(set(variants)) != len(variants):
        raise ValueError(f"duplicate entries in --{axis}: {', '.join(variants)}")
    cfg, splits, info = prepare(cfg)
    # check every variant's names before training anything
    from .train.experiment import OPTIMIZERS, SCHEDULES, parse_spec

    for v in variants:
        name = parse_spec(v)[0] if axis != "inits" else v
        valid = {"optimizers": list(OPTIMIZERS), "schedules": list(SCHEDULES), "inits": list(INITS)}[axis]
        if name not in valid:
            raise ValueError(f"unknown {axis[:-1]} {name!r}; valid: {', '.join(valid)}")
    _random.manual_seed(cfg.seed)
    init_state = {k: v.copy() for k, v in build_model(cfg, info).state_dict().items()}
    root = new_run_dir(cfg.out, cfg.name or f"compare-{axis}-{cfg.model}-{cfg.dataset}")
    log = _log(args)
    log(f"thalweg compare: {cfg.model} on {cfg.dataset}, {len(variants)} {axis} from the same initialization "
        f"(seed {cfg.seed}), {cfg.epochs} epochs -> {root}")
    rows, histories = [], {}
    for i, v in enumerate(variants):
        log(f"--- [{i + 1}/{len(variants)}] {v}")
        c = cfg
        kw: dict[str, Any] = {}
        if axis == "optimizers":
            kw["optimizer_spec"] = v
        elif axis == "schedules":
            kw["schedule_spec"] = v
        else:
            import dataclasses

            c = dataclasses.replace(cfg, init=v)
        safe = "".join(ch if ch.isalnum() or ch in "-_.=" else "_" for ch in v)
        result, _ = run_training(c, splits=splits, info=info, init_state=init_state if axis != "inits" else None,
                                 run_dir=root / f"{i + 1:02d}-{safe}", log=log,
                                 progress=getattr(args, "progress", "auto"),
                                 **kw)
        metric = "accuracy" if any("dev_accuracy" in r for r in result.history) else "loss"
        histories[v] = result.history
        rows.append({"label": v, "status": result.status, "metric": metric, "best_dev": result.best_score,
                     "best_epoch": result.best_epoch,
                     "test": None if result.test is None else result.test.get(metric),
                     "final_loss": result.history[-1]["loss"] if result.history else None,
                     "time": result.wall_time, "run_dir": str(result.run_dir)})
    table = _table(rows)
    print(table)
    atomic_write_text(root / "comparison.txt", table + "\n")
    summary: dict[str, Any] = {"kind": "comparison", "axis": axis, "config": cfg.to_dict(), "runs": rows}
    try:
        plot = plot_compare(root / "compare.png", histories,
                            title=f"{cfg.model} on {cfg.dataset}: {axis} from the same initialization")
        summary["plot"] = plot.name
        log(f"plot: {plot}")
    except PlotsUnavailable as e:
        summary["plot"] = f"skipped: {e}"
        log(f"plot skipped: {e}")
    atomic_write_json(root / "comparison.json", summary)
    log(f"comparison record: {root}")
    return 0


def cmd_lr_find(args: argparse.Namespace) -> int:
    from .train.experiment import build_model, build_optimizer, prepare
    from .train.lr_find import lr_find
    from . import random as _random

    cfg, extras = _config(args, ("min_lr", "max_lr", "steps", "mode"))
    for flag in ("tensorboard", "mlflow"):
        if getattr(cfg, flag, None):
            raise ValueError(f"--{flag} logs training runs (train, compare); lr-find writes its own record")
    cfg, splits, info = prepare(cfg)
    mode = extras.get("mode", "exp")
    if mode not in ("exp", "linear"):
        raise ValueError(f"unknown sweep mode {mode!r}; valid: exp, linear")
    _random.manual_seed(cfg.seed)
    model = build_model(cfg, info)
    optimizer = build_optimizer(cfg, model.parameters())
    result = lr_find(model, optimizer, splits.train, min_lr=float(extras.get("min_lr", 1e-5)),
                     max_lr=float(extras.get("max_lr", 1.0)), steps=extras.get("steps"),
                     epochs=int(vars(args).get("epochs", 2)), mode=mode, batch_size=int(cfg.batch_size),
                     seed=cfg.seed, out=cfg.out, name=cfg.name or f"lr-find-{cfg.model}-{cfg.dataset}",
                     log=_log(args), plots=cfg.plots, progress=getattr(args, "progress", "auto"))
    if result["base_lr"] is None:
        print(f"no suggested bounds (record: {result['run_dir']})")
    else:
        edge = "  (at the end of the sweep: a lower bound, see the warning)" if result.get("warning") else ""
        print(f"suggested base_lr {result['base_lr']:.3g}  max_lr {result['max_lr']:.3g}{edge}  "
              f"(record: {result['run_dir']})")
        print(f"these bound a cyclical schedule (thalweg train --schedule cyclic --lr {result['max_lr']:.3g}); as a "
              "constant learning rate stay well below max_lr")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np

    from .autograd.grad_mode import no_grad
    from .autograd.tensor import Tensor
    from .train.record import read_run
    from .train.reuse import load_run, read_inputs, run_architecture

    model = load_run(args.run_dir, weights=getattr(args, "weights", "best"))
    arch = run_architecture(read_run(args.run_dir)["config"], args.run_dir)
    x, notes = read_inputs(args.input, tuple(arch["input_shape"]), dataset=arch.get("dataset"))
    for note in notes:
        print(f"thalweg: note: {note}", file=sys.stderr)
    with no_grad():
        logits = np.asarray(model(Tensor(x)).array, dtype=np.float64)
    z = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    pred = probs.argmax(axis=1)
    show = getattr(args, "probs", False)
    print("example,prediction" + ("," + ",".join(f"p{k}" for k in range(probs.shape[1])) if show else ""))
    for i, (c, row) in enumerate(zip(pred, probs)):
        print(f"{i},{c}" + ("," + ",".join(f"{v:.4f}" for v in row) if show else ""))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .train.report import format_report

    print(format_report(args.run_dir, all_rows=getattr(args, "all", False)))
    return 0


# -------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``thalweg`` console script; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        _ARGV[:] = sys.argv[1:] if argv is None else list(argv)  # for --nproc
    except SystemExit as e:  # --help (0) or a usage error (2), already printed
        return int(e.code) if isinstance(e.code, int) else 2
    debug = getattr(args, "debug", False)
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # a closed pipe (`| head`) fails here, inside the handler, not at interpreter exit
        return code
    except KeyboardInterrupt:
        print("thalweg: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `thalweg report RUN | head`: the reader has what it wanted
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes stdout at exit
        return 0
    except (ValueError, OSError) as e:  # bad input: DataError, CheckpointError, RunRecordError are ValueErrors
        if debug:
            raise
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"thalweg: error: {msg}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - the last line of defence of a command-line tool
        if debug:
            raise
        print(f"thalweg: internal error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''} "
              "(rerun with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
