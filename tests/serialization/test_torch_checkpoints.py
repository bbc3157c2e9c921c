"""Reading torch.save files without torch; crafted pickles refused; safetensors both ways."""

import io
import os
import pickle
import subprocess
import sys
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import thalweg as tw
from thalweg.serialization import CheckpointError, RefusedGlobalError

torch = pytest.importorskip("torch")


def _np(t):
    return t.detach().numpy()


def test_state_dict_dtypes_views_and_shared_storage(tmp_path):
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    sd = OrderedDict([
        ("f32", torch.randn(3, 4)),
        ("f64", torch.randn(5, dtype=torch.float64)),
        ("f16", torch.randn(2, 3).half()),
        ("bf16", torch.tensor([1.5, -2.0, 3.25], dtype=torch.bfloat16)),
        ("i64", torch.arange(7)),
        ("i32", torch.arange(3, dtype=torch.int32)),
        ("u8", torch.tensor([0, 255], dtype=torch.uint8)),
        ("bool", torch.tensor([True, False, True])),
        ("scalar", torch.tensor(3.5)),
        ("empty", torch.zeros(0, 3)),
        ("transposed", base.t()),            # non-contiguous view
        ("sliced", base[1:3, ::2]),          # offset and strides
        ("shared", base),                    # the same storage as the views
        ("expanded", torch.ones(1, 3).expand(4, 3)),  # stride 0
    ])
    path = tmp_path / "model.pt"
    torch.save(sd, path)
    back = tw.load(path)
    assert isinstance(back, OrderedDict) and list(back) == list(sd)
    for k, v in sd.items():
        got = back[k]
        assert isinstance(got, tw.Tensor), k
        want = v.float().numpy() if v.dtype == torch.bfloat16 else v.numpy()
        assert got.shape == tuple(v.shape) and got.dtype == want.dtype, k
        np.testing.assert_array_equal(got.array, want, err_msg=k)


def test_nested_checkpoint_and_optimizer_state(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(5, 3)).sum().backward()
    opt.step()
    ck = {"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 7, "loss": 0.25,
          "names": ["a", "b"], "pair": (1, 2.0), "none": None, "blob": b"\x00\x01"}
    buf = io.BytesIO()
    torch.save(ck, buf)
    buf.seek(0)
    back = tw.load(buf, map_location="cpu", weights_only=True)
    assert back["epoch"] == 7 and back["loss"] == 0.25 and back["names"] == ["a", "b"] and back["pair"] == (1, 2.0)
    assert back["none"] is None and back["blob"] == b"\x00\x01"
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(back["model"][k].array, _np(v))
    st = back["optim"]["state"]
    assert sorted(st) == [0, 1, 2, 3]
    np.testing.assert_array_equal(st[0]["exp_avg"].array, _np(opt.state_dict()["state"][0]["exp_avg"]))
    group = back["optim"]["param_groups"][0]
    assert group["params"] == [0, 1, 2, 3] and group["betas"] == (0.9, 0.999) and group["lr"] == 1e-3


def test_parameters_come_back_as_parameters(tmp_path):
    path = tmp_path / "p.pt"
    torch.save({"w": torch.nn.Parameter(torch.ones(2))}, path)
    back = tw.load(path)
    assert isinstance(back["w"], tw.nn.Parameter) and back["w"].requires_grad


def test_loading_does_not_import_torch(tmp_path):
    path = tmp_path / "w.pt"
    torch.save({"w": torch.arange(4.0)}, path)
    code = ("import sys; sys.modules['torch'] = None; import thalweg as tw; "
            f"print(tw.load({str(path)!r})['w'].array.tolist())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[0.0, 1.0, 2.0, 3.0]"


def _archive(payload: bytes, storages=None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", payload)
        zf.writestr("archive/byteorder", "little")
        for key, data in (storages or {}).items():
            zf.writestr(f"archive/data/{key}", data)
    return buf.getvalue()


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    path.write_bytes(_archive(pickle.dumps({"w": _Evil(marker)}, protocol=2)))
    with pytest.raises(pickle.UnpicklingError, match=r"refused to load global '(posix|os|nt)\.system'") as e:
        tw.load(path)
    assert isinstance(e.value, CheckpointError) and isinstance(e.value, RefusedGlobalError)
    assert str(path) in str(e.value) and not marker.exists()
    for payload in (b"cbuiltins\neval\n(S'1+1'\ntR.", b"c__builtin__\nexec\n(S'x=1'\ntR."):
        path.write_bytes(_archive(payload))
        with pytest.raises(RefusedGlobalError, match="refused"):
            tw.load(path)


def test_whole_pickled_torch_module_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 2), path)
    with pytest.raises(RefusedGlobalError, match="torch.nn.modules.linear.Linear"):
        tw.load(path)


def test_crafted_storage_sizes_and_views_are_refused(tmp_path):
    path = tmp_path / "w.pt"
    torch.save({"w": torch.arange(6.0)}, path)
    with zipfile.ZipFile(path) as zf:
        entries = {n: zf.read(n) for n in zf.namelist()}
    prefix = next(n for n in entries if n.endswith("data.pkl"))[:-len("data.pkl")]
    pkl = entries[prefix + "data.pkl"]

    def rewrite(new_pkl=pkl, **replace):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for n, d in entries.items():
                zf.writestr(n, new_pkl if n.endswith("data.pkl") else replace.get(n, d))
        path.write_bytes(buf.getvalue())

    rewrite(**{prefix + "data/0": b"\x00" * 8})               # storage shorter than numel says
    with pytest.raises(CheckpointError, match="claims 6 elements"):
        tw.load(path)
    big = pkl.replace(b"K\x06\x85", b"J\x00\xca\x9a;\x85")  # size (6,) -> (10^9,)
    assert big != pkl
    rewrite(big)
    with pytest.raises(CheckpointError, match="past its storage"):
        tw.load(path)
    rewrite(pkl[: len(pkl) // 2])
    with pytest.raises(CheckpointError, match="data.pkl"):
        tw.load(path)


def test_legacy_pickle_format_is_refused(tmp_path):
    path = tmp_path / "old.pt"
    torch.save({"w": torch.ones(2)}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match="legacy"):
        tw.load(path)


def test_safetensors_both_ways(tmp_path):
    st_torch = pytest.importorskip("safetensors.torch")
    sd = {"a": tw.randn(3, 2), "b": tw.arange(5), "c": tw.tensor(np.array([1.0, 2.0], dtype=np.float16))}
    ours = tmp_path / "w.safetensors"
    tw.save(sd, ours)
    read = st_torch.load_file(str(ours))
    for k, v in sd.items():
        np.testing.assert_array_equal(read[k].numpy(), v.array)
    theirs = tmp_path / "t.safetensors"
    st_torch.save_file({"x": torch.randn(4, 4), "y": torch.arange(3, dtype=torch.int32)}, str(theirs))
    back = tw.load(theirs)
    ref = st_torch.load_file(str(theirs))
    assert set(back) == {"x", "y"}
    for k in back:
        np.testing.assert_array_equal(back[k].array, ref[k].numpy())
    with pytest.raises(TypeError, match="flat"):
        tw.save([1, 2], tmp_path / "bad.safetensors")
    with pytest.raises(TypeError, match="only tensors"):
        tw.save({"n": 3}, tmp_path / "bad.safetensors")
    data = ours.read_bytes()
    ours.write_bytes(data[: len(data) - 5])
    with pytest.raises(CheckpointError, match="w.safetensors"):
        tw.load(ours)
