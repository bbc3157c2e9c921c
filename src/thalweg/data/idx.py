"""Reading and writing IDX files, the format MNIST and Fashion-MNIST ship in.

An IDX file is a 4-byte magic number, the dimensions, then the values, all
big-endian::

    byte 0-1  0x00 0x00
    byte 2    type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte 3    number of dimensions d
    then d    uint32 sizes, then prod(sizes) values of that type

(LeCun, Cortes and Burges, "The MNIST database of handwritten digits").
Files may be gzip-compressed; the gzip magic ``1f 8b`` is recognised
whatever the file is called.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from .errors import DataError

__all__ = ["parse_idx", "read_idx", "encode_idx", "read_bytes"]

_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _TYPES.items()}


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """The decompressed content of ``path`` (gzip detected by its magic bytes)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"file not found: {p}")
    raw = p.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{p}: corrupted or truncated gzip data ({e})") from None
    return raw


def parse_idx(data: bytes, *, name: str = "IDX data") -> np.ndarray:
    """Parse the bytes of an IDX file into an array in native byte order.

    Raises ``DataError`` for a bad magic number, an unknown type code, or a
    file shorter (or longer) than its header announces.
    """
    if len(data) < 4:
        raise DataError(f"{name}: truncated IDX file ({len(data)} bytes, the header alone needs 4)")
    if data[0] != 0 or data[1] != 0 or data[2] not in _TYPES:
        raise DataError(f"{name}: bad magic number 0x{data[:4].hex()} (not an IDX file; expected 0x0000 "
                        "followed by a type code 08/09/0b/0c/0d/0e and the number of dimensions)")
    dtype, ndim = _TYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{name}: truncated IDX header ({len(data)} bytes, {header} needed for {ndim} dimensions)")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header
    if found < expected:
        raise DataError(f"{name}: truncated IDX file: shape {shape} needs {expected} bytes of data, found {found}")
    if found > expected:
        raise DataError(f"{name}: IDX file has {found - expected} unexpected trailing bytes after shape {shape}")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=True) if dtype.itemsize > 1 else arr.copy()


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (raw or gzip) into an ndarray."""
    return parse_idx(read_bytes(path), name=str(path))


def encode_idx(array: np.ndarray) -> bytes:
    """The IDX bytes of ``array`` (uint8, int8, int16, int32, float32 or float64)."""
    a = np.asarray(array)
    code = _CODES.get(a.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"encode_idx: unsupported dtype {a.dtype}")
    head = bytes([0, 0, code, a.ndim]) + np.asarray(a.shape, dtype=">u4").tobytes()
    return head + a.astype(_TYPES[code], copy=False).tobytes()
