"""Reuse a trained run: ``load_run`` rebuilds its model with the best weights; ``predict`` reads inputs for it.

::

    model = tw.train.load_run("runs/20250101-120000-cnn-digits")    # eval mode, best dev weights
    probs = tw.nn.functional.softmax(model(x), dim=1)

    $ thalweg predict runs/20250101-120000-cnn-digits digit.png --probs

A run written by ``thalweg train`` records its architecture in ``config.json``
(``architecture``: the model kind, input shape, classes, hidden widths,
dropout), so nothing has to be declared again.  The weights are those of
``checkpoints/best.npz`` (the best dev epoch) or, without it, the best
weights kept in ``checkpoints/last.npz`` (the last ones when the run had no
dev set).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .io import load_checkpoint
from .models import lenet5, mlp
from .record import RunRecordError, read_run

__all__ = ["load_run", "run_architecture", "read_inputs", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".pgm")
_RAW_SCALE = {"digits": 16.0, "mnist": 255.0, "fashion-mnist": 255.0}  # pixel range of the raw files


def run_architecture(config: dict[str, Any], where: str | Path = "config.json") -> dict[str, Any]:
    """The model description of a run's config: recorded ``architecture``, or rebuilt from older keys."""
    arch = config.get("architecture")
    if isinstance(arch, dict):
        return arch
    data = config.get("data") or {}
    if "model" in config and "input_shape" in data and "classes" in data:
        return {"kind": config["model"], "input_shape": data["input_shape"], "classes": data["classes"],
                "hidden": config.get("hidden"), "dropout": config.get("dropout") or 0.0,
                "dataset": config.get("dataset")}
    raise RunRecordError(f"{where}: no model architecture recorded (written by `thalweg train`? a run of "
                         "`fit` with your own model needs that model: build it and load_checkpoint the weights)")


def _build(arch: dict[str, Any], where: str | Path) -> Any:
    kind = arch.get("kind")
    shape = tuple(int(s) for s in arch["input_shape"])
    classes = int(arch["classes"])
    dropout = float(arch.get("dropout") or 0.0)
    if kind == "mlp":
        return mlp(int(np.prod(shape)), classes, list(arch.get("hidden") or []), dropout=dropout)
    if kind == "cnn":
        return lenet5(shape[0], shape[1], classes, dropout=dropout)
    raise RunRecordError(f"{where}: unknown model kind {kind!r} (this version builds 'mlp' and 'cnn')")


def load_run(run_dir: str | os.PathLike[str], *, weights: str = "best") -> Any:
    """The model of a ``thalweg train`` run, rebuilt and loaded, in eval mode.

    ``weights="best"`` (the best dev epoch's, the loop's model selection) or
    ``"last"`` (the last epoch's).  Errors name the run directory and what is
    missing.
    """
    if weights not in ("best", "last"):
        raise ValueError(f"weights must be 'best' or 'last', got {weights!r}")
    run = read_run(run_dir)
    p = Path(run_dir)
    if run["config"] is None:
        raise RunRecordError(f"{p}: no config.json, so the model cannot be rebuilt")
    model = _build(run_architecture(run["config"], p / "config.json"), p / "config.json")
    ckpts = p / "checkpoints"
    state = None
    if weights == "best" and (ckpts / "best.npz").is_file():
        state = load_checkpoint(ckpts / "best.npz")["model"]
    elif (ckpts / "last.npz").is_file():
        ckpt = load_checkpoint(ckpts / "last.npz")
        state = ckpt.get("best_model") if weights == "best" and ckpt.get("best_model") else ckpt["model"]
    if state is None:
        raise RunRecordError(f"{p}: no checkpoints/best.npz or checkpoints/last.npz (was it run with "
                             "--no-checkpoint?)")
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError) as e:
        raise RunRecordError(f"{p}: the checkpoint does not fit the recorded architecture ({e})") from None
    return model.eval()


# ------------------------------------------------------------------ inputs
def _read_image(path: Path) -> np.ndarray:
    """A grayscale image as floats in [0, 1] (Pillow when installed, else matplotlib for PNG)."""
    try:
        from PIL import Image
    except ImportError:
        Image = None
    if Image is not None:
        try:
            with Image.open(path) as im:
                return np.asarray(im.convert("L"), dtype=np.float64) / 255.0
        except OSError as e:
            raise ValueError(f"{path}: not a readable image ({e})") from None
    if path.suffix.lower() != ".png":
        raise ValueError(f"{path}: reading {path.suffix} images needs Pillow (pip install pillow); PNG works with "
                         "matplotlib")
    try:
        import matplotlib.image as mpimg
    except ImportError:
        raise ValueError(f"{path}: reading images needs Pillow or matplotlib") from None
    try:
        img = np.asarray(mpimg.imread(str(path)), dtype=np.float64)
    except (OSError, SyntaxError, ValueError) as e:
        raise ValueError(f"{path}: not a readable PNG ({e})") from None
    if img.ndim == 3:
        img = img[..., :3].mean(axis=2)
    return img


def _box_resize(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Area-average resampling of a 2-D image to (h, w): each output pixel is the mean of the pixels it covers."""
    H, W = img.shape
    rows = [(int(np.floor(i * H / h)), max(int(np.ceil((i + 1) * H / h)), int(np.floor(i * H / h)) + 1))
            for i in range(h)]
    cols = [(int(np.floor(j * W / w)), max(int(np.ceil((j + 1) * W / w)), int(np.floor(j * W / w)) + 1))
            for j in range(w)]
    return np.array([[img[r0:r1, c0:c1].mean() for c0, c1 in cols] for r0, r1 in rows])


def _image_example(path: Path, shape: tuple[int, ...]) -> tuple[np.ndarray, list[str]]:
    notes = []
    img = _read_image(path)
    if img.ndim != 2 or min(img.shape) < 2:
        raise ValueError(f"{path}: expected a 2-D grayscale or colour image, got an array of shape {img.shape}")
    side = int(round(np.sqrt(np.prod(shape)))) if len(shape) == 1 else shape[-1]
    h, w = (shape[-2], shape[-1]) if len(shape) == 3 else (side, side)
    if h * w != int(np.prod(shape)):
        raise ValueError(f"{path}: the model takes inputs of shape {shape}, not images")
    if img.mean() > 0.5:  # dark ink on light paper: the datasets are light digits on a dark background
        img = 1.0 - img
        notes.append(f"{path.name}: inverted (dark digit on a light background)")
    if img.shape != (h, w):
        notes.append(f"{path.name}: resized from {img.shape[1]}x{img.shape[0]} to {w}x{h}")
        img = _box_resize(img, h, w)
    return img.astype(np.float32).reshape(shape), notes


def read_inputs(path: str | os.PathLike[str], input_shape: tuple[int, ...], *,
                dataset: str | None = None) -> tuple[np.ndarray, list[str]]:
    """Examples for a model taking ``input_shape``: ``(batch, *input_shape)`` float32, and notes on conversions.

    ``.npy`` and ``.csv`` hold one example or one per row (flat or shaped);
    a CSV with one column more than an example has its last column (the
    labels) dropped.  Values above 1 are taken as raw pixels of ``dataset``
    and scaled as in training.  Images are read as grayscale, inverted when
    the digit is dark, and resized to the model's input.
    """
    p = Path(path)
    shape = tuple(int(s) for s in input_shape)
    size = int(np.prod(shape))
    if not p.is_file():
        raise ValueError(f"input file not found: {p}")
    suffix = p.suffix.lower()
    notes: list[str] = []
    if suffix in IMAGE_SUFFIXES:
        x, notes = _image_example(p, shape)
        return x[None], notes
    if suffix == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise ValueError(f"{p}: not a readable .npy array ({str(e).splitlines()[0] if str(e) else e})") from None
    elif suffix == ".csv":
        try:
            arr = np.loadtxt(p, delimiter=",", ndmin=2)
        except ValueError:
            try:  # a header row
                arr = np.loadtxt(p, delimiter=",", ndmin=2, skiprows=1)
            except ValueError as e:
                raise ValueError(f"{p}: not a CSV of numbers ({e})") from None
        if arr.shape[1] == size + 1:
            arr = arr[:, :size]
            notes.append(f"{p.name}: {size + 1} columns: the last one (labels) is ignored")
    else:
        raise ValueError(f"{p}: unknown input type {suffix or '(no suffix)'}; use .npy, .csv or an image "
                         f"({', '.join(IMAGE_SUFFIXES)})")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{p}: expected numbers, got an array of {arr.dtype}")
    arr = np.asarray(arr, dtype=np.float64)
    if arr.size == 0 or arr.size % size:
        raise ValueError(f"{p}: an array of shape {arr.shape} does not hold examples of shape {shape} "
                         f"({size} values each)")
    fits = (arr.shape == shape or arr.shape[1:] == shape or arr.shape[-1] == size or arr.shape == (size,)
            or (len(shape) == 3 and shape[0] == 1 and arr.shape[-2:] == shape[-2:]))
    if not fits:
        raise ValueError(f"{p}: an array of shape {arr.shape} does not hold examples of shape {shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{p}: holds NaN or infinite values")
    if arr.max() > 1.0 + 1e-6 and dataset in _RAW_SCALE:
        scale = _RAW_SCALE[dataset] if arr.max() <= _RAW_SCALE[dataset] else 255.0
        arr = arr / scale
        notes.append(f"{p.name}: values up to {arr.max() * scale:g} read as raw pixels and divided by {scale:g}")
    return arr.reshape(-1, *shape).astype(np.float32), notes
