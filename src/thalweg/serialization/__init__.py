"""``tw.save`` / ``tw.load``: state_dicts and checkpoints as plain arrays, never pickle.

    tw.save(model.state_dict(), "model.tw")            # thalweg's zip of .npy + JSON manifest
    model.load_state_dict(tw.load("model.tw"))
    tw.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3}, "ckpt.tw")
    tw.save(model.state_dict(), "model.safetensors")   # safetensors, chosen by the suffix
    sd = tw.load("model.pt")                           # what torch.save(state_dict) wrote; torch not needed

What can be saved: tensors, NumPy arrays and scalars, Python numbers, bools,
None, strings, bytes, and dicts (``OrderedDict`` too, any hashable plain keys),
lists and tuples of them, nested.  Tensors come back as ``tw.Tensor``, arrays
as arrays, tuples as tuples.  A whole ``Module`` (or a function, or an
instance of your own class) is refused with a ``TypeError`` pointing to
``state_dict()``: loading such a thing would mean running code from the file,
which is why torch's ``weights_only=True`` loader refuses it too.

What ``tw.load`` reads, recognised by content, not by name: thalweg's format,
safetensors, PyTorch's zip format (through an unpickler that allows only
tensors, storages, ordered dicts and primitives), and the ``.npz`` checkpoints
``tw.train`` writes.  Every file is checked before memory is allocated for it
(:mod:`thalweg.serialization.guard`); a truncated, corrupt or crafted file
raises :class:`CheckpointError` with a one-line message naming the file.
Writes to a path are atomic (a temporary file, then a rename).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

from .errors import CheckpointError

__all__ = ["CheckpointError", "RefusedGlobalError", "add_safe_globals", "get_safe_globals", "load", "safe_globals",
           "save"]


def __getattr__(name: str) -> Any:
    # the readers and writers load on first use, so ``import thalweg`` stays light
    if name == "RefusedGlobalError":
        from .torch_zip import RefusedGlobalError

        return RefusedGlobalError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

_PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


def save(obj: Any, f: str | os.PathLike[str] | IO[bytes], pickle_module: Any = None, pickle_protocol: int = 2,
         _use_new_zipfile_serialization: bool = True, *, metadata: dict[str, str] | None = None) -> None:
    """Write ``obj`` to ``f`` (a path or a binary file object) without pickle.

    A path ending in ``.safetensors`` gets the safetensors format (``obj``
    must then be a flat ``{name: tensor}`` mapping, with optional string
    ``metadata``); anything else gets thalweg's format.  torch's
    ``pickle_module`` / ``pickle_protocol`` arguments are accepted and unused.
    """
    if pickle_module is not None:
        raise ValueError("tw.save never pickles: pickle_module is not supported")
    from ..fileio import atomic_write_bytes
    from .native import dump_native
    from .safetensors_io import dump_safetensors

    safetensors = isinstance(f, (str, os.PathLike)) and Path(f).suffix.lower() == ".safetensors"
    if not safetensors and metadata is not None:
        raise ValueError("tw.save: metadata= is only for the safetensors format")
    if hasattr(obj, "state_dict") and hasattr(obj, "parameters") and callable(obj.parameters):
        raise TypeError(f"tw.save: cannot save a whole {type(obj).__name__} module; save its weights with "
                        "tw.save(model.state_dict(), path) and restore them with "
                        "model.load_state_dict(tw.load(path))")
    data = dump_safetensors(obj, metadata) if safetensors else dump_native(obj)
    if isinstance(f, (str, os.PathLike)):
        atomic_write_bytes(f, data)
    elif hasattr(f, "write"):
        f.write(data)
    else:
        raise TypeError(f"tw.save: f must be a path or a binary file object, got {type(f).__name__}")


def load(f: str | os.PathLike[str] | IO[bytes], map_location: Any = None, pickle_module: Any = None, *,
         weights_only: bool | None = True, mmap: bool | None = None, **pickle_load_args: Any) -> Any:
    """Read what :func:`save` (or ``torch.save``, or safetensors, or ``tw.train``) wrote to ``f``.

    ``map_location`` is accepted for torch scripts and has no effect: every
    tensor lives on the CPU.  ``weights_only`` is always effectively true:
    nothing in a file is ever executed, whatever it is set to.
    """
    if pickle_module is not None:
        raise ValueError("tw.load never runs pickle's full loader: pickle_module is not supported")
    from .guard import as_source, open_zip
    from .native import is_native, load_native
    from .safetensors_io import load_safetensors, looks_like_safetensors
    from .torch_zip import find_torch_prefix, load_torch_zip

    src, name = as_source(f)
    if isinstance(src, str):
        p = Path(src)
        if not p.exists():
            raise FileNotFoundError(f"tw.load: no such file: {name}")
        if not p.is_file():
            raise CheckpointError(f"{name}: not a regular file")
        size = p.stat().st_size
        with open(p, "rb") as fh:
            head = fh.read(16)
    else:
        start = src.tell()
        head = src.read(16)
        size = src.seek(0, os.SEEK_END) - start
        src.seek(start)
    if len(head) == 0:
        raise CheckpointError(f"{name}: the file is empty")
    if head[:2] == b"PK":
        with open_zip(src, name) as zf:
            if is_native(zf):
                return load_native(zf, name)
            names = zf.namelist()
            if find_torch_prefix(names) is not None:
                return load_torch_zip(zf, name)
            from ..train.io import META_ENTRY, read_checkpoint_zip

            if META_ENTRY in names:
                return read_checkpoint_zip(zf, name)
            raise CheckpointError(f"{name}: a zip archive, but neither a thalweg, a PyTorch nor a tw.train "
                                  "checkpoint")
    if looks_like_safetensors(head, size):
        if isinstance(src, str):
            data = Path(src).read_bytes()
        else:
            data = src.read()
        return load_safetensors(data, name)
    if head[:2] in _PICKLE_MAGIC:
        raise CheckpointError(f"{name}: a bare pickle (PyTorch's legacy format, or pickle.dump); it is not read "
                              "because unpickling can run code -- re-save it with a recent torch.save "
                              "(the zip format) or as safetensors")
    raise CheckpointError(f"{name}: not a thalweg, safetensors or PyTorch (zip) file (it starts with {head[:8]!r})")


_SAFE_GLOBALS: list[Any] = []


def add_safe_globals(globals_: list[Any]) -> None:
    """torch's allowlist for its ``weights_only`` unpickler, accepted so ported scripts run.

    thalweg's loader rebuilds tensors, arrays, numbers, strings and containers only; it never builds an
    object of a listed class from a file, so the list changes nothing about what ``load`` accepts.
    """
    _SAFE_GLOBALS.extend(globals_)


def get_safe_globals() -> list[Any]:
    """The classes given to :func:`add_safe_globals` (kept for torch's API; see there)."""
    return list(_SAFE_GLOBALS)


class safe_globals:  # noqa: N801 - torch's spelling
    """``with tw.serialization.safe_globals([...]):`` as in torch; a no-op here (see :func:`add_safe_globals`)."""

    def __init__(self, globals_: list[Any]) -> None:
        self._globals = list(globals_)

    def __enter__(self) -> None:
        self._saved = list(_SAFE_GLOBALS)
        _SAFE_GLOBALS.extend(self._globals)

    def __exit__(self, *exc: object) -> None:
        _SAFE_GLOBALS[:] = self._saved
