"""Atomic files and pickle-free checkpoints.

A checkpoint is a nested structure of dicts, lists, tuples, numbers, strings
and arrays (model, optimizer and schedule ``state_dict``s, RNG states, the
loop's counters).  ``save_checkpoint`` stores every array as an entry of an
``.npz`` archive and everything else as one JSON document inside it (a
unicode array, so ``np.load(..., allow_pickle=False)`` reads it): loading a
checkpoint never runs code.  128-bit generator states survive because JSON
integers have no size limit.

Every write is atomic: the bytes go to a temporary file in the destination's
directory, are flushed to disk, then ``os.replace`` renames it over the old
file.  A crash mid-write leaves the previous file intact.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from ..fileio import atomic_write, atomic_write_text  # noqa: F401 - re-exported for train's users

__all__ = ["atomic_write", "atomic_write_text", "atomic_write_json", "save_checkpoint", "load_checkpoint",
           "encode_state", "decode_state", "CheckpointError"]

_META = "__thalweg_meta__"
FORMAT = "thalweg-checkpoint"
VERSION = 1



class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable or holds something that is not plain data."""


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


# ------------------------------------------------------------------ encoding
def _reserved(key: Any) -> bool:
    return not isinstance(key, str) or (key.startswith("__") and key.endswith("__"))


def encode_state(obj: Any, arrays: dict[str, np.ndarray], where: str = "state") -> Any:
    """Replace arrays in ``obj`` by references into ``arrays``; return a JSON-able structure."""
    if isinstance(obj, Tensor):
        obj = obj.array
    if hasattr(obj, "detach") and hasattr(obj, "numpy") and not isinstance(obj, np.ndarray):  # torch tensor
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise CheckpointError(f"checkpoint: {where} is an object array; only numeric arrays can be saved")
        key = f"a{len(arrays)}"
        arrays[key] = np.ascontiguousarray(obj)
        return {"__array__": key}
    if isinstance(obj, np.generic):
        key = f"a{len(arrays)}"
        arrays[key] = np.asarray(obj)
        return {"__scalar__": key}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, dict):
        if any(_reserved(k) for k in obj):
            return {"__dict__": [[encode_state(k, arrays, where), encode_state(v, arrays, f"{where}.{k}")]
                                 for k, v in obj.items()]}
        return {k: encode_state(v, arrays, f"{where}.{k}") for k, v in obj.items()}
    if isinstance(obj, tuple):
        return {"__tuple__": [encode_state(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [encode_state(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]
    raise CheckpointError(f"checkpoint: cannot store {type(obj).__name__} at {where} "
                          "(only arrays, numbers, strings, None, lists, tuples and dicts)")


def decode_state(obj: Any, arrays: Any) -> Any:
    """Inverse of ``encode_state``."""
    if isinstance(obj, list):
        return [decode_state(v, arrays) for v in obj]
    if isinstance(obj, dict):
        if len(obj) == 1:
            (tag, val), = obj.items()
            if tag == "__array__":
                return np.array(arrays[val])
            if tag == "__scalar__":
                return np.array(arrays[val])[()]
            if tag == "__tuple__":
                return tuple(decode_state(v, arrays) for v in val)
            if tag == "__dict__":
                return {_hashable(decode_state(k, arrays)): decode_state(v, arrays) for k, v in val}
        return {k: decode_state(v, arrays) for k, v in obj.items()}
    return obj


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, (list, tuple)) else key


# --------------------------------------------------------------- checkpoints
def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` (``.npz``) atomically, without pickle."""
    arrays: dict[str, np.ndarray] = {}
    meta = {"format": FORMAT, "version": VERSION, "state": encode_state(state, arrays)}
    text = json.dumps(meta, allow_nan=True)
    buf = io.BytesIO()
    np.savez(buf, **{_META: np.array(text)}, **arrays)
    return atomic_write(path, lambda f: f.write(buf.getbuffer()))


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint`` (``allow_pickle=False``)."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint not found: {p}")
    try:
        with np.load(p, allow_pickle=False) as npz:
            if _META not in npz.files:
                raise CheckpointError(f"{p} is not a thalweg checkpoint (no metadata entry)")
            meta = json.loads(str(npz[_META][()]))
            if meta.get("format") != FORMAT:
                raise CheckpointError(f"{p} is not a thalweg checkpoint (format {meta.get('format')!r})")
            arrays = {k: npz[k] for k in npz.files if k != _META}
    except CheckpointError:
        raise
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as e:
        raise CheckpointError(f"cannot read checkpoint {p}: {e}") from None
    return decode_state(meta["state"], arrays)
