"""Corrupt, truncated and crafted files give one-line CheckpointErrors naming the file."""

import io
import json
import zipfile

import numpy as np
import pytest

import thalweg as tw
from thalweg.serialization import CheckpointError
from thalweg.train import load_checkpoint, save_checkpoint


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _native(path, manifest, entries=None, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        zf.writestr("thalweg.json", manifest if isinstance(manifest, str) else json.dumps(manifest))
        for name, data in (entries or {}).items():
            zf.writestr(name, data)


def _root(node):
    return {"format": "thalweg-save", "version": 1, "root": node}


def _error(path, loader=tw.load):
    with pytest.raises(CheckpointError) as e:
        loader(path)
    msg = str(e.value)
    assert str(path) in msg and "\n" not in msg
    return msg


def test_truncated_and_corrupt_files(tmp_path):
    path = tmp_path / "m.tw"
    tw.save({"w": tw.randn(50, 50)}, path)
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 30):
        path.write_bytes(data[:cut])
        _error(path)
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF  # inside the array data: the CRC check catches it
    path.write_bytes(bytes(flipped))
    _error(path)


@pytest.mark.parametrize("manifest,match", [
    ("{not json", "not valid JSON"),
    ("[" * 5000 + "]" * 5000, "nested more than"),
    (json.dumps(_root({"$": "tensor", "ref": 7})), "no entry"),
    (json.dumps(_root({"$": "wat"})), "unknown node type"),
    (json.dumps(_root({"x": 1})), "untagged"),
    (json.dumps(_root({"$": "dict", "items": [[[1], 2]]})), "not hashable"),
    (json.dumps(_root({"$": "dict", "items": 3})), "no list of items"),
    (json.dumps({"format": "other"}), "not a thalweg-save manifest"),
    (json.dumps({"format": "thalweg-save", "version": 99, "root": None}), "newer"),
])
def test_malformed_manifests(tmp_path, manifest, match):
    path = tmp_path / "bad.tw"
    _native(path, manifest)
    assert match in _error(path)


def test_array_claiming_10_to_the_12_elements_is_refused_before_reading(tmp_path):
    npy = bytearray(_npy(np.zeros(4, np.float32)))
    header = npy[10:npy.index(b"\n") + 1].decode("latin1")
    fake = header.replace("(4,)", "(1000000000000,)")
    fake = fake[:-1].ljust(len(header) - 1) + "\n" if len(fake) <= len(header) else fake
    npy = bytes(npy[:10]) + fake.encode("latin1") + bytes(npy[10 + len(header):])
    npy = npy[:8] + len(fake).to_bytes(2, "little") + npy[10:]
    path = tmp_path / "huge.tw"
    _native(path, _root({"$": "ndarray", "ref": 0}), {"arrays/0.npy": npy})
    msg = _error(path)
    assert "1000000000000" in msg and "claims" in msg


def test_object_arrays_are_refused(tmp_path):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    path = tmp_path / "obj.tw"
    _native(path, _root({"$": "ndarray", "ref": 0}), {"arrays/0.npy": buf.getvalue()})
    assert "object array" in _error(path)


def test_zip_bomb_is_refused_from_the_directory(tmp_path):
    path = tmp_path / "bomb.tw"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("thalweg.json", json.dumps(_root({"$": "ndarray", "ref": 0})))
        with zf.open("arrays/0.npy", "w") as f:
            f.write(_npy(np.zeros(0, np.uint8))[:0])
            chunk = bytes(1 << 20)
            for _ in range(64):
                f.write(chunk)
    assert path.stat().st_size < 1 << 20
    assert "zip bomb" in _error(path)


def test_train_checkpoint_guards(tmp_path):
    good = tmp_path / "last.npz"
    save_checkpoint(good, {"w": np.ones(3), "epoch": 1})
    assert load_checkpoint(good)["epoch"] == 1
    data = good.read_bytes()
    bad = tmp_path / "trunc.npz"
    bad.write_bytes(data[: len(data) // 2])
    _error(bad, load_checkpoint)
    bad.write_bytes(b"garbage" * 10)
    _error(bad, load_checkpoint)

    def crafted(meta, arrays=None):
        p = tmp_path / "crafted.npz"
        with zipfile.ZipFile(p, "w") as zf:
            zf.writestr("__thalweg_meta__.npy", _npy(np.array(meta)))
            for k, v in (arrays or {}).items():
                zf.writestr(k, v)
        return p

    ok = {"format": "thalweg-checkpoint", "version": 1}
    assert "missing array" in _error(crafted(json.dumps({**ok, "state": {"w": {"__array__": "a9"}}})),
                                     load_checkpoint)
    assert "nested" in _error(crafted(json.dumps({**ok, "state": {"x": "[" * 3000 + "]" * 3000}})
                                      .replace('"[', "[").replace(']"', "]")), load_checkpoint)
    assert "no 'state'" in _error(crafted(json.dumps(ok)), load_checkpoint)
    assert "format" in _error(crafted(json.dumps({"format": "x"})), load_checkpoint)
    assert "not valid JSON" in _error(crafted("{"), load_checkpoint)
    assert "key, value" in _error(crafted(json.dumps({**ok, "state": {"__dict__": [1]}})), load_checkpoint)
    npy = _npy(np.zeros(2))
    huge = npy.replace(b"(2,)", b"(10**12,)".replace(b"10**12", b"1000000000000"))
    huge = huge[:8] + (len(huge) - 10 - 16).to_bytes(2, "little") + huge[10:]
    p = crafted(json.dumps({**ok, "state": {"__array__": "a0"}}), {"a0.npy": huge})
    _error(p, load_checkpoint)


def test_depth_limit_on_save():
    deep = []
    for _ in range(200):
        deep = [deep]
    with pytest.raises(ValueError, match="nested"):
        tw.save(deep, io.BytesIO())


def test_cli_resume_from_a_corrupt_last_npz_is_a_one_line_error(tmp_path, capsys):
    from thalweg.cli import main

    assert main(["train", "--epochs", "1", "--out", str(tmp_path), "--no-plots", "--name", "r",
                 "--no-progress"]) == 0
    (run,) = tmp_path.iterdir()
    last = run / "checkpoints" / "last.npz"
    data = last.read_bytes()
    for bad in (data[: len(data) // 2], b"PK\x03\x04" + data[4:200], b"\x00" * 64):
        last.write_bytes(bad)
        capsys.readouterr()
        code = main(["train", "--resume", str(run), "--epochs", "2", "--no-plots", "--no-progress"])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert "last.npz" in err, err
