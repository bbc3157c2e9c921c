"""The safetensors format (Hugging Face): a JSON header, then raw little-endian tensor bytes.

``tw.save(state_dict, "w.safetensors")`` writes it and ``tw.load`` reads it,
through the ``safetensors`` package (``pip install safetensors`` or the
``thalweg[safetensors]`` extra), so PyTorch users read our weights with
``safetensors.torch.load_file`` and we read theirs.  The format holds one flat
mapping from string names to tensors (a state_dict) plus optional string
metadata; nothing in it can run code.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..autograd.tensor import Tensor
from .errors import CheckpointError

__all__ = ["dump_safetensors", "load_safetensors", "looks_like_safetensors"]

MAX_HEADER = 100 << 20  # the safetensors library's own limit on the JSON header


def _package() -> Any:
    try:
        import safetensors.numpy as st
    except ImportError:
        raise ImportError("the safetensors format needs the 'safetensors' package: pip install safetensors "
                          "(or pip install 'thalweg[safetensors]')") from None
    return st


def dump_safetensors(obj: Any, metadata: Mapping[str, str] | None = None) -> bytes:
    """The bytes of a safetensors file holding ``obj``, a flat ``{name: tensor or array}`` mapping."""
    if not isinstance(obj, Mapping):
        raise TypeError(f"tw.save: the safetensors format holds a flat {{name: tensor}} mapping (a state_dict), "
                        f"got a {type(obj).__name__}")
    arrays: dict[str, np.ndarray] = {}
    for key, value in obj.items():
        if not isinstance(key, str):
            raise TypeError(f"tw.save: safetensors keys must be strings, got {key!r}")
        if isinstance(value, Tensor):
            arr = np.asarray(value.array)
        elif isinstance(value, (np.ndarray, np.generic)):
            arr = np.asarray(value)
        elif hasattr(value, "detach") and hasattr(value, "numpy"):
            arr = value.detach().cpu().numpy()
        else:
            raise TypeError(f"tw.save: safetensors holds only tensors, but {key!r} is a {type(value).__name__} "
                            "(save nested or non-tensor data in thalweg's format: any other suffix)")
        if arr.dtype.hasobject:
            raise TypeError(f"tw.save: {key!r} has dtype object, which safetensors cannot hold")
        arrays[key] = arr if arr.flags.c_contiguous else np.array(arr, order="C")
    return _package().save(arrays, metadata=dict(metadata) if metadata else None)


def looks_like_safetensors(head: bytes, size: int) -> bool:
    """Whether a file starting with ``head`` (at least 9 bytes) of ``size`` bytes has a safetensors header."""
    if len(head) < 9:
        return False
    n = int.from_bytes(head[:8], "little")
    return 0 < n <= size - 8 and head[8:9] == b"{"


def load_safetensors(data: bytes, name: str) -> dict[str, Tensor]:
    """The tensors of a safetensors file's bytes, as ``{name: tw.Tensor}`` in the file's order."""
    import json

    n = int.from_bytes(data[:8], "little") if len(data) >= 8 else -1
    if n <= 0 or n > MAX_HEADER or 8 + n > len(data):
        raise CheckpointError(f"{name}: not a valid safetensors file (header length {n} for a file of "
                              f"{len(data)} bytes)")
    try:
        from .guard import parse_json

        header = parse_json(data[8:8 + n], name, "safetensors header")
        order = sorted((k for k in header if k != "__metadata__"),
                       key=lambda k: header[k].get("data_offsets", [0])[0] if isinstance(header[k], dict) else 0)
    except (AttributeError, TypeError, IndexError, json.JSONDecodeError):
        raise CheckpointError(f"{name}: the safetensors header is malformed") from None
    try:
        arrays = _package().load(bytes(data))
    except ImportError:
        raise
    except Exception as e:  # safetensors_rust.SafetensorError and friends
        raise CheckpointError(f"{name}: not a valid safetensors file ({str(e).splitlines()[0]})") from None
    return {k: Tensor(np.array(arrays[k])) for k in order if k in arrays}
