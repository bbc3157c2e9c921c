"""IDX parsing, corrupted files, checksums, download with an injected fetcher, MNIST splits."""

import gzip
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from thalweg.data import CHECKSUMS, DataError, ensure_file, encode_idx, load_mnist, parse_idx, read_idx
from thalweg.data.download import sha256, verify

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
MNIST_DIR = SHARED / "mnist"
needs_mnist = pytest.mark.skipif(not (MNIST_DIR / "t10k-labels-idx1-ubyte.gz").exists(),
                                 reason=f"MNIST files not found in {MNIST_DIR}")


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_round_trip(dtype):
    a = (np.arange(24) - 5).reshape(2, 3, 4).astype(dtype)
    b = parse_idx(encode_idx(a))
    assert b.dtype == np.dtype(dtype) and b.shape == a.shape
    np.testing.assert_array_equal(a, b)


def test_header_layout_by_hand():
    # magic 0x00000801 (uint8, one dimension), size 3, then the bytes
    raw = bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9])
    np.testing.assert_array_equal(parse_idx(raw), [7, 8, 9])
    raw16 = bytes([0, 0, 0x0B, 1, 0, 0, 0, 2, 1, 2, 0xFF, 0xFE])  # big-endian int16: 258, -2
    np.testing.assert_array_equal(parse_idx(raw16), [258, -2])


def test_gzip_and_raw_files(tmp_path):
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    (tmp_path / "a.idx").write_bytes(encode_idx(a))
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(encode_idx(a)))
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), a)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx.gz"), a)


def test_bad_magic(tmp_path):
    p = tmp_path / "bad.idx"
    p.write_bytes(b"\x12\x34\x08\x01" + b"\x00\x00\x00\x01" + b"\x00")
    with pytest.raises(DataError, match="bad magic number 0x12340801"):
        read_idx(p)
    with pytest.raises(DataError, match="bad magic"):
        parse_idx(bytes([0, 0, 0x42, 1, 0, 0, 0, 1, 0]))  # unknown type code


def test_truncated_data_and_header(tmp_path):
    data = encode_idx(np.zeros((10, 4, 4), np.uint8))
    p = tmp_path / "t.gz"
    p.write_bytes(gzip.compress(data[:-7]))
    with pytest.raises(DataError, match="truncated IDX file: shape \\(10, 4, 4\\) needs 160 bytes of data, found 153"):
        read_idx(p)
    with pytest.raises(DataError, match="truncated IDX header"):
        parse_idx(data[:9])
    with pytest.raises(DataError, match="truncated"):
        parse_idx(b"\x00\x00")


def test_truncated_gzip(tmp_path):
    p = tmp_path / "t.gz"
    p.write_bytes(gzip.compress(encode_idx(np.zeros((50, 50), np.uint8)))[:-12])
    with pytest.raises(DataError, match="corrupted or truncated gzip"):
        read_idx(p)


def test_missing_path():
    with pytest.raises(DataError, match="file not found"):
        read_idx("/nonexistent/thalweg/file.idx")
    with pytest.raises(DataError, match="data directory does not exist"):
        load_mnist("/nonexistent/thalweg-data")


def test_verify_checksum():
    data = b"some bytes"
    verify(data, sha256(data), name="x")
    with pytest.raises(DataError, match="checksum mismatch"):
        verify(data + b"!", sha256(data), name="x")


def _fake_labels_file(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(encode_idx(np.zeros(5, np.uint8))))


def test_local_file_with_wrong_checksum_is_an_error(tmp_path):
    _fake_labels_file(tmp_path / "mnist")
    with pytest.raises(DataError, match="checksum mismatch"):
        ensure_file("mnist", "t10k-labels-idx1-ubyte", tmp_path)
    # without verification the same file parses (a custom IDX set)
    raw = ensure_file("mnist", "t10k-labels-idx1-ubyte", tmp_path, verify_checksum=False)
    assert parse_idx(raw).shape == (5,)


def test_offline_message_says_where_to_put_which_file(tmp_path):
    def offline(url):
        raise urllib.error.URLError("no network")

    with pytest.raises(DataError) as info:
        ensure_file("mnist", "train-labels-idx1-ubyte", tmp_path, fetcher=offline)
    msg = str(info.value)
    assert "train-labels-idx1-ubyte.gz" in msg and str(tmp_path / "mnist") in msg and "no network" in msg
    assert not list(tmp_path.rglob("*.gz"))  # nothing half-written


def test_download_with_bad_bytes_is_rejected_and_not_cached(tmp_path):
    bad = gzip.compress(encode_idx(np.zeros(3, np.uint8)))
    with pytest.raises(DataError, match="checksum mismatch"):
        ensure_file("mnist", "t10k-labels-idx1-ubyte", tmp_path, fetcher=lambda url: bad)
    assert not (tmp_path / "mnist").exists() or not list((tmp_path / "mnist").iterdir())


@needs_mnist
def test_download_verifies_and_caches(tmp_path):
    official = (MNIST_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes()
    urls = []

    def fetch(url):
        urls.append(url)
        if len(urls) == 1:
            raise urllib.error.URLError("first mirror down")
        return official

    raw = ensure_file("mnist", "t10k-labels-idx1-ubyte", tmp_path, fetcher=fetch)
    assert sha256(raw) == CHECKSUMS["mnist"]["t10k-labels-idx1-ubyte"]
    assert len(urls) == 2 and urls[1].endswith("/t10k-labels-idx1-ubyte.gz")
    cached = tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz"
    assert cached.read_bytes() == official
    # second call: read from the cache, no fetch
    ensure_file("mnist", "t10k-labels-idx1-ubyte", tmp_path, fetcher=lambda url: pytest.fail("fetched again"))


def test_environment_variable_points_at_the_data(tmp_path, monkeypatch):
    _fake_labels_file(tmp_path / "mnist")
    monkeypatch.setenv("THALWEG_DATA", str(tmp_path))
    raw = ensure_file("mnist", "t10k-labels-idx1-ubyte", verify_checksum=False, download=False)
    assert parse_idx(raw).shape == (5,)


@needs_mnist
def test_mnist_standard_split():
    s = load_mnist(SHARED, limit=500)
    assert [len(d) for d in s] == [500, 500, 500]
    x, y = s.train.tensors
    assert x.shape == (500, 1, 28, 28) and x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0
    assert y.dtype == np.int64 and set(np.unique(y)) == set(range(10))
    full = load_mnist(SHARED, flatten=True, seed=1)
    assert [len(d) for d in full] == [50_000, 10_000, 10_000]
    assert full.train.tensors[0].shape == (50_000, 784)
    # same seed, same dev set; a different seed, a different one
    again = load_mnist(SHARED, seed=1, limit=50)
    other = load_mnist(SHARED, seed=2, limit=50)
    np.testing.assert_array_equal(again.dev.tensors[1], full.dev.tensors[1][:50])
    assert not np.array_equal(other.dev.tensors[0], again.dev.tensors[0])
