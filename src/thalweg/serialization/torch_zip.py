"""Read what ``torch.save`` wrote, without PyTorch and without running code from the file.

Since torch 1.6 ``torch.save`` writes a zip archive::

    <prefix>/data.pkl      the object, pickled (protocol 2)
    <prefix>/data/<key>    one raw storage per key (bytes in ``byteorder``)
    <prefix>/byteorder     "little" or "big" (absent in old files: little)
    <prefix>/version, <prefix>/.data/serialization_id

Tensors appear in ``data.pkl`` as calls to ``torch._utils._rebuild_tensor_v2
(storage, offset, size, stride, requires_grad, hooks)`` whose storage is a
*persistent id* ``("storage", torch.FloatStorage, key, location, numel)``.

:class:`RestrictedUnpickler` resolves only the globals such a state_dict
needs -- the tensor and parameter rebuild functions, the storage types
(mapped to stand-ins that carry a NumPy dtype), ``collections.OrderedDict``,
torch's dtype names and a few primitive types -- like torch's own
``weights_only=True`` loader.  Any other global (``os.system``,
``builtins.eval``, a model class) raises :class:`RefusedGlobalError`, an
``UnpicklingError`` naming the refused global.  Storages are read through the
zip guard, their byte size checked against ``numel`` before reading, and each
tensor view (offset, size, stride) is checked to lie inside its storage.
"""

from __future__ import annotations

import codecs
import math
import pickle
import zipfile
from collections import OrderedDict
from typing import Any, Callable

import numpy as np

from ..autograd.tensor import Tensor
from .errors import CheckpointError
from .guard import check_depth, read_entry

__all__ = ["RefusedGlobalError", "RestrictedUnpickler", "find_torch_prefix", "load_torch_zip"]

MAX_PICKLE = 1 << 30          # bytes of data.pkl
MAX_VIEW_BLOWUP = 8           # bytes of all tensors built / bytes of all storages read ...
VIEW_FLOOR = 256 << 20        # ... above this floor (a stride-0 view may repeat a storage)


class RefusedGlobalError(CheckpointError, pickle.UnpicklingError):
    """``data.pkl`` names a global outside the allow-list (it could run code)."""


class _StorageType:
    """Stand-in for ``torch.FloatStorage`` and friends: a name and a NumPy dtype."""

    def __init__(self, name: str, dtype: str) -> None:
        self.name, self.dtype = name, dtype

    def __repr__(self) -> str:
        return f"torch.{self.name}"


_STORAGES = {
    "DoubleStorage": "f8", "FloatStorage": "f4", "HalfStorage": "f2", "BFloat16Storage": "bf16",
    "LongStorage": "i8", "IntStorage": "i4", "ShortStorage": "i2", "CharStorage": "i1", "ByteStorage": "u1",
    "BoolStorage": "?", "ComplexFloatStorage": "c8", "ComplexDoubleStorage": "c16", "UntypedStorage": "u1",
}
_STORAGE_TYPES = {name: _StorageType(name, dt) for name, dt in _STORAGES.items()}

_DTYPES = {"float64": "f8", "double": "f8", "float32": "f4", "float": "f4", "float16": "f2", "half": "f2",
           "bfloat16": "f4", "int64": "i8", "long": "i8", "int32": "i4", "int": "i4", "int16": "i2",
           "short": "i2", "int8": "i1", "uint8": "u1", "bool": "?", "complex64": "c8", "complex128": "c16"}


class _Storage:
    """A storage read from the archive: a flat array of its dtype (bfloat16 kept as raw uint16)."""

    def __init__(self, array: np.ndarray, bfloat16: bool) -> None:
        self.array, self.bfloat16 = array, bfloat16


def _encode(obj: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for ``bytes`` (text codecs only)."""
    if not isinstance(obj, str) or encoding.lower().replace("-", "") not in ("latin1", "utf8", "ascii"):
        raise pickle.UnpicklingError("_codecs.encode is allowed only for text encodings")
    return codecs.encode(obj, encoding, errors)


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickle ``data.pkl`` allowing only the globals of a tensor state_dict (torch's ``weights_only``)."""

    def __init__(self, file: Any, *, storage_loader: Callable[[_StorageType, str, int], _Storage],
                 name: str) -> None:
        super().__init__(file)
        self._load_storage = storage_loader
        self._name = name
        self._views: dict[tuple[Any, ...], Tensor] = {}
        self.built_bytes = 0
        self.storage_bytes = 0

    # ---------------------------------------------------------------- globals
    def find_class(self, module: str, name: str) -> Any:
        full = f"{module}.{name}"
        if module == "torch._utils":
            if name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
                return self._rebuild_tensor
            if name == "_rebuild_parameter":
                return _rebuild_parameter
            if name == "_rebuild_parameter_with_state":
                return _rebuild_parameter_with_state
        if full == "collections.OrderedDict":
            return OrderedDict
        if module in ("torch", "torch.storage") and name in _STORAGE_TYPES:
            return _STORAGE_TYPES[name]
        if module == "torch" and name in _DTYPES:
            return np.dtype(_DTYPES[name])
        if full == "torch.Size":
            return tuple
        if full == "torch.device":
            return str
        if module == "builtins" and name in ("set", "frozenset", "complex", "bytearray", "slice"):
            return {"set": set, "frozenset": frozenset, "complex": complex, "bytearray": bytearray,
                    "slice": slice}[name]
        if full == "_codecs.encode":
            return _encode
        raise RefusedGlobalError(
            f"{self._name}: refused to load global '{full}' (only tensors, storages, ordered dicts and primitive "
            "types are allowed; the file may contain code or a whole pickled model -- save its state_dict())")

    # ------------------------------------------------------------- storages
    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise CheckpointError(f"{self._name}: data.pkl has an unknown persistent id {str(pid)[:80]}")
        _, stype, key, _location, numel = pid
        if not isinstance(stype, _StorageType) or not isinstance(key, str) \
                or isinstance(numel, bool) or not isinstance(numel, int) or numel < 0:
            raise CheckpointError(f"{self._name}: data.pkl has a malformed storage reference {str(pid)[:80]}")
        return self._load_storage(stype, key, numel)

    # ------------------------------------------------------------- tensors
    def _rebuild_tensor(self, storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any = False,
                        backward_hooks: Any = None, metadata: Any = None) -> Tensor:
        if not isinstance(storage, _Storage):
            raise CheckpointError(f"{self._name}: a tensor in data.pkl is not built on a storage")
        ints = (offset, *tuple(size or ()), *tuple(stride or ()))
        if not isinstance(size, tuple) or not isinstance(stride, tuple) or len(size) != len(stride) \
                or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in ints):
            raise CheckpointError(f"{self._name}: a tensor in data.pkl has an invalid offset/size/stride "
                                  f"({offset!r}, {size!r}, {stride!r})")
        key = (id(storage), offset, size, stride, bool(requires_grad))
        if key in self._views:
            return self._views[key]
        flat = storage.array
        count = math.prod(size)
        if count:
            last = offset + sum((n - 1) * s for n, s in zip(size, stride))
            if last >= flat.size:
                raise CheckpointError(f"{self._name}: a tensor of size {list(size)} at offset {offset} with stride "
                                      f"{list(stride)} reaches past its storage of {flat.size} elements")
        self.built_bytes += count * flat.itemsize
        if self.built_bytes > max(MAX_VIEW_BLOWUP * self.storage_bytes, VIEW_FLOOR):
            raise CheckpointError(f"{self._name}: its tensors would take {self.built_bytes} bytes, far more than "
                                  f"the {self.storage_bytes} bytes of storage in the file")
        if count:
            view = np.lib.stride_tricks.as_strided(flat[offset:], shape=size,
                                                   strides=tuple(s * flat.itemsize for s in stride))
            arr = np.array(view, dtype=flat.dtype.newbyteorder("="), copy=True)
        else:
            arr = np.zeros(size, dtype=flat.dtype.newbyteorder("="))
        if storage.bfloat16:  # the high half of a float32
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        t = Tensor(arr, requires_grad=bool(requires_grad) and arr.dtype.kind in "fc")
        self._views[key] = t
        return t


def _rebuild_parameter(data: Any, requires_grad: Any, backward_hooks: Any = None) -> Tensor:
    from ..nn.parameter import Parameter

    if not isinstance(data, Tensor):
        raise pickle.UnpicklingError("a parameter in data.pkl is not built on a tensor")
    return Parameter(data, requires_grad=bool(requires_grad) and data.dtype.kind in "fc")


def _rebuild_parameter_with_state(data: Any, requires_grad: Any, backward_hooks: Any = None,
                                  state: Any = None) -> Tensor:
    return _rebuild_parameter(data, requires_grad, backward_hooks)


def find_torch_prefix(names: list[str]) -> str | None:
    """The folder holding ``data.pkl`` in a torch archive (``archive`` or the file's stem), or None."""
    found = [n[: -len("data.pkl")] for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    if not found and "data.pkl" in names:
        return ""
    return found[0] if len(found) == 1 else None


def load_torch_zip(zf: zipfile.ZipFile, name: str) -> Any:
    """The object a ``torch.save`` archive holds, with tensors as ``tw.Tensor`` (never runs code)."""
    names = zf.namelist()
    prefix = find_torch_prefix(names)
    if prefix is None:
        raise CheckpointError(f"{name}: not a PyTorch archive (no single <folder>/data.pkl)")
    order = "little"
    if f"{prefix}byteorder" in names:
        order = read_entry(zf, f"{prefix}byteorder", name, limit=16).decode("ascii", "replace").strip()
        if order not in ("little", "big"):
            raise CheckpointError(f"{name}: unknown byteorder {order!r}")
    cache: dict[str, _Storage] = {}
    unpickler: RestrictedUnpickler

    def load_storage(stype: _StorageType, key: str, numel: int) -> _Storage:
        if key in cache:
            return cache[key]
        bf16 = stype.dtype == "bf16"
        dtype = np.dtype("u2" if bf16 else stype.dtype).newbyteorder("<" if order == "little" else ">")
        entry = f"{prefix}data/{key}"
        try:
            size = zf.getinfo(entry).file_size
        except KeyError:
            raise CheckpointError(f"{name}: storage {key!r} named in data.pkl is missing from the archive") from None
        if size != numel * dtype.itemsize:
            raise CheckpointError(f"{name}: storage {key!r} claims {numel} elements of {stype!r} "
                                  f"({numel * dtype.itemsize} bytes) but holds {size} bytes")
        raw = bytearray(read_entry(zf, entry, name))
        unpickler.storage_bytes += len(raw)
        cache[key] = _Storage(np.frombuffer(raw, dtype=dtype), bf16)
        return cache[key]

    data = read_entry(zf, f"{prefix}data.pkl", name, limit=MAX_PICKLE)
    import io

    unpickler = RestrictedUnpickler(io.BytesIO(data), storage_loader=load_storage, name=name)
    try:
        obj = unpickler.load()
    except CheckpointError:
        raise
    except pickle.UnpicklingError as e:
        raise CheckpointError(f"{name}: data.pkl is not a valid pickle ({e})") from None
    except (EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, MemoryError,
            RecursionError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{name}: data.pkl is corrupt ({type(e).__name__}: {e})") from None
    check_depth(obj, name)
    return obj
