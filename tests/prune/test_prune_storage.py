"""Sparse export: compressed rows with relative indices and fillers; exact round trip; byte accounting."""

import math

import numpy as np
import pytest

import thalweg as tw
from thalweg import nn, prune
from thalweg.prune.storage import _unpack_bits

from prune_helpers import mlp


def _reference_encode(w2: np.ndarray, bits: int) -> tuple[list[int], list[float], list[int]]:
    """The scheme written out as a loop, row by row: (gap - 1) per entry, a filler per 2**bits skipped."""
    span = 2 ** bits
    ds, vals, rowptr = [], [], [0]
    for row in w2:
        prev = -1
        for c in np.nonzero(row)[0]:
            gap = c - prev
            while gap > span:
                ds.append(span - 1)
                vals.append(0.0)
                gap -= span
            ds.append(gap - 1)
            vals.append(float(row[c]))
            prev = c
        rowptr.append(len(ds))
    return ds, vals, rowptr


def _sparse(shape, density, seed):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=shape).astype(np.float32)
    w[rng.random(shape) >= density] = 0
    return w


@pytest.mark.parametrize("bits", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("density", [0.0, 0.02, 0.3, 1.0])
def test_encoding_matches_the_scheme_and_round_trips(bits, density):
    w = _sparse((9, 70), density, seed=bits)
    w[3] = 0                        # an empty row
    w[4, -1] = 1.5                  # a lone entry at the far end of a row: many fillers with few bits
    sp = prune.encode_relative(w, bits)
    ds, vals, rowptr = _reference_encode(w, bits)
    np.testing.assert_array_equal(_unpack_bits(sp.index, bits, sp.entries), ds)
    np.testing.assert_array_equal(sp.values, np.asarray(vals, dtype=np.float32))
    np.testing.assert_array_equal(sp.rowptr, rowptr)
    assert sp.nonzeros == np.count_nonzero(w) and sp.fillers == len(ds) - np.count_nonzero(w)
    np.testing.assert_array_equal(prune.decode_relative(sp), w)
    # byte accounting: 4 bytes a value, `bits` bits an index (packed), the row pointers as stored
    assert sp.value_bytes == 4 * sp.entries
    assert sp.index_bytes == math.ceil(bits * sp.entries / 8)
    assert sp.pointer_bytes == (w.shape[0] + 1) * sp.rowptr.itemsize
    assert sp.rowptr.dtype == (np.uint8 if sp.entries <= 255 else np.uint16)


def test_fillers_appear_exactly_when_a_gap_exceeds_the_index_range():
    w = np.zeros((1, 40), dtype=np.float32)
    w[0, [0, 8, 9, 30]] = [1, 2, 3, 4]          # gaps 1, 8, 1, 21 from column -1
    assert prune.encode_relative(w, 3).fillers == 0 + 0 + 0 + 2   # 3 bits: gaps up to 8; 21 = 8 + 8 + 5
    assert prune.encode_relative(w, 2).fillers == 0 + 1 + 0 + 5    # 2 bits: gaps up to 4; 8 = 4 + 4; 21 = 5*4 + 1


@pytest.mark.parametrize("shape", [(6, 3, 5, 5), (50,), (4, 30)])
def test_other_shapes_round_trip(shape):
    w = _sparse(shape, 0.2, seed=1)
    np.testing.assert_array_equal(prune.decode_relative(prune.encode_relative(w, 4)), w)


def test_bad_index_bits():
    with pytest.raises(ValueError, match="index_bits must be an integer in \\[1, 16\\]"):
        prune.encode_relative(np.ones((2, 2), np.float32), 0)


def _convnet():
    tw.manual_seed(3)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 3 * 3, 20),
                         nn.ReLU(), nn.Linear(20, 5))


@pytest.mark.parametrize("make,x", [(mlp, np.random.default_rng(0).normal(size=(16, 12))),
                                    (_convnet, np.random.default_rng(0).normal(size=(16, 1, 8, 8)))])
def test_export_load_gives_the_same_predictions(tmp_path, make, x):
    model = make()
    prune.prune_layers(model, 0.85)
    x = tw.tensor(x.astype(np.float32))
    model.eval()
    expected = model(x).array
    path = tmp_path / "pruned.npz"
    report = prune.export_sparse(model, path)
    fresh = make()
    fresh.load_state_dict(prune.load_sparse(path))
    fresh.eval()
    np.testing.assert_array_equal(fresh(x).array, expected)
    # the default index widths of the paper: 5 bits for matrices, 8 for convolution kernels
    for r in report.layers:
        if r.sparse:
            assert r.index_bits == (8 if len(r.shape) == 4 else 5)


def test_report_counts_the_bytes_in_the_file(tmp_path):
    model = mlp(sizes=(64, 48, 10))
    prune.prune_layers(model, 0.9)
    path = tmp_path / "m.npz"
    report = prune.export_sparse(model, path, index_bits={"0.weight": 4})
    with np.load(path, allow_pickle=False) as z:
        for r in report.layers:
            if r.sparse:
                stored = sum(z[f"sparse/{r.name}/{k}"].nbytes for k in ("values", "index", "rowptr"))
                assert stored == r.stored_bytes
                assert r.value_bytes == 4 * r.entries
                assert r.index_overhead == pytest.approx((r.index_bytes + r.pointer_bytes) / r.value_bytes)
            else:
                assert z[f"dense/{r.name}"].nbytes == r.stored_bytes == r.dense_bytes
        assert all(z[k].dtype != object for k in z.keys())
    dense = sum(p.array.nbytes for p in model.parameters())
    assert report.dense_bytes == dense
    assert report.ratio == pytest.approx(dense / report.stored_bytes)
    assert report.ratio > 3  # 90% sparse: values alone shrink 10x; indices and biases take some back
    assert {r.name: r.index_bits for r in report.layers if r.sparse} == {"0.weight": 4, "2.weight": 5}
    assert "**total**" in report.to_markdown()
    assert prune.storage_report(model, index_bits={"0.weight": 4}).stored_bytes == report.stored_bytes


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a thalweg sparse export"):
        prune.load_sparse(path)


def test_export_names_unknown_layers(tmp_path):
    with pytest.raises(ValueError, match="no parameter named 'nope'"):
        prune.export_sparse(mlp(), tmp_path / "x.npz", layers=["nope"])
