"""tw.save / tw.load: round trips of nested plain data, file objects, refusals, optimizer resume."""

import io
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import thalweg as tw
from thalweg import nn, optim
from thalweg.serialization import CheckpointError


def _same(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, tw.Tensor):
        assert a.dtype == b.dtype and a.requires_grad == b.requires_grad
        np.testing.assert_array_equal(a.array, b.array)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            _same(u, v)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


def test_round_trip_of_nested_plain_data(tmp_path):
    obj = {
        "weights": OrderedDict([("fc.weight", tw.randn(3, 2)), ("fc.bias", tw.zeros(3, dtype=tw.float64))]),
        "arr": np.arange(6, dtype=np.int16).reshape(2, 3).T,  # non-contiguous
        "scalars": [1, 2.5, float("nan"), float("inf"), -0.0, True, False, None, "text", b"\x00\xff", 3 + 4j],
        "tup": (1, (2, "x")),
        "npscalar": np.float32(1.25),
        3: "int key",
        (1, 2): "tuple key",
        "big": 2**100,
        "empty": {"list": [], "tuple": (), "array": np.zeros((0, 4), np.float32)},
        "bool": np.array([True, False]),
    }
    path = tmp_path / "obj.tw"
    tw.save(obj, path)
    back = tw.load(path)
    _same(obj, back)
    assert isinstance(back["weights"], OrderedDict) and isinstance(back["npscalar"], np.float32)


def test_file_objects_and_shared_tensors():
    w = tw.randn(4)
    buf = io.BytesIO()
    tw.save({"a": w, "b": w, "p": nn.Parameter(tw.ones(2))}, buf)
    buf.seek(0)
    back = tw.load(buf, map_location="cpu")
    assert back["a"] is back["b"]
    assert isinstance(back["p"], nn.Parameter) and back["p"].requires_grad


def test_atomic_and_manifest_is_json_without_pickle(tmp_path):
    path = tmp_path / "sd.pt"
    tw.save({"x": tw.ones(2)}, path)
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["arrays/0.npy", "thalweg.json"]
        np.load(io.BytesIO(zf.read("arrays/0.npy")), allow_pickle=False)
    assert [p.name for p in tmp_path.iterdir()] == ["sd.pt"]  # no temporary left behind


def test_module_and_unsupported_objects_are_refused():
    model = nn.Linear(2, 3)
    with pytest.raises(TypeError, match=r"Linear.*state_dict\(\)"):
        tw.save(model, io.BytesIO())
    with pytest.raises(TypeError, match=r"Linear.*state_dict"):
        tw.save({"m": model}, io.BytesIO())
    with pytest.raises(TypeError, match="function"):
        tw.save({"f": lambda x: x}, io.BytesIO())

    class Custom:
        pass

    with pytest.raises(TypeError, match="Custom"):
        tw.save([Custom()], io.BytesIO())
    cyc = []
    cyc.append(cyc)
    with pytest.raises(ValueError, match="cycle"):
        tw.save(cyc, io.BytesIO())


def test_state_dict_round_trip_restores_model(tmp_path):
    tw.manual_seed(0)
    a, b = nn.Linear(4, 3), nn.Linear(4, 3)
    tw.save(a.state_dict(), tmp_path / "m.tw")
    b.load_state_dict(tw.load(tmp_path / "m.tw"))
    x = tw.randn(5, 4)
    np.testing.assert_array_equal(a(x).array, b(x).array)


def _train(model, opt, steps, x, y):
    for _ in range(steps):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()


@pytest.mark.parametrize("make", [lambda p: optim.Adam(p, lr=0.01), lambda p: optim.SGD(p, lr=0.1, momentum=0.9)])
def test_optimizer_state_dict_resumes_identically(tmp_path, make):
    tw.manual_seed(1)
    x, y = tw.randn(8, 3), tw.randn(8, 2)
    ref = nn.Linear(3, 2)
    start = {k: np.array(getattr(v, "array", v)) for k, v in ref.state_dict().items()}
    ref_opt = make(ref.parameters())
    _train(ref, ref_opt, 6, x, y)

    m1 = nn.Linear(3, 2)
    m1.load_state_dict({k: tw.tensor(v) for k, v in start.items()})
    o1 = make(m1.parameters())
    _train(m1, o1, 3, x, y)
    tw.save({"model": m1.state_dict(), "optim": o1.state_dict(), "step": 3}, tmp_path / "ckpt.tw")

    ck = tw.load(tmp_path / "ckpt.tw")
    m2 = nn.Linear(3, 2)
    m2.load_state_dict(ck["model"])
    o2 = make(m2.parameters())
    o2.load_state_dict(ck["optim"])
    _train(m2, o2, 3, x, y)
    for (k, p), q in zip(ref.state_dict().items(), m2.state_dict().values()):
        np.testing.assert_array_equal(getattr(p, "array", p), getattr(q, "array", q), err_msg=k)
    assert ck["step"] == 3


def test_load_missing_file_and_unknown_content(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        tw.load(tmp_path / "nope.pt")
    (tmp_path / "x.txt").write_text("hello world, not a checkpoint")
    with pytest.raises(CheckpointError, match="x.txt"):
        tw.load(tmp_path / "x.txt")
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        tw.load(tmp_path / "empty")


def test_load_reads_train_checkpoints(tmp_path):
    from thalweg.train import save_checkpoint

    save_checkpoint(tmp_path / "last.npz", {"w": np.arange(3.0), "epoch": 2})
    back = tw.load(tmp_path / "last.npz")
    assert back["epoch"] == 2 and np.array_equal(back["w"], np.arange(3.0))
