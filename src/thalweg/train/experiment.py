"""From a configuration to a trained model: what ``thalweg train`` and ``thalweg compare`` run.

A ``TrainConfig`` names everything (dataset, model, optimizer and its
hyperparameters, schedule, epochs, seed...).  Fields left at ``None`` take
the dataset's defaults (``DATASET_DEFAULTS``), and the resolved values are
what the run record's ``config.json`` holds, so a run can be repeated from
its record.  Names are checked up front and an unknown one lists the valid
ones; everything that can be wrong with the input fails before a run
directory is created.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .. import random as _random
from ..data import Splits, TensorDataset, digits_splits, load_idx_dataset, make_moons, make_spirals, synthetic_splits
from .callbacks import Callback, EarlyStopping, ModelCheckpoint, ScheduleCallback
from .loop import FitResult, Trainer
from .models import INITS, init_weights, lenet5, mlp
from .record import new_run_dir

__all__ = ["TrainConfig", "DATASETS", "MODELS", "OPTIMIZERS", "SCHEDULES", "DATASET_DEFAULTS", "parse_spec",
           "load_data", "build_model", "build_optimizer", "build_schedule", "run_training", "available_optimizers"]

DATASETS = ("digits", "mnist", "fashion-mnist", "spirals", "moons")
IMAGE_DATASETS = ("digits", "mnist", "fashion-mnist")
MODELS = ("mlp", "cnn")

# CLI name -> (class name in thalweg.optim, the command line's default learning rate: torch's default for the
# adaptive methods; for SGD, which torch gives no meaningful default, 0.05, good with momentum 0.9 on these sets)
OPTIMIZERS: dict[str, tuple[str, float]] = {
    "sgd": ("SGD", 0.05), "adam": ("Adam", 1e-3), "adamw": ("AdamW", 1e-3), "adagrad": ("Adagrad", 1e-2),
    "adadelta": ("Adadelta", 1.0), "rmsprop": ("RMSprop", 1e-3), "adamax": ("Adamax", 2e-3),
    "nadam": ("NAdam", 2e-3), "radam": ("RAdam", 1e-3),
}

SCHEDULES = ("none", "step", "multistep", "exponential", "inverse-time", "cosine", "cyclic", "onecycle", "plateau")

DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "digits": {"hidden": [128], "epochs": 20, "batch_size": 32, "dropout": 0.0},
    "mnist": {"hidden": [256, 256], "epochs": 10, "batch_size": 64, "dropout": 0.2},
    "fashion-mnist": {"hidden": [256, 256], "epochs": 10, "batch_size": 64, "dropout": 0.2},
    "spirals": {"hidden": [64, 64], "epochs": 40, "batch_size": 32, "dropout": 0.0},
    "moons": {"hidden": [32, 32], "epochs": 20, "batch_size": 32, "dropout": 0.0},
}


def _choice(kind: str, value: str, valid: tuple[str, ...] | list[str]) -> str:
    if value not in valid:
        raise ValueError(f"unknown {kind} {value!r}; valid: {', '.join(valid)}")
    return value


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"sgd:lr=0.1,momentum=0.9"`` -> ``("sgd", {"lr": 0.1, "momentum": 0.9})``.

    Values are Python literals (numbers, ``true``/``false``, tuples such as
    ``betas=(0.9,0.99)``); anything else stays a string.
    """
    name, _, rest = spec.strip().partition(":")
    kwargs: dict[str, Any] = {}
    depth, start, parts = 0, 0, []
    for i, ch in enumerate(rest):  # split on commas outside brackets
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(rest[start:i])
            start = i + 1
    parts.append(rest[start:])
    for part in parts:
        if not part.strip():
            continue
        key, eq, raw = part.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"bad option {part!r} in {spec!r}: expected key=value")
        text = raw.strip()
        low = text.lower()
        if low in ("true", "false"):
            value: Any = low == "true"
        elif low in ("none", "null"):
            value = None
        else:
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                value = text
        kwargs[key.strip().replace("-", "_")] = value
    return name.strip().lower(), kwargs


@dataclass
class TrainConfig:
    """Everything a training run needs; ``None`` means "the dataset's default"."""

    model: str = "mlp"
    dataset: str = "digits"
    data_dir: str | None = None
    optimizer: str = "sgd:momentum=0.9"
    lr: float | None = None
    momentum: float | None = None
    weight_decay: float | None = None
    nesterov: bool | None = None
    betas: list[float] | None = None
    eps: float | None = None
    schedule: str = "none"
    epochs: int | None = None
    batch_size: int | None = None
    seed: int = 0
    hidden: list[int] | None = None
    dropout: float | None = None
    init: str = "default"
    patience: int | None = None
    clip_grad_norm: float | None = None
    evals_per_epoch: int = 1
    limit: int | None = None
    checkpoint: bool = True
    plots: bool = True
    out: str = "runs"
    name: str | None = None
    tensorboard: str | None = None
    mlflow: str | None = None

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def update(self, values: dict[str, Any], *, source: str = "options") -> "TrainConfig":
        """Set fields from a mapping (``batch-size`` or ``batch_size``); unknown keys list the valid ones."""
        valid = self.keys()
        for k, v in values.items():
            key = k.replace("-", "_")
            if key not in valid:
                raise ValueError(f"unknown key {k!r} in {source}; valid: {', '.join(valid)}")
            setattr(self, key, v)
        return self

    def resolved(self) -> "TrainConfig":
        """A validated copy with the dataset's defaults filled in."""
        c = dataclasses.replace(self)
        c.model = _choice("model", str(c.model).lower(), MODELS)
        c.dataset = _choice("dataset", str(c.dataset).lower(), DATASETS)
        opt_name, _ = parse_spec(str(c.optimizer))
        _choice("optimizer", opt_name, list(OPTIMIZERS))
        sched_name, _ = parse_spec(str(c.schedule))
        _choice("schedule", sched_name, SCHEDULES)
        _choice("initialization", str(c.init), INITS)
        for k, v in DATASET_DEFAULTS[c.dataset].items():
            if getattr(c, k) is None:
                setattr(c, k, v)
        _check_int("epochs", c.epochs, minimum=0)
        _check_int("batch_size", c.batch_size, minimum=1)
        _check_int("seed", c.seed, minimum=0)
        _check_int("evals_per_epoch", c.evals_per_epoch, minimum=1)
        if c.limit is not None:
            _check_int("limit", c.limit, minimum=1)
        if c.patience is not None:
            _check_int("patience", c.patience, minimum=0)
        if c.lr is not None and not (isinstance(c.lr, (int, float)) and c.lr > 0 and math.isfinite(c.lr)):
            raise ValueError(f"Invalid learning rate: {c.lr}")
        if not 0.0 <= float(c.dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {c.dropout}")
        if isinstance(c.hidden, int):
            c.hidden = [c.hidden]
        if not c.hidden or any(not isinstance(h, int) or h <= 0 for h in c.hidden):
            raise ValueError(f"hidden must be a list of positive layer widths, got {c.hidden}")
        if c.clip_grad_norm is not None and not c.clip_grad_norm > 0:
            raise ValueError(f"clip_grad_norm must be positive, got {c.clip_grad_norm}")
        if c.model == "cnn" and c.dataset not in IMAGE_DATASETS:
            raise ValueError(f"the cnn model needs an image dataset ({', '.join(IMAGE_DATASETS)}), got {c.dataset!r}")
        if c.name is not None:
            check_run_name(c.name)
        if c.data_dir is not None and not Path(c.data_dir).expanduser().is_dir():
            raise ValueError(f"data directory does not exist: {c.data_dir}")
        return c

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def check_run_name(name: Any) -> str:
    """A run name is one folder name inside ``--out``: no path separators, not ``.`` or ``..``, not hidden."""
    text = str(name)
    if (not text.strip() or text in (".", "..") or "/" in text or "\\" in text or text.startswith(".")
            or "\0" in text):
        raise ValueError(f"--name must be a single folder name (no '/', '\\' or leading '.'), got {text!r}")
    return text


def _check_int(name: str, v: Any, *, minimum: int) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {v!r}")


# ------------------------------------------------------------------ data
@dataclass
class DataInfo:
    name: str
    input_shape: tuple[int, ...]
    num_classes: int
    sizes: tuple[int, int, int] = (0, 0, 0)
    extra: dict[str, Any] = field(default_factory=dict)


def load_data(cfg: TrainConfig) -> tuple[Splits, DataInfo]:
    """The train/dev/test split of ``cfg.dataset`` (fixed split seed 0; ``cfg.limit`` trims the training set)."""
    images = cfg.model == "cnn"
    if cfg.dataset == "digits":
        splits = digits_splits(seed=0, images=images)
    elif cfg.dataset in ("mnist", "fashion-mnist"):
        splits = load_idx_dataset(cfg.dataset, cfg.data_dir, seed=0, flatten=not images)
    elif cfg.dataset == "spirals":
        splits = synthetic_splits(make_spirals, n_per_class=400, n_classes=3, noise=0.15, seed=0)
    else:
        splits = synthetic_splits(make_moons, n=1000, noise=0.15, seed=0)
    if cfg.limit is not None and cfg.limit < len(splits.train):
        x, y = splits.train.tensors
        splits = Splits(TensorDataset(x[:cfg.limit], y[:cfg.limit], num_classes=splits.train.num_classes),
                        splits.dev, splits.test)
    x = splits.train.tensors[0]
    info = DataInfo(cfg.dataset, tuple(x.shape[1:]), int(splits.train.num_classes),
                    tuple(len(s) for s in splits))  # type: ignore[arg-type]
    return splits, info


# ----------------------------------------------------------------- model
def build_model(cfg: TrainConfig, info: DataInfo) -> Any:
    if cfg.model == "cnn":
        if len(info.input_shape) != 3:
            raise ValueError(f"the cnn model needs images (C, H, W), got examples of shape {info.input_shape}")
        model = lenet5(info.input_shape[0], info.input_shape[1], info.num_classes, dropout=float(cfg.dropout))
    else:
        model = mlp(int(np.prod(info.input_shape)), info.num_classes, cfg.hidden, dropout=float(cfg.dropout))
    return init_weights(model, cfg.init)


# -------------------------------------------------------------- optimizer
def available_optimizers() -> dict[str, type]:
    from .. import optim

    return {k: getattr(optim, cls) for k, (cls, _) in OPTIMIZERS.items() if hasattr(optim, cls)}


def build_optimizer(cfg: TrainConfig, params: Any, spec: str | None = None) -> Any:
    """The optimizer named by ``spec`` (default ``cfg.optimizer``), hyperparameters from the spec over cfg's flags."""
    name, extra = parse_spec(spec if spec is not None else str(cfg.optimizer))
    opts = available_optimizers()
    if name not in opts:
        raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(opts) or '(none: thalweg.optim is missing)'}")
    cls = opts[name]
    kwargs: dict[str, Any] = {"lr": OPTIMIZERS[name][1], **extra}  # inline options, then the explicit flags
    if cfg.lr is not None:
        kwargs["lr"] = float(cfg.lr)
    for k in ("momentum", "weight_decay", "nesterov", "eps"):
        if getattr(cfg, k) is not None:
            kwargs[k] = getattr(cfg, k)
    if cfg.betas is not None:
        kwargs["betas"] = tuple(cfg.betas)
    signature = inspect.signature(cls.__init__).parameters
    accepted = [p for p in signature if p not in ("self", "params")]
    for k in kwargs:
        if k not in accepted:
            raise ValueError(f"optimizer {name!r} does not take {k!r}; it takes: {', '.join(accepted)}")
        _check_option_type(f"optimizer {name!r}", k, kwargs[k], signature[k].default)
    try:
        return cls(params, **kwargs)
    except (TypeError, ValueError) as e:
        raise ValueError(f"optimizer {name!r}: {e}") from None


def _check_option_type(who: str, key: str, value: Any, default: Any) -> None:
    """Refuse an inline option whose value is of the wrong kind (``momentum=abc``), naming the key and the value."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{who}: {key}={value!r} is not true or false")
    elif isinstance(default, (int, float)) and default is not None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{who}: {key}={value!r} is not a number")
    elif isinstance(default, tuple) and isinstance(value, str):
        raise ValueError(f"{who}: {key}={value!r} is not a tuple of numbers such as (0.9,0.999)")


# --------------------------------------------------------------- schedule
def build_schedule(cfg: TrainConfig, optimizer: Any, steps_per_epoch: int, spec: str | None = None) -> list[Callback]:
    """The callbacks that implement ``cfg.schedule`` (or ``spec``): a stepped scheduler, or the plateau heuristic."""
    name, kw = parse_spec(spec if spec is not None else str(cfg.schedule))
    _choice("schedule", name, SCHEDULES)
    if name == "none":
        if kw:
            raise ValueError(f"schedule 'none' takes no options, got {', '.join(kw)}")
        return []
    epochs = max(int(cfg.epochs or 1), 1)
    lr = float(optimizer.param_groups[0]["lr"])
    from ..optim import lr_scheduler as S

    table: dict[str, tuple[str, dict[str, Any], str]] = {
        "step": ("StepLR", {"step_size": max(1, epochs // 3), "gamma": 0.1}, "epoch"),
        "multistep": ("MultiStepLR", {"milestones": sorted({max(1, epochs // 2), max(1, 3 * epochs // 4)}),
                                      "gamma": 0.1}, "epoch"),
        "exponential": ("ExponentialLR", {"gamma": 0.9}, "epoch"),
        "inverse-time": ("InverseTimeLR", {"alpha": 0.5}, "epoch"),
        "cosine": ("CosineAnnealingLR", {"T_max": epochs}, "epoch"),
        "cyclic": ("CyclicLR", {"base_lr": lr / 10, "max_lr": lr, "step_size_up": 2 * steps_per_epoch}, "step"),
        "onecycle": ("OneCycleLR", {"max_lr": lr, "total_steps": epochs * steps_per_epoch}, "step"),
        # the lecture's heuristic: divide the lr by 10 when the dev accuracy stalls for 2 epochs
        "plateau": ("ReduceLROnPlateau", {"mode": "max", "factor": 0.1, "patience": 2}, "epoch"),
    }
    cls_name, defaults, interval = table[name]
    cls = getattr(S, cls_name, None)
    if cls is None:
        raise ValueError(f"schedule {name!r} needs thalweg.optim.lr_scheduler.{cls_name}, which this build lacks")
    args = {**defaults, **kw}
    accepted = inspect.signature(cls.__init__).parameters
    if "interval" in accepted and "interval" not in args:
        args["interval"] = interval
    for k in args:
        if k not in accepted:
            raise ValueError(f"schedule {name!r} does not take {k!r}; it takes: "
                             f"{', '.join(p for p in accepted if p not in ('self', 'optimizer'))}")
        if k in kw:
            default = defaults.get(k, accepted[k].default)
            if isinstance(default, list) and not isinstance(kw[k], (list, tuple)):
                raise ValueError(f"schedule {name!r}: {k}={kw[k]!r} is not a list such as [5,10]")
            _check_option_type(f"schedule {name!r}", k, kw[k], default)
    if name == "cyclic" and "cycle_momentum" in accepted and "cycle_momentum" not in args \
            and "momentum" not in optimizer.param_groups[0]:
        args["cycle_momentum"] = False
    try:
        scheduler = cls(optimizer, **args)
    except (TypeError, ValueError) as e:
        raise ValueError(f"schedule {name!r}: {e}") from None
    return [ScheduleCallback(scheduler, interval=args.get("interval", interval))]


# -------------------------------------------------------------------- run
def prepare(cfg: TrainConfig) -> tuple[TrainConfig, Splits, DataInfo]:
    """Validate ``cfg`` and load its data (everything that can fail on bad input, before any file is written)."""
    c = cfg.resolved()
    splits, info = load_data(c)
    return c, splits, info


def run_training(cfg: TrainConfig, *, splits: Splits | None = None, info: DataInfo | None = None,
                 init_state: dict[str, np.ndarray] | None = None, optimizer_spec: str | None = None,
                 schedule_spec: str | None = None, run_dir: str | Path | None = None, resume: str | Path | None = None,
                 log: Callable[[str], None] | None = None, progress: bool | str = "auto",
                 verbose: bool = True) -> tuple[FitResult, Any]:
    """Train one model as ``cfg`` says; returns ``(result, model)``.

    ``init_state`` loads given initial weights (``thalweg compare`` starts
    every optimizer from the same ones).  Without ``run_dir`` a fresh
    ``<out>/<timestamp>-<model>-<dataset>`` directory is used.
    """
    if splits is None or info is None:
        cfg, splits, info = prepare(cfg)
    _random.manual_seed(cfg.seed)
    model = build_model(cfg, info)
    if init_state is not None:
        model.load_state_dict(init_state)
    optimizer = build_optimizer(cfg, model.parameters(), optimizer_spec)
    steps_per_epoch = -(-len(splits.train) // int(cfg.batch_size))
    callbacks: list[Callback] = build_schedule(cfg, optimizer, steps_per_epoch, schedule_spec)
    if cfg.patience is not None:
        callbacks.append(EarlyStopping("dev_accuracy", patience=cfg.patience))
    if cfg.checkpoint:
        callbacks.append(ModelCheckpoint(every_n_epochs=1))
    if run_dir is None and resume is None:
        run_dir = new_run_dir(cfg.out, cfg.name or f"{cfg.model}-{cfg.dataset}")
    if cfg.tensorboard or cfg.mlflow:
        import importlib.util

        from .integrations import MLflowLogger, TensorBoard

        for flag, package in (("tensorboard", "tensorboard"), ("mlflow", "mlflow")):
            if getattr(cfg, flag) and importlib.util.find_spec(package) is None:
                raise ValueError(f"--{flag} needs the {package} package: pip install 'thalweg[{flag}]'")

        tag = Path(run_dir if run_dir is not None else str(resume)).name  # one TensorBoard run per run record
        if cfg.tensorboard:
            callbacks.append(TensorBoard(Path(cfg.tensorboard).expanduser() / tag))
        if cfg.mlflow:
            callbacks.append(MLflowLogger(cfg.mlflow, experiment_name=f"thalweg-{cfg.model}-{cfg.dataset}"))
    config = {**cfg.to_dict(), "optimizer": optimizer_spec or cfg.optimizer,
              "schedule": schedule_spec or cfg.schedule,
              "data": {"train": info.sizes[0], "dev": info.sizes[1], "test": info.sizes[2],
                       "input_shape": list(info.input_shape), "classes": info.num_classes},
              # what `load_run` / `thalweg predict` rebuild the model from
              "architecture": {"kind": cfg.model, "input_shape": list(info.input_shape),
                               "classes": info.num_classes, "hidden": list(cfg.hidden or []),
                               "dropout": float(cfg.dropout or 0.0), "dataset": cfg.dataset},
              "optimizer_state": {"type": type(optimizer).__name__,
                                  "hyperparameters": {k: v for k, v in optimizer.param_groups[0].items()
                                                      if k != "params" and isinstance(v, (int, float, bool, tuple,
                                                                                             list, str))}}}
    trainer = Trainer(model, optimizer, callbacks=callbacks, batch_size=int(cfg.batch_size), seed=cfg.seed,
                      evals_per_epoch=cfg.evals_per_epoch, clip_grad_norm=cfg.clip_grad_norm, run_dir=run_dir,
                      config=config, verbose=verbose, progress=progress, log=log, plots=cfg.plots,
                      title=f"{cfg.model} on {cfg.dataset}")
    result = trainer.fit(splits.train, splits.dev, epochs=int(cfg.epochs), test=splits.test, resume=resume)
    return result, model
