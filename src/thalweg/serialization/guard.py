"""Guarded reading of zip archives, ``.npy`` entries and JSON manifests from untrusted files.

Everything a checkpoint reader takes from a file is checked against what the
file can hold *before* memory is allocated for it:

* a zip's central directory gives each entry's compressed and uncompressed
  size: an entry that decompresses to far more than its compressed size (a
  "zip bomb"), or an archive with absurdly many entries, is refused;
* a ``.npy`` header gives a dtype and a shape: an object dtype (pickle) is
  refused, and ``prod(shape) * itemsize`` must equal the bytes the entry
  actually holds, so a small entry cannot claim 10^12 elements;
* a JSON manifest is checked for its nesting depth before it is parsed, so
  crafted metadata cannot exhaust the interpreter's recursion limit.

Every failure is a :class:`CheckpointError` whose one-line message names the
file and what is wrong with it.
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from typing import IO, Any

import numpy as np

from .errors import CheckpointError

__all__ = ["MAX_DEPTH", "MAX_ENTRIES", "MAX_RATIO", "check_depth", "open_zip", "parse_json", "read_entry",
           "read_npy"]

MAX_DEPTH = 100             # nesting of dicts/lists in a manifest or a loaded structure
MAX_ENTRIES = 1_000_000     # entries in one archive
MAX_RATIO = 200             # uncompressed / compressed size above which a large entry is refused
RATIO_FLOOR = 16 << 20      # entries up to 16 MiB may have any compression ratio
MAX_HEADER = 1 << 20        # bytes of a .npy header


def _human(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def open_zip(source: str | IO[bytes], name: str) -> zipfile.ZipFile:
    """Open a zip archive and check its directory (entry count, sizes, compression ratios)."""
    try:
        zf = zipfile.ZipFile(source, "r")
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
        raise CheckpointError(f"{name}: cannot read it as a zip archive (truncated or corrupt: {e})") from None
    if len(infos) > MAX_ENTRIES:
        zf.close()
        raise CheckpointError(f"{name}: the archive lists {len(infos)} entries (more than {MAX_ENTRIES})")
    for info in infos:
        if info.file_size < 0 or info.compress_size < 0:
            zf.close()
            raise CheckpointError(f"{name}: entry {info.filename!r} has a negative size")
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            zf.close()
            raise CheckpointError(
                f"{name}: entry {info.filename!r} would decompress to {_human(info.file_size)} from "
                f"{_human(info.compress_size)} (ratio over {MAX_RATIO}: refused as a zip bomb)")
    return zf


def read_entry(zf: zipfile.ZipFile, entry: str, name: str, *, limit: int | None = None) -> bytes:
    """The bytes of one entry, checked against its declared size (and ``limit``)."""
    try:
        info = zf.getinfo(entry)
    except KeyError:
        raise CheckpointError(f"{name}: the archive has no entry {entry!r}") from None
    if limit is not None and info.file_size > limit:
        raise CheckpointError(f"{name}: entry {entry!r} is {_human(info.file_size)} (more than {_human(limit)})")
    try:
        with zf.open(info) as f:
            data = f.read(info.file_size + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
        raise CheckpointError(f"{name}: entry {entry!r} is corrupt ({e})") from None
    if len(data) != info.file_size:
        raise CheckpointError(f"{name}: entry {entry!r} holds {len(data)} bytes, its header says {info.file_size}")
    return data


def _read_header(f: IO[bytes], entry: str, name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            return fmt.read_array_header_1_0(f, max_header_size=MAX_HEADER)
        if version == (2, 0):
            return fmt.read_array_header_2_0(f, max_header_size=MAX_HEADER)
        if version == (3, 0):  # utf-8 field names; the reader is private in NumPy 2
            impl = getattr(fmt, "_read_array_header", None)
            if impl is None:
                from numpy.lib import _format_impl  # type: ignore[attr-defined]
                impl = _format_impl._read_array_header
            return impl(f, version, max_header_size=MAX_HEADER)
        raise ValueError(f"unknown .npy version {version}")
    except (ValueError, SyntaxError, TypeError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise CheckpointError(f"{name}: entry {entry!r} has a malformed .npy header ({e})") from None


def read_npy(zf: zipfile.ZipFile, entry: str, name: str) -> np.ndarray:
    """One ``.npy`` entry as an array (``allow_pickle=False``), its size checked against its header first."""
    try:
        info = zf.getinfo(entry)
    except KeyError:
        raise CheckpointError(f"{name}: the archive has no entry {entry!r}") from None
    try:
        f = zf.open(info)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as e:
        raise CheckpointError(f"{name}: entry {entry!r} is corrupt ({e})") from None
    with f:
        shape, fortran, dtype = _read_header(f, entry, name)
        if dtype.hasobject:
            raise CheckpointError(f"{name}: entry {entry!r} is an object array (pickled Python objects are "
                                  "never loaded)")
        if not isinstance(shape, tuple) or any(not isinstance(d, int) or d < 0 for d in shape):
            raise CheckpointError(f"{name}: entry {entry!r} has an invalid shape {shape!r}")
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        header = f.tell()
        if header + nbytes != info.file_size:
            raise CheckpointError(
                f"{name}: entry {entry!r} claims shape {shape} of {dtype} ({count} elements, {_human(nbytes)}) "
                f"but holds {_human(max(info.file_size - header, 0))} of data")
        try:
            data = bytearray(f.read(nbytes + 1))
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            raise CheckpointError(f"{name}: entry {entry!r} is corrupt ({e})") from None
    if len(data) != nbytes:
        raise CheckpointError(f"{name}: entry {entry!r} is truncated ({len(data)} of {nbytes} bytes)")
    arr = np.frombuffer(data, dtype=dtype, count=count)
    return arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")


def parse_json(text: str | bytes, name: str, what: str = "manifest") -> Any:
    """Parse JSON after checking that its nesting stays within :data:`MAX_DEPTH`."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        depth = peak = 0
        for m in _BRACKET.finditer(_STRING.sub('""', text)):
            depth += 1 if m.group() in "[{" else -1
            peak = max(peak, depth)
            if peak > MAX_DEPTH:
                raise CheckpointError(f"{name}: the {what} is nested more than {MAX_DEPTH} levels deep")
        return json.loads(text)
    except CheckpointError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise CheckpointError(f"{name}: the {what} is not valid JSON ({str(e).splitlines()[0]})") from None


def check_depth(obj: Any, name: str) -> None:
    """Refuse containers nested more than :data:`MAX_DEPTH` levels deep (an iterative walk)."""
    stack = [(obj, 0)]
    seen: set[int] = set()
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list, tuple)):
            if depth >= MAX_DEPTH:
                raise CheckpointError(f"{name}: the data is nested more than {MAX_DEPTH} levels deep")
            if id(node) in seen:
                continue
            seen.add(id(node))
            children = node.values() if isinstance(node, dict) else node
            stack.extend((c, depth + 1) for c in children)


def as_source(f: Any) -> tuple[Any, str]:
    """``(path or seekable binary file, name for messages)`` for a path or a file object."""
    import os

    if isinstance(f, (str, os.PathLike)):
        return os.fspath(f), os.fspath(f)
    if not hasattr(f, "read"):
        raise TypeError(f"expected a path or a binary file object, got {type(f).__name__}")
    name = str(getattr(f, "name", "<file object>"))
    seekable = getattr(f, "seekable", None)
    if seekable is None or not seekable():
        f = io.BytesIO(f.read())
    return f, name
