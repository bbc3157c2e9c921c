"""Data for the lab: MNIST or Fashion-MNIST when the files are on disk, the embedded digits otherwise.

The lab never downloads.  It looks for ``<root>/mnist/...`` (or
``<root>/fashion-mnist/...``) in, in turn: the folder given by
``use_data_dir`` (the ``--data-dir`` option), ``$THALWEG_DATA``, the
project's shared data folder ``../shared/data`` next to the checkout (and
next to the current directory), and the thalweg cache.  When none holds the
files, the experiment runs on the UCI 8x8 digits embedded in the package and
its report says so (the figures then say little about the paper's scale).

Loaded splits are cached per process, so several experiments (or the tests)
read the IDX files once.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thalweg.data import DataError, digits_splits, load_idx_dataset
from thalweg.data.download import ENV_VAR, data_root

__all__ = ["LabData", "load", "use_data_dir", "candidate_roots", "find_root", "display_path"]

_OVERRIDE: list[Path | None] = [None]
_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}


def display_path(path: str | os.PathLike[str]) -> str:
    """``path`` as a report may print it: relative to the working directory when below it, else
    its last two components (``data/mnist``), never the machine's absolute path."""
    p = Path(path).expanduser()
    if not p.is_absolute():
        return p.as_posix()
    try:
        return p.resolve().relative_to(Path.cwd().resolve()).as_posix() or "."
    except ValueError:
        return "/".join(p.parts[-2:]) if len(p.parts) > 2 else p.name


def use_data_dir(path: str | os.PathLike[str] | None) -> None:
    """Look for data in ``path`` first (``None`` clears it)."""
    _OVERRIDE[0] = None if path is None else Path(path).expanduser()


def candidate_roots() -> list[Path]:
    """Folders searched for ``<dataset>/train-images-idx3-ubyte.gz``, in order."""
    roots: list[Path] = []
    if _OVERRIDE[0] is not None:
        roots.append(_OVERRIDE[0])
    env = os.environ.get(ENV_VAR)
    if env:
        roots.append(Path(env).expanduser())
    checkout = Path(__file__).resolve().parents[3]  # src/thalweg/lab/datasets.py -> the checkout
    roots += [checkout.parent / "shared" / "data", Path.cwd().parent / "shared" / "data", data_root(None)]
    unique: list[Path] = []
    for r in roots:
        if r not in unique:
            unique.append(r)
    return unique


def _has_files(folder: Path) -> bool:
    return any((folder / f"train-images-idx3-ubyte{ext}").is_file() for ext in (".gz", ""))


def find_root(dataset: str) -> Path | None:
    """The first candidate root holding ``dataset`` (as ``root/dataset/`` or directly in ``root``), or None."""
    for root in candidate_roots():
        if _has_files(root / dataset) or (root.name == dataset and _has_files(root)):
            return root
    return None


@dataclass
class LabData:
    """Train/dev/test arrays of a classification set, and where they came from.

    ``x_*`` are float32 of shape ``(N, 784)`` / ``(N, 64)`` (or images
    ``(N, 1, H, W)`` with ``images=True``); ``y_*`` int64.  ``fallback`` is
    True when the wanted set was not found and the embedded digits were used.
    """

    name: str
    source: str
    fallback: bool
    x_train: np.ndarray
    y_train: np.ndarray
    x_dev: np.ndarray
    y_dev: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    wanted: str = ""

    @property
    def n_features(self) -> int:
        return int(np.prod(self.x_train.shape[1:]))

    @property
    def image_size(self) -> int:
        return int(round(np.sqrt(self.n_features)))

    def describe(self) -> str:
        """One sentence for a report's setup."""
        parts = [f"{len(self.y_train):,} training", f"{len(self.y_dev):,} dev"]
        if len(self.y_test):
            parts.append(f"{len(self.y_test):,} test")
        s = f"{self.name} ({self.source}): {' / '.join(parts)} examples"
        if self.fallback:
            s += (f". {self.wanted} was not found (looked in {', '.join(display_path(r) for r in candidate_roots())}; "
                  f"set ${ENV_VAR} or --data-dir), so this run used the embedded 8x8 digits instead")
        return s


@functools.lru_cache(maxsize=2)
def _load_flat(dataset: str, root: str) -> tuple[np.ndarray, ...]:
    s = load_idx_dataset(dataset, root, download=False, flatten=True, seed=0)
    return (*s.train.tensors, *s.dev.tensors, *s.test.tensors)


@functools.lru_cache(maxsize=1)
def _load_digits_flat() -> tuple[np.ndarray, ...]:
    s = digits_splits(seed=0)
    return (*s.train.tensors, *s.dev.tensors, *s.test.tensors)


def _as_images(arrays: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """Views of the flat images as ``(N, 1, side, side)`` (labels unchanged)."""
    out = []
    for i, a in enumerate(arrays):
        if i % 2 == 0:
            side = int(round(np.sqrt(a.shape[1])))
            a = a.reshape(len(a), 1, side, side)
        out.append(a)
    return tuple(out)


def _take(x: np.ndarray, y: np.ndarray, n: int | None, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if n is None or n >= len(y):
        return x, y
    idx = np.sort(rng.choice(len(y), size=n, replace=False))
    return x[idx], y[idx]


def load(dataset: str = "mnist", *, n_train: int | None = None, n_dev: int | None = None,
         n_test: int | None = None, seed: int = 0, images: bool = False) -> LabData:
    """The standard split of ``dataset`` ("mnist" or "fashion-mnist"), or the embedded digits if absent.

    ``n_train``/``n_dev``/``n_test`` keep a random subset of that many
    examples (drawn with ``seed``; None keeps all).  The split itself is
    fixed (the data package's seed-0 split of 50,000/10,000 plus the official
    test set; digits: 1,197/300/300).
    """
    if dataset not in _NAMES:
        raise ValueError(f"lab data: unknown dataset {dataset!r}; valid: {', '.join(_NAMES)}")
    root = find_root(dataset)
    arrays: tuple[np.ndarray, ...] | None = None
    if root is not None:
        try:
            arrays = _load_flat(dataset, str(root))
            folder = root / dataset if (root / dataset).is_dir() else root
            name, source, fallback = _NAMES[dataset], display_path(folder), False
        except DataError:
            arrays = None
    if arrays is None:
        arrays = _load_digits_flat()
        name, source, fallback = "UCI 8x8 digits", "embedded in thalweg", True
    if images:
        arrays = _as_images(arrays)
    rng = np.random.default_rng((seed, 0xDA7A))
    xtr, ytr = _take(arrays[0], arrays[1], n_train, rng)
    xdv, ydv = _take(arrays[2], arrays[3], n_dev, rng)
    xte, yte = _take(arrays[4], arrays[5], n_test, rng)
    return LabData(name, source, fallback, xtr, ytr, xdv, ydv, xte, yte, wanted=_NAMES[dataset])
