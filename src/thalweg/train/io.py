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
from ..serialization.errors import CheckpointError

__all__ = ["atomic_write", "atomic_write_text", "atomic_write_json", "save_checkpoint", "load_checkpoint",
           "encode_state", "decode_state", "CheckpointError", "read_checkpoint_zip"]

_META = "__thalweg_meta__"
META_ENTRY = _META + ".npy"
FORMAT = "thalweg-checkpoint"
VERSION = 1
MAX_META = 256 << 20  # bytes of the JSON metadata entry


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
        arrays[key] = obj if obj.flags.c_contiguous else np.array(obj, order="C")
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
    """Inverse of ``encode_state``; a reference to a missing array or a malformed tag raises ``CheckpointError``."""
    if isinstance(obj, list):
        return [decode_state(v, arrays) for v in obj]
    if isinstance(obj, dict):
        if len(obj) == 1:
            (tag, val), = obj.items()
            if tag in ("__array__", "__scalar__"):
                if not isinstance(val, str) or val not in arrays:
                    raise CheckpointError(f"the metadata refers to a missing array {str(val)[:40]!r}")
                return np.array(arrays[val]) if tag == "__array__" else np.array(arrays[val])[()]
            if tag == "__tuple__":
                if not isinstance(val, list):
                    raise CheckpointError("a tuple in the metadata is not a list")
                return tuple(decode_state(v, arrays) for v in val)
            if tag == "__dict__":
                if not isinstance(val, list) or any(not isinstance(kv, list) or len(kv) != 2 for kv in val):
                    raise CheckpointError("a dict in the metadata is not a list of [key, value] pairs")
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


def read_checkpoint_zip(zf: Any, name: str) -> dict[str, Any]:
    """The state in an opened checkpoint archive, every entry checked by the guard before it is read."""
    from ..serialization.guard import parse_json, read_npy

    names = zf.namelist()
    if META_ENTRY not in names:
        raise CheckpointError(f"{name} is not a thalweg checkpoint (no metadata entry)")
    info = zf.getinfo(META_ENTRY)
    if info.file_size > MAX_META:
        raise CheckpointError(f"{name}: the metadata entry is {info.file_size} bytes (more than {MAX_META})")
    meta_arr = read_npy(zf, META_ENTRY, name)
    if meta_arr.dtype.kind != "U" or meta_arr.ndim != 0:
        raise CheckpointError(f"{name}: the metadata entry is not a text scalar (dtype {meta_arr.dtype})")
    meta = parse_json(str(meta_arr[()]), name, "metadata")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        fmt = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(f"{name} is not a thalweg checkpoint (format {fmt!r})")
    if "state" not in meta:
        raise CheckpointError(f"{name}: the metadata has no 'state'")
    arrays = {}
    for entry in names:
        if entry != META_ENTRY:
            if not entry.endswith(".npy"):
                raise CheckpointError(f"{name}: unexpected entry {entry!r} in the archive")
            arrays[entry[:-4]] = read_npy(zf, entry, name)
    try:
        return decode_state(meta["state"], arrays)
    except CheckpointError as e:
        raise CheckpointError(f"{name}: {e}") from None
    except (TypeError, ValueError, KeyError, RecursionError) as e:
        raise CheckpointError(f"{name}: malformed metadata ({type(e).__name__}: {e})") from None


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint``: no pickle, every size checked before reading.

    A missing, truncated, corrupt or crafted file raises ``CheckpointError``
    with a one-line message naming the file and what is wrong.
    """
    from ..serialization.guard import open_zip

    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint not found: {p}")
    with open_zip(str(p), str(p)) as zf:
        state = read_checkpoint_zip(zf, str(p))
    if not isinstance(state, dict):
        raise CheckpointError(f"{p}: the checkpoint's state is a {type(state).__name__}, not a dict")
    return state
