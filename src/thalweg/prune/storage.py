"""Storing a pruned network: compressed rows with relative indices (Han et al. 2015, section 4).

A pruned weight matrix is mostly zeros, so it is stored as its non-zero
values plus where they are.  The paper stores the layers as compressed sparse
rows and, to make the positions cheap, keeps the *difference* to the previous
position instead of the absolute column: 5 bits per index in the fully
connected layers, 8 in the convolutional ones (storage overhead of the
indices: 15.6% for AlexNet).  A gap larger than a ``b``-bit field can say is
bridged by *filler* entries: a stored zero value whose only job is to advance
the position by ``2^b`` (the scheme of Han, Mao and Dally's Deep Compression,
arXiv 1510.00149, Figure 2).

The layout of one weight tensor ``W`` viewed as rows ``W.reshape(R, C)``
(a convolution kernel ``(out, in, kh, kw)`` is ``R = out`` rows of
``in * kh * kw``):

* ``values`` (float32, one per entry, fillers included);
* ``index``: for each entry ``d = gap - 1`` in ``b`` bits, packed into bytes,
  where ``gap`` is the distance in columns from the previous entry of the row
  (from column -1 for the first), so ``1 <= gap <= 2^b``;
* ``rowptr``: where each row's entries start (``R + 1`` numbers, the smallest
  unsigned integer type that holds them), the "compressed rows".

Decoding a row: positions are the running sums of ``d + 1``, minus one.

Sizes are the bytes of those arrays, so the report is what the file holds for
the weights: values ``4 * entries``, indices ``ceil(b * entries / 8)``, row
pointers ``(R + 1) * itemsize``.  Parameters that are not sparse (biases)
are stored dense and counted dense on both sides of the ratio.  Files are
``np.savez`` archives read back with ``allow_pickle=False``, written
atomically.
"""

from __future__ import annotations

import io
import math
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..backend import to_numpy
from .masks import masks_of, prunable_parameters

__all__ = ["SparseTensor", "encode_relative", "decode_relative", "export_sparse", "load_sparse", "StorageReport",
           "LayerStorage", "storage_report", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_VALUE_DTYPE = np.float32


# ------------------------------------------------------------------- bit packing
def _pack_bits(d: np.ndarray, bits: int) -> np.ndarray:
    """``d`` (each < 2**bits) as a big-endian bit stream of ``bits`` bits per number, in bytes."""
    if d.size == 0:
        return np.zeros(0, dtype=np.uint8)
    shifts = np.arange(bits - 1, -1, -1, dtype=np.uint32)
    bitmat = ((d.astype(np.uint32)[:, None] >> shifts) & 1).astype(np.uint8)
    return np.packbits(bitmat.ravel())


def _unpack_bits(packed: np.ndarray, bits: int, count: int) -> np.ndarray:
    if count == 0:
        return np.zeros(0, dtype=np.uint32)
    flat = np.unpackbits(packed, count=count * bits).reshape(count, bits).astype(np.uint32)
    weights = (np.uint32(1) << np.arange(bits - 1, -1, -1, dtype=np.uint32))
    return flat @ weights


def _ptr_dtype(n: int) -> np.dtype:
    for dt in (np.uint8, np.uint16, np.uint32, np.uint64):
        if n <= np.iinfo(dt).max:
            return np.dtype(dt)
    raise ValueError(f"too many entries: {n}")


# ---------------------------------------------------------------- one tensor
@dataclass
class SparseTensor:
    """One weight tensor in compressed rows with relative indices (see the module docstring)."""

    shape: tuple[int, ...]
    index_bits: int
    values: np.ndarray     # float32, (entries,)
    index: np.ndarray      # uint8, packed b-bit gaps minus one
    rowptr: np.ndarray     # unsigned, (rows + 1,)
    nonzeros: int          # real entries (entries - fillers)

    @property
    def entries(self) -> int:
        return int(self.values.size)

    @property
    def fillers(self) -> int:
        return self.entries - self.nonzeros

    @property
    def value_bytes(self) -> int:
        return int(self.values.nbytes)

    @property
    def index_bytes(self) -> int:
        return int(self.index.nbytes)

    @property
    def pointer_bytes(self) -> int:
        return int(self.rowptr.nbytes)

    @property
    def nbytes(self) -> int:
        return self.value_bytes + self.index_bytes + self.pointer_bytes

    def to_dense(self) -> np.ndarray:
        return decode_relative(self)


def _rows(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) == 0:
        return 1, 1
    rows = int(shape[0])
    cols = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    return rows, cols


def encode_relative(weight: Any, index_bits: int) -> SparseTensor:
    """Encode the non-zero entries of ``weight`` with ``index_bits``-bit relative indices and fillers."""
    if isinstance(index_bits, bool) or not isinstance(index_bits, (int, np.integer)) or not 1 <= index_bits <= 16:
        raise ValueError(f"encode_relative: index_bits must be an integer in [1, 16], got {index_bits!r}")
    w = np.asarray(to_numpy(weight))
    shape = tuple(int(s) for s in w.shape)
    if w.ndim == 1:
        w2 = w.reshape(1, -1)  # a vector is one row
    else:
        w2 = w.reshape(_rows(shape))
    R = w2.shape[0]
    span = 1 << int(index_bits)
    rows, cols = np.nonzero(w2)                      # row-major: sorted by row, then column
    nnz = rows.size
    prev = np.empty(nnz, dtype=np.int64)
    if nnz:
        prev[0] = -1
        prev[1:] = cols[:-1]
        starts = np.ones(nnz, dtype=bool)
        starts[1:] = rows[1:] != rows[:-1]
        prev[starts] = -1
    gaps = cols.astype(np.int64) - prev              # >= 1
    fill = (gaps - 1) // span                        # fillers needed before each non-zero
    counts = fill + 1
    owner = np.repeat(np.arange(nnz), counts)        # which non-zero each entry belongs to
    first = np.cumsum(counts) - counts
    j = np.arange(owner.size) - first[owner]         # position inside the group
    real = j == fill[owner]
    d = np.where(real, gaps[owner] - fill[owner] * span - 1, span - 1)
    values = np.where(real, w2[rows, cols][owner] if nnz else np.zeros(0), 0).astype(_VALUE_DTYPE)
    per_row = np.bincount(rows[owner], minlength=R) if owner.size else np.zeros(R, dtype=np.int64)
    rowptr = np.zeros(R + 1, dtype=np.int64)
    np.cumsum(per_row, out=rowptr[1:])
    rowptr = rowptr.astype(_ptr_dtype(int(rowptr[-1])))
    return SparseTensor(shape=shape, index_bits=int(index_bits), values=values,
                        index=_pack_bits(d, int(index_bits)), rowptr=rowptr, nonzeros=int(nnz))


def decode_relative(sp: SparseTensor) -> np.ndarray:
    """The dense float32 array that ``encode_relative`` encoded (exactly)."""
    R = sp.rowptr.size - 1
    cols = _rows(sp.shape)[1] if len(sp.shape) != 1 else (sp.shape[0] if sp.shape else 1)
    out = np.zeros((R, cols), dtype=_VALUE_DTYPE)
    n = sp.entries
    if n:
        d = _unpack_bits(sp.index, sp.index_bits, n).astype(np.int64)
        steps = d + 1
        ptr = sp.rowptr.astype(np.int64)
        row_of = np.repeat(np.arange(R), np.diff(ptr))
        csum = np.cumsum(steps)
        before_row = np.concatenate([[0], csum])[ptr[:-1]]   # running sum at each row's start
        pos = csum - before_row[row_of] - 1
        if pos.size and (pos.max() >= cols or pos.min() < 0):
            raise ValueError("decode_relative: corrupted index stream (a position falls outside its row)")
        out[row_of, pos] = sp.values
    return out.reshape(sp.shape)


# ------------------------------------------------------------------ the model
@dataclass
class LayerStorage:
    """Storage of one parameter: dense bytes versus what the sparse file holds."""

    name: str
    shape: tuple[int, ...]
    weights: int
    nonzeros: int
    sparse: bool
    index_bits: int | None = None
    entries: int = 0
    fillers: int = 0
    value_bytes: int = 0
    index_bytes: int = 0
    pointer_bytes: int = 0
    dense_bytes: int = 0

    @property
    def stored_bytes(self) -> int:
        return self.value_bytes + self.index_bytes + self.pointer_bytes if self.sparse else self.dense_bytes

    @property
    def ratio(self) -> float:
        return self.dense_bytes / self.stored_bytes if self.stored_bytes else math.inf

    @property
    def index_overhead(self) -> float:
        """Index and row-pointer bytes as a fraction of the value bytes (the paper's "storage overhead")."""
        return (self.index_bytes + self.pointer_bytes) / self.value_bytes if self.value_bytes else 0.0


@dataclass
class StorageReport:
    """Per-layer and total storage of a sparse export."""

    layers: list[LayerStorage] = field(default_factory=list)

    @property
    def dense_bytes(self) -> int:
        return sum(r.dense_bytes for r in self.layers)

    @property
    def stored_bytes(self) -> int:
        return sum(r.stored_bytes for r in self.layers)

    @property
    def ratio(self) -> float:
        return self.dense_bytes / self.stored_bytes if self.stored_bytes else math.inf

    @property
    def index_overhead(self) -> float:
        v = sum(r.value_bytes for r in self.layers if r.sparse)
        i = sum(r.index_bytes + r.pointer_bytes for r in self.layers if r.sparse)
        return i / v if v else 0.0

    def to_markdown(self) -> str:
        head = ("| parameter | shape | weights | non-zero | index bits | fillers | values B | index B | rowptr B | "
                "stored B | dense B | ratio |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        lines = [head]
        for r in self.layers:
            bits = str(r.index_bits) if r.sparse else "dense"
            lines.append(f"| {r.name} | {'x'.join(map(str, r.shape))} | {r.weights:,} | {r.nonzeros:,} | {bits} | "
                         f"{r.fillers:,} | {r.value_bytes:,} | {r.index_bytes:,} | {r.pointer_bytes:,} | "
                         f"{r.stored_bytes:,} | {r.dense_bytes:,} | {r.ratio:.1f}x |")
        w = sum(r.weights for r in self.layers)
        nz = sum(r.nonzeros for r in self.layers)
        lines.append(f"| **total** | | {w:,} | {nz:,} | | {sum(r.fillers for r in self.layers):,} | "
                     f"{sum(r.value_bytes for r in self.layers):,} | {sum(r.index_bytes for r in self.layers):,} | "
                     f"{sum(r.pointer_bytes for r in self.layers):,} | {self.stored_bytes:,} | {self.dense_bytes:,} | "
                     f"**{self.ratio:.1f}x** |")
        return "\n".join(lines)


def _default_bits(shape: tuple[int, ...]) -> int:
    """The paper's choice: 5 bits for fully connected layers, 8 for convolutions."""
    return 8 if len(shape) > 2 else 5


def _encode_model(model: Any, *, layers: Any, index_bits: int | Mapping[str, int] | None
                  ) -> tuple["OrderedDict[str, Any]", StorageReport]:
    state = model.state_dict()
    if layers is None:
        masks = masks_of(model)
        chosen = masks.names() if masks is not None and len(masks) else list(prunable_parameters(model))
    else:
        chosen = list(layers)
    unknown = [n for n in chosen if n not in state]
    if unknown:
        raise ValueError(f"export_sparse: no parameter named {', '.join(map(repr, unknown))}; "
                         f"parameters: {', '.join(state)}")
    out: OrderedDict[str, Any] = OrderedDict()
    report = StorageReport()
    for name, arr in state.items():
        a = np.asarray(to_numpy(arr))
        if name in chosen:
            if a.dtype != _VALUE_DTYPE:
                raise ValueError(f"export_sparse: {name!r} is {a.dtype}; the sparse format stores float32 values")
            bits = (index_bits.get(name, _default_bits(a.shape)) if isinstance(index_bits, Mapping)
                    else (index_bits if index_bits is not None else _default_bits(a.shape)))
            sp = encode_relative(a, bits)
            out[name] = sp
            report.layers.append(LayerStorage(name, sp.shape, int(a.size), sp.nonzeros, True, sp.index_bits,
                                              sp.entries, sp.fillers, sp.value_bytes, sp.index_bytes,
                                              sp.pointer_bytes, int(a.nbytes)))
        else:
            out[name] = a
            report.layers.append(LayerStorage(name, tuple(a.shape), int(a.size), int(np.count_nonzero(a)), False,
                                              dense_bytes=int(a.nbytes)))
    return out, report


def storage_report(model: Any, *, layers: Any = None,
                   index_bits: int | Mapping[str, int] | None = None) -> StorageReport:
    """What ``export_sparse`` would store, without writing a file."""
    return _encode_model(model, layers=layers, index_bits=index_bits)[1]


def export_sparse(model: Any, path: str | os.PathLike[str], *, layers: Any = None,
                  index_bits: int | Mapping[str, int] | None = None) -> StorageReport:
    """Write ``model``'s parameters to ``path`` (``.npz``): pruned weights sparse, the rest dense.

    Args:
        layers: parameter names to store sparse (default: the masked ones, or
            every weight with ``ndim > 1`` if the model was never pruned).
        index_bits: bits per relative index, one for all or ``{name: bits}``
            (default: 5 for matrices, 8 for convolution kernels, as the paper).

    Returns the :class:`StorageReport` (bytes per layer, ratio, index overhead).
    """
    encoded, report = _encode_model(model, layers=layers, index_bits=index_bits)
    arrays: dict[str, np.ndarray] = {"__format__": np.array([FORMAT_VERSION], dtype=np.int64)}
    for name, item in encoded.items():
        if isinstance(item, SparseTensor):
            arrays[f"sparse/{name}/values"] = item.values
            arrays[f"sparse/{name}/index"] = item.index
            arrays[f"sparse/{name}/rowptr"] = item.rowptr
            arrays[f"sparse/{name}/meta"] = np.array([item.index_bits, item.nonzeros, *item.shape], dtype=np.int64)
        else:
            arrays[f"dense/{name}"] = item
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    from ..train.io import atomic_write

    atomic_write(Path(path), lambda f: f.write(buf.getvalue()))
    return report


def load_sparse(path: str | os.PathLike[str]) -> "OrderedDict[str, np.ndarray]":
    """Read an ``export_sparse`` file back into a dense ``state_dict`` (``model.load_state_dict(...)``)."""
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    with np.load(Path(path), allow_pickle=False) as z:
        keys = list(z.keys())
        if "__format__" not in keys or int(z["__format__"][0]) != FORMAT_VERSION:
            raise ValueError(f"load_sparse: {path} is not a thalweg sparse export (format {FORMAT_VERSION})")
        names: list[str] = []
        for k in keys:
            if k.startswith("dense/"):
                names.append(k[len("dense/"):])
            elif k.startswith("sparse/") and k.endswith("/meta"):
                names.append(k[len("sparse/"):-len("/meta")])
        for name in names:
            if f"dense/{name}" in keys:
                out[name] = z[f"dense/{name}"]
                continue
            meta = z[f"sparse/{name}/meta"]
            sp = SparseTensor(shape=tuple(int(s) for s in meta[2:]), index_bits=int(meta[0]),
                              values=z[f"sparse/{name}/values"], index=z[f"sparse/{name}/index"],
                              rowptr=z[f"sparse/{name}/rowptr"], nonzeros=int(meta[1]))
            out[name] = decode_relative(sp)
    return out
