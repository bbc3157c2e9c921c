"""thalweg's own file format for ``tw.save``: a zip of ``.npy`` arrays plus a JSON manifest.

No pickle anywhere.  The archive holds

* ``thalweg.json`` -- ``{"format": "thalweg-save", "version": 1, "root": NODE}``,
  the structure of the saved object, and
* ``arrays/<i>.npy`` -- one entry per distinct array (``allow_pickle=False``).

A ``NODE`` is a JSON string, number, boolean or null for Python's own
scalars, a JSON list for a Python list, or an object tagged by ``"$"``:
``dict`` / ``odict`` (``items``: ``[key, value]`` pairs, so keys may be
ints or tuples as in optimizer state), ``tuple``, ``tensor`` (``ref`` to an
array, ``requires_grad``, ``parameter``), ``ndarray``, ``npscalar``,
``complex`` and ``bytes``.  Tensors that share one array are stored once and
share it again after loading, as with ``torch.save``.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections import OrderedDict
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from .errors import CheckpointError
from .guard import MAX_DEPTH, parse_json, read_entry, read_npy

__all__ = ["FORMAT", "MANIFEST", "dump_native", "is_native", "load_native"]

FORMAT = "thalweg-save"
VERSION = 1
MANIFEST = "thalweg.json"
MAX_MANIFEST = 256 << 20


def _unsupported(obj: Any, where: str) -> TypeError:
    kind = f"{type(obj).__module__}.{type(obj).__qualname__}"
    if hasattr(obj, "state_dict") and hasattr(obj, "parameters"):
        return TypeError(f"tw.save: cannot save a whole {type(obj).__name__} module ({kind}) at {where}; save its "
                         "weights with tw.save(model.state_dict(), path) and restore them with "
                         "model.load_state_dict(tw.load(path))")
    if hasattr(obj, "state_dict"):
        return TypeError(f"tw.save: cannot save a {kind} object at {where}; save its .state_dict() instead")
    return TypeError(f"tw.save: cannot save a {kind} at {where}: only tensors, arrays, numbers, strings, bytes, "
                     "None and dicts, lists and tuples of them can be saved (use model.state_dict() for a model)")


class _Encoder:
    """Turns an object into a JSON-able manifest plus a list of arrays."""

    def __init__(self) -> None:
        self.arrays: list[np.ndarray] = []
        self._refs: dict[int, int] = {}
        self._keep: list[Any] = []  # keep arrays alive so their ids stay unique

    def _ref(self, arr: np.ndarray) -> int:
        key = id(arr)
        if key not in self._refs:
            self._refs[key] = len(self.arrays)
            self.arrays.append(arr if arr.flags.c_contiguous else np.array(arr, order="C"))
            self._keep.append(arr)
        return self._refs[key]

    def encode(self, obj: Any, where: str, depth: int, active: set[int]) -> Any:
        if depth > MAX_DEPTH:
            raise ValueError(f"tw.save: the object is nested more than {MAX_DEPTH} levels deep at {where}")
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return float(obj)
        if isinstance(obj, complex):
            return {"$": "complex", "re": obj.real, "im": obj.imag}
        if isinstance(obj, (bytes, bytearray)):
            return {"$": "bytes", "b64": base64.b64encode(bytes(obj)).decode("ascii")}
        if isinstance(obj, Tensor):
            arr = obj.array
            if not isinstance(arr, np.ndarray):
                arr = np.asarray(arr)
            from ..nn.parameter import Parameter

            return {"$": "tensor", "ref": self._ref(self._plain(arr, where)),
                    "requires_grad": bool(obj.requires_grad), "parameter": isinstance(obj, Parameter)}
        if isinstance(obj, np.ndarray):
            return {"$": "ndarray", "ref": self._ref(self._plain(obj, where))}
        if isinstance(obj, np.generic):
            return {"$": "npscalar", "ref": self._ref(self._plain(np.asarray(obj), where))}
        if type(obj).__module__.startswith("torch") and hasattr(obj, "detach") and hasattr(obj, "numpy"):
            return {"$": "tensor", "ref": self._ref(obj.detach().cpu().numpy()),
                    "requires_grad": bool(obj.requires_grad), "parameter": False}
        if isinstance(obj, (dict, list, tuple)):
            if id(obj) in active:
                raise ValueError(f"tw.save: the object contains a reference cycle at {where}")
            active.add(id(obj))
            try:
                if isinstance(obj, dict):
                    tag = "odict" if isinstance(obj, OrderedDict) else "dict"
                    items = [[self.encode(k, f"{where} key {k!r}", depth + 1, active),
                              self.encode(v, f"{where}[{k!r}]", depth + 1, active)] for k, v in obj.items()]
                    return {"$": tag, "items": items}
                values = [self.encode(v, f"{where}[{i}]", depth + 1, active) for i, v in enumerate(obj)]
                if isinstance(obj, tuple):
                    if hasattr(obj, "_fields"):
                        raise _unsupported(obj, where)
                    return {"$": "tuple", "items": values}
                if type(obj) is not list:
                    raise _unsupported(obj, where)
                return values
            finally:
                active.discard(id(obj))
        raise _unsupported(obj, where)

    @staticmethod
    def _plain(arr: np.ndarray, where: str) -> np.ndarray:
        if arr.dtype.hasobject:
            raise TypeError(f"tw.save: the array at {where} has dtype object; only numeric arrays can be saved")
        return arr


def dump_native(obj: Any) -> bytes:
    """The bytes of a thalweg archive holding ``obj``."""
    enc = _Encoder()
    root = enc.encode(obj, "the top level", 0, set())
    manifest = json.dumps({"format": FORMAT, "version": VERSION, "root": root}, allow_nan=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr(MANIFEST, manifest)
        for i, arr in enumerate(enc.arrays):
            with zf.open(f"arrays/{i}.npy", "w", force_zip64=arr.nbytes > (1 << 30)) as f:
                np.lib.format.write_array(f, arr, allow_pickle=False)
    return buf.getvalue()


def is_native(zf: zipfile.ZipFile) -> bool:
    return MANIFEST in zf.namelist()


class _Decoder:
    def __init__(self, zf: zipfile.ZipFile, name: str) -> None:
        self.zf, self.name = zf, name
        self._arrays: dict[int, np.ndarray] = {}
        self._tensors: dict[tuple[int, bool, bool], Tensor] = {}

    def _array(self, ref: Any) -> np.ndarray:
        if isinstance(ref, bool) or not isinstance(ref, int) or ref < 0:
            raise CheckpointError(f"{self.name}: the manifest has an invalid array reference {ref!r}")
        if ref not in self._arrays:
            self._arrays[ref] = read_npy(self.zf, f"arrays/{ref}.npy", self.name)
        return self._arrays[ref]

    def _items(self, node: dict[str, Any], tag: str) -> list[Any]:
        items = node.get("items")
        if not isinstance(items, list):
            raise CheckpointError(f"{self.name}: a {tag} node in the manifest has no list of items")
        return items

    def decode(self, node: Any) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict) or not isinstance(node.get("$"), str):
            raise CheckpointError(f"{self.name}: the manifest has an untagged node {str(node)[:60]!r}")
        tag = node["$"]
        if tag in ("dict", "odict"):
            out: dict[Any, Any] = OrderedDict() if tag == "odict" else {}
            for pair in self._items(node, tag):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise CheckpointError(f"{self.name}: a dict entry in the manifest is not a [key, value] pair")
                key = self.decode(pair[0])
                try:
                    out[key] = self.decode(pair[1])
                except TypeError:
                    raise CheckpointError(f"{self.name}: a dict key in the manifest is not hashable") from None
            return out
        if tag == "tuple":
            return tuple(self.decode(v) for v in self._items(node, tag))
        if tag == "tensor":
            key = (node.get("ref"), bool(node.get("requires_grad")), bool(node.get("parameter")))
            if key not in self._tensors:
                self._tensors[key] = self._tensor(self._array(key[0]), key[1], key[2])
            return self._tensors[key]
        if tag == "ndarray":
            return self._array(node.get("ref"))
        if tag == "npscalar":
            arr = self._array(node.get("ref"))
            if arr.ndim:
                raise CheckpointError(f"{self.name}: a NumPy scalar in the manifest refers to a {arr.shape} array")
            return arr[()]
        if tag == "complex":
            re_, im = node.get("re"), node.get("im")
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (re_, im)):
                raise CheckpointError(f"{self.name}: a complex number in the manifest is malformed")
            return complex(re_, im)
        if tag == "bytes":
            try:
                return base64.b64decode(node.get("b64", ""), validate=True)
            except (ValueError, TypeError):
                raise CheckpointError(f"{self.name}: a bytes value in the manifest is not valid base64") from None
        raise CheckpointError(f"{self.name}: the manifest has an unknown node type {tag!r}")

    @staticmethod
    def _tensor(arr: np.ndarray, requires_grad: bool, parameter: bool) -> Tensor:
        floating = arr.dtype.kind in "fc"
        if parameter:
            from ..nn.parameter import Parameter

            return Parameter(Tensor(arr), requires_grad=requires_grad and floating)
        return Tensor(arr, requires_grad=requires_grad and floating)


def load_native(zf: zipfile.ZipFile, name: str) -> Any:
    """The object stored in a thalweg archive (already opened through the guard)."""
    manifest = parse_json(read_entry(zf, MANIFEST, name, limit=MAX_MANIFEST), name)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CheckpointError(f"{name}: the manifest is not a thalweg-save manifest")
    version = manifest.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise CheckpointError(f"{name}: format version {version!r} is newer than this thalweg reads ({VERSION})")
    if "root" not in manifest:
        raise CheckpointError(f"{name}: the manifest has no root")
    try:
        return _Decoder(zf, name).decode(manifest["root"])
    except RecursionError:
        raise CheckpointError(f"{name}: the manifest is nested too deeply") from None

